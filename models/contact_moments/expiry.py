"""Contact-moment enrollments whose links all expired unanswered end as exhausted, audited once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.contact_moments.recording import ACTOR, LINKS_EXPIRED
from models.tables import ENROLLMENT, OUTREACH, ROUND, TOKEN
from models.vocabulary import ACTIVE, EXHAUSTED, STANDING, AuditAction


def _expired_moment(now: datetime) -> Any:
    """An active contact-moment enrollment none of whose links is still live."""
    e, r, o, t = ENROLLMENT.c, ROUND.c, OUTREACH.c, TOKEN.c
    live = (
        select(t.id)
        .select_from(TOKEN.join(OUTREACH, o.id == t.outreach_id))
        .where(o.enrollment_id == e.id, t.expires_at > now)
    )
    return and_(
        e.state == ACTIVE,
        e.round_id.in_(select(r.id).where(r.status == STANDING)),
        ~live.exists(),
    )


def expired_moments_exist(conn: Connection, *, now: datetime) -> bool:
    """Whether :func:`close_expired_moments` would end anything now."""
    found = conn.execute(select(ENROLLMENT.c.id).where(_expired_moment(now)).limit(1))
    return found.first() is not None


def close_expired_moments(conn: Connection, *, now: datetime) -> int:
    """End (``exhausted``) every active contact-moment enrollment none of whose links is still
    live, so a later round may select the profile again; returns how many ended. Set-based."""
    e = ENROLLMENT.c
    # One statement: an ask recorded meanwhile (a new live link) keeps its enrollment open.
    ended = conn.execute(
        update(ENROLLMENT)
        .where(_expired_moment(now))
        .values(
            state=EXHAUSTED,
            end_reason=LINKS_EXPIRED,
            ended_at=now,
            wait_reason=None,
            updated_at=now,
        )
        .returning(e.id, e.profile_id, e.round_id)
    ).all()
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=ACTOR,
                action=AuditAction.ENROLLMENT_EXHAUSTED,
                entity_type="enrollment",
                entity_id=row.id,
                profile_id=row.profile_id,
                before={"state": ACTIVE},
                after={"state": EXHAUSTED, "end_reason": LINKS_EXPIRED},
                reason=LINKS_EXPIRED,
                evidence={"round_id": row.round_id},
            )
            for row in ended
        ],
    )
    return len(ended)
