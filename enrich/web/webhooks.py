"""Provider webhooks: verify the signature on the raw request, then store the events once each.

Refusals are terse (403 "bad signature" and the like). A signed request we cannot read (not
JSON, not an array, nested too deeply, a Twilio callback without a usable message id) gets 400;
a malformed event inside a signed SendGrid batch is recorded as rejected and the rest of the
batch applies, so the provider never retries a batch for ever. A missing verification secret
answers 503 so the provider retries once we are configured, and so does a database error.
Logs carry counts only, never addresses or numbers.

These routes read the raw body themselves (a signature covers the exact bytes) and are kept
out of the OpenAPI document: they are the providers' contract, not ours. The database work
runs in the thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.deps import SettingsDep
from enrich.web.json_body import BodyError, parse_json
from models.audit_trail.sealing import seal
from models.db import session_scope
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord, IngestOutcome
from models.feedback.rejected_events import RejectedEvent, store_rejected
from models.types import utcnow
from outreach.providers.event_fields import MalformedEvent, outreach_id_from
from outreach.providers.sendgrid.events import parse_sendgrid_batch
from outreach.providers.sendgrid.signature import verify_sendgrid
from outreach.providers.twilio.events import (
    rejected_twilio_callback,
    twilio_inbound_event,
    twilio_status_event,
)
from outreach.providers.twilio.signature import verify_twilio
from outreach.providers.webhook_errors import (
    SignatureError,
    WebhookConfigurationError,
    WebhookPayloadError,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"], include_in_schema=False)

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _not_configured(setting: str) -> HTTPException:
    return HTTPException(503, f"webhook not configured: set {setting}")


@dataclass(frozen=True)
class _Stored:
    outcome: IngestOutcome
    rejected: int


def _ingest(
    engine: Engine, events: Sequence[EventRecord], rejected: Sequence[RejectedEvent]
) -> _Stored:
    now = utcnow()
    with session_scope(engine) as session:
        new_rejected = store_rejected(session=session, rejected=rejected, now=now)
        outcome = ingest_events(session=session, events=events, now=now)
    seal(engine)  # the request's audit rows join the chain (skipped while another sealer runs)
    return _Stored(outcome, new_rejected)


async def _store(
    settings: Settings,
    events: Sequence[EventRecord],
    rejected: Sequence[RejectedEvent] = (),
) -> _Stored:
    """Store in one transaction; a database error answers 503 so the provider retries."""
    try:
        # The database work is synchronous: run it off the event loop.
        return await run_in_threadpool(_ingest, get_engine(settings), events, rejected)
    except SQLAlchemyError as err:
        log.error("webhook events not stored: database error (%s)", type(err).__name__)
        raise HTTPException(503, "events not stored: database unavailable, retry later") from None


def _counts(received: int, stored: _Stored) -> dict[str, int]:
    outcome = stored.outcome
    return {
        "received": received,
        "new": outcome.new,
        "duplicates": outcome.duplicates,
        "rejected": stored.rejected,
    }


@router.post("/sendgrid")
async def sendgrid_webhook(
    request: Request,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=SENDGRID_SIGNATURE)] = None,
    timestamp: Annotated[str | None, Header(alias=SENDGRID_TIMESTAMP)] = None,
) -> dict[str, int]:
    """SendGrid's signed Event Webhook: ECDSA over the timestamp header and the raw body."""
    raw = await request.body()  # the exact signed bytes; never re-serialise before verifying
    key = settings.sendgrid_webhook_public_key
    if key is None or not key.get_secret_value().strip():
        raise _not_configured("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY")
    now = utcnow()
    try:
        verify_sendgrid(
            public_key=key.get_secret_value(),
            signature_b64=signature,
            timestamp=timestamp,
            raw_body=raw,
            now=now,
            max_age_seconds=settings.webhook_max_age_seconds,
        )
    except SignatureError as err:
        log.warning("sendgrid webhook refused: %s", err)
        raise HTTPException(403, str(err)) from None
    except WebhookConfigurationError:
        log.error("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY is not a usable EC P-256 public key")
        raise _not_configured("ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY (unusable key)") from None
    try:
        payload = parse_json(raw)
    except BodyError as err:
        raise HTTPException(400, str(err)) from None
    try:
        batch = parse_sendgrid_batch(payload, received_at=now)
    except WebhookPayloadError:
        raise HTTPException(400, "body must be a JSON array of events") from None
    counts = _counts(len(payload), await _store(settings, batch.events, batch.rejected))
    log.info("sendgrid webhook: %s", counts)
    return counts


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: our public base URL plus the path and raw query string.

    Behind a reverse proxy ``request.url`` carries the internal scheme and host, which would
    never match the signature, so the public part comes from ``ENRICH_BASE_URL``.
    """
    query = request.url.query
    return settings.base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def _verified_form(
    request: Request, settings: Settings, signature: str | None
) -> dict[str, str]:
    """The form fields of an authentic Twilio request; raises the HTTPException refusing it."""
    raw = await request.body()
    token = settings.twilio_auth_token
    if token is None or not token.get_secret_value():
        raise _not_configured("ENRICH_TWILIO_AUTH_TOKEN")
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise HTTPException(400, "body must be form-encoded UTF-8") from None
    try:
        verify_twilio(
            auth_token=token.get_secret_value(),
            url=public_url(settings, request),
            params=form,
            signature=signature,
        )
    except SignatureError as err:
        log.warning("twilio webhook refused: %s", err)
        raise HTTPException(403, str(err)) from None
    return form


async def _refuse_callback(
    settings: Settings, form: dict[str, str], err: WebhookPayloadError
) -> HTTPException:
    """A signed callback we cannot take: kept as rejected when it has a field we refuse, 400."""
    if isinstance(err, MalformedEvent):
        await _store(settings, [], [rejected_twilio_callback(form, str(err))])
        log.warning("twilio callback rejected: %s", err)
    return HTTPException(400, str(err))


TwilioSignature = Annotated[str | None, Header(alias=TWILIO_SIGNATURE)]


@router.post("/twilio/status")
async def twilio_status_webhook(
    request: Request,
    settings: SettingsDep,
    signature: TwilioSignature = None,
    oid: str | None = None,
) -> dict[str, int]:
    """Twilio's message status callback; ``oid`` is the outreach id we put in the URL."""
    form = await _verified_form(request, settings, signature)
    try:
        outreach_id = outreach_id_from(oid)
    except MalformedEvent:
        raise HTTPException(400, "oid must be an outreach id") from None
    try:
        event = twilio_status_event(form, outreach_id, received_at=utcnow())
    except WebhookPayloadError as err:
        raise await _refuse_callback(settings, form, err) from None
    counts = _counts(1, await _store(settings, [event]))
    log.info("twilio status webhook: %s", counts)
    return counts


@router.post("/twilio/inbound")
async def twilio_inbound_webhook(
    request: Request, settings: SettingsDep, signature: TwilioSignature = None
) -> Response:
    """An inbound SMS (STOP, START, a reply); answered with empty TwiML so nothing is sent."""
    form = await _verified_form(request, settings, signature)
    try:
        event = twilio_inbound_event(form, received_at=utcnow())
    except WebhookPayloadError as err:
        raise await _refuse_callback(settings, form, err) from None
    log.info("twilio inbound webhook: %s", _counts(1, await _store(settings, [event])))
    return Response(EMPTY_TWIML, media_type="text/xml")
