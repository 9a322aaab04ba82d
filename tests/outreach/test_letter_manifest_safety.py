"""Letters to hostile names: the manifest opens in a spreadsheet without running a formula."""

from __future__ import annotations

import csv
from pathlib import Path

from outreach.channels.base import PostalAddress, in_doubt
from outreach.channels.letter_outbox import LetterOutbox
from outreach.config import OutreachConfig
from tests.outreach.conftest import MakeMessage

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NAMES = [
    '=HYPERLINK("http://evil.example","Klik hier")',
    "+31 6 12345678",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
]


def cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_hostile_names_are_neutralised_in_the_manifest_and_the_outbox_reads_it_back(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    messages = [
        make_message(
            "letter",
            address=PostalAddress(name, "=Kerkstraat", "-1", "1234 AB", "@Amsterdam", "NL"),
        )
        for name in NAMES
    ]
    outbox = LetterOutbox(outbox_config)
    results = outbox.send_batch(messages)
    assert all(r.ok for r in results)
    [manifest] = sorted((outbox_config.outbox_dir / "letters").glob("batch-*.csv"))

    for row in cells(manifest):
        assert not [c for c in row if c.startswith(TRIGGERS)], row
    header, *rows = cells(manifest)
    by_column = [dict(zip(header, row, strict=True)) for row in rows]
    assert [row["name"] for row in by_column] == ["'" + name.strip() for name in NAMES]
    assert {row["address_1"] for row in by_column} == {"'=Kerkstraat -1"}

    # The outbox still finds every letter in its own manifest (a crash-and-rerun relies on it).
    found = outbox.already_sent(in_doubt([m.outreach_id for m in messages]))
    assert found == {r.outreach_id: r for r in results}
