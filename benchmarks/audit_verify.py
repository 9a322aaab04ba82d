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

    python benchmarks/audit_verify.py [--rows 500000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from peak_rss import start_peak  # a sibling script module: benchmarks/ is on sys.path

from models.audit_trail.sealing import seal
from models.audit_trail.verify import verify
from models.db import make_engine, upgrade

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


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    peak = start_peak()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started, peak()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, args.rows)
        print(f"{args.rows:,} audit rows built in {time.perf_counter() - started:.1f} s")
        engine = make_engine(f"sqlite:///{path}")
        t_seal, m_seal = measure(lambda: seal(engine, wait=True, batch_size=5000))
        result = verify(engine)
        if result.problem is not None or result.rows != args.rows:
            raise SystemExit(f"verify failed: {result.problem}")
        t_verify, m_verify = measure(lambda: verify(engine))

        def scan() -> None:
            con = sqlite3.connect(path)
            cursor = con.execute("SELECT * FROM audit_event")
            while cursor.fetchmany(10_000):
                pass
            con.close()

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
