"""``POST /api/contact-moments``: another system asks for the re-ask block to carry along.

Authenticated with a key from ``ENRICH_API_KEYS`` (``Authorization: Bearer <key>`` or
``X-API-Key``), compared as SHA-256 digests in constant time. The rules are in
:mod:`models.contact_moments.recording`; this route parses, authenticates and answers. Neither the
answer to a bad request nor the log ever repeats the customer's external id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from enrich.runtime import get_engine, outreach_config
from enrich.settings import Settings
from enrich.web.deps import SettingsDep
from enrich.web.json_body import BodyError, parse_json
from models.campaigns.spec import CampaignError, CampaignSpec, load_campaign
from models.contact_moments.recording import CONTEXTS, UNKNOWN
from models.types import utcnow
from models.vocabulary import CHANNELS
from outreach.contact_moments import MomentResult, contact_moment
from outreach.errors import ConfigurationError
from outreach.render import Renderer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["contact-moments"])
NO_STORE = {"Cache-Control": "no-store"}


class MomentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    external_id: str = Field(min_length=1, max_length=128)  # the CRM's id; the column's limit
    channel: str
    context: str

    @field_validator("external_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"expected one of {', '.join(CHANNELS)}")
        return value

    @field_validator("context")
    @classmethod
    def _known_context(cls, value: str) -> str:
        if value not in CONTEXTS:
            raise ValueError(f"expected one of {', '.join(CONTEXTS)}")
        return value


def _answer(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def key_matches(presented: str, digests: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` is one of the keys; every digest is compared, in constant time."""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
    found = False
    for candidate in digests:
        found |= hmac.compare_digest(digest, candidate)
    return found


def _refusal(request: Request, settings: Settings) -> JSONResponse | None:
    """The 503 or 401 answer when the request may not proceed, else None."""
    try:
        digests = settings.api_key_digests
    except ValueError:
        log.error("ENRICH_API_KEYS has an unusable entry")
        return _answer(503, {"detail": "contact-moment API not configured: fix ENRICH_API_KEYS"})
    if not digests:
        return _answer(503, {"detail": "contact-moment API not configured: set ENRICH_API_KEYS"})
    presented = _presented_key(request)
    if presented is None or not key_matches(presented, digests):
        detail = {"detail": "missing or wrong API key"}
        return _answer(401, detail, {"WWW-Authenticate": "Bearer"})
    return None


def _parse(raw: bytes) -> MomentRequest | JSONResponse:
    try:
        data = parse_json(raw)
    except BodyError as err:
        return _answer(422, {"detail": f"body must be a JSON object: {err}"})
    try:
        return MomentRequest.model_validate(data)
    except ValidationError as err:
        # Field and message only: pydantic's own error would echo the input.
        errors = [
            {"field": ".".join(str(part) for part in e["loc"]) or "body", "error": e["msg"]}
            for e in err.errors(include_input=False, include_url=False)
        ]
        return _answer(422, {"detail": errors})


@lru_cache(maxsize=4)
def _campaign(path: str, _mtime_ns: int) -> CampaignSpec:
    return load_campaign(Path(path))


def _renderer(request: Request, settings: Settings) -> Renderer:
    renderer: Renderer | None = getattr(request.app.state, "moment_renderer", None)
    if renderer is None:
        renderer = Renderer(outreach_config(settings))
        request.app.state.moment_renderer = renderer
    return renderer


def _ask(settings: Settings, renderer: Renderer, body: MomentRequest) -> MomentResult:
    path = Path(settings.campaign_file)
    spec = _campaign(str(path), path.stat().st_mtime_ns)
    return contact_moment(
        get_engine(settings),
        external_id=body.external_id,
        channel=body.channel,
        context=body.context,
        now=utcnow(),
        spec=spec,
        policy=settings.caps,
        config=renderer.config,
        max_age_days=settings.verification_max_age_days,
        renderer=renderer,
    )


@router.post("/contact-moments")
async def contact_moments(request: Request, settings: SettingsDep) -> JSONResponse:
    """The re-ask block for one customer at one contact moment, or why there is none."""
    refused = _refusal(request, settings)
    if refused is not None:
        return refused
    body = _parse(await request.body())
    if isinstance(body, JSONResponse):
        return body
    try:
        result = await run_in_threadpool(_ask, settings, _renderer(request, settings), body)
    except (CampaignError, OSError, ConfigurationError) as err:
        log.error("contact moments not configured: %s", err)
        return _answer(503, {"detail": "contact moments not configured: see the server log"})
    log.info("contact moment (%s, %s): %s", body.channel, body.context, result.reason or "ask")
    if result.reason == UNKNOWN:
        return _answer(404, {"detail": "unknown customer"})
    if result.ask is None:
        return _answer(200, {"ask": None, "reason": result.reason})
    ask = result.ask
    return _answer(
        200,
        {
            "ask": {
                "text": ask.text,
                "html": ask.html,
                "link": ask.link,
                "qr_svg": ask.qr_svg,
                "outreach_id": ask.outreach_id,
                "expires_at": ask.expires_at.isoformat(),
            }
        },
    )
