"""Provider webhooks: verify the signature on the raw request, then store the events once each.

Refusals are terse (403 "bad signature" and the like). A missing verification secret answers
503 so the provider retries once we are configured; a database error propagates as a 500 for
the same reason. Logs carry counts only, never addresses or numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.deps import SettingsDep
from models.db import session_scope
from models.delivery import EventRecord, IngestOutcome, ingest_events
from models.types import utcnow
from outreach.events import sendgrid_events, twilio_inbound_event, twilio_status_event
from outreach.webhook_signatures import (
    SignatureError,
    WebhookConfigurationError,
    WebhookPayloadError,
    verify_sendgrid,
    verify_twilio,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _detail(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _not_configured(setting: str) -> JSONResponse:
    return _detail(503, f"webhook not configured: set {setting}")


def _ingest(engine: Engine, events: Sequence[EventRecord]) -> IngestOutcome:
    with session_scope(engine) as session:
        return ingest_events(session=session, events=events, now=utcnow())


async def _store(settings: Settings, events: Sequence[EventRecord]) -> IngestOutcome:
    # The database work is synchronous: run it off the event loop.
    return await run_in_threadpool(_ingest, get_engine(settings), events)


def _counts(received: int, outcome: IngestOutcome) -> dict[str, int]:
    return {"received": received, "new": outcome.new, "duplicates": outcome.duplicates}


@router.post("/sendgrid")
async def sendgrid_webhook(request: Request, settings: SettingsDep) -> JSONResponse:
    """SendGrid's signed Event Webhook: ECDSA over the timestamp header and the raw body."""
    raw = await request.body()  # the exact signed bytes; never re-serialise before verifying
    key = settings.sendgrid_webhook_public_key
    if key is None or not key.get_secret_value().strip():
        return _not_configured("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY")
    now = utcnow()
    try:
        verify_sendgrid(
            public_key=key.get_secret_value(),
            signature_b64=request.headers.get(SENDGRID_SIGNATURE),
            timestamp=request.headers.get(SENDGRID_TIMESTAMP),
            raw_body=raw,
            now=now,
            max_age_seconds=settings.webhook_max_age_seconds,
        )
    except SignatureError as err:
        log.warning("sendgrid webhook refused: %s", err)
        return _detail(403, str(err))
    except WebhookConfigurationError:
        log.error("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY is not a usable EC P-256 public key")
        return _not_configured("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY (unusable key)")
    try:
        events = sendgrid_events(json.loads(raw), received_at=now)
    except (ValueError, WebhookPayloadError):
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        return _detail(400, "body must be a JSON array of events")
    outcome = await _store(settings, events)
    log.info("sendgrid webhook: %s", _counts(len(events), outcome))
    return JSONResponse(_counts(len(events), outcome))


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: our public base URL plus the path and raw query string.

    Behind a reverse proxy ``request.url`` carries the internal scheme and host, which would
    never match the signature, so the public part comes from ``ENRICH_BASE_URL``.
    """
    query = request.url.query
    return settings.base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def _verified_form(request: Request, settings: Settings) -> dict[str, str] | JSONResponse:
    """The form fields of an authentic Twilio request, or the response refusing it."""
    raw = await request.body()
    token = settings.twilio_auth_token
    if token is None or not token.get_secret_value():
        return _not_configured("ENRICH_TWILIO_AUTH_TOKEN")
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return _detail(400, "body must be form-encoded UTF-8")
    try:
        verify_twilio(
            auth_token=token.get_secret_value(),
            url=public_url(settings, request),
            params=form,
            signature=request.headers.get(TWILIO_SIGNATURE),
        )
    except SignatureError as err:
        log.warning("twilio webhook refused: %s", err)
        return _detail(403, str(err))
    return form


@router.post("/twilio/status")
async def twilio_status_webhook(request: Request, settings: SettingsDep) -> JSONResponse:
    """Twilio's message status callback; ``oid`` is the outreach id we put in the URL."""
    form = await _verified_form(request, settings)
    if isinstance(form, JSONResponse):
        return form
    oid_text = request.query_params.get("oid")
    if oid_text is not None and not oid_text.isdigit():
        return _detail(400, "oid must be an outreach id")
    try:
        event = twilio_status_event(form, int(oid_text) if oid_text else None, received_at=utcnow())
    except WebhookPayloadError as err:
        return _detail(400, str(err))
    outcome = await _store(settings, [event])
    log.info("twilio status webhook: %s", _counts(1, outcome))
    return JSONResponse(_counts(1, outcome))


@router.post("/twilio/inbound")
async def twilio_inbound_webhook(request: Request, settings: SettingsDep) -> Response:
    """An inbound SMS (STOP, START, a reply); answered with empty TwiML so nothing is sent."""
    form = await _verified_form(request, settings)
    if isinstance(form, JSONResponse):
        return form
    try:
        event = twilio_inbound_event(form, received_at=utcnow())
    except WebhookPayloadError as err:
        return _detail(400, str(err))
    outcome = await _store(settings, [event])
    log.info("twilio inbound webhook: %s", _counts(1, outcome))
    return Response(EMPTY_TWIML, media_type="text/xml")
