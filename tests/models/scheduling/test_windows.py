"""Send windows: when each channel may send, in which zone, across DST, weekends and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from models.scheduling.windows import (
    LETTERS_ON_WORKING_DAYS,
    SendWindow,
    WindowError,
    WindowPolicy,
    describe_days,
    next_allowed,
    parse_country,
    parse_days,
    parse_time,
    parse_window,
    zone_for,
)

AMS = ZoneInfo("Europe/Amsterdam")
LON = ZoneInfo("Europe/London")
NYC = ZoneInfo("America/New_York")
POLICY = WindowPolicy()
EVERY_DAY = frozenset(range(7))
EMAIL_AMS = "quiet hours (email 08:00–21:00 Mon–Sat, Europe/Amsterdam)"
SMS_AMS = "quiet hours (sms 09:00–20:00 Mon–Fri, Europe/Amsterdam)"
CUTOFF = "after the print cut-off (15:00 Europe/Amsterdam)"


def local(zone: ZoneInfo, *parts: int) -> datetime:
    """A wall-clock time in ``zone`` as the aware UTC instant a scheduler would hold."""
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- email and SMS in the customer's zone -----------------------------------------------------


def test_inside_the_window_a_step_goes_out_now() -> None:
    now = local(AMS, 2026, 11, 24, 10, 0)  # a Tuesday
    assert next_allowed("email", now, AMS, POLICY) == (now, None)
    assert next_allowed("sms", now, AMS, POLICY) == (now, None)


def test_email_due_at_2130_waits_until_0800_the_next_day() -> None:
    now = local(AMS, 2026, 11, 24, 21, 30)
    assert next_allowed("email", now, AMS, POLICY) == (local(AMS, 2026, 11, 25, 8, 0), EMAIL_AMS)


def test_email_on_saturday_night_waits_over_sunday_until_monday_0800() -> None:
    now = local(AMS, 2026, 11, 21, 21, 30)
    assert next_allowed("email", now, AMS, POLICY) == (local(AMS, 2026, 11, 23, 8, 0), EMAIL_AMS)


def test_the_window_end_is_exclusive_and_the_start_inclusive() -> None:
    assert next_allowed("email", local(AMS, 2026, 11, 24, 21, 0), AMS, POLICY)[1] == EMAIL_AMS
    opens = local(AMS, 2026, 11, 24, 8, 0)
    assert next_allowed("email", opens, AMS, POLICY) == (opens, None)


def test_saturday_sms_waits_until_monday_0900() -> None:
    now = local(AMS, 2026, 11, 21, 11, 0)
    assert next_allowed("sms", now, AMS, POLICY) == (local(AMS, 2026, 11, 23, 9, 0), SMS_AMS)


@pytest.mark.parametrize(
    ("zone", "allowed", "opens"),
    [
        (AMS, True, None),  # 08:30 in Amsterdam
        (LON, False, utc(2026, 11, 24, 8, 0)),  # 07:30 in London
        (NYC, False, utc(2026, 11, 24, 13, 0)),  # 02:30 in New York
    ],
)
def test_the_same_instant_is_judged_in_each_customers_zone(
    zone: ZoneInfo, allowed: bool, opens: datetime | None
) -> None:
    now = utc(2026, 11, 24, 7, 30)
    when, reason = next_allowed("email", now, zone, POLICY)
    if allowed:
        assert (when, reason) == (now, None)
    else:
        assert (when, reason) == (opens, f"quiet hours (email 08:00–21:00 Mon–Sat, {zone.key})")


def test_a_us_customer_with_their_own_zone_gets_sms_in_their_daytime() -> None:
    zone = zone_for("America/New_York", "NL", AMS)
    now = local(AMS, 2026, 11, 24, 10, 0)  # 04:00 in New York
    assert next_allowed("sms", now, zone, POLICY) == (
        local(NYC, 2026, 11, 24, 9, 0),
        "quiet hours (sms 09:00–20:00 Mon–Fri, America/New_York)",
    )


def test_an_invalid_zone_name_falls_back_to_the_country_then_the_default() -> None:
    assert zone_for("Europe/Atlantis", "GB", AMS) == LON
    assert zone_for("../../etc/passwd", None, AMS) == AMS
    assert zone_for("Europe", "XX", AMS) == AMS  # a folder of the database, an unknown country
    assert zone_for("europe/london", "nl", NYC) == AMS  # names are case-sensitive
    assert zone_for(" America/New_York ", "NL", AMS) == NYC
    assert zone_for(None, "us", AMS) == NYC  # the first zone the database lists
    assert zone_for("", "", LON) == LON
    assert zone_for("x" * 300, None, LON) == LON


# --- DST ------------------------------------------------------------------------------------------


def test_spring_forward_monday_opens_an_hour_earlier_in_utc() -> None:
    # Saturday 28 March 2026 21:30 CET; Amsterdam moves to CEST on Sunday the 29th.
    now = local(AMS, 2026, 3, 28, 21, 30)
    assert next_allowed("email", now, AMS, POLICY) == (utc(2026, 3, 30, 6, 0), EMAIL_AMS)
    before = local(AMS, 2026, 3, 23, 7, 0)
    assert next_allowed("email", before, AMS, POLICY)[0] == utc(2026, 3, 23, 7, 0)


def test_fall_back_monday_opens_an_hour_later_in_utc() -> None:
    now = local(AMS, 2026, 10, 24, 22, 0)  # Saturday CEST; back to CET on Sunday the 25th
    assert next_allowed("email", now, AMS, POLICY) == (utc(2026, 10, 26, 7, 0), EMAIL_AMS)


@pytest.mark.parametrize(
    ("zone", "now", "jump"),
    [
        (AMS, utc(2026, 3, 29, 0, 10), utc(2026, 3, 29, 1, 0)),  # 02:00 CET → 03:00 CEST
        (NYC, utc(2026, 3, 8, 6, 10), utc(2026, 3, 8, 7, 0)),  # 02:00 EST → 03:00 EDT
    ],
)
def test_a_window_opening_in_the_skipped_hour_opens_at_the_jump(
    zone: ZoneInfo, now: datetime, jump: datetime
) -> None:
    policy = WindowPolicy(sms=SendWindow(time(2, 30), time(4, 0), EVERY_DAY))
    when, reason = next_allowed("sms", now, zone, policy)
    assert when == jump
    assert reason == f"quiet hours (sms 02:30–04:00 every day, {zone.key})"
    assert next_allowed("sms", jump, zone, policy) == (jump, None)


def test_a_window_ending_in_the_repeated_hour_closes_at_its_first_pass() -> None:
    policy = WindowPolicy(sms=SendWindow(time(1, 0), time(2, 30), EVERY_DAY))
    # 25 October 2026: 02:00–03:00 CEST, then 02:00–03:00 CET again.
    inside = utc(2026, 10, 25, 0, 15)  # 02:15 CEST
    assert next_allowed("sms", inside, AMS, policy) == (inside, None)
    second_pass = utc(2026, 10, 25, 1, 15)  # 02:15 CET: the window has closed
    assert next_allowed("sms", second_pass, AMS, policy)[0] == local(AMS, 2026, 10, 26, 1, 0)


def test_a_window_wholly_inside_the_skipped_hour_is_not_open_that_day() -> None:
    policy = WindowPolicy(sms=SendWindow(time(2, 10), time(2, 50), EVERY_DAY))
    assert next_allowed("sms", utc(2026, 3, 28, 23, 0), AMS, policy)[0] == local(
        AMS, 2026, 3, 30, 2, 10
    )


# --- windows past midnight --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(AMS, 2026, 11, 27, 23, 0), None),  # Friday night
        (local(AMS, 2026, 11, 28, 5, 59), None),  # Saturday early: still Friday's window
        (local(AMS, 2026, 11, 28, 6, 0), local(AMS, 2026, 11, 30, 22, 0)),
        (local(AMS, 2026, 11, 30, 3, 0), local(AMS, 2026, 11, 30, 22, 0)),  # Sunday's: none
    ],
)
def test_a_window_past_midnight_belongs_to_the_day_it_opens(
    now: datetime, expected: datetime | None
) -> None:
    policy = WindowPolicy(email=SendWindow(*parse_window("22:00-06:00"), parse_days("mon-fri")))
    when, reason = next_allowed("email", now, AMS, policy)
    if expected is None:
        assert (when, reason) == (now, None)
    else:
        assert (when, reason) == (
            expected,
            "quiet hours (email 22:00–06:00 Mon–Fri, Europe/Amsterdam)",
        )


# --- letters: the organisation's working days -------------------------------------------------


def test_letters_on_a_working_day_before_the_cut_off_go_out_now() -> None:
    now = local(AMS, 2026, 4, 24, 10, 0)  # Friday
    assert next_allowed("letter", now, NYC, POLICY) == (now, None)


def test_letters_after_the_cut_off_wait_for_the_next_working_day() -> None:
    now = local(AMS, 2026, 11, 24, 15, 0)  # Tuesday 15:00
    assert next_allowed("letter", now, AMS, POLICY) == (local(AMS, 2026, 11, 25, 0, 0), CUTOFF)


@pytest.mark.parametrize(
    "now",
    [
        local(AMS, 2026, 4, 24, 16, 0),  # Friday after the cut-off
        local(AMS, 2026, 4, 25, 10, 0),  # Saturday
        local(AMS, 2026, 4, 27, 10, 0),  # Monday: King's Day
    ],
)
def test_letters_wait_over_the_weekend_and_kings_day(now: datetime) -> None:
    when, reason = next_allowed("letter", now, LON, POLICY)  # the customer's zone plays no part
    assert when == local(AMS, 2026, 4, 28, 0, 0)
    assert reason == (CUTOFF if now.day == 24 else LETTERS_ON_WORKING_DAYS)


def test_letters_wait_over_christmas_boxing_day_and_the_weekend() -> None:
    christmas = local(AMS, 2025, 12, 25, 9, 0)  # Thursday; Boxing Day Friday
    assert next_allowed("letter", christmas, AMS, POLICY) == (
        local(AMS, 2025, 12, 29, 0, 0),
        LETTERS_ON_WORKING_DAYS,
    )
    eve = local(AMS, 2025, 12, 24, 14, 59)
    assert next_allowed("letter", eve, AMS, POLICY) == (eve, None)


def test_the_holiday_country_is_configurable() -> None:
    unity_day = local(AMS, 2025, 10, 3, 10, 0)  # Friday: a German public holiday only
    assert next_allowed("letter", unity_day, AMS, POLICY) == (unity_day, None)
    german = WindowPolicy(holiday_country="de", organisation_zone=ZoneInfo("Europe/Berlin"))
    assert german.holiday_country == "DE"
    assert next_allowed("letter", unity_day, AMS, german) == (
        local(ZoneInfo("Europe/Berlin"), 2025, 10, 6, 0, 0),
        LETTERS_ON_WORKING_DAYS,
    )
    no_holidays = WindowPolicy(holiday_country=None)
    christmas = local(AMS, 2025, 12, 25, 9, 0)
    assert next_allowed("letter", christmas, AMS, no_holidays) == (christmas, None)


def test_a_midnight_cut_off_means_letters_all_working_day() -> None:
    policy = WindowPolicy(letter_cutoff=parse_time("24:00"))
    late = local(AMS, 2026, 11, 24, 23, 30)
    assert next_allowed("letter", late, AMS, policy) == (late, None)


# --- bad input ----------------------------------------------------------------------------------


def test_bad_calls_raise() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed("email", datetime(2026, 11, 24, 10, 0), AMS, POLICY)
    with pytest.raises(ValueError, match="no send window for channel 'fax'"):
        next_allowed("fax", utc(2026, 11, 24, 10, 0), AMS, POLICY)
    with pytest.raises(WindowError, match="at least one weekday"):
        SendWindow(time(8), time(9), frozenset())
    with pytest.raises(WindowError, match="at least one working weekday"):
        WindowPolicy(letter_days=frozenset({7}))
    with pytest.raises(WindowError, match="public-holiday calendar"):
        WindowPolicy(holiday_country="XX")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00-21:00", (time(8), time(21))),
        (" 8:30 – 20:15 ", (time(8, 30), time(20, 15))),
        ("22:00-24:00", (time(22), time(0))),
    ],
)
def test_parse_window(text: str, expected: tuple[time, time]) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    "text", ["", "08:00", "8-21", "08:00-21:00-22:00", "25:00-21:00", "08:60-09:00", "24:30-1:00"]
)
def test_parse_window_refuses(text: str) -> None:
    with pytest.raises(WindowError):
        parse_window(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon-sat", {0, 1, 2, 3, 4, 5}),
        ("MON-FRI, sun", {0, 1, 2, 3, 4, 6}),
        ("fri-mon", {4, 5, 6, 0}),
        ("wednesday", {2}),
        ("mon-sun", set(range(7))),
    ],
)
def test_parse_days(text: str, expected: set[int]) -> None:
    assert parse_days(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", "funday", "mon--fri", "mon-wed-fri", "mon,,fri"])
def test_parse_days_refuses(text: str) -> None:
    with pytest.raises(WindowError):
        parse_days(text)


def test_parse_country() -> None:
    assert parse_country(" nl ") == "NL"
    assert parse_country("") is None
    assert parse_country("none") is None
    for bad in ("XX", "NLD", "Netherlands"):
        with pytest.raises(WindowError, match="public-holiday calendar"):
            parse_country(bad)


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ("mon-fri", "Mon–Fri"),
        ("mon,wed,fri", "Mon, Wed, Fri"),
        ("sat-mon", "Sat–Mon"),
        ("mon-tue,thu-sun", "Thu–Tue"),
        ("mon-sun", "every day"),
    ],
)
def test_describe_days(days: str, text: str) -> None:
    assert describe_days(parse_days(days)) == text
