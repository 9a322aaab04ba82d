"""The dossier of one profile in a database of 1M profiles, against one indexed profile lookup.

Builds a temporary SQLite database with the profiles and contact points of
``selection_enrollment.build`` (an earlier round ran out for 10 % of them), then gives every
profile what an import and a round leave behind: an audit row per profile and contact point, an
enrollment in the running round and an emailed first step. A handful of measured profiles get a
longer history on top (a bounce, an SMS, a landing-page answer with two consents, a proof, a
confirmation email). Then measures in the same run, per profile:

(a) ``models.dossier.collect_dossier`` plus the JSON and the HTML rendering;
(b) the baseline: one ``SELECT`` of the profile row by its (indexed) external id.

Memory: the process's peak resident-set growth during each phase (see ``peak_rss``).

    python benchmarks/dossier.py [--size 1000000] [--profiles 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from peak_rss import start_peak  # sibling script modules: benchmarks/ is on sys.path
from selection_enrollment import build as build_base
from sqlalchemy import select

from enrich.documents.dossier import render_html, render_json
from models.db import make_engine
from models.dossier import collect_dossier
from models.tables import PROFILE

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TS = NOW.replace(tzinfo=None).isoformat(sep=" ")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _ts(delta: timedelta) -> str:
    return (NOW + delta).replace(tzinfo=None).isoformat(sep=" ")


def _everyone(con: sqlite3.Connection) -> None:
    """What an import and the first step of a round leave for every profile."""
    evidence = json.dumps({"file": "crm.csv", "line": 2})
    con.execute(
        "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, after,"
        " reason, evidence) SELECT ?, 'system:import', 'profile.create', 'profile', id, id,"
        " json_object('external_id', external_id, 'given_name', given_name), 'import', ?"
        " FROM profile",
        (TS, evidence),
    )
    con.execute(
        "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, after,"
        " reason, evidence) SELECT ?, 'system:import', 'contact_point.create', 'contact_point',"
        " id, profile_id, json_object('kind', kind, 'value', value, 'status', status), 'import', ?"
        " FROM contact_point",
        (TS, evidence),
    )
    con.execute("UPDATE contact_point SET source = 'import:crm.csv:' || (profile_id + 1)")
    con.execute(
        "INSERT INTO enrollment (round_id, profile_id, state, gap_mask, step_index, next_due_at,"
        " created_at, updated_at) SELECT 1, id, 'active', 32, 0, ?, ?, ? FROM profile"
        " WHERE id NOT IN (SELECT profile_id FROM enrollment WHERE state = 'active')",
        (_ts(timedelta(days=5)), TS, TS),
    )
    con.execute(
        "INSERT INTO outreach (enrollment_id, profile_id, step_index, channel, template, locale,"
        " status, reason, provider, attempts, created_at, sent_at, updated_at)"
        " SELECT id, profile_id, 0, 'email', 'ask', 'nl', 'sent',"
        " 'round 1, step 1 (email): gaps unverified_postal', 'outbox', 1, ?, ?, ?"
        " FROM enrollment WHERE round_id = 1",
        (TS, TS, TS),
    )
    con.execute(
        "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, after,"
        " reason, evidence) SELECT ?, 'system', 'outreach.sent', 'outreach', id, profile_id,"
        " json_object('channel', 'email'), reason, json_object('outreach_id', id) FROM outreach",
        (TS,),
    )


def _history(con: sqlite3.Connection, profile_id: int) -> None:
    """A longer history: a bounce, an SMS answered on the landing page, consents, proofs."""
    [(email_out,)] = con.execute("SELECT id FROM outreach WHERE profile_id = ?", (profile_id,))
    points = dict(
        con.execute("SELECT kind, id FROM contact_point WHERE profile_id = ?", (profile_id,))
    )
    (enrollment,) = con.execute(
        "SELECT id FROM enrollment WHERE profile_id = ? AND round_id = 1", (profile_id,)
    ).fetchone()
    at = _ts(timedelta(minutes=5))
    con.execute(
        "INSERT INTO delivery_event (outreach_id, provider, provider_event_id, event_type, detail,"
        " occurred_at, received_at) VALUES (?, 'sendgrid', ?, 'bounced', '550 no such user', ?, ?)",
        (email_out, f"ev-{profile_id}", at, at),
    )
    sms_out = con.execute(
        "INSERT INTO outreach (enrollment_id, profile_id, contact_point_id, step_index, channel,"
        " template, status, reason, provider, created_at, sent_at, updated_at) VALUES (?, ?, ?,"
        " 1, 'sms', 'ask', 'sent', 'round 1, step 2 (sms): gaps unverified_postal', 'outbox',"
        " ?, ?, ?)",
        (enrollment, profile_id, points.get("mobile"), at, at, at),
    ).lastrowid
    token = con.execute(
        "INSERT INTO verification_token (token_hash, kind, profile_id, outreach_id, attempts,"
        " expires_at, used_at, created_at) VALUES (?, 'link', ?, ?, 0, ?, ?, ?)",
        (f"{profile_id:064d}", profile_id, sms_out, _ts(timedelta(days=60)), at, at),
    ).lastrowid
    evidence = json.dumps({"token_id": token, "outreach_id": sms_out, "method": "link:sms"})
    submission = con.execute(
        "INSERT INTO submission (profile_id, token_id, outreach_id, data, received_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (profile_id, token, sms_out, json.dumps({"consents": {"service": True}}), at),
    ).lastrowid
    for purpose, granted in (("service", 1), ("newsletter", 0)):
        con.execute(
            "INSERT INTO consent (profile_id, purpose, granted, text_version, source, recorded_at,"
            " evidence) VALUES (?, ?, ?, '2026-01', 'landing', ?, ?)",
            (profile_id, purpose, granted, at, evidence),
        )
    rows = [
        ("provider:sendgrid", "contact_point.bounced", "contact_point", points.get("email")),
        ("provider:sendgrid", "outreach.failed", "outreach", email_out),
        ("system", "outreach.sent", "outreach", sms_out),
        ("customer", "contact_point.verified", "contact_point", points.get("mobile")),
        ("customer", "consent.granted", "consent", None),
        ("customer", "submission.received", "submission", submission),
    ]
    con.executemany(
        "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, evidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(at, actor, action, kind, eid, profile_id, evidence) for actor, action, kind, eid in rows],
    )


def build(path: Path, size: int, measured: list[int]) -> None:
    build_base(path, size, 0.1)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    with con:
        _everyone(con)
        for profile_id in measured:
            _history(con, profile_id)
    con.execute("ANALYZE")
    con.close()


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], float]:
    """(seconds per call, peak resident-set growth in MiB over all calls)."""
    peak = start_peak()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times, peak()


def run(size: int, count: int) -> None:
    step = max(size // count, 1)
    measured = [1 + i * step for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, size, measured)
        print(f"\n{size:,} profiles: test data built in {time.perf_counter() - started:.1f} s")
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            counts = {
                t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                for t in ("contact_point", "audit_event", "enrollment", "outreach")
            }
        print(", ".join(f"{n:,} {t} rows" for t, n in counts.items()))
        ids = iter([f"c{pid}" for pid in measured] * 2)

        def dossier() -> object:
            with engine.connect() as conn:
                d = collect_dossier(
                    conn,
                    external_id=next(ids),
                    now=NOW,
                    max_age_days=730,
                    idle_days=730,
                    templates_dir=TEMPLATES,
                )
            return render_json(d), render_html(d, templates_dir=TEMPLATES)

        lookups = iter([f"c{pid}" for pid in measured] * 2)

        def lookup() -> object:
            with engine.connect() as conn:
                query = select(PROFILE).where(PROFILE.c.external_id == next(lookups))
                return conn.execute(query).one()

        dossier()  # compiles the template and warms the statement cache, as a server would
        lookup()
        t_dossier, mem_dossier = timed(dossier, count)
        t_lookup, mem_lookup = timed(lookup, count)
        print(f"{'':<38}{'median ms':>10}{'max ms':>10}{'peak RSS +MiB':>15}")
        for label, times, mem in (
            ("dossier (collect + JSON + HTML)", t_dossier, mem_dossier),
            ("baseline: one indexed profile lookup", t_lookup, mem_lookup),
        ):
            med, worst = statistics.median(times) * 1000, max(times) * 1000
            print(f"{label:<38}{med:>10.1f}{worst:>10.1f}{mem:>15.1f}")
        print(
            f"{count} profiles; dossier / lookup: "
            f"{statistics.median(t_dossier) / statistics.median(t_lookup):.0f}x (median);"
            f" process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
            " (the build included)"
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=1_000_000, help="profiles (default: 1M)")
    parser.add_argument("--profiles", type=int, default=20, help="dossiers measured (default: 20)")
    args = parser.parse_args()
    run(args.size, args.profiles)


if __name__ == "__main__":
    main()
