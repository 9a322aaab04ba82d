"""Masked display of contact data for the landing page: enough to recognise, too little to learn.

Postal codes keep their coarse part only: a Dutch "1017 AB" shows "1017 **" (the digits name a
district, the letters narrow it to a street side); a code with a space keeps the part before it
(GB "SW1A 1AA" -> "SW1A ***"); any other code keeps its first two characters ("10115" -> "10***").
Street and house number are shown because the customer needs them to recognise the address and
they say little without the full postal code.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


def _stars(text: str) -> str:
    return "".join("*" if ch.isalnum() else ch for ch in text)


def mask_email(value: str) -> str:
    """``jan.jansen@example.nl`` -> ``j***@example.nl`` (the domain stays readable)."""
    local, sep, domain = value.rpartition("@")
    if not sep or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(value: str) -> str:
    """``+31612345678`` -> ``+31 6 ****5678``: country code, first group and last four digits."""
    try:
        number = phonenumbers.parse(value, None)
        formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        digits = "".join(ch for ch in value if ch.isdigit())
        return "****" + digits[-4:] if len(digits) > 4 else "****"
    groups = formatted.split(" ")
    if len(groups) < 3:
        rest = "".join(ch for ch in "".join(groups[1:]) if ch.isdigit())
        return f"{groups[0]} " + "*" * max(len(rest) - 4, 0) + rest[-4:]
    rest = "".join(ch for ch in "".join(groups[2:]) if ch.isdigit())
    return f"{groups[0]} {groups[1]} " + "*" * max(len(rest) - 4, 0) + rest[-4:]


def mask_postal_code(code: str) -> str:
    """The coarse part of a postal code, the rest as stars (see the module docstring)."""
    code = " ".join(code.split())
    head, sep, tail = code.partition(" ")
    if sep:
        return f"{head} {_stars(tail)}"
    return code[:2] + _stars(code[2:])


def mask_address(
    street: str | None, house_number: str | None, postal_code: str | None, city: str | None
) -> str:
    """``Kerkstraat 12, 1017 ** Amsterdam``: street, number and city shown, postal code masked."""
    first = " ".join(p for p in (street, house_number) if p)
    second = " ".join(p for p in (mask_postal_code(postal_code or ""), city) if p)
    return ", ".join(p for p in (first, second) if p)
