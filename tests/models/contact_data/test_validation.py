"""Normalisation rules: each bad value gets its own stable reason, and never the value itself."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from models.contact_data.validation import (
    normalise_address,
    normalise_country,
    normalise_email,
    normalise_locale,
    normalise_phone,
    parse_locale,
)


def test_email_lower_cases_the_domain_and_keeps_the_local_part() -> None:
    result = normalise_email("  Jan.Jansen@Example.COM ")
    assert result.ok
    assert result.value == "Jan.Jansen@example.com"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("jan.jansen.example.com", "email syntax: missing @"),
        ("jan@example", "email syntax: domain without dot"),
        ("jan jansen@example.com", "email syntax: invalid local part"),
        ("jan@@example.com", "email syntax: invalid domain"),
        ("@example.com", "email syntax: nothing before @"),
        ("jan@", "email syntax: nothing after @"),
        ("jan@mail.invalid", "email syntax: reserved domain"),
        ("jan..jansen@example.com", "email syntax: misplaced dot"),
        ('"Jan" <jan@example.com>', "email syntax: display name not allowed"),
        ("", "email: empty"),
    ],
)
def test_bad_email_gets_a_specific_reason_without_the_value(raw: str, reason: str) -> None:
    result = normalise_email(raw)
    assert not result.ok
    assert result.reason == reason
    if raw:
        assert raw not in (result.reason or "")


@pytest.mark.parametrize(
    "raw",
    [
        "a@b.co",
        "o'brien+news@example.ie",
        "x@sub-domain.example.org",
        "a@b--c.nl",
        "a-@x.nl",
        "a@x-.nl",
        "a.@x.nl",
        "a@x.123",
        "a@b.c",
        "ån@example.nl",
        "a@xn--ls8h.la",
        "A" * 65 + "@example.com",
        "jan@localhost",
    ],
)
def test_email_agrees_with_email_validator(raw: str) -> None:
    """The fast path for plain addresses must never accept what email-validator refuses."""
    try:
        expected: str | None = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    assert normalise_email(raw).value == expected


@pytest.mark.parametrize(
    ("raw", "region", "value", "number_type"),
    [
        ("06-12345678", "NL", "+31612345678", "mobile"),
        ("+31 6 12345678", "DE", "+31612345678", "mobile"),
        ("0470 12 34 56", "BE", "+32470123456", "mobile"),
        ("+49 151 23456789", "NL", "+4915123456789", "mobile"),
        ("07911 123456", "GB", "+447911123456", "mobile"),
        ("06 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("+1 202 555 0123", "NL", "+12025550123", "fixed_line_or_mobile"),
    ],
)
def test_mobile_numbers_become_e164(raw: str, region: str, value: str, number_type: str) -> None:
    result = normalise_phone(raw, default_region=region)
    assert (result.value, result.number_type, result.reason) == (value, number_type, None)


def test_fixed_line_in_mobile_column_is_not_a_mobile_number() -> None:
    assert normalise_phone("020 123 4567", default_region="NL").reason == (
        "phone: not a mobile number"
    )
    anywhere = normalise_phone("020 123 4567", default_region="NL", expect="any")
    assert (anywhere.value, anywhere.number_type) == ("+31201234567", "fixed_line")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("n/a", "phone: cannot parse"),
        ("06-1234", "phone: not a valid number"),
        ("0000", "phone: not a valid number"),
        ("", "phone: empty"),
    ],
)
def test_bad_phone_numbers_get_specific_reasons(raw: str, reason: str) -> None:
    assert normalise_phone(raw, default_region="NL").reason == reason


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("NL", "NL"),
        ("nl", "NL"),
        ("NLD", "NL"),
        ("netherlands", "NL"),
        ("Nederland", "NL"),
        ("Belgique", "BE"),
        ("germany", "DE"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("fra", "FR"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_country_codes_and_names(raw: str, code: str | None) -> None:
    assert normalise_country(raw) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("nl_NL", "nl"),
        ("nl-nl", "nl"),
        ("NL", "nl"),
        ("en-GB", "en"),
        ("EN", "en"),
        ("fr_BE", "nl"),  # French is not supported here: the default
        ("nl_BE", "nl-BE"),  # the region is kept when the supported list names it
        ("xx", "nl"),
        ("", "nl"),
    ],
)
def test_locale_maps_to_supported_locale(raw: str, expected: str) -> None:
    assert normalise_locale(raw, supported=["nl", "en", "nl-BE"], default="nl") == expected


def test_parse_locale_tells_unknown_locales_apart() -> None:
    assert parse_locale("nl_nl") == ("nl", "NL")
    assert parse_locale("klingon") is None


@pytest.mark.parametrize(
    ("country", "postal_code", "canonical"),
    [
        ("NL", "1012lg", "1012 LG"),
        ("BE", "1000", "1000"),
        ("DE", "10115", "10115"),
        ("GB", "sw1a2aa", "SW1A 2AA"),
        ("GB", "M1 1AE", "M1 1AE"),
        ("FR", "75001", "75001"),
        ("IT", "00184", "00184"),  # no format known: accepted as given
    ],
)
def test_address_postal_codes_per_country(country: str, postal_code: str, canonical: str) -> None:
    result = normalise_address(
        street="Main  Street", house_number="1", postal_code=postal_code, city="X", country=country
    )
    assert result.ok, result.reason
    assert result.postal_code == canonical
    assert result.value == f"Main Street 1, {canonical} X, {country}"


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"street": ""}, "street", "address incomplete: missing street"),
        ({"house_number": " "}, "house_number", "address incomplete: missing house number"),
        ({"postal_code": ""}, "postal_code", "address incomplete: missing postal code"),
        ({"city": ""}, "city", "address incomplete: missing city"),
        ({"postal_code": "10125"}, "postal_code", "address: postal code not in NL format"),
        ({"postal_code": "1012 SS"}, "postal_code", "address: postal code not in NL format"),
        ({"country": None}, "country", "address: unknown country"),
    ],
)
def test_incomplete_or_malformed_address(changes: dict, column: str, reason: str) -> None:
    parts = {
        "street": "Damrak",
        "house_number": "1",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
    }
    result = normalise_address(**{**parts, **changes})
    assert (result.ok, result.column, result.reason) == (False, column, reason)
