"""How an enrollment ends when its ladder runs out, and whether its profile is unreachable.

Rules (README, "Campaigns and rounds"):
- The profile is **unreachable** only when the ladder found no way to it: it has no verified
  contact point that is not opted out, and the customer gave no answer in this enrollment (no
  landing-page submission since the enrollment started). Any answer counts, whatever it said
  (a confirmed or corrected value, consent alone, and a value declared not to exist once the
  page offers that): it proves a message reached the customer, so a gap they answered never
  makes them unreachable.
- The enrollment ends ``exhausted`` either way: its goal was not met. The end reason of a
  reachable profile says why it is reachable and what stayed open: the gaps the completion rule
  (:mod:`models.rounds.completion`) does not see closed, and the required purposes not answered,
  e.g. ``ladder exhausted; answered, still open: missing_email, missing_mobile``.
- A reachable profile's ``unreachable_at`` is cleared: an earlier enrollment's verdict no
  longer holds. An unreachable one keeps the date it was first found so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import String, select, update
from sqlalchemy.engine import Connection

from models.rounds.completion import VerifiedPoint, open_gaps, purposes_to_answer, spec_of
from models.tables import CAMPAIGN, CONSENT, CONTACT, ENROLLMENT, PROFILE, ROUND, SUBMISSION
from models.vocabulary import CHANNEL_KIND, OPTED_OUT, VERIFIED

E = ENROLLMENT
P = PROFILE
CP = CONTACT

LADDER_EXHAUSTED = "ladder exhausted"
NO_USABLE_CONTACT = "no usable contact point"


@dataclass
class EndingFacts:
    """What one ending enrollment's profile shows, gathered per batch."""

    profile_id: int
    gap_mask: int
    stepped: bool  # a ladder step went out (or was tried) before the ladder ran out
    since: datetime
    required: set[str]
    verified: list[VerifiedPoint] = field(default_factory=list)
    reachable_kinds: set[str] = field(default_factory=set)  # verified and not opted out
    answered: bool = False
    purposes: set[str] = field(default_factory=set)  # answered since the enrollment started


def end_reason(facts: EndingFacts) -> tuple[str, bool]:
    """(end reason, unreachable) for one enrollment whose ladder ran out."""
    base = LADDER_EXHAUSTED if facts.stepped else NO_USABLE_CONTACT
    if not facts.answered and not facts.reachable_kinds:
        return base, True
    still_open = open_gaps(gap_mask=facts.gap_mask, verified=facts.verified, since=facts.since)
    still_open += [f"consent for {key}" for key in sorted(facts.required - facts.purposes)]
    why = "answered" if facts.answered else "verified " + ", ".join(sorted(facts.reachable_kinds))
    reason = f"{base}; {why}, still open: {', '.join(still_open) or 'nothing'}"
    # Many required purposes could overflow the column; the list is a summary, not evidence.
    limit = cast(String, E.c.end_reason.type).length or len(reason)
    return (reason if len(reason) <= limit else reason[: limit - 1] + "…"), False


def _facts(conn: Connection, ids: list[int]) -> dict[int, EndingFacts]:
    e = E.c
    rows = conn.execute(
        select(e.id, e.profile_id, e.gap_mask, e.step_index, e.created_at, CAMPAIGN.c.definition)
        .select_from(
            E.join(ROUND, ROUND.c.id == e.round_id).join(
                CAMPAIGN, CAMPAIGN.c.id == ROUND.c.campaign_id
            )
        )
        .where(e.id.in_(ids))
    ).all()
    # What it asks stays as the round started (README): its own version's purposes, those the
    # page can ask (a channel of theirs the customer has, not opted out).
    kinds: dict[int, set[str]] = {r.id: set() for r in rows}
    of_profile = E.join(CP, CP.c.profile_id == e.profile_id)
    for enrollment_id, kind in conn.execute(
        select(e.id, CP.c.kind)
        .select_from(of_profile)
        .where(e.id.in_(ids), CP.c.status != OPTED_OUT, CP.c.opted_out_at.is_(None))
        .distinct()
    ):
        kinds[enrollment_id].add(kind)
    facts = {
        r.id: EndingFacts(
            r.profile_id,
            r.gap_mask,
            r.step_index >= 0,
            r.created_at,
            purposes_to_answer(
                spec_of(r.definition),
                r.gap_mask,
                {c for c, kind in CHANNEL_KIND.items() if kind in kinds[r.id]},
            ),
        )
        for r in rows
    }
    for r in conn.execute(
        select(e.id, CP.c.kind, CP.c.is_primary, CP.c.verified_at, CP.c.opted_out_at)
        .select_from(of_profile)
        .where(e.id.in_(ids), CP.c.status == VERIFIED)
    ):
        facts[r.id].verified.append(VerifiedPoint(r.kind, r.is_primary, r.verified_at))
        if r.opted_out_at is None:
            facts[r.id].reachable_kinds.add(r.kind)
    answers = E.join(
        SUBMISSION,
        (SUBMISSION.c.profile_id == e.profile_id) & (SUBMISSION.c.received_at >= e.created_at),
    )
    for (enrollment_id,) in conn.execute(
        select(e.id).select_from(answers).where(e.id.in_(ids)).distinct()
    ):
        facts[enrollment_id].answered = True
    consents = E.join(
        CONSENT, (CONSENT.c.profile_id == e.profile_id) & (CONSENT.c.recorded_at >= e.created_at)
    )
    for enrollment_id, purpose in conn.execute(
        select(e.id, CONSENT.c.purpose).select_from(consents).where(e.id.in_(ids)).distinct()
    ):
        facts[enrollment_id].purposes.add(purpose)
    return facts


def end_exhausted(
    conn: Connection, *, enrollment_ids: Sequence[int], now: datetime
) -> dict[int, str]:
    """The end reason of each enrollment whose ladder ran out, by the rules above, with its
    profile marked unreachable or cleared of that mark. The caller ends the enrollments."""
    if not enrollment_ids:
        return {}
    facts = _facts(conn, list(enrollment_ids))
    reasons: dict[int, str] = {}
    unreachable: set[int] = set()
    reachable: set[int] = set()
    for enrollment_id, fact in facts.items():
        reasons[enrollment_id], lost = end_reason(fact)
        (unreachable if lost else reachable).add(fact.profile_id)
    if unreachable:
        # The ladder found no way to reach them: the steward sees when (the stale sweep too).
        conn.execute(
            update(P)
            .where(P.c.id.in_(sorted(unreachable)), P.c.unreachable_at.is_(None))
            .values(unreachable_at=now, updated_at=now)
        )
    if reachable:
        conn.execute(
            update(P)
            .where(P.c.id.in_(sorted(reachable)), P.c.unreachable_at.is_not(None))
            .values(unreachable_at=None, updated_at=now)
        )
    return reasons
