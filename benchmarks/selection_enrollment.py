"""Selection + enrollment throughput against a raw ``executemany`` insert of the same rows.

For each size, builds a temporary SQLite database (migrated schema) with profiles and contact
points carrying a realistic share of gaps, and an earlier round whose ladder ran out for a share
of them (``--exhausted-share``; half of those changed no data since, so the exhausted cool-down
holds them back), then measures in the same run:

(a) ``models.rounds.enrollment.enroll`` - gap selection and ``INSERT ... SELECT`` per batch of ids;
(b) (a) again, twice, on copies of the same database, followed by sealing the audit rows it
    wrote into the hash chain (``models.audit_trail.sealing.seal``, as the round flow does), then
    (a) once more on a third copy; the best of each pair is compared;
(c) a raw ``sqlite3`` ``executemany`` of as many enrollment rows into an identical table
    (same columns, same indexes), in one transaction.

Memory: the process's peak resident set during each phase above its resident set at the start
of the phase (Linux: the peak is reset through ``/proc/self/clear_refs`` and read from ``VmHWM``,
so it counts Python objects and SQLite's page cache alike; elsewhere ``ru_maxrss`` growth, which
reads 0 when an earlier phase peaked higher). No ``tracemalloc``: it would slow the Python-heavy
raw insert far more than the SQL-heavy enrolment and flatter the ratio.

    python benchmarks/selection_enrollment.py --sizes 100000,1000000 [--exhausted-share 0.1]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from peak_rss import start_peak  # a sibling script module: benchmarks/ is on sys.path

from models.audit_trail.sealing import seal
from models.campaigns.gaps import GAPS
from models.campaigns.spec import CampaignSpec, Step
from models.db import make_engine, upgrade
from models.rounds.enrollment import enroll

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TS = NOW.replace(tzinfo=None).isoformat(sep=" ")
SPEC = CampaignSpec(
    key="bench",
    name="Bench",
    gaps=list(GAPS),
    ladder=[
        Step(channel="email", wait_days=5),
        Step(channel="sms", wait_days=5),
        Step(channel="letter", wait_days=21),
    ],
)


def _contacts(rng: random.Random, profile_id: int) -> Iterator[tuple[Any, ...]]:
    """Roughly: 10% no email, 5% bounced, 3% invalid; 30% no mobile; 5% no address."""
    stale = (NOW - timedelta(days=1000)).replace(tzinfo=None).isoformat(sep=" ")
    fresh = (NOW - timedelta(days=100)).replace(tzinfo=None).isoformat(sep=" ")
    r = rng.random()
    if r > 0.10:
        status = "bounced" if r < 0.15 else "invalid" if r < 0.18 else "valid"
        yield (profile_id, "email", f"p{profile_id}@example.org", status, None)
    r = rng.random()
    if r > 0.30:
        yield (profile_id, "mobile", "+31612345678", "invalid" if r < 0.35 else "valid", None)
    r = rng.random()
    if r > 0.05:
        if r < 0.50:
            yield (profile_id, "postal", "Dorpsstraat 1", "verified", fresh)
        elif r < 0.55:
            yield (profile_id, "postal", "Dorpsstraat 1", "verified", stale)
        else:
            yield (profile_id, "postal", "Dorpsstraat 1", "unverified", None)


def build(path: Path, size: int, exhausted_share: float, seed: int = 7) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    with con:
        con.executemany(
            "INSERT INTO profile (id, external_id, given_name, family_name, locale, created_at,"
            " updated_at) VALUES (?, ?, 'Test', 'Person', 'nl', ?, ?)",
            ((i, f"c{i}", TS, TS) for i in range(1, size + 1)),
        )
        con.executemany(
            "INSERT INTO contact_point (profile_id, kind, value, status, is_primary,"
            " verified_at, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            ((*c, TS, TS) for i in range(1, size + 1) for c in _contacts(rng, i)),
        )
        con.execute(
            "INSERT INTO campaign (id, key, version, content_hash, definition, created_at)"
            " VALUES (1, 'bench', 1, 'x', '{}', ?)",
            (TS,),
        )
        con.execute(
            "INSERT INTO round (id, campaign_id, started_by, status, started_at)"
            " VALUES (1, 1, 'bench', 'running', ?), (2, 1, 'bench', 'finished', ?)",
            (TS, TS),
        )
        _exhausted_history(con, rng, size, exhausted_share)
        # The raw baseline's table: same columns and indexes as enrollment, other names.
        for (sql,) in con.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'enrollment' AND sql IS NOT NULL"
        ).fetchall():
            con.execute(sql.replace("enrollment", "enrollment_raw"))
    con.execute("ANALYZE")
    con.close()


def _exhausted_history(
    con: sqlite3.Connection, rng: random.Random, size: int, share: float
) -> None:
    """Round 2 ran out for ``share`` of the profiles 20 days ago; half of them changed no data
    since (their contact points are older), the other half did (written at NOW)."""
    ended = (NOW - timedelta(days=20)).replace(tzinfo=None).isoformat(sep=" ")
    older = (NOW - timedelta(days=60)).replace(tzinfo=None).isoformat(sep=" ")
    exhausted = [i for i in range(1, size + 1) if rng.random() < share]
    con.executemany(
        "INSERT INTO enrollment (round_id, profile_id, state, gap_mask, step_index, created_at,"
        " updated_at, ended_at, end_reason) VALUES (2, ?, 'exhausted', 1, 2, ?, ?, ?,"
        " 'ladder exhausted')",
        ((i, older, ended, ended) for i in exhausted),
    )
    con.executemany(
        "UPDATE contact_point SET created_at = ?, updated_at = ? WHERE profile_id = ?",
        ((older, older, i) for i in exhausted[::2]),
    )
    con.executemany(
        "UPDATE profile SET created_at = ?, updated_at = ? WHERE id = ?",
        ((older, older, i) for i in exhausted[::2]),
    )


def measure(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(rows, seconds, peak resident-set growth in MiB during ``fn``)."""
    peak_mib = start_peak()
    started = time.perf_counter()
    rows = fn()
    elapsed = time.perf_counter() - started
    return rows, elapsed, peak_mib()


def run(size: int, batch_size: int, exhausted_share: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, size, exhausted_share)
        print(
            f"\n{size:,} profiles ({exhausted_share:.0%} ran out in an earlier round): test data"
            f" built in {time.perf_counter() - started:.1f} s"
        )
        for name in ("sealed.db", "sealed-2.db", "again.db"):
            shutil.copyfile(path, path.with_name(name))
        engine = make_engine(f"sqlite:///{path}")

        def via_enroll(target: Any = engine) -> int:
            return enroll(
                conn=target,
                round_id=1,
                spec=SPEC,
                now=NOW,
                max_age_days=730,
                cooldown_days=30,
                exhausted_cooldown_days=180,
                batch_size=batch_size,
            )

        enrolled, t_enroll, mem_enroll = measure(via_enroll)
        engine.dispose()

        def enroll_and_seal(name: str, sealing: bool) -> tuple[int, float, float]:
            target = make_engine(f"sqlite:///{path.with_name(name)}")

            def work() -> int:
                done = via_enroll(target)
                if sealing:
                    seal(target)
                return done

            try:
                return measure(work)
            finally:
                target.dispose()

        # Without, with, with, without: the best of each pair, so a busy machine's drift
        # does not decide the comparison.
        _, t_sealed, mem_sealed = enroll_and_seal("sealed.db", True)
        _, t_sealed_2, _ = enroll_and_seal("sealed-2.db", True)
        _, t_again, _ = enroll_and_seal("again.db", False)
        t_sealed, t_enroll = min(t_sealed, t_sealed_2), min(t_enroll, t_again)
        masks = (
            sqlite3.connect(path)
            .execute(
                "SELECT profile_id, gap_mask FROM enrollment WHERE round_id = 1 ORDER BY profile_id"
            )
            .fetchall()
        )

        def via_executemany() -> int:
            con = sqlite3.connect(path)
            con.execute("PRAGMA synchronous=NORMAL")
            with con:
                con.executemany(
                    "INSERT INTO enrollment_raw (round_id, profile_id, state, gap_mask, step_index,"
                    " next_due_at, created_at, updated_at) VALUES (1, ?, 'active', ?, -1, ?, ?, ?)",
                    ((pid, mask, TS, TS, TS) for pid, mask in masks),
                )
            con.close()
            return len(masks)

        raw, t_raw, mem_raw = measure(via_executemany)
        print(f"{'':<36}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak RSS +MiB':>15}")
        for label, rows, secs, mem in (
            (f"selection + enroll (batch {batch_size:,})", enrolled, t_enroll, mem_enroll),
            ("the same, then seal", enrolled, t_sealed, mem_sealed),
            ("raw executemany insert", raw, t_raw, mem_raw),
        ):
            print(f"{label:<36}{rows:>10,}{secs:>10.2f}{rows / secs:>12,.0f}{mem:>15.1f}")
        print(
            f"ratio enroll / raw insert: {t_enroll / t_raw:.2f}x "
            f"({enrolled / size:.0%} of profiles selected)"
        )
        print(f"with sealing / without: {t_sealed / t_enroll:.2f}x (aim: at most 1.15x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated profile counts (default: 100000,1000000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10_000,
        help="profile ids per enrolment statement (default: 10000)",
    )
    parser.add_argument(
        "--exhausted-share",
        type=float,
        default=0.1,
        help="share of profiles whose ladder ran out in an earlier round (default: 0.1)",
    )
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",") if s):
        run(size, args.batch_size, args.exhausted_share)


if __name__ == "__main__":
    main()
