"""Send-window settings: read from ENRICH_* variables; a bad value fails naming the variable."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from enrich.settings import Settings
from models.scheduling.windows import SendWindow, WindowPolicy, next_allowed


def read(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(f"ENRICH_{key}", value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_defaults_are_the_documented_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(monkeypatch).send_windows == WindowPolicy()


def test_the_variables_shape_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = read(
        monkeypatch,
        EMAIL_WINDOW="07:30-22:00",
        EMAIL_DAYS="mon-sun",
        SMS_WINDOW="10:00-18:00",
        SMS_DAYS="mon-sat",
        LETTER_DAYS="mon-thu",
        LETTER_CUTOFF="12:00",
        HOLIDAY_COUNTRY="be",
        DEFAULT_TIME_ZONE="Europe/Brussels",
    )
    policy = settings.send_windows
    assert policy.email == SendWindow(time(7, 30), time(22), frozenset(range(7)))
    assert policy.sms == SendWindow(time(10), time(18), frozenset(range(6)))
    assert (policy.letter_days, policy.letter_cutoff) == (frozenset(range(4)), time(12))
    assert (policy.holiday_country, policy.organisation_zone.key) == ("BE", "Europe/Brussels")
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # 11:00 in Brussels
    assert next_allowed("sms", saturday, ZoneInfo("Europe/Brussels"), policy) == (saturday, None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EMAIL_WINDOW", "08:00"),
        ("SMS_WINDOW", "09:00-25:00"),
        ("EMAIL_DAYS", "mon-funday"),
        ("SMS_DAYS", ""),
        ("LETTER_DAYS", "weekdays"),
        ("LETTER_CUTOFF", "3pm"),
        ("HOLIDAY_COUNTRY", "XX"),
        ("DEFAULT_TIME_ZONE", "Mars/Olympus_Mons"),
    ],
)
def test_a_bad_value_fails_at_startup_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        read(monkeypatch, **{variable: value})
    assert f"ENRICH_{variable}:" in str(caught.value)
    assert caught.value.error_count() == 1
