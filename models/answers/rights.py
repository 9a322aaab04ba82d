"""The customer's rights on the landing page: "stop contacting me" and "this value is wrong".

- **Stop contacting me** is an objection to everything
  (:func:`models.data_subject.objection.object_to_processing`) asked by the customer through
  the personal link: the link opens nothing any more, a submission row keeps what was asked,
  the audit row names the link and its message, and the rest of the form is not applied (an
  objection never fails on another field).
- **This is wrong** without a new value makes the contact point ``contested``: no message is
  written to it and the selection counts it as a broken value (``invalid_email``,
  ``invalid_mobile``, ``unverified_postal``), so the next round asks for a new one another way.
  The customer confirming it later, proving it, or an import bringing a different value ends
  the contest; an import of the same value keeps it (:mod:`models.importing.apply_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlmodel import Session

from models.answers.personal_link import claim_link, link_alive, link_row, mark_used
from models.audit import audit
from models.data_subject.objection import object_to_processing
from models.data_subject.request import Request, RequestError
from models.tables import ContactPoint, Outreach, Profile, Submission
from models.vocabulary import CONTESTED, AuditAction

ACTOR: Final = "customer"
VIA: Final = "landing"
OBJECTION_REASON: Final = "stop contacting me, chosen on the landing page"
CONTEST_REASON: Final = "marked as wrong on the landing page"


@dataclass(frozen=True)
class LinkObjection:
    status: Literal["ok", "invalid_link"]
    submission_id: int | None = None


def contest(
    session: Session, cp: ContactPoint, now: datetime, evidence: dict[str, Any]
) -> dict[str, Any]:
    """Mark ``cp`` contested (audited with the status it had); a second contest changes nothing."""
    if cp.status == CONTESTED:
        return {"action": "wrong", "contact_point_id": cp.id, "result": "already contested"}
    before = {"status": cp.status}
    cp.status, cp.updated_at = CONTESTED, now
    session.add(cp)
    audit(
        session=session,
        actor=ACTOR,
        action=AuditAction.CONTACT_POINT_CONTESTED,
        entity_type="contact_point",
        entity_id=cp.id,
        profile_id=cp.profile_id,
        before=before,
        after={"status": CONTESTED},
        reason=CONTEST_REASON,
        evidence={**evidence, "method": "page_wrong"},
    )
    return {"action": "wrong", "contact_point_id": cp.id, "result": CONTESTED}


def object_through_link(*, session: Session, token: str, now: datetime) -> LinkObjection:
    """Record the objection of the person behind a live personal link; the caller commits.

    An unknown or expired link, or one of a profile that objected already, changes nothing.
    """
    row = link_row(session, token)
    if row is None or row.id is None or not link_alive(session, row, now):
        return LinkObjection("invalid_link")
    if not claim_link(session, row.id, now):
        return LinkObjection("invalid_link")
    mark_used(session, row.id, now)
    outreach = session.get(Outreach, row.outreach_id) if row.outreach_id else None
    submission = Submission(
        profile_id=row.profile_id,
        token_id=row.id,
        outreach_id=row.outreach_id,
        received_at=now,
        data={"objection": True},
    )
    session.add(submission)
    session.flush()
    link = {
        "token_id": row.id,
        "outreach_id": row.outreach_id,
        "channel": outreach.channel if outreach else None,
        "submission_id": submission.id,
    }
    audit(
        session=session,
        actor=ACTOR,
        action=AuditAction.SUBMISSION_RECEIVED,
        entity_type="submission",
        entity_id=submission.id,
        profile_id=row.profile_id,
        evidence={**link, "method": "landing"},
    )
    session.flush()
    profile = session.get(Profile, row.profile_id)
    if profile is None:  # the token's foreign key holds it
        raise LookupError("the personal link's profile is not in the database")
    request = Request(requested_by=ACTOR, reason=OBJECTION_REASON, via=VIA, details=link)
    try:
        object_to_processing(
            session.connection(), external_id=profile.external_id, request=request, now=now
        )
    except RequestError:  # an erased profile: there is nobody left to object
        return LinkObjection("invalid_link")
    return LinkObjection("ok", submission.id)
