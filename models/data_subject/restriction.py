"""Restriction of processing (Art. 18): the profile is kept but not processed until lifted.

While ``restricted_at`` is set, no round selects the profile (``round plan`` counts it as
"processing restricted"), its active enrollment stops at once and a step already due is not
sent (the write-ahead stops the enrollment), and a contact moment answers ``restricted``. Its
data stays as it is, for the customer's claim (a contested value, a pending objection) to be
settled. Lifting the restriction clears the mark; the next round may select the profile again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.engine import Connection

from models.data_subject.request import (
    Request,
    find_profile,
    refuse_erased,
    set_mark,
    stop_enrollments,
)
from models.vocabulary import AuditAction

RESTRICTED: Final = "restricted"
ALREADY_RESTRICTED: Final = "already restricted"
LIFTED: Final = "restriction lifted"
NOT_RESTRICTED: Final = "not restricted"


def restrict(conn: Connection, *, external_id: str, request: Request, now: datetime) -> str:
    """Restrict the profile's processing (see the module docstring); returns what was done."""
    profile = find_profile(conn, external_id)
    refuse_erased(profile, "restrict")
    if profile.restricted_at is not None:
        return ALREADY_RESTRICTED
    set_mark(
        conn,
        profile=profile,
        column="restricted_at",
        at=now,
        action=AuditAction.PROFILE_RESTRICTED,
        request=request,
        now=now,
    )
    stop_enrollments(conn, profile_id=profile.id, why="restricted", request=request, now=now)
    return RESTRICTED


def lift_restriction(conn: Connection, *, external_id: str, request: Request, now: datetime) -> str:
    """Lift the restriction; returns what was done."""
    profile = find_profile(conn, external_id)
    refuse_erased(profile, "lift")
    if profile.restricted_at is None:
        return NOT_RESTRICTED
    set_mark(
        conn,
        profile=profile,
        column="restricted_at",
        at=None,
        action=AuditAction.PROFILE_RESTRICTION_LIFTED,
        request=request,
        now=now,
    )
    return LIFTED
