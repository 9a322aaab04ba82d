"""The data subject's rights under ``/api/data-subjects/...``, for a privacy-request tool.

``POST .../export`` answers the access export (the same JSON as ``enrich profile export``),
``POST .../dossier`` the dossier (the same JSON as ``enrich profile dossier --format json``);
``POST .../erase``, ``.../object`` and ``.../restrict`` carry out the request. Every body names
the customer and says who asked and why. The external id travels in the body, never in the URL
(as with the contact-moment API): URLs end up in the logs of every proxy and client on the way,
and an export is no safe read either, since it is audited. Authenticated by
:mod:`enrich.web.api_auth`; the rules are in :mod:`models.data_subject`. The routes are plain
``def``, so FastAPI runs the database work in its thread pool. Neither an answer nor the log
repeats the external id or the request's texts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Connection

from enrich.documents.dossier import dossier_data
from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.api_auth import ApiKeyDep
from enrich.web.deps import SettingsDep
from enrich.web.errors import NO_STORE, Invalid, Refused
from enrich.web.json_body import BoundedJSONRoute
from models.campaigns.spec import CampaignError, load_campaign
from models.data_subject.access import export_profile
from models.data_subject.erasure import erase_on_request
from models.data_subject.objection import object_to_processing, withdraw_objection
from models.data_subject.request import (
    MAX_EXTERNAL_ID,
    MAX_REASON,
    MAX_REQUESTED_BY,
    ProfileErased,
    Request,
    RequestError,
    UnknownProfile,
    check_text,
    has_control,
)
from models.data_subject.restriction import lift_restriction, restrict
from models.db import truncate_wal
from models.dossier import read_dossier
from models.types import utcnow

T = TypeVar("T")
log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/data-subjects", tags=["data-subject rights"], route_class=BoundedJSONRoute
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Refused, "description": "Missing or wrong API key"},
    404: {"model": Refused, "description": "Unknown customer"},
    409: {"model": Refused, "description": "The profile was erased: nothing left to change"},
    422: {"model": Invalid, "description": "The request is refused: which field, and why"},
    503: {"model": Refused, "description": "Not configured on the server"},
}


class RightsRequest(BaseModel):
    """Which customer, who asked (a person, or the requesting tool's user) and why (the request
    or its ticket)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    external_id: str = Field(min_length=1, max_length=MAX_EXTERNAL_ID)  # the CRM's id
    requested_by: str = Field(min_length=1, max_length=MAX_REQUESTED_BY)
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="No personal data.")

    @field_validator("external_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if has_control(value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("requested_by", "reason")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        checked = check_text("the text", value, limit=MAX_REASON)
        assert checked is not None
        return checked

    def request(self) -> Request:
        return Request(requested_by=self.requested_by, reason=self.reason, via="api")


class ObjectionRequest(RightsRequest):
    purpose: str | None = Field(
        default=None,
        max_length=64,
        description="Object to this purpose only: its consent is recorded as withdrawn.",
    )
    withdraw: bool = Field(default=False, description="Withdraw the objection to everything.")


class RestrictionRequest(RightsRequest):
    lift: bool = Field(default=False, description="Lift the restriction.")


class Outcome(BaseModel):
    """What the request did, e.g. ``objected`` or ``already restricted``."""

    result: str
    profile_id: int | None = None
    erased_at: str | None = None


def _carry_out(settings: Settings, action: str, work: Callable[[Connection, datetime], T]) -> T:
    """``work`` in one transaction; a refused request changes nothing and answers 404/409/422."""
    try:
        with get_engine(settings).begin() as conn:
            done = work(conn, utcnow())
    except UnknownProfile:
        log.info("data-subject request (%s): unknown customer", action)
        raise HTTPException(404, "unknown customer", headers=NO_STORE) from None
    except ProfileErased:
        raise HTTPException(409, "the profile was erased", headers=NO_STORE) from None
    except RequestError as err:
        problem = [{"field": err.field, "error": str(err)}]
        raise HTTPException(422, problem, headers=NO_STORE) from None
    log.info("data-subject request (%s) carried out", action)
    return done


@router.post("/export", responses=RESPONSES)
def export(
    body: Annotated[RightsRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Everything held on one customer (Art. 15): profile, contact points, consents, messages,
    events, submissions, purposes, recipients and history; audited with who asked and why."""
    response.headers.update(NO_STORE)
    request, external_id = body.request(), body.external_id
    return _carry_out(
        settings,
        "export",
        lambda conn, now: export_profile(conn, external_id=external_id, request=request, now=now),
    )


@router.post("/dossier", responses=RESPONSES)
def dossier(
    body: Annotated[RightsRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Every value held about one customer with its source, changes, proofs and challenges;
    every message with its reason, delivery events and answers; consents and rights used.
    The reading is audited with who asked and why."""
    response.headers.update(NO_STORE)
    request, external_id = body.request(), body.external_id
    found = _carry_out(
        settings,
        "dossier",
        lambda conn, now: read_dossier(
            conn,
            external_id=external_id,
            request=request,
            now=now,
            max_age_days=settings.verification_max_age_days,
            idle_days=settings.sweep_idle_days,
            templates_dir=settings.templates_dir,
        ),
    )
    return dossier_data(found)


@router.post(
    "/erase", response_model=Outcome, response_model_exclude_none=True, responses=RESPONSES
)
def erase(
    body: Annotated[RightsRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
) -> Outcome:
    """Erase one customer's personal data now (Art. 17); the pseudonymous trail remains."""
    response.headers.update(NO_STORE)
    request, external_id = body.request(), body.external_id
    done = _carry_out(
        settings,
        "erase",
        lambda conn, now: erase_on_request(conn, external_id=external_id, request=request, now=now),
    )
    truncate_wal(get_engine(settings))  # no old page of the log keeps the erased values
    return Outcome(
        result="already erased" if done.already else "erased",
        profile_id=done.profile_id,
        erased_at=done.erased_at.isoformat(),
    )


def _purposes(settings: Settings) -> list[str]:
    try:
        return [p.key for p in load_campaign(settings.campaign_file).purposes]
    except CampaignError as err:
        log.error("campaign not readable: %s", err)
        raise HTTPException(
            503, "campaign not readable: see the server log", headers=NO_STORE
        ) from err


@router.post(
    "/object", response_model=Outcome, response_model_exclude_none=True, responses=RESPONSES
)
def object_(
    body: Annotated[ObjectionRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
) -> Outcome:
    """Record an objection (Art. 21) to everything (no round or contact moment reaches the
    customer) or to one purpose (its consent withdrawn), or withdraw the objection."""
    response.headers.update(NO_STORE)
    request, external_id = body.request(), body.external_id
    if body.withdraw and body.purpose is not None:
        problem = [{"field": "withdraw", "error": "applies to the objection to everything only"}]
        raise HTTPException(422, problem, headers=NO_STORE)
    if body.withdraw:
        result = _carry_out(
            settings,
            "objection withdrawn",
            lambda conn, now: withdraw_objection(
                conn, external_id=external_id, request=request, now=now
            ),
        )
        return Outcome(result=result)
    purposes = _purposes(settings) if body.purpose is not None else []
    result = _carry_out(
        settings,
        "object",
        lambda conn, now: object_to_processing(
            conn,
            external_id=external_id,
            request=request,
            now=now,
            purpose=body.purpose,
            purposes=purposes,
        ),
    )
    return Outcome(result=result)


@router.post(
    "/restrict", response_model=Outcome, response_model_exclude_none=True, responses=RESPONSES
)
def restrict_(
    body: Annotated[RestrictionRequest, Body()],
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
) -> Outcome:
    """Restrict processing (Art. 18): kept, but not selected, sent to or asked at a contact
    moment; or lift the restriction."""
    response.headers.update(NO_STORE)
    request, external_id = body.request(), body.external_id
    change = lift_restriction if body.lift else restrict
    result = _carry_out(
        settings,
        "lift restriction" if body.lift else "restrict",
        lambda conn, now: change(conn, external_id=external_id, request=request, now=now),
    )
    return Outcome(result=result)
