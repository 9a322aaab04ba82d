"""Sealing and verifying the audit trail against a plain scan of the same rows.

Builds a temporary SQLite database (migrated schema) with ``--rows`` audit rows of the usual
kinds (outreach sent, delivery events, profile updates naming people), then measures in the
same run:

(a) ``models.audit_trail.sealing.seal``: every row split into its hashed content and its
    personal part, chained and written back;
(b) ``models.audit_trail.verify.verify``: the whole chain walked and checked (aim: at least
    200,000 rows/s);
(c) the baseline: a plain ``SELECT`` of every audit row through the same driver, fetched and
    thrown away.

Memory: peak resident-set growth per phase (see ``peak_rss.py``).

    python benchmarks/audit_verify.py [--rows 500000] [--url postgresql+psycopg://...]

With ``--url`` the rows go into that database instead (it must be empty: the schema is
migrated there and the rows are left behind), for example a throwaway PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from peak_rss import measure  # a sibling script module: benchmarks/ is on sys.path

from models.audit_trail.sealing import seal
from models.audit_trail.verify import verify
from models.db import make_engine, upgrade
from models.tables import AUDIT

TS = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).replace(tzinfo=None).isoformat(" ") + ".000000"


def _row(i: int) -> tuple[object, ...]:
    kind = i % 4
    if kind == 0:
        return (
            "sender",
            "outreach.sent",
            "outreach",
            i,
            i // 2,
            None,
            json.dumps({"status": "sent", "channel": "email"}),
            None,
            json.dumps({"provider": "sendgrid", "provider_message_id": f"m-{i}"}),
        )
    if kind == 1:
        return (
            "webhook",
            "delivery.delivered",
            "outreach",
            i,
            None,
            None,
            json.dumps({"status": "delivered"}),
            "provider event",
            json.dumps({"delivery_event_id": i, "detail": "250 OK"}),
        )
    if kind == 2:
        return (
            "system:import",
            "profile.update",
            "profile",
            i // 2,
            i // 2,
            json.dumps({"given_name": "Anna", "city": "Utrecht"}),
            json.dumps({"given_name": "Anne", "city": "Zeist", "locale": "nl"}),
            "import",
            json.dumps({"file": "customers.csv", "line": i}),
        )
    return ("steward", "enrollment.stop", "enrollment", i, i // 2, json.dumps({"state": "active"}),
            json.dumps({"state": "stopped"}), "sweep decision: archive", None)  # fmt: skip


def build_elsewhere(url: str, rows: int) -> None:
    """The same rows in another database, through SQLAlchemy in chunks."""
    engine = make_engine(url)
    upgrade(engine)
    keys = ("actor", "action", "entity_type", "entity_id", "profile_id", "before", "after",
            "reason", "evidence")  # fmt: skip
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    for start in range(1, rows + 1, 50_000):
        chunk = []
        for i in range(start, min(rows, start + 49_999) + 1):
            row = dict(zip(keys, _row(i), strict=True))
            for c in ("before", "after", "evidence"):
                row[c] = None if row[c] is None else json.loads(str(row[c]))
            chunk.append({"at": at, **row})
        with engine.begin() as conn:
            conn.execute(AUDIT.insert(), chunk)
    engine.dispose()


def build(path: Path, rows: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id,"
            " before, after, reason, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((TS, *_row(i)) for i in range(1, rows + 1)),
        )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--url", help="an empty database to use instead of a SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = args.url or f"sqlite:///{path}"
        started = time.perf_counter()
        if args.url:
            build_elsewhere(args.url, args.rows)
        else:
            build(path, args.rows)
        print(f"{args.rows:,} audit rows built in {time.perf_counter() - started:.1f} s")
        engine = make_engine(url)
        t_seal, m_seal = measure(lambda: seal(engine, wait=True, batch_size=5000))
        result = verify(engine)
        if result.problem is not None or result.rows != args.rows:
            raise SystemExit(f"verify failed: {result.problem}")
        t_verify, m_verify = measure(lambda: verify(engine))

        def scan() -> None:
            raw = engine.raw_connection()
            sqlite = engine.dialect.name == "sqlite"
            # PostgreSQL: a server-side cursor, as verify uses, not the whole result in memory.
            cursor = raw.cursor() if sqlite else raw.driver_connection.cursor(name="scan")  # type: ignore[union-attr]
            cursor.execute("SELECT * FROM audit_event")
            while cursor.fetchmany(10_000):
                pass
            cursor.close()
            raw.close()

        t_scan, m_scan = measure(scan)
        engine.dispose()
    print(f"{'':<32}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak RSS +MiB':>15}")
    for label, secs, mem in (
        ("seal", t_seal, m_seal),
        ("verify", t_verify, m_verify),
        ("plain scan (baseline)", t_scan, m_scan),
    ):
        print(f"{label:<32}{args.rows:>10,}{secs:>10.2f}{args.rows / secs:>12,.0f}{mem:>15.1f}")
    print(f"verify / plain scan: {t_verify / t_scan:.2f}x")


if __name__ == "__main__":
    main()
