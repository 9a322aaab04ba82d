"""Pure normalisation and validation of contact data: free text, email, phone, address, ...

Every check returns the normalised value or a short, stable reason that never echoes the value,
so reasons can go into reports, audit rows and logs without carrying personal data. Only country
and locale lookups are cached: their values are few and are not personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# -- free text: one rule for every field a person types (names, address parts, email, phone) --

# Control characters (C0 with NUL, DEL, C1) and lone surrogates, which no database stores;
# bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069), which make text
# display as something else; and U+FFFD, the trace of a broken encoding. Combining marks,
# ZWJ/ZWNJ (U+200C/U+200D, needed in Indic and Persian names) and every script stay allowed.
# Tab, LF and CR are not here: they become spaces (_LINE_BREAKS).
_REFUSED_CHARACTER: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffd\ud800-\udfff]"
)
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A line break or tab inside a spreadsheet cell (Alt+Enter) is a space, not a character to refuse.
_LINE_BREAKS: Final = re.compile(r" *[\t\r\n][\t\r\n ]*")
# Reasons of :func:`normalise_text`, each followed by the character's code point but the last.
TEXT_CONTROL: Final = "text: control character"
TEXT_DIRECTION: Final = "text: direction control character"
TEXT_UNREADABLE: Final = "text: unreadable character"
TEXT_NO_LETTER: Final = "text: no letter or digit"


@dataclass(frozen=True)
class TextResult:
    value: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def normalise_text(raw: str, *, needs_letter_or_digit: bool = False) -> TextResult:
    """``raw`` stripped, line breaks and tabs as spaces, or why it cannot be stored as typed.

    The reason names the refused character's code point (``text: control character U+0000``),
    never the value. ``needs_letter_or_digit`` is for a name, a street, a city, ...: a value
    made only of emoji, symbols or punctuation is not one.
    """
    # Checked before stripping: a control character at the edge is refused too, not hidden.
    found = _REFUSED_CHARACTER.search(raw)
    if found is not None:
        char = found.group()
        if char in _BIDI_CONTROLS:
            kind = TEXT_DIRECTION
        elif char == "\ufffd" or "\ud800" <= char <= "\udfff":
            kind = TEXT_UNREADABLE
        else:
            kind = TEXT_CONTROL
        return TextResult(reason=f"{kind} U+{ord(char):04X}")
    text = _LINE_BREAKS.sub(" ", raw).strip()
    if needs_letter_or_digit and text and not any(ch.isalnum() for ch in text):
        return TextResult(reason=TEXT_NO_LETTER)
    return TextResult(value=text)


def visible(text: str) -> str:
    """``text`` with each refused character shown as ``<U+202E>``, for the steward's report."""
    return _REFUSED_CHARACTER.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


@dataclass(frozen=True)
class EmailResult:
    value: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class PhoneResult:
    value: str | None = None  # E.164
    number_type: str | None = None  # "mobile", "fixed_line", "fixed_line_or_mobile", ...
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class AddressResult:
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str | None
    reason: str | None = None
    # The column the reason is about ("street", "postal_code", "country", ...), for reports.
    column: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def value(self) -> str:
        """The canonical one-line form: ``Street 12, 1234 AB City, NL``."""
        first = " ".join(p for p in (self.street, self.house_number) if p)
        second = " ".join(p for p in (self.postal_code, self.city) if p)
        return ", ".join(p for p in (first, second, self.country or "") if p)


# email-validator's messages sometimes quote characters of the address; map them onto a few
# stable reasons instead (first match wins).
_EMAIL_REASONS: Final = (
    ("must have an @-sign", "email syntax: missing @"),
    ("at-sign", "email syntax: wrong @ character"),
    ("too long", "email syntax: too long"),
    ("something before the @-sign", "email syntax: nothing before @"),
    ("something after the @-sign", "email syntax: nothing after @"),
    ("should have a period", "email syntax: domain without dot"),
    ("special-use or reserved", "email syntax: reserved domain"),
    ("top-level domain", "email syntax: invalid top-level domain"),
    ("display name", "email syntax: display name not allowed"),
    ("period", "email syntax: misplaced dot"),
    ("hyphen", "email syntax: misplaced hyphen"),
    ("before the @-sign", "email syntax: invalid local part"),
    ("after the @-sign", "email syntax: invalid domain"),
)


# Plain ASCII addresses that email-validator certainly accepts; checking them here is about ten
# times faster, which matters for a 100k-row import. Anything else goes to email-validator.
_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_EMAIL: Final = re.compile(
    rf"({_ATOM}(?:\.{_ATOM})*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}})"
)
_SPECIAL_USE: Final = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _simple_email(text: str) -> str | None:
    match = _SIMPLE_EMAIL.fullmatch(text)
    if match is None or len(text) > 254 or len(match[1]) > 64:
        return None
    domain = match[2].lower()
    if "--" in domain or any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE):
        return None
    return f"{match[1]}@{domain}"


def normalise_email(raw: str | None) -> EmailResult:
    """Syntax-check ``raw`` (no DNS); the domain is lower-cased, the local part kept as given."""
    text = (raw or "").strip()
    if not text:
        return EmailResult(reason="email: empty")
    if not (email := _simple_email(text)):
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as err:
            message = str(err)
            for needle, reason in _EMAIL_REASONS:
                if needle in message:
                    return EmailResult(reason=reason)
            return EmailResult(reason="email syntax: invalid")
        email = f"{checked.local_part}@{checked.domain.lower()}"
    # RFC 6531 allows a mailbox named only by emoji or symbols; no customer of ours has one.
    if not any(ch.isalnum() for ch in email.rpartition("@")[0]):
        return EmailResult(reason="email syntax: no letter or digit before @")
    return EmailResult(value=email)


_MOBILE_TYPES: Final = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalise_phone(
    raw: str | None, *, default_region: str, expect: Literal["mobile", "any"] = "mobile"
) -> PhoneResult:
    """Parse ``raw`` as a phone number (national numbers read in ``default_region``) to E.164.

    With ``expect="mobile"`` a valid number that is not a mobile number is refused (SMS cannot
    reach it); ``FIXED_LINE_OR_MOBILE`` (countries that do not tell them apart) counts as mobile.
    """
    text = (raw or "").strip()
    if not text:
        return PhoneResult(reason="phone: empty")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except NumberParseException:
        return PhoneResult(reason="phone: cannot parse")
    # number_type is UNKNOWN exactly when is_valid_number is false; one call instead of two.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return PhoneResult(reason="phone: not a valid number")
    if expect == "mobile" and kind not in _MOBILE_TYPES:
        return PhoneResult(reason="phone: not a mobile number")
    return PhoneResult(
        value=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        number_type=PhoneNumberType.to_string(kind).lower(),
    )


# Names a Dutch, Belgian, German, British or French export may use that pycountry does not know.
_COUNTRY_ALIASES: Final = {
    "holland": "NL",
    "nederland": "NL",
    "the netherlands": "NL",
    "belgie": "BE",
    "belgië": "BE",
    "belgique": "BE",
    "belgien": "BE",
    "deutschland": "DE",
    "duitsland": "DE",
    "germany": "DE",
    "allemagne": "DE",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "verenigd koninkrijk": "GB",
    "frankrijk": "FR",
    "frankreich": "FR",
}


@lru_cache(maxsize=4096)
def normalise_country(raw: str | None) -> str | None:
    """ISO 3166 alpha-2 for an alpha-2 or alpha-3 code or a country name (any case), else None."""
    text = (raw or "").strip()
    if not text:
        return None
    alias = _COUNTRY_ALIASES.get(text.casefold())
    if alias:
        return alias
    try:
        country = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(country.alpha_2)


@lru_cache(maxsize=4096)
def parse_locale(raw: str | None) -> tuple[str, str | None] | None:
    """``(language, territory)`` for "nl_NL", "nl-nl", "NL", "en"; None when babel does not know it.

    A bare two-letter code is read as a language ("NL" is Dutch, not the Netherlands).
    """
    text = (raw or "").strip().replace("-", "_")
    if not text:
        return None
    parts = text.split("_")
    # Babel wants "ll_TT"; exports write "NL_nl" and "nl_nl" too.
    candidate = "_".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])
    try:
        locale = Locale.parse(candidate)
    except (UnknownLocaleError, ValueError):
        return None
    return str(locale.language), (str(locale.territory) if locale.territory else None)


def _locale_tag(language: str, territory: str | None) -> str:
    return f"{language}-{territory}" if territory else language


@lru_cache(maxsize=64)
def _supported_tags(supported: tuple[str, ...]) -> dict[str, str]:
    by_key: dict[str, str] = {}
    for item in supported:
        parsed = parse_locale(item)
        if parsed:
            by_key.setdefault(_locale_tag(*parsed).lower(), _locale_tag(*parsed))
    return by_key


def supported_locale(
    raw: str | None, *, supported: Iterable[str], default: str
) -> tuple[str, str | None]:
    """The supported locale closest to ``raw`` and None, or ``default`` and the reason.

    The region is kept only when the supported list names that regional locale itself (e.g.
    "nl-BE" when templates exist for Belgian Dutch); otherwise "nl_NL" becomes "nl": the same
    language, so no reason. Another language is never chosen silently: "it" with Italian not
    supported gives ``default`` and "locale it not supported: nl used" (a tag, no other text).
    Results use the hyphenated tag form ("nl", "nl-BE").
    """
    by_key = _supported_tags(tuple(supported))
    parsed_raw = parse_locale(raw)
    if parsed_raw is None:
        return default, "locale unreadable: " + default + " used"
    language, territory = parsed_raw
    for key in (_locale_tag(language, territory), language):
        if key.lower() in by_key:
            return by_key[key.lower()], None
    return default, f"locale {_locale_tag(language, territory)} not supported: {default} used"


def normalise_locale(raw: str | None, *, supported: Iterable[str], default: str) -> str:
    """The supported locale closest to ``raw``, or ``default`` (see :func:`supported_locale`)."""
    return supported_locale(raw, supported=supported, default=default)[0]


# Postal code formats; the value is matched after upper-casing and collapsing spaces.
_POSTAL_CODE: Final = {
    "NL": re.compile(r"^[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}$"),
    "BE": re.compile(r"^[1-9][0-9]{3}$"),
    "DE": re.compile(r"^[0-9]{5}$"),
    "FR": re.compile(r"^(?:[0-8][0-9]|9[0-8]|2[AB])[0-9]{3}$"),
    "GB": re.compile(
        r"^(?:GIR ?0AA|[A-PR-UWYZ](?:[0-9][0-9]?|[A-HK-Y][0-9][0-9]?|[0-9][A-HJKPSTUW]"
        r"|[A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})$"
    ),
}


def _canonical_postal_code(country: str, code: str) -> str:
    compact = code.replace(" ", "")
    if country == "NL":
        return f"{compact[:4]} {compact[4:]}"
    if country == "GB":
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def normalise_address(
    *,
    street: str | None,
    house_number: str | None,
    postal_code: str | None,
    city: str | None,
    country: str | None,
) -> AddressResult:
    """Check a postal address for completeness and, for NL/BE/DE/GB/FR, the postal code format.

    ``country`` must already be ISO alpha-2 (see :func:`normalise_country`); None means unknown.
    """
    parts = {
        "street": " ".join((street or "").split()),
        "house_number": " ".join((house_number or "").split()),
        "postal_code": " ".join((postal_code or "").split()).upper(),
        "city": " ".join((city or "").split()),
    }
    country = country.upper() if country else None
    for column, value in parts.items():
        if not value:
            reason = f"address incomplete: missing {column.replace('_', ' ')}"
            return AddressResult(**parts, country=country, reason=reason, column=column)
    if country is None:
        return AddressResult(
            **parts, country=None, reason="address: unknown country", column="country"
        )
    pattern = _POSTAL_CODE.get(country)
    if pattern is not None:
        if not pattern.match(parts["postal_code"]):
            reason = f"address: postal code not in {country} format"
            return AddressResult(**parts, country=country, reason=reason, column="postal_code")
        parts["postal_code"] = _canonical_postal_code(country, parts["postal_code"])
    return AddressResult(**parts, country=country)
