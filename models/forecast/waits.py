"""How long each ladder step takes: its response window, and the days to get its messages out.

The rule, kept simple on purpose (README, "The forecast"):

- A step's messages start going out at the first instant its send window and the frequency
  caps allow (:func:`models.scheduling.due_step_release.hold_for`), in the organisation's time
  zone, with the caps counting this ladder's own earlier messages to one profile (as if it got
  every step that sends: the case the caps bind first). The first step is due now; the next
  one is due when the previous step's messages are all out and its response window is over.
- Where a rate limit paces a channel (messages per second), getting ``n`` messages out takes
  ``n / (rate × open hours of a send day)`` send days, stretched over the week by ``7 / send
  days per week``; a channel without a rate limit (email, letters: one print run) takes no
  time beyond its opening.
- A step nobody is sent takes no time (it is skipped at once): its wait and send days are 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.campaigns.spec import Step
from models.scheduling.due_step_release import Respect, hold_for
from models.vocabulary import LETTER

DAY = timedelta(days=1)


@dataclass(frozen=True)
class SendPace:
    """Send windows, caps and zone as the sender applies them; ``per_second``: the channels a
    rate limit paces, in messages per second."""

    respect: Respect
    per_second: Mapping[str, float] = field(default_factory=dict)


def _open_seconds(channel: str, pace: SendPace) -> float:
    window = pace.respect.windows.window(channel)
    start = window.start.hour * 3600 + window.start.minute * 60
    end = window.end.hour * 3600 + window.end.minute * 60
    return float((end - start) % 86400 or 86400)


def _days_per_week(channel: str, pace: SendPace) -> int:
    windows = pace.respect.windows
    return len(windows.letter_days if channel == LETTER else windows.window(channel).weekdays)


def sending_days(channel: str, messages: float, pace: SendPace) -> float:
    """Days a rate limit needs to get ``messages`` out on ``channel`` (0 without one)."""
    rate = pace.per_second.get(channel)
    if rate is None or channel == LETTER or messages <= 0:
        return 0.0
    per_day = rate * _open_seconds(channel, pace)
    return messages / per_day * 7 / _days_per_week(channel, pace)


def step_days(
    *, ladder: Sequence[Step], messages: Sequence[float], now: datetime, pace: SendPace
) -> list[tuple[float, float]]:
    """Per step (wait days, send days) by the rule in the module docstring."""
    due = now
    earlier: list[tuple[datetime, str]] = []
    days: list[tuple[float, float]] = []
    for step, count in zip(ladder, messages, strict=True):
        if count <= 0:
            days.append((0.0, 0.0))
            continue
        hold = hold_for(
            channel=step.channel,
            now=due,
            time_zone=None,
            country=None,
            sent=earlier,
            respect=pace.respect,
        )
        opens = hold.until if hold is not None else due
        send = (opens - due) / DAY + sending_days(step.channel, count, pace)
        earlier.append((opens, step.channel))
        days.append((step.wait_days, send))
        due += timedelta(days=send + step.wait_days)
    return days
