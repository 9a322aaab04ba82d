"""Reading an import CSV into rows to apply: encoding, header, records, validation (no database).

Lines are read one by one, so a broken quote costs the row it starts on, not the rest of the file.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TextIO

from models.contact_data.validation import (
    normalise_address,
    normalise_country,
    normalise_email,
    normalise_phone,
    normalise_text,
    parse_locale,
    supported_locale,
    visible,
)
from models.safe_csv import restore
from models.vocabulary import BOUNCED, INVALID, UNVERIFIED, VALID

# Every column the import knows, in the order Enrich writes them; a file may have any subset
# that includes the required ones, in any order: a column it lacks is read as empty cells.
COLUMNS: Final = (
    "external_id",
    "given_name",
    "family_name",
    "email",
    "mobile",
    "street",
    "house_number",
    "postal_code",
    "city",
    "country",
    "locale",
    "email_bounced_at",
    "phone",
)
REQUIRED_COLUMNS: Final = ("external_id",)
# A quoted field may span lines (an address with a newline); beyond this it is a broken quote.
MAX_RECORD_LINES: Final = 20
# A cell is trimmed of spaces, tabs and line breaks, but of no other control character (such as
# U+0085): normalise_text must see those to refuse them, wherever they stand.
CELL_TRIM: Final = "".join(
    c
    for c in map(chr, range(0x3001))
    if c.isspace() and (c in "\t\n\r" or unicodedata.category(c) != "Cc")
)
ADDRESS_COLUMNS: Final = ("street", "house_number", "postal_code", "city")
NAME_COLUMNS: Final = ("given_name", "family_name")
# Free text typed by a person somewhere: each cell must pass :func:`normalise_text`.
TEXT_COLUMNS: Final = (*NAME_COLUMNS, "email", "mobile", "phone", *ADDRESS_COLUMNS)
PHONE_COLUMNS: Final[tuple[tuple[str, Literal["mobile", "any"]], ...]] = (
    ("mobile", "mobile"),
    ("phone", "any"),
)
POINT_FIELDS: Final = (
    "value", "raw_value", "status", "invalid_reason", "street", "house_number",
    "postal_code", "city", "country", "bounced_at", "verified_at", "verification_method",
)  # fmt: skip


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, wrong encoding, bad header)."""


class Record(NamedTuple):
    line: int  # the physical line the record starts on
    fields: list[str] | None  # None when the record is broken
    raw: str  # the line's text when broken (for the steward's report), else ""
    reason: str  # why it is broken, else ""


def check_encoding(path: Path, encoding: str) -> None:
    """Fail before any write when a line does not decode, naming the line and ``--encoding``."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise ImportFileError(
                    f"{path.name} is not valid {encoding} (byte 0x{raw[err.start]:02x} at line "
                    f"{number}); if it is a Latin-1 export, rerun with --encoding latin-1"
                ) from None
            except LookupError:
                raise ImportFileError(f"unknown --encoding {encoding!r}") from None


class CsvRecords:
    """CSV records with their physical line numbers; a broken record costs its first line only."""

    def __init__(self, handle: TextIO, delimiter: str) -> None:
        self._lines = enumerate(handle, 1)
        self._pending: deque[tuple[int, str]] = deque()
        self._delimiter = delimiter

    def _next_line(self) -> tuple[int, str] | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def next(self, expected: int | None) -> Record | None:
        """``(line, fields or None, raw text, reason)``; None at the end of the file."""
        while (first := self._next_line()) is not None:
            if first[1].strip():
                break
        else:
            return None
        buffer = [first]
        quotes = first[1].count('"')
        while quotes % 2:  # inside a quoted field: it continues on the next line
            following = self._next_line() if len(buffer) < MAX_RECORD_LINES else None
            if following is None:
                return self._broken(buffer, "broken quoting: unterminated quote")
            buffer.append(following)
            quotes += following[1].count('"')
        texts = [text for _, text in buffer]
        try:
            parsed = list(csv.reader(texts, delimiter=self._delimiter, strict=True))
        except csv.Error as err:  # its messages name characters, never the row's values
            kind = "broken quoting" if quotes else "unreadable row"
            return self._broken(buffer, f"{kind}: {err}")
        if len(parsed) != 1:
            return self._broken(buffer, "broken quoting: unterminated quote")
        fields = parsed[0]
        if expected is not None and len(fields) != expected:
            if len(buffer) > 1:  # a stray quote swallowed the lines after it
                return self._broken(buffer, "broken quoting: unterminated quote")
            reason = f"wrong number of fields: expected {expected}, got {len(fields)}"
            return Record(first[0], None, first[1].rstrip("\r\n"), reason)
        # restore: a file Enrich wrote (the demo data, a report) reads back as it was meant.
        cells = [restore(f.strip(CELL_TRIM)).strip(CELL_TRIM) for f in fields]
        return Record(first[0], cells, "", "")

    def _broken(self, buffer: list[tuple[int, str]], reason: str) -> Record:
        # Give back every line after the first: they are read again as records of their own.
        self._pending.extendleft(reversed(buffer[1:]))
        line, text = buffer[0]
        return Record(line, None, text.rstrip("\r\n"), reason)


@dataclass(frozen=True)
class RejectRow:
    line: int
    column: str
    value: str
    reason: str
    # substituted: stored as another value, said in ``reason`` (an unsupported locale)
    kind: Literal["rejected", "invalid", "refused", "substituted"]


@dataclass
class ImportReport:
    source_name: str
    rows_read: int = 0
    profiles_created: int = 0
    profiles_updated: int = 0
    profiles_unchanged: int = 0
    rows_rejected: int = 0
    # Of the rows rejected, those naming an erased person (the CRM still holds them).
    rows_erased: int = 0
    invalid_values: dict[str, int] = field(default_factory=dict)
    # Values left out because they hold characters no field may store (normalise_text).
    refused_values: dict[str, int] = field(default_factory=dict)
    # Values stored as another one: a locale not supported becomes the default (the reason is
    # in ``rejects`` and on the profile's audit row).
    substituted_values: dict[str, int] = field(default_factory=dict)
    # Values not applied because the stored contact point of that kind is opted out.
    opted_out_kept: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)

    def add(self, line: int, column: str, value: str, reason: str, kind: str) -> None:
        # visible: a hidden control character shows as <U+202E> where the steward reads it.
        row = RejectRow(line, column, visible(value), reason, kind)  # type: ignore[arg-type]
        self.rejects.append(row)
        if kind == "rejected":
            self.rows_rejected += 1
        else:
            counts = {
                "invalid": self.invalid_values,
                "refused": self.refused_values,
                "substituted": self.substituted_values,
            }[kind]
            counts[column] = counts.get(column, 0) + 1


@dataclass
class Row:
    line: int
    external_id: str
    profile: dict[str, str]  # only the fields the file gives a value for
    points: dict[str, dict[str, Any]]  # kind -> desired contact-point columns
    # What the import did not take as given, for the audit row (no personal data).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RowRules:
    default_region: str  # for phone numbers and addresses without a country
    supported_locales: tuple[str, ...]
    default_locale: str


def sniff_delimiter(first_line: str) -> str:
    """Comma, semicolon (Dutch spreadsheet exports) or tab: whichever the header uses most."""
    return max((",", ";", "\t"), key=first_line.count)


def read_header(records: CsvRecords, name: str) -> tuple[list[str], list[str]]:
    """The normalised column names and the unknown ones among them; raises on a bad header."""
    record = records.next(None)
    if record is None:
        raise ImportFileError(f"{name} is empty: expected a header line")
    _, fields, _, reason = record
    if fields is None:
        raise ImportFileError(f"{name}: the header line cannot be read ({reason})")
    columns = [f.lstrip("\ufeff").strip().lower().replace(" ", "_") for f in fields]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ImportFileError(f"{name}: column(s) repeated in the header: {', '.join(repeated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportFileError(
            f"{name}: missing required column(s): {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_COLUMNS)})"
        )
    return columns, [c for c in columns if c not in COLUMNS]


def _parse_when(raw: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _point(value: str, raw: str, status: str, reason: str | None = None) -> dict[str, Any]:
    point: dict[str, Any] = dict.fromkeys(POINT_FIELDS)
    point.update(value=value[:500], raw_value=raw[:500], status=status, invalid_reason=reason)
    return point


def refuse_text(line: int, cells: dict[str, str], report: ImportReport) -> set[str]:
    """Normalise the free-text cells in place; a refused one is reported and emptied.

    An emptied cell means what an empty cell means: nothing stored is changed by it, so a
    refused name leaves the profile without that name (or with the name it had).
    """
    refused: set[str] = set()
    for column in TEXT_COLUMNS:
        if not (raw := cells[column]):
            continue
        # Email and phone numbers have syntax rules of their own; the rest must say something.
        text = normalise_text(raw, needs_letter_or_digit=column not in ("email", "mobile", "phone"))
        if text.value is None:
            report.add(line, column, raw, text.reason or "text: refused", "refused")
            refused.add(column)
        cells[column] = text.value or ""
    return refused


def plan_row(line: int, cells: dict[str, str], report: ImportReport, rules: RowRules) -> Row:
    """What one good row asks for; bad values are reported and kept as ``invalid`` points."""

    def invalid(column: str, reason: str, value: str | None = None) -> None:
        report.add(line, column, cells[column] if value is None else value, reason, "invalid")

    refused = refuse_text(line, cells, report)
    profile: dict[str, str] = {}
    notes: list[str] = []
    for column in NAME_COLUMNS:
        if cells[column]:
            profile[column] = cells[column][:200]
    if cells["locale"]:
        if parse_locale(cells["locale"]) is None:
            invalid("locale", "locale: unknown")
        else:
            profile["locale"], substituted = supported_locale(
                cells["locale"], supported=rules.supported_locales, default=rules.default_locale
            )
            if substituted:
                report.add(line, "locale", cells["locale"], substituted, "substituted")
                notes.append(substituted)
    country = normalise_country(cells["country"])
    if cells["country"] and country is None:
        invalid("country", "country: unknown")
    if country:
        profile["country"] = country
    region = country or rules.default_region

    points: dict[str, dict[str, Any]] = {}
    if raw := cells["email"]:
        email = normalise_email(raw)
        if email.value is None:
            invalid("email", email.reason or "email: invalid")
            points["email"] = _point(raw, raw, INVALID, email.reason)
        else:
            points["email"] = _point(email.value, raw, VALID)
            if bounced_raw := cells.get("email_bounced_at", ""):
                bounced = _parse_when(bounced_raw)
                if bounced is None:
                    invalid("email_bounced_at", "date: not ISO 8601")
                else:
                    points["email"].update(status=BOUNCED, bounced_at=bounced)
    for column, expect in PHONE_COLUMNS:
        if raw := cells[column]:
            phone = normalise_phone(raw, default_region=region, expect=expect)
            if phone.value is None:
                invalid(column, phone.reason or "phone: invalid")
                points[column] = _point(raw, raw, INVALID, phone.reason)
            else:
                points[column] = _point(phone.value, raw, VALID)
    # An address with a refused part is left out whole: its other parts alone would read as
    # an incomplete address, which it is not.
    if any(cells[c] for c in ADDRESS_COLUMNS) and not refused.intersection(ADDRESS_COLUMNS):
        address = normalise_address(
            **{c: cells[c] for c in ADDRESS_COLUMNS},
            country=country if cells["country"] else rules.default_region,
        )
        raw = ", ".join(cells[c] for c in (*ADDRESS_COLUMNS, "country") if cells[c])
        status = UNVERIFIED if address.ok else INVALID
        if not address.ok and not (address.column == "country" and cells["country"]):
            # The whole address as the value: a missing part alone would show an empty cell.
            invalid(address.column or "street", address.reason or "address: invalid", raw)
        points["postal"] = _point(address.value, raw, status, address.reason)
        for column in (*ADDRESS_COLUMNS, "country"):
            points["postal"][column] = getattr(address, column) or None
    return Row(line, cells["external_id"], profile, points, notes)


def read_rows(
    handle: TextIO, delimiter: str, report: ImportReport, rules: RowRules
) -> Iterator[Row]:
    """The rows worth importing; rejected rows only go to the report."""
    records = CsvRecords(handle, delimiter)
    columns, report.unknown_columns = read_header(records, report.source_name)
    first_seen: dict[str, int] = {}
    while (record := records.next(len(columns))) is not None:
        line, fields, raw, reason = record
        if fields is None:
            report.rows_read += 1
            report.add(line, "", raw[:500], reason, "rejected")
            continue
        if not any(fields):  # a spreadsheet's trailing ",,,," row: nothing to import
            continue
        report.rows_read += 1
        cells = dict.fromkeys(COLUMNS, "") | dict(zip(columns, fields, strict=True))
        external_id = cells["external_id"]
        if not external_id:
            report.add(line, "external_id", "", "missing external_id", "rejected")
        elif (checked := normalise_text(external_id)).value != external_id:
            # An id is matched as it is: a line break in it is no space, it is a broken id.
            reason = checked.reason or "external_id: line break or tab"
            report.add(line, "external_id", external_id, reason, "rejected")
        elif len(external_id) > 128:
            report.add(line, "external_id", external_id, "external_id too long", "rejected")
        elif external_id in first_seen:
            why = f"duplicate external_id (first on line {first_seen[external_id]})"
            report.add(line, "external_id", external_id, why, "rejected")
        else:
            first_seen[external_id] = line
            yield plan_row(line, cells, report, rules)
