"""Deterministic demo customers as an import CSV: several countries, real-format numbers and gaps.

Email addresses use the reserved example domains so that a demo round can never reach a real
mailbox; phone numbers are random but valid for their country, so the ladder has work to do.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from models import safe_csv
from models.importing.read_file import COLUMNS


@dataclass(frozen=True)
class _Country:
    code: str
    alpha3: str
    name: str
    share: float
    locales: tuple[tuple[str, float], ...]
    given: tuple[str, ...]
    family: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]  # (city, postal-code seed)
    mobile: tuple[str, int]  # (international prefix, digits to add)
    fixed: tuple[str, int]


_COUNTRIES: Final = (
    _Country(
        "NL",
        "NLD",
        "Nederland",
        0.60,
        (("nl_NL", 0.9), ("en_GB", 0.1)),
        (
            "Jan",
            "Sanne",
            "Pieter",
            "Emma",
            "Daan",
            "Lotte",
            "Bram",
            "Fleur",
            "Ruben",
            "Anouk",
            "Thijs",
            "Iris",
            "Joris",
            "Noor",
            "Sem",
            "Femke",
        ),
        (
            "de Vries",
            "Jansen",
            "van den Berg",
            "Bakker",
            "Visser",
            "Smit",
            "Meijer",
            "de Boer",
            "Mulder",
            "de Groot",
            "Bos",
            "Vos",
            "Peters",
            "Hendriks",
            "van Dijk",
            "Dekker",
        ),
        (
            "Kerkstraat",
            "Dorpsstraat",
            "Stationsweg",
            "Molenweg",
            "Schoolstraat",
            "Julianastraat",
            "Beatrixlaan",
            "Eikenlaan",
            "Prinsengracht",
            "Hoofdweg",
        ),
        (
            ("Amsterdam", "10"),
            ("Rotterdam", "30"),
            ("Utrecht", "35"),
            ("Den Haag", "25"),
            ("Eindhoven", "56"),
            ("Groningen", "97"),
            ("Zwolle", "80"),
            ("Haarlem", "20"),
        ),
        ("+316", 8),
        ("+3120", 7),
    ),
    _Country(
        "BE",
        "BEL",
        "Belgium",
        0.15,
        (("nl_BE", 0.6), ("fr_BE", 0.4)),
        ("Lucas", "Louise", "Arthur", "Elise", "Noah", "Marie", "Victor", "Julie", "Wout", "Lien"),
        (
            "Peeters",
            "Janssens",
            "Maes",
            "Jacobs",
            "Mertens",
            "Willems",
            "Claes",
            "Goossens",
            "Dubois",
            "Lambert",
        ),
        (
            "Kerkstraat",
            "Rue de la Station",
            "Stationsstraat",
            "Rue de l'Église",
            "Nieuwstraat",
            "Avenue Louise",
        ),
        (
            ("Brussel", "1000"),
            ("Antwerpen", "2000"),
            ("Gent", "9000"),
            ("Liège", "4000"),
            ("Namur", "5000"),
            ("Leuven", "3000"),
        ),
        ("+3247", 7),
        ("+323", 7),
    ),
    _Country(
        "DE",
        "DEU",
        "Deutschland",
        0.10,
        (("de_DE", 1.0),),
        ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah", "Paul", "Mia", "Leon", "Sophie"),
        (
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Schäfer",
        ),
        ("Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße"),
        (
            ("Berlin", "10"),
            ("Hamburg", "20"),
            ("München", "80"),
            ("Köln", "50"),
            ("Frankfurt am Main", "60"),
        ),
        ("+49151", 8),
        ("+4930", 8),
    ),
    _Country(
        "GB",
        "GBR",
        "United Kingdom",
        0.08,
        (("en_GB", 1.0),),
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie", "Grace"),
        (
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Johnson",
            "Davies",
            "Evans",
            "Thomas",
        ),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane"),
        (
            ("London", "SW1A"),
            ("London", "E1"),
            ("London", "N1"),
            ("Manchester", "M1"),
            ("Bristol", "BS1"),
            ("Edinburgh", "EH1"),
            ("Leeds", "LS1"),
        ),
        ("+447", 9),
        ("+4420", 8),
    ),
    _Country(
        "FR",
        "FRA",
        "France",
        0.07,
        (("fr_FR", 1.0),),
        ("Gabriel", "Jade", "Louis", "Léa", "Raphaël", "Chloé", "Jules", "Manon", "Hugo", "Inès"),
        (
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Lefèvre",
            "Moreau",
        ),
        (
            "Rue de la République",
            "Rue Victor Hugo",
            "Avenue Jean Jaurès",
            "Rue de la Paix",
            "Boulevard Voltaire",
            "Rue Pasteur",
        ),
        (
            ("Paris", "750"),
            ("Lyon", "690"),
            ("Marseille", "130"),
            ("Lille", "590"),
            ("Bordeaux", "330"),
        ),
        ("+336", 8),
        ("+331", 8),
    ),
)

_DOMAINS: Final = ("example.com", "example.net", "example.org")
_LETTERS_NL: Final = "ABCDEGHJKLMNPRTVWXZ"  # no S: SA, SD and SS are not used
_LETTERS_GB: Final = "ABDEFGHJLNPQRSTUWXYZ"
_BAD_EMAILS: Final = ("{u}@{d}@{d}", "{u}.{d}", "{u}@example", "{u} @{d}", "{u}@@{d}", "{u}@")
_GARBAGE_PHONES: Final = ("n/a", "06-1234", "onbekend", "0000", "123456789012345678", "tel?")


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def _pick_weighted(rng: random.Random, items: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for item, weight in items:
        total += weight
        if roll < total:
            return item
    return items[-1][0]


def _phone(rng: random.Random, spec: tuple[str, int], mobile: bool, country: str) -> str:
    """A random number that phonenumbers accepts with the wanted type, formatted like a CRM."""
    wanted = (
        (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        if mobile
        else (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    )
    prefix, digits = spec
    while True:
        raw = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        number = phonenumbers.parse(raw, None)
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in wanted:
            break
    style = rng.random()
    if country == "NL" and style < 0.6:
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        return national.replace(" ", "") if style < 0.3 else national
    if style < 0.8:
        return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _postal_code(rng: random.Random, country: str, seed: str) -> str:
    if country == "NL":
        letters = rng.choice(_LETTERS_NL) + rng.choice(_LETTERS_NL)
        return f"{seed}{rng.randint(11, 99)} {letters}"
    if country == "BE":
        return str(int(seed) + rng.randint(0, 99))
    if country == "DE":
        return f"{seed}{rng.randint(100, 999)}"
    if country == "GB":
        return f"{seed} {rng.randint(1, 9)}{rng.choice(_LETTERS_GB)}{rng.choice(_LETTERS_GB)}"
    return f"{seed}{rng.randint(1, 20):02d}"  # FR: arrondissement-style codes


def _country_cell(rng: random.Random, country: _Country) -> str:
    roll = rng.random()
    if roll < 0.9:
        return country.code
    return country.alpha3 if roll < 0.95 else country.name


def _row(rng: random.Random, index: int) -> dict[str, str]:
    country = rng.choices(_COUNTRIES, weights=[c.share for c in _COUNTRIES])[0]
    given, family = rng.choice(country.given), rng.choice(country.family)
    city, seed = rng.choice(country.cities)
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        external_id=f"C{index:07d}",
        given_name=given,
        family_name=family,
        street=rng.choice(country.streets),
        house_number=str(rng.randint(1, 250)) + ("" if rng.random() < 0.9 else rng.choice("abc")),
        postal_code=_postal_code(rng, country.code, seed),
        city=city,
        country=_country_cell(rng, country),
        locale=_pick_weighted(rng, country.locales),
    )

    user = f"{_ascii(given)}.{_ascii(family)}".lower() + (
        str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
    )
    domain = rng.choice(_DOMAINS)
    roll = rng.random()
    if roll < 0.15:
        pass  # missing email
    elif roll < 0.19:
        row["email"] = rng.choice(_BAD_EMAILS).format(u=user, d=domain)
    else:
        row["email"] = f"{user}@{domain}"
        if roll < 0.24:
            bounced = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            row["email_bounced_at"] = bounced

    roll = rng.random()
    if roll < 0.25:
        pass  # missing mobile
    elif roll < 0.28:
        row["mobile"] = _phone(rng, country.fixed, False, country.code)
    elif roll < 0.30:
        row["mobile"] = rng.choice(_GARBAGE_PHONES)
    else:
        row["mobile"] = _phone(rng, country.mobile, True, country.code)

    if rng.random() < 0.3:
        row["phone"] = _phone(rng, country.fixed, False, country.code)

    roll = rng.random()
    if roll < 0.01:
        for column in ("street", "house_number", "postal_code", "city"):
            row[column] = ""
    elif roll < 0.04:
        row[rng.choice(("house_number", "postal_code", "street"))] = ""
    return row


def write_demo_csv(path: Path, *, count: int, seed: int) -> int:
    """Write ``count`` demo customers to ``path`` (UTF-8 CSV); the same seed gives the same file."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = safe_csv.Writer(handle)
        writer.writerow(COLUMNS)
        for index in range(1, count + 1):
            row = _row(rng, index)
            writer.writerow(row[column] for column in COLUMNS)
    return count
