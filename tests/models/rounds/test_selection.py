"""Selection: who has which gap, who is excluded, and what a plan counts (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from models.campaigns.gaps import GAP_BITS, GAPS, gap_mask
from models.rounds.selection import Plan, plan, selection_query
from models.tables import (
    CONTACT,
    PROFILE,
    SUBMISSION,
    AuditEvent,
    Campaign,
    ContactPoint,
    Enrollment,
    Outreach,
    Profile,
    Round,
)
from tests.factories import (
    BEFORE,
    COMPLETE,
    COOLDOWN,
    ENDED,
    EXHAUSTED_COOLDOWN,
    MAX_AGE,
    NOW,
    add_enrollment,
    add_profile,
    backdate,
    replace,
    spec,
)


def selected(
    engine: Engine, gaps: tuple[str, ...] | list[str] = GAPS, now: datetime = NOW
) -> dict[int, int]:
    with engine.connect() as conn:
        query = selection_query(
            gaps=gaps,
            now=now,
            max_age_days=MAX_AGE,
            cooldown_days=COOLDOWN,
            exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        )
        return {pid: mask for pid, mask in conn.execute(query)}


def plan_now(conn: Connection, now: datetime = NOW) -> Plan:
    return plan(
        conn=conn,
        spec=spec(),
        now=now,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
    )


def row_counts(engine: Engine) -> dict[str, int]:
    tables = [Profile, ContactPoint, Enrollment, Outreach, Round, Campaign, AuditEvent]
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(  # type: ignore[attr-defined]
                select(func.count()).select_from(t.__table__)
            ).scalar_one()  # type: ignore[attr-defined]
            for t in tables
        }


STALE = NOW - timedelta(days=MAX_AGE + 1)

CASES: list[tuple[str, list[dict[str, Any]], list[str]]] = [
    ("complete", COMPLETE, []),
    ("missing_email", replace(COMPLETE, "email"), ["missing_email"]),
    (
        "bounced_email",
        replace(COMPLETE, "email", {"kind": "email", "status": "bounced"}),
        ["bounced_email"],
    ),
    (
        "bounced_but_second_usable",
        replace(
            COMPLETE,
            "email",
            {"kind": "email", "status": "bounced"},
            {"kind": "email", "status": "unverified"},
        ),
        [],
    ),
    (
        "invalid_email",
        replace(COMPLETE, "email", {"kind": "email", "status": "invalid"}),
        ["invalid_email"],
    ),
    ("opted_out_email", replace(COMPLETE, "email", {"kind": "email", "status": "opted_out"}), []),
    (
        "opted_out_email_and_bounced",
        replace(
            COMPLETE,
            "email",
            {"kind": "email", "status": "bounced"},
            {"kind": "email", "status": "valid", "opted_out_at": NOW - timedelta(days=3)},
        ),
        [],
    ),
    ("missing_mobile", replace(COMPLETE, "mobile"), ["missing_mobile"]),
    (
        "invalid_mobile",
        replace(COMPLETE, "mobile", {"kind": "mobile", "status": "invalid"}),
        ["invalid_mobile"],
    ),
    (
        "opted_out_mobile",
        replace(COMPLETE, "mobile", {"kind": "mobile", "status": "opted_out"}),
        [],
    ),
    (
        "unverified_postal",
        replace(COMPLETE, "postal", {"kind": "postal", "status": "unverified"}),
        ["unverified_postal"],
    ),
    ("no_postal", replace(COMPLETE, "postal"), ["unverified_postal"]),
    (
        "opted_out_postal",
        replace(COMPLETE, "postal", {"kind": "postal", "status": "opted_out"}),
        [],
    ),
    (
        "stale_postal",
        replace(COMPLETE, "postal", {"kind": "postal", "status": "verified", "verified_at": STALE}),
        ["stale_verification"],
    ),
    (
        "stale_email",
        replace(COMPLETE, "email", {"kind": "email", "status": "verified", "verified_at": STALE}),
        ["stale_verification"],
    ),
    ("nothing_at_all", [], ["missing_email", "missing_mobile", "unverified_postal"]),
]


@pytest.mark.parametrize(("name", "contacts", "gaps"), CASES, ids=[c[0] for c in CASES])
def test_each_gap_rule_selects_exactly_its_profile(
    engine: Engine, name: str, contacts: list[dict[str, Any]], gaps: list[str]
) -> None:
    with engine.begin() as conn:
        add_profile(conn, "complete", COMPLETE)
        pid = add_profile(conn, name, contacts) if name != "complete" else None
    expected = {pid: gap_mask(gaps)} if gaps else {}
    assert selected(engine) == expected


def test_only_the_campaigns_gaps_count(engine: Engine) -> None:
    with engine.begin() as conn:
        only_mobile = add_profile(conn, "m", replace(COMPLETE, "mobile"))
        both = add_profile(conn, "b", replace(replace(COMPLETE, "mobile"), "email"))
        add_profile(conn, "e", replace(COMPLETE, "email"))
    assert selected(engine, ["missing_mobile"]) == {
        only_mobile: GAP_BITS["missing_mobile"],
        both: GAP_BITS["missing_mobile"],
    }


# The ladder of an earlier round ran out ten days (ENDED) ago; the data is older than that.
AFTER = ENDED + timedelta(days=1)


def exhausted_profile(
    conn: Connection, external_id: str = "exhausted", ended_at: datetime = ENDED, **enrollment: Any
) -> int:
    """A profile missing an email whose ladder ran out at ``ended_at``, its data unchanged since."""
    profile_id = add_profile(conn, external_id, replace(COMPLETE, "email"))
    backdate(conn, profile_id, ended_at - timedelta(days=31))
    add_enrollment(conn, profile_id, "exhausted", ended_at=ended_at, **enrollment)
    return profile_id


@pytest.mark.parametrize(
    "reason", ["opted_out_at", "objected_at", "restricted_at", "enrolled", "exhausted", "cooldown"]
)
def test_exclusions(engine: Engine, reason: str) -> None:
    gappy = replace(COMPLETE, "email")
    with engine.begin() as conn:
        keep = add_profile(
            conn, "keep", gappy, last_contacted_at=NOW - timedelta(days=COOLDOWN + 1)
        )
        columns: dict[str, Any] = {}
        if reason in ("opted_out_at", "objected_at", "restricted_at"):
            columns[reason] = NOW - timedelta(days=400)
        if reason == "cooldown":
            columns["last_contacted_at"] = NOW - timedelta(days=COOLDOWN - 1)
        if reason == "exhausted":
            exhausted_profile(conn)
        else:
            excluded = add_profile(conn, "excluded", gappy, **columns)
        if reason == "enrolled":
            add_enrollment(conn, excluded, "active")
    assert selected(engine) == {keep: GAP_BITS["missing_email"]}
    with engine.connect() as conn:
        counted = plan_now(conn)
    key = {"opted_out_at": "opted_out", "objected_at": "opted_out"}.get(reason, reason)
    key = {"restricted_at": "restricted"}.get(key, key)
    assert counted.excluded[key] == 1
    assert sum(counted.excluded.values()) == 1
    assert counted.total == 1


@pytest.mark.parametrize("state", ["completed", "stopped"])
def test_a_completed_or_stopped_enrollment_does_not_exclude(engine: Engine, state: str) -> None:
    with engine.begin() as conn:
        pid = add_profile(conn, "again", replace(COMPLETE, "email"))
        backdate(conn, pid, BEFORE)
        add_enrollment(conn, pid, state, ended_at=ENDED)
    assert selected(engine) == {pid: GAP_BITS["missing_email"]}


def test_an_exhausted_profile_is_selected_again_once_the_period_is_over(engine: Engine) -> None:
    with engine.begin() as conn:
        pid = exhausted_profile(conn)
    over = ENDED + timedelta(days=EXHAUSTED_COOLDOWN)
    assert selected(engine, now=over - timedelta(minutes=1)) == {}
    assert selected(engine, now=over) == {pid: GAP_BITS["missing_email"]}
    with engine.connect() as conn:
        assert plan_now(conn, now=over - timedelta(minutes=1)).excluded["exhausted"] == 1
        counted = plan_now(conn, now=over)
    assert (counted.total, counted.excluded["exhausted"]) == (1, 0)


def _new_email(conn: Connection, pid: int) -> None:
    conn.execute(
        insert(CONTACT).values(
            profile_id=pid,
            kind="email",
            value="new@example.org",
            status="invalid",  # still a gap: the import kept a malformed value
            is_primary=True,
            created_at=AFTER,
            updated_at=AFTER,
        )
    )


def _status_change(conn: Connection, pid: int) -> None:
    conn.execute(
        update(CONTACT)
        .where(CONTACT.c.profile_id == pid, CONTACT.c.kind == "mobile")
        .values(status="valid", updated_at=AFTER)
    )


def _landing_answer(conn: Connection, pid: int) -> None:
    conn.execute(insert(SUBMISSION).values(profile_id=pid, data={}, received_at=AFTER))


def _name_change(conn: Connection, pid: int) -> None:
    conn.execute(
        update(PROFILE).where(PROFILE.c.id == pid).values(given_name="Other", updated_at=AFTER)
    )


@pytest.mark.parametrize(
    ("change", "selected_again"),
    [
        (_new_email, True),  # a new or changed value, e.g. from an import
        (_status_change, True),  # a provider event, a suppression, a returned letter
        (_landing_answer, True),
        (_name_change, False),  # no new way to reach the customer
    ],
    ids=["new_contact_point", "status_change", "landing_answer", "name_change"],
)
def test_a_change_of_its_data_ends_the_wait(
    engine: Engine, change: Any, selected_again: bool
) -> None:
    with engine.begin() as conn:
        pid = exhausted_profile(conn)
        change(conn, pid)
    mask = selected(engine).get(pid)
    assert (mask is not None) == selected_again
    with engine.connect() as conn:
        assert plan_now(conn).excluded["exhausted"] == (0 if selected_again else 1)


def test_an_expired_contact_moment_does_not_hold_the_profile_back(engine: Engine) -> None:
    with engine.begin() as conn:
        pid = exhausted_profile(conn, round_status="standing")
    assert selected(engine) == {pid: GAP_BITS["missing_email"]}


def test_plan_counts_gaps_first_channels_and_writes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        add_profile(conn, "complete", COMPLETE)
        add_profile(conn, "no-email-1", replace(COMPLETE, "email"))  # first step: sms
        add_profile(conn, "no-email-2", replace(COMPLETE, "email"))
        add_profile(conn, "no-mobile", replace(COMPLETE, "mobile"))  # first step: email
        add_profile(conn, "postal-only", [{"kind": "postal", "status": "unverified"}])  # letter
        add_profile(conn, "bad-postal-only", [{"kind": "postal", "status": "invalid"}])  # none
        add_profile(conn, "objector", [], objected_at=NOW)
    before = row_counts(engine)
    with engine.connect() as conn:
        result = plan_now(conn)
    assert row_counts(engine) == before
    assert result.total == 5
    assert result.per_gap == {
        "missing_email": 4,
        "bounced_email": 0,
        "invalid_email": 0,
        "missing_mobile": 3,
        "invalid_mobile": 0,
        "unverified_postal": 2,
        "stale_verification": 0,
        "outdated_consent": 0,  # no purpose to re-ask
    }
    assert result.per_channel == {"sms": 2, "email": 1, "letter": 1, "none": 1}
    assert result.excluded == {
        "opted_out": 1,
        "restricted": 0,
        "enrolled": 0,
        "exhausted": 0,
        "cooldown": 0,
    }


def test_unknown_gap_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown gaps"):
        selection_query(
            gaps=["missing_fax"],
            now=NOW,
            max_age_days=1,
            cooldown_days=1,
            exhausted_cooldown_days=1,
        )
