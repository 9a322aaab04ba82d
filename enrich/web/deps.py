"""Request dependencies as ``Annotated`` aliases: settings, shared services, a database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.pages import Pages
from enrich.web.services import WebServices
from models.db import session_scope


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (not re-read per request)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_services(request: Request) -> WebServices:
    """The renderer, channels and limiter the app factory built for this process."""
    services: WebServices = request.app.state.services
    return services


ServicesDep = Annotated[WebServices, Depends(get_services)]


def get_pages(services: ServicesDep) -> Pages:
    return services.pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def get_app_engine(settings: SettingsDep) -> Engine:
    return get_engine(settings)


EngineDep = Annotated[Engine, Depends(get_app_engine)]


def get_session(engine: EngineDep) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with session_scope(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
