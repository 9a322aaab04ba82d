"""The funnel per ladder step and channel, from a few GROUP BY queries over a round's messages.

Per step (as the steward numbers them, the first is 1) and channel, counting the round's
ladder messages (:mod:`models.round_report.message_facts`), one per enrollment and step:

- ``enrolled``: enrollments that reached the step: a message row for it, in any status
  (sent, skipped for want of a usable contact point, failed or pending);
- ``sent``: messages the provider took (``sent_at`` set: a message it later reported bounced or
  undelivered, status ``failed`` since, was sent all the same);
- ``delivered``: sent messages with a ``delivered``, ``opened`` or ``clicked`` event (email and
  SMS; null for letters, which no provider reports on);
- ``opened``: sent emails with an ``opened`` or ``clicked`` event (a click is an open the
  tracking pixel missed); ``clicked``: with a ``clicked`` event (both null but for email);
- ``link_opened``: messages whose personal link, or the QR code of a letter, opened the landing
  page (the token's ``opened_at``), or that were answered (an answer proves the page opened);
- ``answered``: enrollments with a landing-page submission made through the step's message;
- ``verified``: of those, enrollments with a contact point verified by that answer: confirmed
  on the page, or proven through the confirmation link or code the answer asked for (a
  ``contact_point.verified`` audit event naming the message);
- ``completed``: of those answered, enrollments completed (state ``completed``), whatever
  answer completed them.

One GROUP BY walks the round's messages in the order of their index (enrolled, sent, and the
statuses the drop-off reasons start from); the delivery events, the opened links and the answers
each have their own query, driven by those rows and joined to their message by primary key, so
none walks the messages again; the answers are the round's answered messages, read once
(:mod:`models.round_report.answered`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.engine import Connection

from models.round_report import message_facts as facts
from models.round_report.answered import AnsweredMessages
from models.round_report.drop_off import message_reasons
from models.round_report.message_facts import OUT, int_of
from models.vocabulary import EMAIL, SMS

STAGES: Final = (
    "enrolled",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "link_opened",
    "answered",
    "verified",
    "completed",
)
# The stages only some channels tell: null elsewhere.
TOLD_BY: Final = {"delivered": (EMAIL, SMS), "opened": (EMAIL,), "clicked": (EMAIL,)}


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _key(row: Any) -> tuple[int, str]:
    return int(row["step_index"]), str(row["channel"])


def _messages(conn: Connection, round_id: int) -> list[Any]:
    """Per (step_index, channel, status): the round's messages and how many were sent (the walk
    over its messages)."""
    keys = (OUT.c.step_index, OUT.c.channel, OUT.c.status)
    return list(
        conn.execute(
            select(*keys, func.count().label("messages"), func.count(OUT.c.sent_at).label("sent"))
            .where(facts.in_round(round_id))
            .group_by(*keys)
        ).mappings()
    )


def _delivery(conn: Connection, round_id: int) -> list[Any]:
    """Per (step_index, channel, level): the sent messages with delivery events."""
    levels = facts.delivery_levels(round_id)
    keys = (levels.c.step_index, levels.c.channel, levels.c.level)
    return list(conn.execute(select(*keys, func.count().label("n")).group_by(*keys)).mappings())


def _opened(conn: Connection, round_id: int) -> list[Any]:
    """Per (step_index, channel): the messages whose link opened the page (driven by the opened
    link tokens)."""
    opens = facts.link_opens()
    return list(
        conn.execute(
            select(OUT.c.step_index, OUT.c.channel, func.count().label("n"))
            .select_from(opens.join(OUT, OUT.c.id == opens.c.outreach_id))
            .where(facts.in_round(round_id))
            .group_by(OUT.c.step_index, OUT.c.channel)
        ).mappings()
    )


@dataclass(frozen=True)
class StepFigures:
    """The funnel rows (``step``, ``channel`` and the stages) and the message drop-off counts by
    (step index, channel, reason)."""

    funnel: list[dict[str, Any]]
    message_counts: dict[tuple[int, str, str], int]


def step_figures(
    conn: Connection, round_id: int, answered: AnsweredMessages, *, now: datetime
) -> StepFigures:
    """The funnel of the round and its messages' drop-off counts (module docstring); the
    answers' stages from the round's ``answered`` messages."""
    sums: dict[tuple[int, str], dict[str, int]] = {}
    by_status: dict[tuple[int, str], dict[str, tuple[int, int]]] = {}

    def into(key: tuple[int, str]) -> dict[str, int]:
        return sums.setdefault(key, dict.fromkeys(STAGES, 0))

    for row in _messages(conn, round_id):
        key, messages, sent = _key(row), int_of(row["messages"]), int_of(row["sent"])
        into(key)["enrolled"] += messages
        into(key)["sent"] += sent
        before = by_status.setdefault(key, {}).get(row["status"], (0, 0))
        by_status[key][row["status"]] = (before[0] + messages, before[1] + sent)
    for row in _delivery(conn, round_id):
        counts, n = into(_key(row)), int_of(row["n"])
        for stage, at_least in facts.LEVEL.items():
            counts[stage] += n if int_of(row["level"]) >= at_least else 0
    for row in _opened(conn, round_id):
        into(_key(row))["link_opened"] += int_of(row["n"])
    for key, figures in answered.per_step().items():
        counts = into(key)
        for stage in ("answered", "verified", "completed"):
            counts[stage] += figures[stage]
        # An answer proves the page opened: those its link did not show count here.
        counts["link_opened"] += figures["answered"] - figures["opened"]
    funnel = [
        {
            "step": index + 1,
            "channel": channel,
            **{
                stage: None if channel not in TOLD_BY.get(stage, (channel,)) else value
                for stage, value in counts.items()
            },
        }
        for (index, channel), counts in sorted(sums.items())
    ]
    return StepFigures(funnel, message_reasons(conn, round_id, by_status, now=now))
