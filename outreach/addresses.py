"""Postal address lines in each destination country's own format, for the letter's window field.

Formats follow the national postal operators' guidance (PostNL, bpost, Deutsche Post, La Poste,
Royal Mail): house number after the street in NL/BE/DE/AT/CH/..., before it in FR/LU/GB/IE/US;
the city in capitals where the post asks for it; a country line only for mail abroad.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

# House number written before the street name.
_NUMBER_FIRST = frozenset({"FR", "LU", "GB", "IE", "US", "CA", "AU", "NZ"})
# Last line is "POSTCODE  CITY" with two spaces and the city in capitals (PostNL).
_NL_STYLE = frozenset({"NL"})
# City in capitals after the postcode.
_CITY_UPPER = frozenset({"FR", "LU", "NL", "GB", "IE"})
# Postcode on its own line after the city.
_POSTCODE_AFTER_CITY = frozenset({"GB", "IE"})


@lru_cache(maxsize=256)
def country_line(country: str) -> str:
    """The destination country in capitals, in English (accepted by every postal operator)."""
    name = Locale("en").territories.get(country.upper())
    return (name or country).upper()


def street_line(*, street: str, house_number: str, country: str) -> str:
    parts = [street.strip(), house_number.strip()]
    if country.upper() in _NUMBER_FIRST:
        parts.reverse()
    return " ".join(p for p in parts if p)


def locality_lines(*, postal_code: str, city: str, country: str) -> list[str]:
    code = country.upper()
    city = city.strip().upper() if code in _CITY_UPPER else city.strip()
    postal_code = postal_code.strip()
    if code in _POSTCODE_AFTER_CITY:
        return [line for line in (city, postal_code) if line]
    if code in _NL_STYLE:
        # PostNL: "1234 AB" then two spaces before the city.
        return [f"{postal_code}  {city}".strip()]
    return [f"{postal_code} {city}".strip()]


def format_address(
    *,
    name: str,
    street: str,
    house_number: str,
    postal_code: str,
    city: str,
    country: str,
    origin_country: str = "NL",
) -> list[str]:
    """The lines to print in the window field, top to bottom, empty lines left out."""
    lines = [name.strip(), street_line(street=street, house_number=house_number, country=country)]
    lines += locality_lines(postal_code=postal_code, city=city, country=country)
    if country and country.upper() != origin_country.upper():
        lines.append(country_line(country))
    return [line for line in lines if line]
