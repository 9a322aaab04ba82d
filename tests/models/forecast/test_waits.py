"""How long each step takes: its response window, the wait for its send window or a frequency
cap, and the days a rate limit needs to get its messages out."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from models.campaigns.spec import Step
from models.forecast.waits import SendPace, step_days
from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy

AMS = ZoneInfo("Europe/Amsterdam")
EVERY_DAY = frozenset(range(7))
MON_FRI = frozenset(range(5))
ALWAYS = SendWindow(time(0), time(0), EVERY_DAY)
OPEN = WindowPolicy(
    email=ALWAYS, sms=ALWAYS, letter_days=EVERY_DAY, letter_cutoff=time(0), holiday_country=None
)
LADDER = [
    Step(channel="email", wait_days=5),
    Step(channel="sms", wait_days=5),
    Step(channel="letter", wait_days=21),
]


def pace(windows: WindowPolicy = OPEN, **per_second: float) -> SendPace:
    return SendPace(Respect(windows, CapPolicy(), AMS), per_second)


def at_amsterdam(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=AMS).astimezone(UTC)  # type: ignore[misc]


def test_with_every_window_open_a_step_takes_its_response_window() -> None:
    days = step_days(
        ladder=LADDER, messages=[10, 10, 10], now=at_amsterdam(2026, 11, 23), pace=pace()
    )
    assert days == [(5, 0), (5, 0), (21, 0)]


def test_a_step_sent_to_nobody_takes_no_time() -> None:
    days = step_days(
        ladder=LADDER, messages=[10, 0, 10], now=at_amsterdam(2026, 11, 23), pace=pace()
    )
    assert days == [(5, 0), (0, 0), (21, 0)]


def test_a_closed_send_window_is_waited_for() -> None:
    sms_weekdays = WindowPolicy(
        email=ALWAYS,
        sms=SendWindow(time(9), time(20), MON_FRI),
        letter_days=EVERY_DAY,
        letter_cutoff=time(0),
        holiday_country=None,
    )
    ladder = [Step(channel="sms", wait_days=5)]
    # Saturday 12:00 in Amsterdam: the SMS window opens on Monday at 09:00, 45 hours later.
    days = step_days(
        ladder=ladder, messages=[10], now=at_amsterdam(2026, 11, 28, 12), pace=pace(sms_weekdays)
    )
    assert days == [(5, pytest.approx(45 / 24))]


def test_a_rate_limit_spreads_sending_over_the_send_days_of_the_week() -> None:
    ten_hours = WindowPolicy(
        email=ALWAYS,
        sms=SendWindow(time(9), time(19), MON_FRI),
        letter_days=EVERY_DAY,
        letter_cutoff=time(0),
        holiday_country=None,
    )
    ladder = [Step(channel="sms", wait_days=5)]
    # 1 SMS a second for 10 hours: 36,000 a send day; 72,000 take 2 send days, 2.8 days of a
    # week with 5 of them. Monday 10:00: the window is open.
    days = step_days(
        ladder=ladder,
        messages=[72_000],
        now=at_amsterdam(2026, 11, 23, 10),
        pace=pace(ten_hours, sms=1.0),
    )
    assert days == [(5, pytest.approx(2.8))]


def test_a_frequency_cap_holds_a_step_until_the_earlier_message_leaves_the_period() -> None:
    ladder = [Step(channel="letter", wait_days=5), Step(channel="letter", wait_days=10)]
    # One letter in 30 days: the second waits 25 days past its due date.
    days = step_days(ladder=ladder, messages=[5, 5], now=at_amsterdam(2026, 11, 23), pace=pace())
    assert days == [(5, 0), (10, pytest.approx(25))]
