"""Why enrollments went no further, per ladder step and channel: one reason per message, and one
per enrollment that did not complete.

Per message of the step (the first that applies):

- ``skipped``: the step was skipped, no usable contact point on its channel;
- ``pending``: written, not (yet) confirmed sent: in doubt, or waiting for the sender;
- ``failed``: the provider refused it (never sent), or took it and then reported it
  undelivered for another reason than those below (a ``failed`` or ``rejected`` delivery
  event: a blocked email, say), or a steward settled it as failed;
- ``bounced``: the contact point it went to is ``bounced``, bounced after the message was sent
  and before the enrollment ended (a hard bounce reported by the provider);
- ``invalid``: the contact point is ``invalid`` or ``contested``, changed so after the message
  was sent and before the enrollment ended (a provider said the number takes no messages, a
  returned letter, the customer said the value is wrong);
- ``opted_out``: the contact point is opted out, since the message was sent and before the
  enrollment ended (an unsubscribe link, a STOP reply, a spam complaint).

Per enrollment that did not complete, at the step it stands at (the last it reached; one that
reached none yet stands at step 1 on the first channel of its ladder):

- ``capped``: active, its next step held by a frequency cap (``wait_reason``);
- ``waiting``: active otherwise: within the step's wait, or the next step held by quiet hours
  or the print cut-off;
- ``exhausted``: the ladder ran out without the goal met;
- ``stopped``: stopped (the customer objected, opted out everywhere, was erased, ...).

A message counts under one reason at most, an enrollment under one; the two lists add up per
step to everything that went no further there. The message reasons read the contact point as it
is now, so an erased profile's messages (their contact point deleted) count only as skipped,
pending or failed; its enrollment counts as it ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union
from sqlalchemy.engine import Connection

from models.round_report.message_facts import OUT, E, in_round
from models.scheduling.caps import CAP_REASON_PREFIX
from models.tables import CONTACT
from models.types import UTCDateTime
from models.vocabulary import (
    ACTIVE,
    BOUNCED,
    COMPLETED,
    CONTESTED,
    FAILED,
    INVALID,
    OPTED_OUT,
    PENDING,
    SKIPPED,
)

CP = CONTACT.alias("sent_to")
MESSAGE_REASONS: Final = ("skipped", "pending", "failed", "bounced", "invalid", "opted_out")
ENROLLMENT_REASONS: Final = ("capped", "waiting", "exhausted", "stopped")
REASONS: Final = (*MESSAGE_REASONS, *ENROLLMENT_REASONS)


def _sent_to_reason(now: datetime) -> ColumnElement[Any]:
    """``bounced``, ``invalid`` or ``opted_out`` for a sent message by the contact point it went
    to (``CP``), changed so while the enrollment ran; else NULL."""
    until = func.coalesce(E.c.ended_at, literal(now, UTCDateTime()))

    def during(at: Any) -> ColumnElement[bool]:
        return and_(at >= OUT.c.sent_at, at <= until)

    opted_out = or_(CP.c.status == OPTED_OUT, CP.c.opted_out_at.is_not(None))
    return case(
        (and_(CP.c.status == BOUNCED, during(CP.c.bounced_at)), "bounced"),
        (and_(CP.c.status.in_((INVALID, CONTESTED)), during(CP.c.updated_at)), "invalid"),
        (and_(opted_out, during(func.coalesce(CP.c.opted_out_at, CP.c.updated_at))), "opted_out"),
        else_=None,
    )


def _sent_to_broken(conn: Connection, round_id: int, now: datetime) -> list[Any]:
    """Per (step_index, channel, status, reason): the round's sent messages whose contact point
    is bounced, invalid, contested or opted out; driven by those contact points (a few), each
    message found through the profile's messages."""
    c = CONTACT.c
    # Two selects in a UNION, each a plain filter: the database takes these few contact points
    # first rather than walk every message.
    broken = union(
        select(c.id, c.profile_id).where(c.status.in_((BOUNCED, INVALID, CONTESTED, OPTED_OUT))),
        select(c.id, c.profile_id).where(c.opted_out_at.is_not(None)),
    ).subquery("broken")
    reason = _sent_to_reason(now).label("reason")
    keys = (OUT.c.step_index, OUT.c.channel, OUT.c.status, reason)
    joined = (
        broken.join(
            OUT,
            and_(OUT.c.profile_id == broken.c.profile_id, OUT.c.contact_point_id == broken.c.id),
        )
        .join(CP, CP.c.id == broken.c.id)
        .join(E, E.c.id == OUT.c.enrollment_id)
    )
    return list(
        conn.execute(
            select(*keys, func.count().label("n"))
            .select_from(joined)
            .where(in_round(round_id), OUT.c.sent_at.is_not(None))
            .group_by(*keys)
        ).mappings()
    )


def message_reasons(
    conn: Connection,
    round_id: int,
    by_status: Mapping[tuple[int, str], Mapping[str, tuple[int, int]]],
    *,
    now: datetime,
) -> dict[tuple[int, str, str], int]:
    """Messages per (step index, channel, reason) (module docstring), from ``by_status``, the
    (messages, sent) per status of each step and channel, and the sent messages whose contact
    point broke."""
    found: dict[tuple[int, str, str], int] = {}

    def add(key: tuple[int, str], reason: str, n: int) -> None:
        if n:
            found[(*key, reason)] = found.get((*key, reason), 0) + n

    broken_failed: dict[tuple[int, str], int] = {}
    for row in _sent_to_broken(conn, round_id, now):
        if row["reason"] is None:
            continue
        key, n = (int(row["step_index"]), str(row["channel"])), int(row["n"])
        add(key, row["reason"], n)
        if row["status"] == FAILED:
            broken_failed[key] = broken_failed.get(key, 0) + n
    for key, statuses in by_status.items():
        add(key, "skipped", statuses.get(SKIPPED, (0, 0))[0])
        add(key, "pending", statuses.get(PENDING, (0, 0))[0])
        messages, sent = statuses.get(FAILED, (0, 0))
        add(key, "failed", messages - sent)  # refused: never sent
        add(key, "failed", sent - broken_failed.get(key, 0))  # undelivered otherwise
    return found


def standing_reason(state: str, wait_reason: str | None) -> str | None:
    """Why an enrollment in ``state`` went no further (module docstring); None once completed."""
    if state == COMPLETED:
        return None
    if state == ACTIVE:
        capped = wait_reason is not None and wait_reason.startswith(CAP_REASON_PREFIX)
        return "capped" if capped else "waiting"
    return state


def _at_step(conn: Connection, round_id: int, step_indexes: list[int]) -> list[Any]:
    """(step_index, channel, reason, n) of the enrollments that went no further at these steps,
    each with the channel of its message there: for a step sent on more than one channel."""
    e = E.c
    keys = (e.step_index, OUT.c.channel, e.state, e.wait_reason)
    at_step = and_(OUT.c.enrollment_id == e.id, OUT.c.step_index == e.step_index)
    return list(
        conn.execute(
            select(*keys, func.count().label("n"))
            .select_from(E.join(OUT, at_step))
            .where(in_round(round_id), e.state != COMPLETED, e.step_index.in_(step_indexes))
            .group_by(*keys)
        ).mappings()
    )


def drop_off(
    conn: Connection,
    round_id: int,
    message_counts: Mapping[tuple[int, str, str], int],
    standing: Mapping[tuple[int, str], int],
    *,
    channels: Mapping[int, list[str]],
    ladder_channels: list[str],
) -> list[dict[str, Any]]:
    """The report's drop-off list: ``message_counts`` by (step index, channel, reason), and the
    enrollments that went no further by (step index, reason), put on the channel of the step
    they stand at: the one the step was sent on (``channels``, from the funnel); looked up per
    enrollment where a step went out on several; the ladder's first for those that reached no
    step. Steps in order, then channels, then reasons in reading order (:data:`REASONS`)."""
    totals: dict[tuple[int, str, str], int] = dict(message_counts)

    def add(key: tuple[int, str, str], n: int) -> None:
        totals[key] = totals.get(key, 0) + n

    mixed = sorted({i for i, _ in standing if len(channels.get(i, [])) > 1})
    for (index, reason), count in standing.items():
        if index in mixed:
            continue
        found = channels.get(index) or [_ladder_channel(ladder_channels, max(index, 0))]
        add((max(index, 0), found[0], reason), count)
    for row in _at_step(conn, round_id, mixed) if mixed else []:
        why = standing_reason(row["state"], row["wait_reason"])
        if why is not None:
            add((int(row["step_index"]), str(row["channel"]), why), int(row["n"]))
    order = {reason: i for i, reason in enumerate(REASONS)}
    return [
        {"step": index + 1, "channel": channel, "reason": reason, "count": count}
        for (index, channel, reason), count in sorted(
            totals.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99))
        )
        if count
    ]


def _ladder_channel(channels: list[str], step_index: int) -> str:
    return channels[step_index] if step_index < len(channels) else "unknown"
