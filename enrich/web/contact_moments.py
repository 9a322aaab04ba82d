"""``POST /api/contact-moments``: another system asks for the re-ask block to carry along.

Authenticated by :mod:`enrich.web.api_auth`. The rules are in
:mod:`models.contact_moments.recording`; this route validates, asks and answers. Neither the answer
to a bad request nor the log ever repeats the customer's external id.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.api_auth import ApiKeyDep
from enrich.web.deps import ServicesDep, SettingsDep
from enrich.web.errors import NO_STORE, Invalid, Refused
from enrich.web.json_body import BoundedJSONRoute
from models.campaigns.spec import CampaignError, CampaignSpec, load_campaign
from models.contact_moments.recording import CONTEXTS, UNKNOWN
from models.types import utcnow
from models.vocabulary import CHANNELS
from outreach.contact_moments import MomentResult, contact_moment
from outreach.errors import ConfigurationError
from outreach.render import Renderer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["contact-moments"], route_class=BoundedJSONRoute)


class MomentRequest(BaseModel):
    """Which customer, on which channel the other system is about to contact them, and why."""

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


class Ask(BaseModel):
    """The block to carry along: text and HTML with the link, and the link as a QR code."""

    text: str
    html: str
    link: str
    qr_svg: str
    outreach_id: int
    expires_at: str = Field(description="When the link expires (ISO 8601, UTC).")


class MomentAnswer(BaseModel):
    """``ask`` when there is something to ask, else ``ask`` null and the ``reason`` why not."""

    ask: Ask | None
    reason: str | None = Field(default=None, examples=["complete", "capped", "opted_out"])


@lru_cache(maxsize=4)
def _campaign(path: str, _mtime_ns: int) -> CampaignSpec:
    return load_campaign(Path(path))


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
        declined_days=settings.declined_field_days,
        renderer=renderer,
    )


@router.post(
    "/contact-moments",
    response_model=MomentAnswer,
    response_model_exclude_unset=True,
    responses={
        401: {"model": Refused, "description": "Missing or wrong API key"},
        404: {"model": Refused, "description": "Unknown customer"},
        422: {"model": Invalid, "description": "The body is refused: which field, and why"},
        503: {"model": Refused, "description": "Not configured on the server"},
    },
)
def contact_moments(
    body: Annotated[MomentRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
    services: ServicesDep,
) -> MomentAnswer:
    """The re-ask block for one customer at one contact moment, or why there is none."""
    response.headers.update(NO_STORE)
    try:
        result = _ask(settings, services.renderer, body)
    except (CampaignError, OSError, ConfigurationError) as err:
        log.error("contact moments not configured: %s", err)
        detail = "contact moments not configured: see the server log"
        raise HTTPException(503, detail, headers=NO_STORE) from err
    log.info("contact moment (%s, %s): %s", body.channel, body.context, result.reason or "ask")
    if result.reason == UNKNOWN:
        raise HTTPException(404, "unknown customer", headers=NO_STORE)
    if result.ask is None:
        return MomentAnswer(ask=None, reason=result.reason)
    ask = result.ask
    return MomentAnswer(
        ask=Ask(
            text=ask.text,
            html=ask.html,
            link=ask.link,
            qr_svg=ask.qr_svg,
            outreach_id=ask.outreach_id,
            expires_at=ask.expires_at.isoformat(),
        )
    )
