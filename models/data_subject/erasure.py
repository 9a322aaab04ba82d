"""Erasure on request (Art. 17): one profile's personal data erased at once, not only through the
stale sweep. The erasing itself is :func:`models.retention.erasure.erase_profiles`; this adds the
request (who asked, why) and stops the profile's active enrollment first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.data_subject.request import Request, find_profile, stop_enrollments
from models.retention.erasure import erase_profiles
from models.tables import PROFILE


@dataclass(frozen=True, slots=True)
class Erased:
    """What the request did: ``already`` when the profile was erased before (on ``erased_at``);
    ``external_id`` is the ``erased:`` marker the profile is known by from now on."""

    profile_id: int
    external_id: str
    erased_at: datetime
    already: bool


def erase_on_request(
    conn: Connection, *, external_id: str, request: Request, now: datetime
) -> Erased:
    """Erase the profile with this external id; an erased one (named by its marker) is left."""
    profile = find_profile(conn, external_id)
    if profile.erased_at is not None:
        return Erased(profile.id, profile.external_id, profile.erased_at, already=True)
    stop_enrollments(conn, profile_id=profile.id, why="profile erased", request=request, now=now)
    erase_profiles(
        conn,
        profile_ids=[profile.id],
        now=now,
        actor=request.requested_by,
        reason=request.reason,
        evidence=request.evidence,
    )
    marker = conn.execute(select(PROFILE.c.external_id).where(PROFILE.c.id == profile.id))
    return Erased(profile.id, marker.scalar_one(), now, already=False)
