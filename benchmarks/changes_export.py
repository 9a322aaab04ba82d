"""Exporting the changes feed back to the CRM against a plain scan of the same rows.

Builds a temporary SQLite database (migrated schema) with ``--changes`` changed contact points
(one profile each, a confirmation then a verification on the trail, sealed), then measures in
the same run:

(a) ``models.changes_feed.export_file.export_changes`` to a CSV file (spreadsheet-safe cells)
    and to JSON Lines (aim: 100,000 changes in under 10 s);
(b) the baseline: the same audit rows, contact points and profiles read with one plain join and
    written with ``csv.writer``, no collapsing, no neutralising.

Memory: peak resident-set growth per phase (see ``peak_rss.py``).

    python benchmarks/changes_export.py [--changes 100000]
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
import time
from pathlib import Path

from peak_rss import measure  # a sibling script module: benchmarks/ is on sys.path

from models.audit_trail.sealing import seal
from models.changes_feed.export_file import export_changes
from models.db import make_engine, upgrade
from models.types import utcnow

TS = "2026-11-23 12:00:00.000000"


def build(path: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO profile (id, external_id, given_name, family_name, locale, country,"
            " created_at, updated_at) VALUES (?, ?, 'Anna', 'Jansen', 'nl', 'NL', ?, ?)",
            ((i, f"CRM-{i}", TS, TS) for i in range(1, count + 1)),
        )
        con.executemany(
            "INSERT INTO contact_point (id, profile_id, kind, value, status, is_primary,"
            " verified_at, verification_method, created_at, updated_at)"
            " VALUES (?, ?, 'email', ?, 'verified', 1, ?, 'email_link', ?, ?)",
            ((i, i, f"anna{i}@example.org", TS, TS, TS) for i in range(1, count + 1)),
        )
        con.executemany(
            "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id,"
            " after) VALUES (?, 'customer', ?, 'contact_point', ?, ?, ?)",
            (
                (TS, action, i, i, f'{{"status":"{status}"}}')
                for i in range(1, count + 1)
                for action, status in (
                    ("contact_point.confirmed", "valid"),
                    ("contact_point.verified", "verified"),
                )
            ),
        )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, args.changes)
        engine = make_engine(f"sqlite:///{path}")
        seal(engine, wait=True, batch_size=5000)
        print(f"{args.changes:,} changed contact points built and sealed in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        def export(name: str) -> None:
            with engine.begin() as conn:
                done = export_changes(conn, Path(tmp) / name, since=0, until=None, now=utcnow())
            if done.rows != args.changes:
                raise SystemExit(f"exported {done.rows} changes, expected {args.changes}")

        def plain() -> None:
            raw = engine.raw_connection()
            cursor = raw.cursor()
            cursor.execute(
                "SELECT a.seq, a.at, p.external_id, a.action, c.kind, c.value, c.status,"
                " c.verified_at, c.verification_method FROM audit_event a"
                " JOIN contact_point c ON c.id = a.entity_id JOIN profile p ON p.id = c.profile_id"
                " WHERE a.seq IS NOT NULL ORDER BY a.seq"
            )
            with open(Path(tmp) / "plain.csv", "w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file)
                while batch := cursor.fetchmany(10_000):
                    writer.writerows(batch)
            raw.close()

        t_csv, m_csv = measure(lambda: export("changes.csv"))
        t_jsonl, m_jsonl = measure(lambda: export("changes.jsonl"))
        t_plain, m_plain = measure(plain)
        engine.dispose()
    n = args.changes
    print(f"{'':<36}{'changes':>10}{'seconds':>10}{'changes/s':>12}{'peak RSS +MiB':>15}")
    for label, secs, mem in (
        ("export changes, CSV", t_csv, m_csv),
        ("export changes, JSON Lines", t_jsonl, m_jsonl),
        ("plain join to csv (baseline)", t_plain, m_plain),
    ):
        print(f"{label:<36}{n:>10,}{secs:>10.2f}{n / secs:>12,.0f}{mem:>15.1f}")
    print(f"CSV export / baseline: {t_csv / t_plain:.2f}x (the baseline reads {2 * n:,} rows)")


if __name__ == "__main__":
    main()
