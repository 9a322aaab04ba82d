"""Letter batches: the return code printed on each letter, the merged PDF and the manifest CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

MANIFEST_FIELDS = (
    "sequence",
    "page",
    "outreach_id",
    "name",
    "address_1",
    "address_2",
    "address_3",
    "address_4",
    "address_5",
    "country",
    "return_code",
)
_RETURN_CODE = re.compile(r"L-?(\d{6,})-?(\d)")


def _luhn_digit(digits: str) -> int:
    """The Luhn check digit: catches every single-digit error and most swapped neighbours."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def return_code(outreach_id: int) -> str:
    """The code printed on a letter, e.g. ``L-000123-0``, typed in when the letter comes back."""
    if outreach_id < 0:
        raise ValueError("outreach id must not be negative")
    digits = f"{outreach_id:06d}"
    return f"L-{digits}-{_luhn_digit(digits)}"


def parse_return_code(code: str) -> int:
    """The outreach id in a return code; ValueError when malformed or the check digit is wrong."""
    match = _RETURN_CODE.fullmatch(code.strip().upper().replace(" ", ""))
    if not match:
        raise ValueError("not a return code (expected L-000123-0)")
    digits, check = match.groups()
    if _luhn_digit(digits) != int(check):
        raise ValueError("return code check digit does not match (mistyped?)")
    return int(digits)


@dataclass(frozen=True)
class ManifestRow:
    sequence: int
    page: int
    outreach_id: int
    address_lines: Sequence[str]  # name first, as printed in the window field
    country: str

    def as_csv(self) -> list[str]:
        name = self.address_lines[0] if self.address_lines else ""
        rest = list(self.address_lines[1:6])
        address = rest + [""] * (5 - len(rest))
        return [
            str(self.sequence),
            str(self.page),
            str(self.outreach_id),
            name,
            *address,
            self.country,
            return_code(self.outreach_id),
        ]


def manifest_csv(rows: Sequence[ManifestRow]) -> bytes:
    """The print house's manifest: one row per letter, in the PDF's page order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(MANIFEST_FIELDS)
    for row in rows:
        writer.writerow(row.as_csv())
    return buf.getvalue().encode("utf-8")


def read_manifest_ids(data: str) -> list[int]:
    """Outreach ids listed in a manifest's text, in order."""
    return [int(row["outreach_id"]) for row in csv.DictReader(io.StringIO(data))]


def render_pdf(html: str) -> tuple[bytes, int]:
    """One PDF for a whole HTML document; returns the bytes and the page count."""
    # Imported here: WeasyPrint takes about a second to import and only letters need it.
    from weasyprint import HTML

    document = HTML(string=html).render()
    return document.write_pdf(), len(document.pages)
