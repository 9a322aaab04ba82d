"""Webhook ingestion throughput against a raw ``executemany`` insert of the same events.

Builds a temporary SQLite database with N sent email outreaches, then measures in one run:

(a) parsing a shuffled SendGrid Event Webhook payload
    (``outreach.providers.sendgrid.events.sendgrid_events``) and
    ingesting it (``models.feedback.delivery_events.ingest_events``: idempotent insert plus effects:
    bounces, opt-outs, due enrollments, audit rows), in batches of ``--batch`` events per request;
(b) the same batches delivered again (every event a duplicate: must change nothing);
(c) (a) again, twice, on copies of the same database, each request followed by sealing its audit
    rows into the hash chain (``models.audit_trail.sealing.seal``, as the webhook route does),
    then (a) once more on a third copy, these three without tracemalloc (it slows Python-heavy
    sealing far more than the SQL-heavy ingestion); the better sealed run is compared;
(d) a raw ``sqlite3`` ``executemany`` of as many rows into an identical ``delivery_event`` table.

Memory: peak traced allocations per phase (``tracemalloc``), the same instrument for all three.

    python benchmarks/webhook_ingestion.py --events 20000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from models.audit_trail.sealing import seal
from models.db import make_engine, upgrade
from models.feedback.delivery_events import ingest_events
from models.tables import CAMPAIGN, CONTACT, ENROLLMENT, OUTREACH, PROFILE, ROUND
from outreach.providers.sendgrid.events import sendgrid_events

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _populate(url: str, outreaches: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(CAMPAIGN),
            [{"key": "b", "version": 1, "content_hash": "x", "definition": {}, "created_at": NOW}],
        )
        conn.execute(
            insert(ROUND),
            [{"campaign_id": 1, "started_by": "bench", "status": "running", "started_at": NOW}],
        )
        ids = range(1, outreaches + 1)
        conn.execute(
            insert(PROFILE),
            [{"id": i, "external_id": f"c{i}", "locale": "nl", "created_at": NOW,
              "updated_at": NOW} for i in ids],
        )  # fmt: skip
        conn.execute(
            insert(CONTACT),
            [{"id": i, "profile_id": i, "kind": "email", "value": f"c{i}@example.org",
              "status": "valid", "is_primary": True, "created_at": NOW, "updated_at": NOW}
             for i in ids],
        )  # fmt: skip
        conn.execute(
            insert(ENROLLMENT),
            [{"id": i, "round_id": 1, "profile_id": i, "state": "active", "gap_mask": 8,
              "step_index": 0, "next_due_at": NOW, "created_at": NOW, "updated_at": NOW}
             for i in ids],
        )  # fmt: skip
        conn.execute(
            insert(OUTREACH),
            [{"id": i, "enrollment_id": i, "profile_id": i, "contact_point_id": i,
              "step_index": 0, "channel": "email", "template": "ask", "status": "sent",
              "provider": "sendgrid", "provider_message_id": f"m{i}", "created_at": NOW,
              "sent_at": NOW, "updated_at": NOW} for i in ids],
        )  # fmt: skip
    engine.dispose()


def _payload(events: int, outreaches: int, rng: random.Random) -> list[dict[str, Any]]:
    """processed/delivered/open for most messages, 8% hard bounces, 4% unsubscribes."""
    out: list[dict[str, Any]] = []
    ts = int(NOW.timestamp())
    for n in range(events):
        oid = rng.randint(1, outreaches)
        r = rng.random()
        kind = "bounce" if r < 0.08 else "unsubscribe" if r < 0.12 else "delivered"
        event = {"email": f"c{oid}@example.org", "timestamp": ts + n, "event": kind,
                 "sg_event_id": f"ev-{n}", "sg_message_id": f"m{oid}.filter-1",
                 "outreach_id": str(oid)}  # fmt: skip
        if kind == "bounce":
            event.update(type="bounce", status="5.1.1", reason="550 no such user")
        out.append(event)
    rng.shuffle(out)
    return out


CPU: dict[str, float] = {}  # CPU seconds of this process per phase: steadier on a busy machine


def _measure(label: str, count: int, fn: Callable[[], object], traced: bool = True) -> float:
    """Seconds of ``fn``; ``traced`` off leaves out tracemalloc, which slows Python-heavy work
    (sealing) far more than SQL-heavy work and would flatter neither side of a comparison."""
    if traced:
        tracemalloc.start()
    cpu = time.process_time()
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    CPU[label] = min(CPU.get(label, float("inf")), time.process_time() - cpu)
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    memory = f"peak {peak / 2**20:7.1f} MiB" if traced else "(untraced)      "
    print(
        f"{label:<34} {count:>8,} events {elapsed:8.2f} s {count / elapsed:>10,.0f} ev/s"
        f" {memory}  CPU {CPU[label]:.2f} s"
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--outreaches", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=1_000, help="events per webhook request")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        _populate(url, args.outreaches)
        copies = {}
        for name in ("sealed", "sealed-2", "again"):
            shutil.copyfile(Path(tmp) / "bench.db", Path(tmp) / f"{name}.db")
            copies[name] = make_engine(f"sqlite:///{Path(tmp) / name}.db")
        raw_batches = [
            json.dumps(args_batch).encode()
            for args_batch in _chunks(_payload(args.events, args.outreaches, rng), args.batch)
        ]
        engine = make_engine(url)

        def ingest(target: Any = engine, sealing: bool = False) -> None:
            for body in raw_batches:
                with Session(target) as session:
                    ingest_events(session=session, events=sendgrid_events(json.loads(body)),
                                  now=NOW)  # fmt: skip
                    session.commit()
                if sealing:
                    seal(target)

        first = _measure("parse + ingest (new events)", args.events, ingest)
        _measure("same batches again (duplicates)", args.events, ingest)
        # Without, with, with, without: the best of each pair, so a busy machine's drift does
        # not decide the comparison.
        with_seal = min(
            _measure(
                "parse + ingest + seal (new events)",
                args.events,
                lambda n=n: ingest(copies[n], True),  # type: ignore[misc]
                traced=False,
            )
            for n in ("sealed", "sealed-2")
        )
        without = _measure("parse + ingest (new, untraced)", args.events,
                           lambda: ingest(copies["again"]), traced=False)  # fmt: skip
        for copy in copies.values():
            copy.dispose()

        raw_path = Path(tmp) / "raw.db"
        raw = sqlite3.connect(raw_path)
        raw.execute(
            "CREATE TABLE delivery_event (id INTEGER PRIMARY KEY, outreach_id INTEGER,"
            " provider TEXT, provider_event_id TEXT, event_type TEXT, detail TEXT,"
            " occurred_at TEXT, received_at TEXT, raw TEXT,"
            " UNIQUE (provider, provider_event_id))"
        )
        rows = [
            (int(e["outreach_id"]), "sendgrid", e["sg_event_id"], e["event"], None,
             str(e["timestamp"]), NOW.isoformat(), json.dumps(e))
            for body in raw_batches for e in json.loads(body)
        ]  # fmt: skip

        def raw_insert() -> None:
            with raw:
                raw.executemany(
                    "INSERT INTO delivery_event (outreach_id, provider, provider_event_id,"
                    " event_type, detail, occurred_at, received_at, raw)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

        baseline = _measure("raw sqlite3 executemany (baseline)", args.events, raw_insert)
        raw.close()
        engine.dispose()
        print(f"ingestion / raw insert: {first / baseline:.1f}x")
        cpu_ratio = (
            CPU["parse + ingest + seal (new events)"] / CPU["parse + ingest (new, untraced)"]
        )
        print(
            f"with sealing / without (untraced): {with_seal / without:.2f}x wall, "
            f"{cpu_ratio:.2f}x CPU (aim: at most 1.15x)"
        )


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


if __name__ == "__main__":
    main()
