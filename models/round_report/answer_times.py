"""Time to answer per channel: from a message being sent to the first answer through its link.

Per channel, over the round's sent ladder messages (``sent_at`` set) answered on the landing
page (the first submission made with the message's link or QR code):

- ``answered``: how many;
- ``median_hours``, ``p90_hours``: the median and 90th percentile of the hours from ``sent_at`` to
  that first answer, linearly interpolated between the two nearest ranks (as
  ``statistics.quantiles(method="inclusive")`` and PostgreSQL's ``percentile_cont``), from
  whole seconds, rounded to two places.

The database ranks the times (a window function) and returns only the rows at the ranks the two
percentiles need: a handful per channel, however many answered.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Final

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, extract, func, or_, select
from sqlalchemy.engine import Connection

from models.round_report import message_facts as facts
from models.round_report.message_facts import OUT
from models.vocabulary import CHANNELS

# (label, numerator, denominator) of each percentile.
PERCENTILES: Final = (("median_hours", 1, 2), ("p90_hours", 9, 10))


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[int]:
    """Whole seconds from ``earlier`` to ``later``, the same on SQLite and PostgreSQL."""
    if dialect == "sqlite":  # the stored text 'YYYY-MM-DD HH:MM:SS.ffffff', seconds truncated
        return cast(func.strftime("%s", later), Integer) - cast(
            func.strftime("%s", earlier), Integer
        )
    return cast(func.floor(extract("epoch", later)), BigInteger) - cast(
        func.floor(extract("epoch", earlier)), BigInteger
    )


def _rank(n: Any, numerator: int, denominator: int) -> Any:
    """The 1-based rank at or below the percentile's position among ``n`` values."""
    return 1 + (n - 1) * numerator // denominator


def answer_times(conn: Connection, round_id: int) -> list[dict[str, Any]]:
    """One row per channel with answers (module docstring): email, sms, letter."""
    ans = facts.answers()
    seconds = seconds_between(ans.c.first_at, OUT.c.sent_at, conn.dialect.name)
    timed = (
        select(OUT.c.channel, seconds.label("seconds"))
        .select_from(facts.round_messages().join(ans, ans.c.outreach_id == OUT.c.id))
        .where(facts.in_round(round_id), OUT.c.sent_at.is_not(None))
        .subquery("timed")
    )
    ranked = select(
        timed.c.channel,
        timed.c.seconds,
        func.row_number().over(partition_by=timed.c.channel, order_by=timed.c.seconds).label("rn"),
        func.count().over(partition_by=timed.c.channel).label("n"),
    ).subquery("ranked")
    wanted = [
        ranked.c.rn.in_([_rank(ranked.c.n, a, b), _rank(ranked.c.n, a, b) + 1])
        for _, a, b in PERCENTILES
    ]
    rows = conn.execute(
        select(ranked.c.channel, ranked.c.n, ranked.c.rn, ranked.c.seconds).where(or_(*wanted))
    )
    found: dict[str, tuple[int, dict[int, int]]] = {}
    for channel, n, rn, secs in rows:
        found.setdefault(channel, (int(n), {}))[1][int(rn)] = int(secs)
    return [
        {
            "channel": channel,
            "answered": n,
            **{label: _hours(n, at, a, b) for label, a, b in PERCENTILES},
        }
        for channel, (n, at) in sorted(found.items(), key=lambda kv: _order(kv[0]))
    ]


def _hours(n: int, at: dict[int, int], numerator: int, denominator: int) -> float:
    """The interpolated percentile in hours from the ranked seconds ``at`` (1-based ranks)."""
    position = Fraction((n - 1) * numerator, denominator)  # 0-based
    low = int(position)
    fraction = position - low
    value = Fraction(at[low + 1])
    if fraction:
        value += fraction * (at[low + 2] - at[low + 1])
    return round(float(value / 3600), 2)


def _order(channel: str) -> tuple[int, str]:
    return (CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS), channel)
