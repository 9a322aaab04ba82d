"""Letter batches: the return code printed on each letter, the merged PDF and the manifest CSV."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from models import safe_csv
from outreach.reference import message_reference

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


def return_code(outreach_id: int) -> str:
    """The code printed on a letter, e.g. ``L-000123-0``, typed in when the letter comes back:
    the letter's reference (:func:`outreach.reference.message_reference`)."""
    return message_reference("letter", outreach_id)


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
    writer = safe_csv.Writer(buf)
    writer.writerow(MANIFEST_FIELDS)
    for row in rows:
        writer.writerow(row.as_csv())
    return buf.getvalue().encode("utf-8")


def render_pdf(html: str) -> tuple[bytes, int]:
    """One PDF for a whole HTML document; returns the bytes and the page count."""
    # Imported here: WeasyPrint takes about a second to import and only letters need it.
    from weasyprint import HTML

    document = HTML(string=html).render()
    return document.write_pdf(), len(document.pages)
