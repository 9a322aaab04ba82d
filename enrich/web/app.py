"""The FastAPI application factory; nothing is built at import time (``enrich serve`` calls it).

The factory builds what every request shares once per process (:mod:`enrich.web.services`).
Only the machine API (``/api/...``) is in the OpenAPI document, at ``/api/openapi.json`` with
Swagger UI at ``/api/docs``; the pages, the webhooks and the health checks are not.
"""

from __future__ import annotations

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from enrich.settings import Settings, get_settings
from enrich.web import api_docs, contact_moments, errors, health, landing, unsubscribe, webhooks
from enrich.web.changes import router as changes_router
from enrich.web.privacy import router as privacy_router
from enrich.web.security import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from enrich.web.services import build_services

DESCRIPTION = (
    "The API other systems call: authenticate with a key from `ENRICH_API_KEYS`, as "
    "`Authorization: Bearer <key>` or `X-API-Key: <key>`."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Enrich",
        description=DESCRIPTION,
        openapi_url=api_docs.OPENAPI_URL,
        docs_url=None,  # served by api_docs, under a policy of its own
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.services = build_services(settings)
    errors.install(app)
    app.include_router(webhooks.router)
    app.include_router(landing.router)
    app.include_router(unsubscribe.router)
    app.include_router(contact_moments.router)
    app.include_router(privacy_router)
    app.include_router(changes_router)
    app.include_router(health.router)
    app.include_router(api_docs.router)
    app.mount(api_docs.ASSETS_URL, api_docs.docs_assets(), name="docs-assets")
    # Added last = outermost: even a 413 carries the security headers.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxy_list:
        # Only a request from a trusted proxy has its client (for the rate limit) taken from
        # X-Forwarded-For: the right-most address that is not itself a trusted proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    return app
