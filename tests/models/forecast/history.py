"""Earlier rounds with scripted outcomes, written the way sending and the landing page leave
them: outreach rows per step, submissions through them, ``contact_point.verified`` audit events
naming the outreach as evidence, and the enrollment's end state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.campaigns.spec import CampaignSpec
from models.tables import CAMPAIGN, ENROLLMENT, OUTREACH, ROUND, SUBMISSION
from models.vocabulary import AuditAction
from tests.factories import COMPLETE, NOW, add_profile


@dataclass(frozen=True)
class Outcome:
    """One enrollment's step: the outreach status and what the customer did with it."""

    status: str = "sent"
    answered: bool = False
    verified: bool = False  # the answer verified a contact point (evidence: this outreach)
    verified_elsewhere: bool = False  # a verification naming no outreach of the ladder
    completed: bool = False


SENT = Outcome()
FAILED = Outcome(status="failed")
SKIPPED = Outcome(status="skipped")


def stored_campaign(conn: Connection, spec: CampaignSpec, version: int = 1) -> int:
    return int(
        conn.execute(
            insert(CAMPAIGN).values(
                key=spec.key,
                version=version,
                content_hash=spec.content_hash(),
                definition=spec.model_dump(mode="json"),
                created_at=NOW,
            )
        ).inserted_primary_key[0]
    )


def _outreach(
    conn: Connection,
    enrollment_id: int,
    profile_id: int,
    index: int,
    channel: str,
    at: datetime,
    outcome: Outcome,
) -> int:
    return int(
        conn.execute(
            insert(OUTREACH).values(
                enrollment_id=enrollment_id,
                round_id=select(ENROLLMENT.c.round_id)
                .where(ENROLLMENT.c.id == enrollment_id)
                .scalar_subquery(),
                profile_id=profile_id,
                step_index=index,
                channel=channel,
                template="ask",
                status=outcome.status,
                created_at=at,
                updated_at=at,
                sent_at=at if outcome.status == "sent" else None,
            )
        ).inserted_primary_key[0]
    )


def _answer(
    conn: Connection, profile_id: int, outreach_id: int, outcome: Outcome, at: datetime
) -> None:
    submission_id = int(
        conn.execute(
            insert(SUBMISSION).values(
                profile_id=profile_id, outreach_id=outreach_id, received_at=at
            )
        ).inserted_primary_key[0]
    )
    if outcome.verified or outcome.verified_elsewhere:
        evidence = {"outreach_id": outreach_id if outcome.verified else None}
        audit_many(
            conn,
            [
                AuditRow(
                    actor="customer",
                    action=AuditAction.CONTACT_POINT_VERIFIED,
                    entity_type="contact_point",
                    entity_id=None,
                    profile_id=profile_id,
                    evidence={**evidence, "submission_id": submission_id},
                    at=at,
                )
            ],
        )


def scripted_round(
    conn: Connection,
    *,
    spec: CampaignSpec,
    campaign_id: int,
    at: datetime,
    people: Sequence[Sequence[Outcome]],
    status: str = "finished",
    prefix: str = "earlier",
) -> int:
    """A round started at ``at``: one enrollment per entry of ``people``, its outcomes per
    ladder step in order (each step written when the previous one's window was over). Its
    profiles lack nothing and were contacted at ``at``: no later plan selects them."""
    round_id = int(
        conn.execute(
            insert(ROUND).values(
                campaign_id=campaign_id, started_by="test", status=status, started_at=at
            )
        ).inserted_primary_key[0]
    )
    for number, steps in enumerate(people):
        profile_id = add_profile(
            conn, f"{prefix}-{round_id}-{number}", COMPLETE, last_contacted_at=at
        )
        done = any(outcome.completed for outcome in steps)
        enrollment_id = int(
            conn.execute(
                insert(ENROLLMENT).values(
                    round_id=round_id,
                    profile_id=profile_id,
                    state="completed" if done else "exhausted",
                    gap_mask=1,
                    step_index=len(steps) - 1,
                    created_at=at,
                    updated_at=at,
                    ended_at=at,
                )
            ).inserted_primary_key[0]
        )
        when = at
        for index, outcome in enumerate(steps):
            step = spec.ladder[index]
            outreach_id = _outreach(
                conn, enrollment_id, profile_id, index, step.channel, when, outcome
            )
            if outcome.answered:
                _answer(conn, profile_id, outreach_id, outcome, when + timedelta(days=1))
            when += timedelta(days=step.wait_days)
    return round_id


FULL = [
    {"kind": "email", "status": "valid"},
    {"kind": "mobile", "status": "valid"},
    {"kind": "postal", "status": "valid"},
]
LETTER_ONLY = [{"kind": "postal", "status": "valid"}]


def population(conn: Connection, full: int = 10, letter_only: int = 10) -> None:
    for number in range(full):
        add_profile(conn, f"full-{number}", FULL)
    for number in range(letter_only):
        add_profile(conn, f"letter-{number}", LETTER_ONLY)


def earlier_email_round(
    conn: Connection,
    spec: CampaignSpec,
    status: str = "finished",
    prefix: str = "earlier",
    now: datetime = NOW,
) -> int:
    """25 enrollments: 20 emails sent, 5 failed; 5 answered, 4 of them verified through that
    email (the fifth by another way), 2 completed; then 10 SMS sent and 13 steps skipped:
    email observed (sent 0.8, answered 0.25, verified 0.2, completed 0.1), too few SMS."""
    answered = [Outcome(answered=True, verified=True)] * 2
    answered += [Outcome(answered=True, verified=True, completed=True)] * 2
    answered += [Outcome(answered=True, verified_elsewhere=True)]
    people: list[list[Outcome]] = [[o] for o in answered[2:4]]  # completed: no second step
    people += [[o, SENT] for o in answered[:2] + answered[4:]]
    people += [[SENT, SENT]] * 7 + [[SENT, SKIPPED]] * 8 + [[FAILED, SKIPPED]] * 5
    campaign_id = stored_campaign(conn, spec)
    return scripted_round(
        conn,
        spec=spec,
        campaign_id=campaign_id,
        at=now - timedelta(days=40),
        people=people,
        status=status,
        prefix=prefix,
    )
