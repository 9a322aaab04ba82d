"""Time to answer per channel: from a message being sent to the first answer through its link.

Per channel, over the round's sent ladder messages (``sent_at`` set) answered on the landing
page (the first submission made with the message's link or QR code):

- ``answered``: how many;
- ``median_hours``, ``p90_hours``: the median and 90th percentile of the hours from ``sent_at`` to
  that first answer, linearly interpolated between the two nearest ranks (as
  ``statistics.quantiles(method="inclusive")`` and PostgreSQL's ``percentile_cont``), from
  whole seconds, rounded to two places.

The times come from the round's answered messages, read once
(:mod:`models.round_report.answered`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Final

from models.round_report.answered import AnsweredMessages
from models.vocabulary import CHANNELS

# (label, numerator, denominator) of each percentile.
PERCENTILES: Final = (("median_hours", 1, 2), ("p90_hours", 9, 10))


def answer_times(answered: AnsweredMessages) -> list[dict[str, Any]]:
    """One row per channel with answers (module docstring): email, sms, letter."""
    return [
        {
            "channel": channel,
            "answered": len(seconds),
            **{label: _hours(seconds, a, b) for label, a, b in PERCENTILES},
        }
        for channel, seconds in sorted(
            answered.seconds_per_channel().items(), key=lambda kv: _order(kv[0])
        )
    ]


def _hours(ascending: list[int], numerator: int, denominator: int) -> float:
    """The interpolated percentile in hours of the ``ascending`` seconds."""
    position = Fraction((len(ascending) - 1) * numerator, denominator)  # 0-based
    low = int(position)
    fraction = position - low
    value = Fraction(ascending[low])
    if fraction:
        value += fraction * (ascending[low + 1] - ascending[low])
    return round(float(value / 3600), 2)


def _order(channel: str) -> tuple[int, str]:
    return (CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS), channel)
