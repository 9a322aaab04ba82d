"""The steward's report over one big round against plain GROUP BY counts of the same tables.

Builds a temporary SQLite database (migrated schema) with ``--profiles`` profiles in one round of
a three-step campaign with unit costs, and what such a round leaves behind, set-based in SQL:
contact points (email 90%, mobile 70%, postal 95%), enrollments (20% completed, 50% exhausted,
5% stopped, the rest waiting, some held by a cap), the ladder's messages (email for all, SMS
for 70%, a letter for half; about 2.2 per profile), delivery events (delivered, opened,
clicked, bounced), link tokens (a quarter opened), answers through a fifth of the enrollments,
and the audit rows a round writes (a row per message sent, per verification, per completion).
Then measures in the same run:

(a) ``models.round_report.collect_report`` for the round, then the same report written as the
    HTML page ``enrich report --out`` writes (its charts drawn); the aim is 1,000,000 profiles
    under 15 s for both together;
(b) the baseline: the enrollments per state and the messages per step, channel and status,
    each one plain ``SELECT ... count(*) ... GROUP BY`` over the same joins (what ``enrich
    round status`` counts).

Memory: peak resident-set growth per phase (see ``peak_rss.py``).

    python benchmarks/round_report.py [--profiles 1000000]
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
from typing import Any

from peak_rss import start_peak  # a sibling script module: benchmarks/ is on sys.path

from enrich.documents.round_report import render_report_html
from models.campaigns.spec import CampaignSpec, Costs, Purpose, Step
from models.db import make_engine, upgrade
from models.round_report import collect_report

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SPEC = CampaignSpec(
    key="bench",
    name="Bench",
    gaps=["missing_email", "missing_mobile", "unverified_postal"],
    ladder=[
        Step(channel="email", wait_days=5),
        Step(channel="sms", wait_days=5),
        Step(channel="letter", wait_days=21),
    ],
    purposes=[Purpose(key="service", required=True, text_version="2026-01")],
    costs=Costs(currency="EUR", per_message={"email": 0.002, "sms": 0.075, "letter": 0.95}),
)
# A pseudo-random draw in [0, 1000) per id and salt, the same in every run.
DRAW = "((({i}) * 2654435761 + {salt} * 40503) % 1000)"
T = "'2026-11-02 10:00:00.000000'"
SQL = [
    # profiles, with countries and languages
    "INSERT INTO profile (id, external_id, locale, country, created_at, updated_at)"
    " SELECT i, 'c' || i, CASE {d1} % 4 WHEN 0 THEN 'en' WHEN 1 THEN 'de' ELSE 'nl' END,"
    " CASE {d1} % 10 WHEN 0 THEN 'BE' WHEN 1 THEN 'DE' WHEN 2 THEN NULL ELSE 'NL' END, {t}, {t}"
    " FROM n",
    # contact points: email 90%, mobile 70%, postal 95% (a fifth verified, recently)
    "INSERT INTO contact_point (profile_id, kind, value, status, is_primary, verified_at,"
    " created_at, updated_at) SELECT i, 'email', 'p' || i || '@example.org',"
    " CASE WHEN {d2} < 30 THEN 'bounced' WHEN {d2} < 250 THEN 'verified' ELSE 'valid' END, 1,"
    " CASE WHEN {d2} BETWEEN 30 AND 249 THEN {t} END, {t}, {t} FROM n WHERE {d2} < 900",
    "INSERT INTO contact_point (profile_id, kind, value, status, is_primary, opted_out_at,"
    " created_at, updated_at) SELECT i, 'mobile', '+3161' || i,"
    " CASE WHEN {d3} < 20 THEN 'opted_out' ELSE 'valid' END, 1,"
    " CASE WHEN {d3} < 20 THEN {t} END, {t}, {t} FROM n WHERE {d3} < 700",
    "INSERT INTO contact_point (profile_id, kind, value, status, is_primary, verified_at,"
    " created_at, updated_at) SELECT i, 'postal', 'Weg ' || i,"
    " CASE WHEN {d4} < 300 THEN 'verified' ELSE 'unverified' END, 1,"
    " CASE WHEN {d4} < 300 THEN {t} END, {t}, {t} FROM n WHERE {d4} < 950",
    # enrollments: completed 20%, exhausted 50%, stopped 5%, active 25% (a fifth capped)
    "INSERT INTO enrollment (id, round_id, profile_id, state, gap_mask, fields_at_start,"
    " step_index, wait_reason, end_reason, created_at, updated_at, ended_at)"
    " SELECT i, 1, i, CASE WHEN {d5} < 200 THEN 'completed' WHEN {d5} < 700 THEN 'exhausted'"
    " WHEN {d5} < 750 THEN 'stopped' ELSE 'active' END, 36, {d1} % 16,"
    " CASE WHEN {d5} < 200 THEN 0 WHEN {d5} < 700 THEN 2 ELSE {d5} % 3 END,"
    " CASE WHEN {d5} >= 950 THEN 'frequency cap: 2 sms in 30 days' END,"
    " CASE WHEN {d5} < 750 THEN 'ended' END, {t}, {t}, CASE WHEN {d5} < 750 THEN {t} END"
    " FROM n",
    # the ladder's messages: step 0 for all; step 1 and 2 as far as each enrollment got
    "INSERT INTO outreach (enrollment_id, round_id, profile_id, step_index, channel, template,"
    " status, sent_at, created_at, updated_at) SELECT e.id, e.round_id, e.profile_id, s.step,"
    " CASE s.step WHEN 0 THEN 'email' WHEN 1 THEN 'sms' ELSE 'letter' END, 'ask',"
    " CASE WHEN {d6} < 80 THEN 'skipped' WHEN {d6} < 100 THEN 'failed' ELSE 'sent' END,"
    " CASE WHEN {d6} >= 100 THEN {t} END, {t}, {t}"
    " FROM enrollment e JOIN (SELECT 0 AS step UNION ALL SELECT 1 UNION ALL SELECT 2) s"
    " ON s.step <= e.step_index",
    # delivery events: delivered 90% of emails and SMS sent, opened/clicked, bounced
    "INSERT INTO delivery_event (outreach_id, provider, provider_event_id, event_type,"
    " occurred_at, received_at) SELECT o.id, 'p', 'd' || o.id, 'delivered', {t}, {t}"
    " FROM outreach o WHERE o.sent_at IS NOT NULL AND o.channel != 'letter' AND {d7} < 900",
    "INSERT INTO delivery_event (outreach_id, provider, provider_event_id, event_type,"
    " occurred_at, received_at) SELECT o.id, 'p', 'o' || o.id,"
    " CASE WHEN {d7} < 100 THEN 'clicked' WHEN {d7} < 400 THEN 'opened' ELSE 'bounced' END,"
    " {t}, {t} FROM outreach o WHERE o.sent_at IS NOT NULL AND o.channel = 'email'"
    " AND ({d7} < 400 OR {d7} >= 970)",
    # a link token per message sent (a quarter opened), an unsubscribe token per email
    "INSERT INTO verification_token (token_hash, kind, profile_id, outreach_id, attempts,"
    " expires_at, opened_at, created_at) SELECT 'l' || o.id, 'link', o.profile_id, o.id, 0, {t},"
    " CASE WHEN {d8} < 250 THEN {t} END, {t} FROM outreach o WHERE o.sent_at IS NOT NULL",
    "INSERT INTO verification_token (token_hash, kind, profile_id, outreach_id, attempts,"
    " expires_at, created_at) SELECT 'u' || o.id, 'unsubscribe', o.profile_id, o.id, 0, {t}, {t}"
    " FROM outreach o WHERE o.sent_at IS NOT NULL AND o.channel = 'email'",
    # answers through the last message of the completed fifth, and of some others
    "INSERT INTO submission (profile_id, outreach_id, received_at) SELECT o.profile_id, o.id,"
    " '2026-11-03 08:30:00.000000' FROM outreach o JOIN enrollment e ON e.id = o.enrollment_id"
    " WHERE o.sent_at IS NOT NULL AND o.step_index = e.step_index"
    " AND (e.state = 'completed' OR {d8} >= 980)",
    # the audit rows: a message sent, a contact point verified and an enrollment completed
    "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, evidence)"
    " SELECT {t}, 'system', 'outreach.sent', 'outreach', o.id, o.profile_id,"
    ' \'{{"batch":"b","outreach_id":\' || o.id || \'}}\' FROM outreach o'
    " WHERE o.sent_at IS NOT NULL",
    "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, evidence)"
    " SELECT {t}, 'customer', 'contact_point.verified', 'contact_point', s.profile_id,"
    " s.profile_id, '{{\"outreach_id\":' || s.outreach_id || ',\"submission_id\":' || s.id || '}}'"
    " FROM submission s",
    "INSERT INTO audit_event (at, actor, action, entity_type, entity_id, profile_id, evidence)"
    " SELECT {t}, 'customer', 'enrollment.complete', 'enrollment', e.id, e.profile_id,"
    " '{{\"outreach_id\":null}}' FROM enrollment e WHERE e.state = 'completed'",
    "INSERT INTO consent (profile_id, purpose, channel, granted, text_version, source,"
    " recorded_at) SELECT e.profile_id, 'service', 'email', 1, '2026-01', 'landing', {t}"
    " FROM enrollment e WHERE e.state = 'completed'",
]


def build(path: Path, size: int) -> dict[str, int]:
    """The database of the module docstring; the rows per table."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    # Which id each draw is of: the profile (and its enrollment), the message to write, a message.
    over = {1: "i", 2: "i", 3: "i", 4: "i", 5: "i", 6: "e.id * 3 + s.step", 7: "o.id", 8: "o.id"}
    draws = {f"d{k}": DRAW.format(i=of, salt=k) for k, of in over.items()}
    with con:
        con.execute(
            "INSERT INTO campaign (id, key, version, content_hash, definition, created_at)"
            " VALUES (1, 'bench', 1, 'x', ?, ?)",
            (json.dumps(SPEC.model_dump(mode="json")), T.strip("'")),
        )
        con.execute(
            "INSERT INTO round (id, campaign_id, started_by, status, parameters, started_at)"
            " VALUES (1, 1, 'bench', 'finished', '{\"max_age_days\": 730}', ?)",
            (T.strip("'"),),
        )
        con.execute("CREATE TEMP TABLE n (i INTEGER PRIMARY KEY)")
        con.execute(
            "INSERT INTO n WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
            " WHERE i < ?) SELECT i FROM c",
            (size,),
        )
        for statement in SQL:
            con.execute(statement.format(t=T, **draws))
    con.execute("ANALYZE")
    tables = ("profile", "contact_point", "enrollment", "outreach", "delivery_event")
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in (*tables, "verification_token", "submission", "audit_event")
    }
    con.close()
    return counts


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(what ``fn`` returned, seconds, peak resident-set growth in MiB)."""
    peak = start_peak()
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started, peak()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        counts = build(path, args.profiles)
        print(f"built in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{n:,} {table}" for table, n in counts.items()))  # fmt: skip
        engine = make_engine(f"sqlite:///{path}")

        def report() -> dict[str, Any]:
            with engine.connect() as conn:
                return collect_report(conn, round_id=1, now=NOW)

        def plain() -> int:
            with engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                states = raw.execute(
                    "SELECT state, count(*) FROM enrollment WHERE round_id = 1 GROUP BY state"
                ).fetchall()
                steps = raw.execute(
                    "SELECT o.step_index, o.channel, o.status, count(*) FROM outreach o"
                    " JOIN enrollment e ON e.id = o.enrollment_id WHERE e.round_id = 1"
                    " AND o.context IS NULL GROUP BY o.step_index, o.channel, o.status"
                ).fetchall()
            return len(states) + len(steps)

        found, t_report, m_report = measure(report)
        page, t_html, m_html = measure(lambda: render_report_html(found, templates_dir=TEMPLATES))
        _, t_plain, m_plain = measure(plain)
        engine.dispose()
    (only,) = found["rounds"]
    if only["enrolled"] != args.profiles:
        raise SystemExit(f"the report counts {only['enrolled']} enrolled, not {args.profiles}")
    print(f"{'':<40}{'profiles':>12}{'seconds':>10}{'profiles/s':>13}{'peak RSS +MiB':>15}")
    n = args.profiles
    for label, secs, mem in (
        ("collect_report (one round)", t_report, m_report),
        (f"HTML page ({len(page) // 1024} KiB)", t_html, m_html),
        ("report and page together", t_report + t_html, max(m_report, m_html)),
        ("plain GROUP BY counts (baseline)", t_plain, m_plain),
    ):
        print(f"{label:<40}{n:>12,}{secs:>10.2f}{n / secs:>13,.0f}{mem:>15.1f}")
    print(f"report / baseline: {t_report / t_plain:.2f}x; aim for both together: under 15 s")
    print("funnel:", [(r["step"], r["channel"], r["sent"], r["answered"]) for r in only["funnel"]])


if __name__ == "__main__":
    main()
