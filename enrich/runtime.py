"""Builds the long-lived objects every entry point needs from the settings."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import Engine

from enrich.settings import Settings, get_settings
from models.db import make_engine
from outreach.config import OutreachConfig


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    return _engine_for(settings.resolved_database_url)


def outreach_config(settings: Settings | None = None) -> OutreachConfig:
    s = settings or get_settings()
    return OutreachConfig(
        outbox_dir=s.resolved_outbox_dir,
        templates_dir=s.templates_dir,
        base_url=s.base_url.rstrip("/"),
        organisation_name=s.organisation_name,
        organisation_address=tuple(s.organisation_address),
        sender_email=s.sender_email,
        sender_name=s.sender_name,
        unsubscribe_mailto=s.unsubscribe_mailto,
        default_locale=s.default_locale,
        supported_locales=tuple(s.supported_locales),
        token_ttl_days=s.token_ttl_days,
        letter_batch_size=s.letter_batch_size,
    )
