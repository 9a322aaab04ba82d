"""A data-subject request: who asked, why and through what, checked once for every right; the
profile it names; and the enrollments it stops.

The request's texts are stored in the audit trail (``actor`` and ``reason``), so they follow the
trail's limits and carry no control characters. Errors never repeat the external id: it is the
customer's identifier, and an error message ends up in logs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.tables import ENROLLMENT, PROFILE
from models.vocabulary import ACTIVE, STOPPED, AuditAction

# The audit columns the texts go into (models.tables.trail.AuditEvent).
MAX_REQUESTED_BY: Final = 200
MAX_REASON: Final = 500
MAX_EXTERNAL_ID: Final = 128
VIAS: Final = ("cli", "api", "landing")


class RequestError(ValueError):
    """The request cannot be carried out as asked; nothing was changed. The message says why,
    ``field`` names the part of the request at fault."""

    field: str = "request"


class UnknownProfile(RequestError):
    """No profile has this external id (an erased one keeps only its ``erased:`` marker)."""

    def __init__(self) -> None:
        super().__init__(
            "unknown external id: no profile has it (an erased profile is known only by its "
            "erased:... marker)"
        )


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (no stored id or text does; PostgreSQL
    refuses NUL outright)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_text(label: str, value: str | None, *, limit: int, required: bool = True) -> str | None:
    """``value`` stripped, or :class:`RequestError` naming ``label`` (never the value)."""
    text = (value or "").strip()
    if not text:
        if required:
            raise RequestError(f"{label} is required")
        return None
    if len(text) > limit:
        raise RequestError(f"{label} is longer than {limit} characters")
    if has_control(text):
        raise RequestError(f"{label} contains a control character")
    return text


@dataclass(frozen=True, slots=True)
class Request:
    """Who asked (the steward or the requesting system's user), why, and through what."""

    requested_by: str
    reason: str | None
    via: str
    # What else identifies the request, e.g. the personal link and message it came through.
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def checked(
        cls, *, requested_by: str, reason: str | None, via: str, reason_required: bool = True
    ) -> Request:
        if via not in VIAS:
            raise RequestError(f"unknown request channel; expected one of {', '.join(VIAS)}")
        by = check_text("who asked", requested_by, limit=MAX_REQUESTED_BY)
        why = check_text("the reason", reason, limit=MAX_REASON, required=reason_required)
        assert by is not None
        return cls(requested_by=by, reason=why, via=via)

    @property
    def evidence(self) -> dict[str, Any]:
        return {"requested_by": self.requested_by, "via": self.via, **self.details}


def find_profile(conn: Connection, external_id: str) -> Any:
    """The profile row with this external id; :class:`UnknownProfile` when there is none."""
    if not external_id or len(external_id) > MAX_EXTERNAL_ID or has_control(external_id):
        raise UnknownProfile()
    p = PROFILE.c
    row = conn.execute(
        select(
            p.id, p.external_id, p.objected_at, p.restricted_at, p.erased_at, p.opted_out_at
        ).where(p.external_id == external_id)
    ).first()
    if row is None:
        raise UnknownProfile()
    return row


class ProfileErased(RequestError):
    """The profile was erased: there is nothing left to object to, restrict or lift."""


def refuse_erased(profile: Any, what: str) -> None:
    if profile.erased_at is not None:
        erased = f"{profile.erased_at:%Y-%m-%d}"
        raise ProfileErased(f"the profile was erased on {erased}: nothing left to {what}")


def set_mark(
    conn: Connection,
    *,
    profile: Any,
    column: str,
    at: datetime | None,
    action: AuditAction,
    request: Request,
    now: datetime,
) -> None:
    """Set (``at``) or clear (None) one of the profile's marks, such as ``objected_at``, audited."""
    old = getattr(profile, column)
    conn.execute(
        update(PROFILE).where(PROFILE.c.id == profile.id).values({column: at, "updated_at": now})
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=request.requested_by,
                action=action,
                entity_type="profile",
                entity_id=profile.id,
                profile_id=profile.id,
                before={column: old.isoformat() if old else None},
                after={column: at.isoformat() if at else None},
                reason=request.reason,
                evidence=request.evidence,
            )
        ],
    )


def stop_enrollments(
    conn: Connection, *, profile_id: int, why: str, request: Request, now: datetime
) -> int:
    """End the profile's active enrollment at once (audited), so no further step goes out."""
    ids = (
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.profile_id == profile_id, ENROLLMENT.c.state == ACTIVE)
            .values(state=STOPPED, end_reason=why, ended_at=now, updated_at=now)
            .returning(ENROLLMENT.c.id)
        )
        .scalars()
        .all()
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=request.requested_by,
                action=AuditAction.ENROLLMENT_STOP,
                entity_type="enrollment",
                entity_id=eid,
                profile_id=profile_id,
                before={"state": ACTIVE},
                after={"state": STOPPED},
                reason=why,
                evidence=request.evidence,
            )
            for eid in ids
        ],
    )
    return len(ids)
