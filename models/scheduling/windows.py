"""Send windows: when a ladder step may go out on each channel, and why it waits if not.

Pure functions over aware datetimes (no database, no settings). Email and SMS follow local hours
on some weekdays in the customer's time zone; letters follow the organisation's working days
(weekdays minus its country's public holidays) and the print run's daily cut-off in its zone.

Defaults a careful organisation would choose: email 08:00–21:00 Mon–Sat (an email waits in the
inbox, but a phone may still buzz); SMS 09:00–20:00 Mon–Fri (a text interrupts, so working days
in daytime only); letters Mon–Fri but not on Dutch public holidays, cut-off 15:00 for the day's
print run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from models.vocabulary import EMAIL, LETTER, SMS

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LETTERS_ON_WORKING_DAYS = "letters go out on working days"
# How far ahead an opening is looked for; a year always holds a working day.
_HORIZON_DAYS = 400


class WindowError(ValueError):
    """A window, day list, cut-off or holiday country cannot be used; the message says why."""


@dataclass(frozen=True)
class SendWindow:
    """Local hours [start, end) on the given weekdays (0 = Monday).

    An ``end`` at or before ``start`` runs past midnight into the next day; such a window belongs
    to the weekday it opens on. ``start == end`` is a whole day from ``start``.
    """

    start: time
    end: time
    weekdays: frozenset[int]

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise WindowError("a send window needs at least one weekday, numbered 0 to 6")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise WindowError("send window times are local wall-clock times without a zone")

    def describe(self) -> str:
        """Like ``09:00–20:00 Mon–Fri``."""
        return f"{_hhmm(self.start)}–{_hhmm(self.end, end=True)} {describe_days(self.weekdays)}"


DEFAULT_EMAIL_WINDOW = SendWindow(time(8), time(21), frozenset(range(6)))
DEFAULT_SMS_WINDOW = SendWindow(time(9), time(20), frozenset(range(5)))
DEFAULT_LETTER_DAYS = frozenset(range(5))


@dataclass(frozen=True)
class WindowPolicy:
    """Email and SMS windows (customer's zone) and the letters' working days (organisation's).

    ``letter_cutoff`` 00:00 means no cut-off; ``holiday_country`` None means weekdays only.
    """

    email: SendWindow = DEFAULT_EMAIL_WINDOW
    sms: SendWindow = DEFAULT_SMS_WINDOW
    letter_days: frozenset[int] = DEFAULT_LETTER_DAYS
    letter_cutoff: time = time(15)
    holiday_country: str | None = "NL"
    organisation_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))

    def __post_init__(self) -> None:
        if not self.letter_days or not self.letter_days <= frozenset(range(7)):
            raise WindowError("letters need at least one working weekday, numbered 0 to 6")
        if self.holiday_country is not None:
            object.__setattr__(self, "holiday_country", parse_country(self.holiday_country))

    def window(self, channel: str) -> SendWindow:
        if channel == EMAIL:
            return self.email
        if channel == SMS:
            return self.sms
        raise ValueError(f"no send window for channel {channel!r}")

    def is_working_day(self, day: date) -> bool:
        """A letter weekday that is not a public holiday of ``holiday_country``."""
        if day.weekday() not in self.letter_days:
            return False
        return self.holiday_country is None or day not in _holiday_calendar(self.holiday_country)


def next_allowed(
    channel: str, now_utc: datetime, zone: ZoneInfo, policy: WindowPolicy
) -> tuple[datetime, str | None]:
    """``(now, None)`` when a step on ``channel`` may go out now, else the earliest instant it may
    (aware UTC) and why it waits. ``zone`` is the customer's; letters use the organisation's.
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    now = now_utc.astimezone(UTC)
    if channel == LETTER:
        org = policy.organisation_zone
        when = _next_open(now, org, time(0), policy.letter_cutoff, policy.is_working_day)
        if when == now:
            return now, None
        if policy.is_working_day(now.astimezone(org).date()):
            return when, f"after the print cut-off ({_hhmm(policy.letter_cutoff)} {_name(org)})"
        return when, LETTERS_ON_WORKING_DAYS
    window = policy.window(channel)
    when = _next_open(now, zone, window.start, window.end, _on(window.weekdays))
    if when == now:
        return now, None
    return when, f"quiet hours ({channel} {window.describe()}, {_name(zone)})"


def zone_for(
    profile_time_zone: str | None, country: str | None, default_zone: ZoneInfo
) -> ZoneInfo:
    """The profile's zone if it names a real one, else its country's main zone, else the default.

    For a country with several zones the first one the tz database lists for it is taken (the
    most populous where geography allows); a profile's own zone avoids that guess.
    """
    zone = _zone(profile_time_zone)
    if zone is not None:
        return zone
    if country:
        zone = _country_zone(country.strip().upper())
        if zone is not None:
            return zone
    return default_zone


# --- parsing the settings' strings ---------------------------------------------------------

_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def parse_time(text: str) -> time:
    """``"08:00"`` → 08:00; ``"24:00"`` is midnight at the end of the day (00:00)."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise WindowError(f"{text!r} is not a time like 08:00")
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        return time(0)
    if hour > 23 or minute > 59:
        raise WindowError(f"{text!r} is not a time of day")
    return time(hour, minute)


def parse_window(text: str) -> tuple[time, time]:
    """``"08:00-21:00"`` (or with an en dash) → (08:00, 21:00)."""
    parts = re.split(r"\s*[-–]\s*", text.strip())
    if len(parts) != 2:
        raise WindowError(f"{text!r} is not a window like 08:00-21:00")
    return parse_time(parts[0]), parse_time(parts[1])


def parse_days(text: str) -> frozenset[int]:
    """``"mon-sat"``, ``"mon-fri,sun"``, ``"fri-mon"`` (wraps) → weekday numbers, 0 = Monday."""
    days: set[int] = set()
    for item in text.split(","):
        bounds = [_day(part, text) for part in re.split(r"\s*[-–]\s*", item.strip())]
        if len(bounds) == 1:
            days.add(bounds[0])
        elif len(bounds) == 2:
            first, last = bounds
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            raise WindowError(f"{text!r} is not a list of days like mon-fri")
    return frozenset(days)


def parse_country(text: str) -> str | None:
    """An ISO alpha-2 code with a public-holiday calendar (``"NL"``); blank or ``none`` → None."""
    code = text.strip().upper()
    if code in ("", "NONE"):
        return None
    import holidays  # about 75 ms; only where holidays are used

    if len(code) != 2 or code not in holidays.list_supported_countries():
        raise WindowError(f"{text!r} is not a country with a known public-holiday calendar")
    return code


def describe_days(days: frozenset[int]) -> str:
    """``Mon–Fri``, ``Mon, Wed, Fri``, ``Sat–Mon``, ``every day``."""
    if len(days) == 7:
        return "every day"
    first = next(d for d in range(7) if d in days and (d - 1) % 7 not in days)
    runs: list[list[int]] = []
    for offset in range(7):
        day = (first + offset) % 7
        if day not in days:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [DAY_NAMES[d].title() for d in range(7)]
    return ", ".join(names[r[0]] if len(r) == 1 else f"{names[r[0]]}–{names[r[-1]]}" for r in runs)


# --- the time arithmetic ----------------------------------------------------------------------


def _next_open(
    now: datetime, zone: ZoneInfo, start: time, end: time, day_allowed: Callable[[date], bool]
) -> datetime:
    """``now`` if inside a window of an allowed day, else the next window's opening instant."""
    today = now.astimezone(zone).date()
    for offset in range(-1, _HORIZON_DAYS):  # yesterday's window may run past midnight
        day = today + timedelta(days=offset)
        if not day_allowed(day):
            continue
        opens = _first_instant(day, start, zone)
        closes = _first_instant(day + timedelta(days=1) if end <= start else day, end, zone)
        if opens >= closes:  # the whole window fell into a skipped DST hour
            continue
        if opens <= now < closes:
            return now
        if opens > now:
            return opens
    raise WindowError(f"no allowed day within {_HORIZON_DAYS} days")


def _first_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in ``zone`` shows ``day at`` or later.

    An ambiguous time (clocks going back) gives its first occurrence; a time that does not exist
    (clocks jumping forward over it) gives the moment of the jump.
    """
    wall = datetime.combine(day, at)
    earlier, later = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    if _local(earlier, zone) >= wall:
        return earlier
    # ``wall`` lies in a gap: earlier shows a time before it, later one after; find the jump.
    lo, hi = int(earlier.timestamp()), int(later.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _local(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _on(weekdays: frozenset[int]) -> Callable[[date], bool]:
    return lambda day: day.weekday() in weekdays


def _hhmm(value: time, *, end: bool = False) -> str:
    return "24:00" if end and value == time(0) else value.strftime("%H:%M")


def _name(zone: ZoneInfo) -> str:
    return zone.key or str(zone)


def _day(text: str, whole: str) -> int:
    name = text.strip().lower()
    for names in (DAY_NAMES, FULL_DAY_NAMES):
        if name in names:
            return names.index(name)
    raise WindowError(f"{whole!r}: {text.strip()!r} is not a day (mon, tue, ... sun)")


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ValueError, KeyError, OSError):  # unknown, malformed or a folder of the database
        return None


@lru_cache(maxsize=512)
def _country_zone(country: str) -> ZoneInfo | None:
    import pytz  # its country table is the tz database's zone.tab, in its documented order

    for name in pytz.country_timezones.get(country, ()):
        zone = _zone(name)
        if zone is not None:
            return zone
    return None


@lru_cache(maxsize=32)
def _holiday_calendar(country: str) -> Any:
    """The public holidays of ``country``; years are filled in as they are asked about."""
    import holidays

    return holidays.country_holidays(country)
