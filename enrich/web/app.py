"""The FastAPI application factory; nothing is built at import time (``enrich serve`` calls it)."""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from enrich.settings import Settings, get_settings
from enrich.web import contact_moments, landing, unsubscribe, webhooks
from enrich.web.security import BodySizeLimitMiddleware, SecurityHeadersMiddleware


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # No interactive API docs: the app is a customer-facing page plus provider webhooks.
    app = FastAPI(title="Enrich", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.include_router(webhooks.router)
    app.include_router(landing.router)
    app.include_router(unsubscribe.router)
    app.include_router(contact_moments.router)
    # Added last = outermost: even a 413 carries the security headers.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxy_list:
        # Only a request from a trusted proxy has its client (for the rate limit) taken from
        # X-Forwarded-For: the right-most address that is not itself a trusted proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    return app
