"""The stale sweep: who is proposed and what, nothing changes before a decision, decisions apply
once and are audited (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from models.retention.sweep_runs import (
    StaleProfile,
    SweepError,
    decide,
    find_stale,
    list_proposals,
    propose,
    record_proposals,
    run_sweep,
    start_sweep,
)
from models.rounds.selection import plan, selection_query
from models.tables import (
    AUDIT,
    CONSENT,
    CONTACT,
    ENROLLMENT,
    PROFILE,
    PROPOSAL,
    SUBMISSION,
    AuditEvent,
    Round,
)
from tests.factories import NOW, add_profile, add_round, spec

IDLE = 730
OLD = NOW - timedelta(days=1000)  # long before the idle period began
RECENT = NOW - timedelta(days=100)
BOUNCED = {"kind": "email", "status": "bounced", "bounced_at": OLD}
GONE = {"unreachable_at": OLD, "created_at": OLD}


def consent(conn: Connection, profile_id: int, granted: bool, at: Any) -> None:
    conn.execute(
        insert(CONSENT).values(
            profile_id=profile_id, purpose="newsletter", granted=granted, source="t", recorded_at=at
        )
    )


def enrollment(conn: Connection, profile_id: int, state: str) -> int:
    round_id = conn.execute(select(Round.id)).scalars().first() or add_round(conn)
    return int(
        conn.execute(
            insert(ENROLLMENT).values(
                round_id=round_id,
                profile_id=profile_id,
                state=state,
                gap_mask=1,
                created_at=OLD,
                updated_at=OLD,
            )
        ).inserted_primary_key[0]
    )


def seed(engine: Engine) -> dict[str, int]:
    """One profile per rule, and profiles that are not stale for each reason they might not be."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:

        def add(name: str, contacts: list[dict[str, Any]], **columns: Any) -> int:
            ids[name] = add_profile(conn, name, contacts, **{**GONE, **columns})
            return ids[name]

        add("objector", [{"kind": "email", "status": "verified", "verified_at": OLD}],
            objected_at=OLD)  # fmt: skip
        add("verified", [{"kind": "email", "status": "verified", "verified_at": OLD}, BOUNCED])
        consent(conn, add("consenting", [BOUNCED]), True, OLD)
        withdrawn = add("withdrawn", [BOUNCED])
        consent(conn, withdrawn, True, OLD)
        consent(conn, withdrawn, False, OLD + timedelta(days=1))
        add("opted_out", [{"kind": "email", "status": "opted_out", "opted_out_at": OLD}])
        add("unconfirmed", [{"kind": "email", "status": "valid"}])
        add("verified_once", [{**BOUNCED, "verified_at": OLD}])
        add("unreachable", [BOUNCED, {"kind": "mobile", "status": "invalid"}])
        enrollment(conn, add("exhausted", [BOUNCED], unreachable_at=None), "exhausted")
        # Not stale:
        answered = add("answered_lately", [BOUNCED])
        conn.execute(insert(SUBMISSION).values(profile_id=answered, data={}, received_at=RECENT))
        add("new", [BOUNCED], created_at=RECENT)
        add("reachable", [BOUNCED], unreachable_at=None)
        enrollment(conn, add("enrolled", [BOUNCED]), "active")
        add("archived", [BOUNCED], archived_at=OLD)
        add("verified_lately", [{"kind": "email", "status": "verified", "verified_at": RECENT}])
    return ids


EXPECTED = {
    "objector": ("archive", "objected"),
    "verified": ("keep", "verified_contact"),
    "consenting": ("keep", "active_consent"),
    "withdrawn": ("archive", "answered_before"),
    "opted_out": ("archive", "opted_out_contact"),
    "unconfirmed": ("archive", "unconfirmed_contact"),
    "verified_once": ("archive", "verified_before"),
    "unreachable": ("erase", "unreachable_unverified"),
    "exhausted": ("erase", "unreachable_unverified"),
}


def proposals(engine: Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        return {v.external_id: (v.proposal, v.reason) for v in list_proposals(conn)}


def dump(engine: Engine, *tables: Any) -> list[Any]:
    with engine.connect() as conn:
        return [sorted(map(tuple, conn.execute(select(t)).all())) for t in tables]


def sweep(engine: Engine, now: Any = NOW) -> dict[str, Any]:
    return run_sweep(engine, started_by="tester", idle_days=IDLE, now=now, batch_size=3)


def test_each_stale_profile_gets_the_proposal_of_the_rule(engine: Engine) -> None:
    ids = seed(engine)
    with engine.connect() as conn:
        stale = find_stale(conn, now=NOW, idle_days=IDLE, limit=100)
        paged: list[StaleProfile] = []
        after = 0
        while batch := find_stale(conn, now=NOW, idle_days=IDLE, limit=2, after_id=after):
            paged += batch
            after = batch[-1].profile_id
    names = {pid: name for name, pid in ids.items()}
    assert {names[row.profile_id]: propose(row) for row in stale} == EXPECTED
    assert paged == stale
    withdrawn = next(r for r in stale if r.profile_id == ids["withdrawn"])
    assert withdrawn.last_interaction_at == OLD + timedelta(days=1)


def test_the_sweep_records_proposals_and_changes_nothing_else(engine: Engine) -> None:
    seed(engine)
    tables = [PROFILE, CONTACT, CONSENT, ENROLLMENT]
    before = dump(engine, *tables)
    summary = sweep(engine)
    assert summary["proposed"] == len(EXPECTED)
    assert summary["per_proposal"] == {"keep": 2, "archive": 5, "erase": 2}
    assert summary["per_reason"]["unreachable_unverified"] == 2
    assert proposals(engine) == EXPECTED
    assert dump(engine, *tables) == before


def test_a_second_sweep_proposes_nothing_twice(engine: Engine) -> None:
    seed(engine)
    sweep(engine)
    again = sweep(engine)
    assert again["proposed"] == 0
    with engine.begin() as conn:
        rows = find_stale(conn, now=NOW, idle_days=IDLE, limit=100)
        assert rows == []  # open proposals are not found again
        run_id = start_sweep(conn, started_by="t", idle_days=IDLE, now=NOW)
        profile_ids = conn.execute(select(PROPOSAL.c.profile_id)).scalars().all()
        forced = [StaleProfile(pid, OLD) for pid in profile_ids]
        assert record_proposals(conn, run_id, forced, now=NOW) == 0
        assert record_proposals(conn, run_id, forced, now=NOW) == 0
    assert len(proposals(engine)) == len(EXPECTED)


def open_id(engine: Engine, external_id: str) -> int:
    with engine.connect() as conn:
        return next(v.id for v in list_proposals(conn) if v.external_id == external_id)


def test_archive_hides_the_profile_from_selection_and_is_audited(engine: Engine) -> None:
    ids = seed(engine)
    sweep(engine)
    pid = ids["unconfirmed"]  # a usable email, no mobile: selectable for missing_mobile
    query = selection_query(gaps=["missing_mobile"], now=NOW, max_age_days=IDLE, cooldown_days=30,
                            exhausted_cooldown_days=180)  # fmt: skip
    with engine.connect() as conn:
        assert pid in {row.profile_id for row in conn.execute(query)}
        planned = plan(conn=conn, spec=spec(["missing_mobile"]), now=NOW, max_age_days=IDLE,
                       cooldown_days=30, exhausted_cooldown_days=180)  # fmt: skip
    proposal_id = open_id(engine, "unconfirmed")
    with engine.begin() as conn:
        done = decide(conn, proposal_ids=[proposal_id], decision="archive", decided_by="alice",
                      note="no contract on file", now=NOW)  # fmt: skip
    assert (done.proposal_ids, done.profiles_changed) == ([proposal_id], 1)
    with engine.connect() as conn:
        assert pid not in {row.profile_id for row in conn.execute(query)}
        after = plan(conn=conn, spec=spec(["missing_mobile"]), now=NOW, max_age_days=IDLE,
                     cooldown_days=30, exhausted_cooldown_days=180)  # fmt: skip
        archived_at = conn.execute(select(PROFILE.c.archived_at).where(PROFILE.c.id == pid))
        audits = conn.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.reason, AuditEvent.after,
                   AuditEvent.evidence)
            .where(AuditEvent.profile_id == pid).order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).all()  # fmt: skip
    assert (after.total, after.excluded) == (planned.total - 1, planned.excluded)
    assert archived_at.scalar_one() == NOW
    assert [(a.action, a.actor, a.reason) for a in audits] == [
        ("sweep.decided", "alice", "unconfirmed_contact"),
        ("profile.archived", "alice", "unconfirmed_contact"),
    ]
    assert audits[0].after == {"status": "decided", "decision": "archive"}
    assert audits[0].evidence["proposal_id"] == proposal_id
    assert audits[0].evidence["note"] == "no contract on file"
    # Archived profiles are not swept again, however long they stay idle.
    with engine.connect() as conn:
        later = find_stale(conn, now=NOW + timedelta(days=2 * IDLE), idle_days=IDLE, limit=100)
    assert pid not in {row.profile_id for row in later}


def test_a_decided_proposal_cannot_be_decided_again(engine: Engine) -> None:
    ids = seed(engine)
    sweep(engine)
    proposal_id = open_id(engine, "unreachable")
    with engine.begin() as conn:
        decide(conn, proposal_ids=[proposal_id], decision="keep", decided_by="alice", now=NOW)
    before = dump(engine, PROFILE, CONTACT, AUDIT)
    refused = rf"already decided: proposal {proposal_id} \(keep\)"
    with pytest.raises(SweepError, match=refused), engine.begin() as conn:
        decide(conn, proposal_ids=[proposal_id], decision="erase", decided_by="bob", now=NOW)
    # Nor as part of a batch: the other, open proposal stays open too.
    other = open_id(engine, "exhausted")
    with pytest.raises(SweepError, match="already decided"), engine.begin() as conn:
        decide(conn, proposal_ids=[other, proposal_id], decision="erase", decided_by="b", now=NOW)
    assert dump(engine, PROFILE, CONTACT, AUDIT) == before
    with engine.connect() as conn:
        names = conn.execute(
            select(PROFILE.c.family_name).where(PROFILE.c.id == ids["unreachable"])
        )
        assert names.scalar_one() == "unreachable"
        assert open_id(engine, "exhausted") == other


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"proposal_ids": [999]}, "no such proposal: 999"),
        ({"proposal_ids": [1], "decision": "delete"}, "unknown decision 'delete'"),
        ({"all_proposed": "purge"}, "unknown proposal kind 'purge'"),
        ({"proposal_ids": [1], "all_proposed": "keep"}, "not both"),
        ({"proposal_ids": []}, "at least one proposal"),
        ({"proposal_ids": [1], "decided_by": "  "}, "name of who decides"),
        ({"proposal_ids": [1], "note": "x" * 501}, "longer than 500"),
    ],
)
def test_bad_decisions_are_refused(engine: Engine, arguments: dict[str, Any], message: str) -> None:
    seed(engine)
    sweep(engine)
    before = dump(engine, PROPOSAL, PROFILE)
    kwargs: dict[str, Any] = {"decision": "archive", "decided_by": "alice", "now": NOW}
    with pytest.raises(SweepError, match=message), engine.begin() as conn:
        decide(conn, **{**kwargs, **arguments})
    assert dump(engine, PROPOSAL, PROFILE) == before


def test_keep_changes_nothing_and_defers_the_next_proposal(engine: Engine) -> None:
    seed(engine)
    sweep(engine)
    before = dump(engine, PROFILE, CONTACT)
    with engine.begin() as conn:
        done = decide(conn, all_proposed="keep", decision="keep", decided_by="alice", now=NOW)
    assert len(done.proposal_ids) == 2 and done.profiles_changed == 0
    assert dump(engine, PROFILE, CONTACT) == before
    assert sweep(engine, now=NOW + timedelta(days=30))["proposed"] == 0
    assert {"verified", "consenting"}.isdisjoint(proposals(engine))
    # The kept profiles come back for review one idle period after the decision.
    sweep(engine, now=NOW + timedelta(days=IDLE + 1))
    again = proposals(engine)
    assert (again["verified"], again["consenting"]) == (
        EXPECTED["verified"],
        EXPECTED["consenting"],
    )


def test_all_proposed_decides_exactly_that_kind(engine: Engine) -> None:
    ids = seed(engine)
    sweep(engine)
    with engine.begin() as conn:
        done = decide(conn, all_proposed="archive", decision="archive", decided_by="a", now=NOW)
        archived = set(
            conn.execute(select(PROFILE.c.id).where(PROFILE.c.archived_at == NOW)).scalars()
        )
    assert archived == {ids[n] for n, (kind, _) in EXPECTED.items() if kind == "archive"}
    assert done.profiles_changed == 5
    assert {p for p, _ in proposals(engine).values()} == {"keep", "erase"}


def test_a_customer_who_answered_after_the_sweep_is_not_archived(engine: Engine) -> None:
    ids = seed(engine)
    sweep(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(SUBMISSION).values(
                profile_id=ids["unreachable"], data={}, received_at=NOW + timedelta(days=1)
            )
        )
    proposal_id = open_id(engine, "unreachable")
    refused = f"interacted after the sweep: proposal {proposal_id}"
    with pytest.raises(SweepError, match=refused), engine.begin() as conn:
        decide(conn, proposal_ids=[proposal_id], decision="erase", decided_by="a", now=NOW)
    with engine.connect() as conn:
        erased = conn.execute(select(PROFILE.c.erased_at).where(PROFILE.c.id == ids["unreachable"]))
        assert erased.scalar_one() is None


def test_archiving_stops_an_enrollment_started_after_the_sweep(engine: Engine) -> None:
    ids = seed(engine)
    sweep(engine)
    with engine.begin() as conn:
        eid = enrollment(conn, ids["unconfirmed"], "active")
    with engine.begin() as conn:
        done = decide(conn, all_proposed="archive", decision="archive", decided_by="a", now=NOW)
        state = conn.execute(
            select(ENROLLMENT.c.state, ENROLLMENT.c.end_reason).where(ENROLLMENT.c.id == eid)
        ).one()
    assert done.enrollments_stopped == 1
    assert tuple(state) == ("stopped", "profile archived")
