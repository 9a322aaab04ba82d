"""`enrich round plan` with its ladder forecast against the plan's counts alone.

Builds a temporary SQLite database (migrated schema) with ``--profiles`` profiles and contact
points carrying a realistic share of gaps, and an earlier finished round of the same campaign
over ``--earlier-share`` of them, 60 days ago: its three ladder steps written (email sent or
failed, SMS sent or skipped, letter sent), an answer through 15% of the messages sent, most of
them verifying a contact point (``contact_point.verified`` naming the message, among an
``outreach.sent`` row per message on the trail), a third of the answers completing. Then
measures in the same run, each the best of ``--repeat`` runs:

(a) the baseline: ``models.rounds.selection.plan`` alone (today's counts);
(b) the plan with its forecast, as the command makes it: ``plan`` and
    ``models.forecast.forecast.make_forecast`` (observed rates, the ladder walk, the days).

Memory: peak resident-set growth per phase (see ``peak_rss.py``).

    python benchmarks/round_plan.py [--profiles 200000] [--earlier-share 0.2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from peak_rss import start_peak  # a sibling script module: benchmarks/ is on sys.path

from models.campaigns.spec import CampaignSpec, Costs, Step
from models.db import make_engine, upgrade
from models.forecast.forecast import Forecast, make_forecast
from models.forecast.waits import SendPace
from models.rounds.selection import Plan, plan
from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SPEC = CampaignSpec(
    key="bench",
    name="Bench",
    gaps=["missing_email", "bounced_email", "invalid_email", "missing_mobile", "invalid_mobile",
          "unverified_postal", "stale_verification"],
    ladder=[
        Step(channel="email", wait_days=5),
        Step(channel="sms", wait_days=5),
        Step(channel="letter", wait_days=21),
    ],
    costs=Costs(currency="EUR", per_message={"email": 0.001, "sms": 0.075, "letter": 0.95}),
)  # fmt: skip
PACE = SendPace(
    Respect(
        WindowPolicy(sms=SendWindow(clock(9), clock(20), frozenset(range(5)))),
        CapPolicy(),
        ZoneInfo("Europe/Amsterdam"),
    ),
    per_second={"sms": 10.0},
)


def _ts(when: datetime) -> str:
    return when.replace(tzinfo=None).isoformat(sep=" ")


def _contacts(rng: random.Random, profile_id: int) -> Iterator[tuple[Any, ...]]:
    """Roughly: 10% no email, 5% bounced, 3% invalid; 30% no mobile; 5% no address."""
    fresh = _ts(NOW - timedelta(days=100))
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
        else:
            yield (profile_id, "postal", "Dorpsstraat 1", "unverified", None)


def _history(
    rng: random.Random, size: int, share: float, started: datetime
) -> tuple[list[tuple[Any, ...]], ...]:
    """(enrollments, outreach, submissions, audit rows) of the earlier round."""
    enrollments: list[tuple[Any, ...]] = []
    outreach: list[tuple[Any, ...]] = []
    submissions: list[tuple[Any, ...]] = []
    trail: list[tuple[Any, ...]] = []
    chosen = (i for i in range(1, size + 1) if rng.random() < share)
    for enrollment_id, profile_id in enumerate(chosen, start=1):
        state = "exhausted"
        for index, step in enumerate(SPEC.ladder):
            when = _ts(started + timedelta(days=5 * index))
            sent = rng.random() < (0.9, 0.6, 0.95)[index]
            status = "sent" if sent else ("failed", "skipped", "skipped")[index]
            outreach_id = len(outreach) + 1
            outreach.append((outreach_id, enrollment_id, profile_id, index, step.channel,
                             status, when, when, when if sent else None))  # fmt: skip
            if not sent:
                continue
            trail.append((when, "system", "outreach.sent", "outreach", outreach_id, profile_id,
                          json.dumps({"outreach_id": outreach_id})))  # fmt: skip
            if rng.random() >= 0.15:
                continue
            submissions.append((profile_id, outreach_id, when))
            if rng.random() < 0.9:
                evidence = json.dumps({"outreach_id": outreach_id, "method": "link:email"})
                trail.append((when, "customer", "contact_point.verified", "contact_point", None,
                              profile_id, evidence))  # fmt: skip
            if rng.random() < 0.33:
                state = "completed"
                break
        ended = _ts(started + timedelta(days=31))
        enrollments.append((enrollment_id, profile_id, state, _ts(started), ended, ended))
    return enrollments, outreach, submissions, trail


def _earlier_round(con: sqlite3.Connection, rng: random.Random, size: int, share: float) -> None:
    """Round 1, finished: the ladder run 60 days ago for ``share`` of the profiles."""
    started = NOW - timedelta(days=60)
    con.execute(
        "INSERT INTO campaign (id, key, version, content_hash, definition, created_at)"
        " VALUES (1, 'bench', 1, ?, ?, ?)",
        (SPEC.content_hash(), json.dumps(SPEC.model_dump(mode="json")), _ts(started)),
    )
    con.execute(
        "INSERT INTO round (id, campaign_id, started_by, status, started_at)"
        " VALUES (1, 1, 'bench', 'finished', ?)",
        (_ts(started),),
    )
    enrollments, outreach, submissions, trail = _history(rng, size, share, started)
    con.executemany(
        "INSERT INTO enrollment (id, round_id, profile_id, state, gap_mask, step_index,"
        " created_at, updated_at, ended_at) VALUES (?, 1, ?, ?, 1, 2, ?, ?, ?)",
        enrollments,
    )
    con.executemany(
        "INSERT INTO outreach (id, enrollment_id, profile_id, step_index, channel, template,"
        " status, created_at, updated_at, sent_at, attempts)"
        " VALUES (?, ?, ?, ?, ?, 'ask', ?, ?, ?, ?, 1)",
        outreach,
    )
    con.executemany(
        "INSERT INTO submission (profile_id, outreach_id, received_at) VALUES (?, ?, ?)",
        submissions,
    )
    con.executemany(
        "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id,"
        " evidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
        trail,
    )
    print(f"earlier round: {len(enrollments):,} enrollments, {len(outreach):,} ladder rows, "
          f"{len(submissions):,} answers, {len(trail):,} audit rows")  # fmt: skip


def build(path: Path, size: int, earlier_share: float, seed: int = 7) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    ts = _ts(NOW - timedelta(days=200))
    with con:
        con.executemany(
            "INSERT INTO profile (id, external_id, given_name, family_name, locale, created_at,"
            " updated_at) VALUES (?, ?, 'Test', 'Person', 'nl', ?, ?)",
            ((i, f"c{i}", ts, ts) for i in range(1, size + 1)),
        )
        con.executemany(
            "INSERT INTO contact_point (profile_id, kind, value, status, is_primary,"
            " verified_at, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            ((*c, ts, ts) for i in range(1, size + 1) for c in _contacts(rng, i)),
        )
        _earlier_round(con, rng, size, earlier_share)
    con.execute("ANALYZE")
    con.close()


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """Run ``fn``; its wall time in seconds and its peak RSS growth in MiB."""
    peak = start_peak()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started, peak()


def best(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """The shortest wall time of ``repeat`` runs, and the largest peak RSS growth."""
    runs = [measure(fn) for _ in range(repeat)]
    return min(t for t, _ in runs), max(m for _, m in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--earlier-share", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, args.profiles, args.earlier_share)
        print(f"{args.profiles:,} profiles built in {time.perf_counter() - started:.1f} s")
        engine = make_engine(f"sqlite:///{path}")
        found: dict[str, Any] = {}

        def counts() -> Plan:
            with engine.connect() as conn:
                return plan(conn=conn, spec=SPEC, now=NOW, max_age_days=730, cooldown_days=30,
                            exhausted_cooldown_days=180)  # fmt: skip

        def with_forecast() -> Forecast:
            with engine.connect() as conn:
                counted = plan(conn=conn, spec=SPEC, now=NOW, max_age_days=730,
                               cooldown_days=30, exhausted_cooldown_days=180)  # fmt: skip
                found["forecast"] = make_forecast(
                    conn, spec=SPEC, plan=counted, campaign_version=1, now=NOW, pace=PACE
                )
                found["plan"] = counted
                return found["forecast"]

        counts()  # a first read warms SQLite's page cache for both
        t_plan, m_plan = best(args.repeat, counts)
        t_forecast, m_forecast = best(args.repeat, with_forecast)
        engine.dispose()
    forecast: Forecast = found["forecast"]
    if forecast.basis != "observed":
        raise SystemExit(f"the forecast's basis is {forecast.basis}, expected observed")
    n = args.profiles
    print(f"{'':<34}{'profiles':>10}{'seconds':>10}{'profiles/s':>12}{'peak RSS +MiB':>15}")
    for label, secs, mem in (
        ("plan alone (baseline)", t_plan, m_plan),
        ("plan with its forecast", t_forecast, m_forecast),
    ):
        print(f"{label:<34}{n:>10,}{secs:>10.2f}{n / secs:>12,.0f}{mem:>15.1f}")
    total = forecast.total()
    print(f"plan with forecast / plan alone: {t_forecast / t_plan:.2f}x; "
          f"{found['plan'].total:,} selected, forecast {total['messages']:,} messages, "
          f"{total['verified']:,} verified, {total['days']:g} days ({forecast.basis})")  # fmt: skip


if __name__ == "__main__":
    main()
