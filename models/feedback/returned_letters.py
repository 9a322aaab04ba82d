"""Returned letters: the code printed on a letter names its outreach; a returned letter marks the
postal address ``invalid`` and makes the enrollment's next step due at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from models.audit import AuditRow, audit_many
from models.feedback.event_records import chunks
from models.tables import CONTACT, ENROLLMENT, OUTREACH
from models.vocabulary import ACTIVE, FAILED, INVALID, LETTER, OPTED_OUT, SENT, AuditAction

RETURNED_REASON = "letter returned"
_RETURN_CODE = re.compile(r"L-?(\d{6,})-?(\d)")
# A letter that was never printed cannot come back: its code is reported as unknown.
_POSTED = (SENT, FAILED)


def luhn_digit(digits: str) -> int:
    """The Luhn check digit: catches every single-digit error and most swapped neighbours."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def parse_return_code(code: str) -> int:
    """The outreach id in a return code like ``L-000123-0``; ValueError when malformed or the
    check digit is wrong (a mistyped code)."""
    match = _RETURN_CODE.fullmatch(code.strip().upper().replace(" ", ""))
    if not match:
        raise ValueError("not a return code (expected L-000123-0)")
    digits, check = match.groups()
    if luhn_digit(digits) != int(check):
        raise ValueError("return code check digit does not match (mistyped?)")
    return int(digits)


@dataclass(frozen=True, slots=True)
class ReturnsOutcome:
    marked: int  # postal addresses newly marked invalid
    already_invalid: int  # addresses already invalid or opted out: left as they are
    unknown_codes: list[str] = field(default_factory=list)  # well-formed, but no posted letter
    bad_codes: list[str] = field(default_factory=list)  # malformed or wrong check digit
    enrollments_due: int = 0


def _letters(session: Session, ids: list[int]) -> dict[int, Any]:
    query = (
        select(
            OUTREACH.c.id,
            OUTREACH.c.enrollment_id,
            OUTREACH.c.step_index,
            OUTREACH.c.status.label("outreach_status"),
            OUTREACH.c.contact_point_id,
            CONTACT.c.profile_id,
            CONTACT.c.status.label("cp_status"),
            CONTACT.c.invalid_reason,
        )
        .join(CONTACT, CONTACT.c.id == OUTREACH.c.contact_point_id)
        .where(OUTREACH.c.channel == LETTER, CONTACT.c.kind == "postal")
    )
    found: dict[int, Any] = {}
    for chunk in chunks(ids):
        rows = session.execute(query.where(OUTREACH.c.id.in_(chunk)))
        found.update({r.id: r for r in rows if r.outreach_status in _POSTED})
    return found


def mark_returned(
    *, session: Session, codes: Sequence[str], now: datetime, actor: str
) -> ReturnsOutcome:
    """Mark the postal address of every returned letter ``invalid`` and hurry its enrollment.

    Runs inside the caller's transaction; running it twice with the same codes changes nothing
    the second time. An opted-out address stays opted out (that status says more).
    """
    bad: list[str] = []
    ids: dict[int, str] = {}
    for raw in codes:
        code = raw.strip()
        if not code:
            continue
        try:
            ids.setdefault(parse_return_code(code), code)
        except ValueError:
            bad.append(code)
    letters = _letters(session, sorted(ids))
    unknown = [code for oid, code in ids.items() if oid not in letters]

    # One address may have had several letters returned: mark it once.
    to_mark: dict[int, Any] = {}
    already = set()
    for letter in letters.values():
        if letter.cp_status in (INVALID, OPTED_OUT):
            already.add(letter.contact_point_id)
        else:
            to_mark.setdefault(letter.contact_point_id, letter)
    if to_mark:
        session.execute(
            update(CONTACT)
            .where(CONTACT.c.id == bindparam("b_id"))
            .values(status=INVALID, invalid_reason=RETURNED_REASON, updated_at=bindparam("b_now")),
            [{"b_id": cp_id, "b_now": now} for cp_id in to_mark],
        )
    audits = [
        AuditRow(
            at=now,
            actor=actor,
            action=AuditAction.CONTACT_POINT_INVALID,
            entity_type="contact_point",
            entity_id=cp_id,
            profile_id=letter.profile_id,
            before={"status": letter.cp_status, "invalid_reason": letter.invalid_reason},
            after={"status": INVALID, "invalid_reason": RETURNED_REASON},
            reason=RETURNED_REASON,
            evidence={"outreach_id": letter.id, "code": ids[letter.id]},
        )
        for cp_id, letter in to_mark.items()
    ]
    audits += _fail_letters(session, letters, ids, now, actor)
    due = _nudge(session, letters, ids, now, actor)
    audits += due
    audit_many(session, audits)
    return ReturnsOutcome(
        marked=len(to_mark),
        already_invalid=len(already - set(to_mark)),
        unknown_codes=unknown,
        bad_codes=bad,
        enrollments_due=len(due),
    )


def _fail_letters(
    session: Session, letters: dict[int, Any], ids: dict[int, str], now: datetime, actor: str
) -> list[AuditRow]:
    """A returned letter was not delivered: a sent letter outreach becomes failed."""
    sent = [letter for letter in letters.values() if letter.outreach_status == SENT]
    if not sent:
        return []
    session.execute(
        update(OUTREACH)
        .where(OUTREACH.c.id == bindparam("b_id"), OUTREACH.c.status == SENT)
        .values(status=FAILED, error=RETURNED_REASON, updated_at=bindparam("b_now")),
        [{"b_id": letter.id, "b_now": now} for letter in sent],
    )
    return [
        AuditRow(
            at=now,
            actor=actor,
            action=AuditAction.OUTREACH_FAILED,
            entity_type="outreach",
            entity_id=letter.id,
            profile_id=letter.profile_id,
            before={"status": SENT},
            after={"status": FAILED},
            reason=RETURNED_REASON,
            evidence={"outreach_id": letter.id, "code": ids[letter.id]},
        )
        for letter in sent
    ]


def _nudge(
    session: Session, letters: dict[int, Any], ids: dict[int, str], now: datetime, actor: str
) -> list[AuditRow]:
    """The enrollment waiting on a returned letter moves on now instead of after its window."""
    by_enrollment = {
        letter.enrollment_id: letter
        for letter in sorted(letters.values(), key=lambda r: -r.id)
        if letter.enrollment_id is not None
    }
    rows: list[Any] = []
    for chunk in chunks(sorted(by_enrollment)):
        query = select(ENROLLMENT.c.id, ENROLLMENT.c.step_index, ENROLLMENT.c.next_due_at).where(
            ENROLLMENT.c.id.in_(chunk), ENROLLMENT.c.state == ACTIVE
        )
        rows.extend(session.execute(query))
    # Only when the letter is the enrollment's latest step, and only once: a due time already
    # reached stays as it is, which is what makes a second run change nothing.
    due = [
        r
        for r in rows
        if r.step_index == by_enrollment[r.id].step_index
        and (r.next_due_at is None or r.next_due_at > now)
    ]
    if not due:
        return []
    session.execute(
        update(ENROLLMENT)
        .where(ENROLLMENT.c.id == bindparam("b_id"))
        .values(next_due_at=bindparam("b_now"), updated_at=bindparam("b_now")),
        [{"b_id": r.id, "b_now": now} for r in due],
    )
    return [
        AuditRow(
            at=now,
            actor=actor,
            action=AuditAction.ENROLLMENT_DUE_NOW,
            entity_type="enrollment",
            entity_id=r.id,
            profile_id=by_enrollment[r.id].profile_id,
            before={"next_due_at": r.next_due_at.isoformat() if r.next_due_at else None},
            after={"next_due_at": now.isoformat()},
            reason=RETURNED_REASON,
            evidence={
                "outreach_id": by_enrollment[r.id].id,
                "code": ids[by_enrollment[r.id].id],
            },
        )
        for r in due
    ]
