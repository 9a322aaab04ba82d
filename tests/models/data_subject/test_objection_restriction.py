"""Objection and restriction: the person is neither selected nor sent to nor asked at a contact
moment, even when already enrolled; withdrawing or lifting lets rounds select them again; every
request is audited with who asked and why (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.data_subject.objection import object_to_processing, withdraw_objection
from models.data_subject.request import ProfileErased, Request, RequestError, UnknownProfile
from models.data_subject.restriction import lift_restriction, restrict
from models.retention.erasure import erase_profiles
from models.rounds.selection import plan, selection_query
from models.scheduling.caps import CapPolicy
from models.tables import AUDIT, CONSENT, ENROLLMENT, OUTREACH, PROFILE
from outreach.config import OutreachConfig
from outreach.contact_moments import contact_moment
from outreach.sending.dispatch import BatchOutcome
from tests.factories import (
    COMPLETE,
    COOLDOWN,
    EXHAUSTED_COOLDOWN,
    MAX_AGE,
    NOW,
    add_profile,
    enrol,
    replace,
    spec,
    start_round,
)
from tests.outreach.sending.test_dispatch import FakeChannel, send

ASKED = Request(requested_by="dpo alice", reason="ticket 42: stop all contact", via="api")
GAPPY = replace(COMPLETE, "mobile")  # email usable, mobile missing: every round selects it

Change = Callable[..., str]


def people(engine: Engine) -> tuple[int, int]:
    with engine.begin() as conn:
        return add_profile(conn, "CRM-1", GAPPY), add_profile(conn, "CRM-2", GAPPY)


def apply(engine: Engine, change: Change, external_id: str = "CRM-1", **kw: Any) -> str:
    with engine.begin() as conn:
        return change(conn, external_id=external_id, request=ASKED, now=NOW, **kw)


def selected(engine: Engine) -> set[int]:
    query = selection_query(
        gaps=spec().gaps,
        now=NOW,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
    )
    with engine.connect() as conn:
        return {pid for pid, _mask in conn.execute(query)}


def excluded(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counted = plan(
            conn=conn,
            spec=spec(),
            now=NOW,
            max_age_days=MAX_AGE,
            cooldown_days=COOLDOWN,
            exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        )
    return {k: v for k, v in counted.excluded.items() if v}


def moment(engine: Engine, tmp_path: Path, external_id: str = "CRM-1") -> str | None:
    config = OutreachConfig(outbox_dir=tmp_path / "outbox", templates_dir=Path("templates"),
                            base_url="https://enrich.example.org", token_ttl_days=60)  # fmt: skip
    result = contact_moment(engine, external_id=external_id, channel="email", context="invoice",
                            now=NOW, spec=spec(), policy=CapPolicy(), config=config,
                            max_age_days=MAX_AGE)  # fmt: skip
    return result.reason


def audits(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(AUDIT).where(AUDIT.c.action == action)).all()


def enrollments(engine: Engine) -> dict[int, tuple[str, str | None]]:
    e = ENROLLMENT.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.profile_id, e.state, e.end_reason))
        return {r.profile_id: (r.state, r.end_reason) for r in rows}


@pytest.mark.parametrize(
    ("change", "exclusion", "moment_reason", "undo", "mark"),
    [
        (object_to_processing, "opted_out", "opted_out", withdraw_objection, "objected_at"),
        (restrict, "restricted", "restricted", lift_restriction, "restricted_at"),
    ],
)
def test_no_round_and_no_contact_moment_reaches_the_person_until_undone(
    engine: Engine,
    tmp_path: Path,
    change: Change,
    exclusion: str,
    moment_reason: str,
    undo: Change,
    mark: str,
) -> None:
    one, two = people(engine)
    assert apply(engine, change) in ("objected", "restricted")
    assert selected(engine) == {two}
    assert excluded(engine) == {exclusion: 1}
    assert moment(engine, tmp_path) == moment_reason
    assert moment(engine, tmp_path, "CRM-2") is None  # the other customer is asked
    assert apply(engine, change).startswith("already")
    assert len(audits(engine, f"profile.{mark.removesuffix('_at')}")) == 1

    assert apply(engine, undo) in ("objection withdrawn", "restriction lifted")
    assert selected(engine) == {one}  # CRM-2 is in the contact moment's standing round now
    assert apply(engine, undo).startswith("not ")
    with engine.connect() as conn:
        assert conn.execute(select(PROFILE.c[mark]).where(PROFILE.c.id == one)).scalar() is None


@pytest.mark.parametrize("change", [object_to_processing, restrict])
def test_an_enrolled_person_gets_no_further_message(
    engine: Engine, tmp_path: Path, change: Change
) -> None:
    one, two = people(engine)
    enrol(engine, start_round(engine))
    apply(engine, change)
    why = "objected" if change is object_to_processing else "restricted"
    assert enrollments(engine) == {one: ("stopped", why), two: ("active", None)}
    channels = {name: FakeChannel(name) for name in ("email", "sms", "letter")}
    assert send(engine, channels, tmp_path) == BatchOutcome(sent=1, skipped=0)
    with engine.connect() as conn:
        assert conn.execute(select(OUTREACH.c.profile_id)).scalars().all() == [two]
    [stop] = [a for a in audits(engine, "enrollment.stop") if a.profile_id == one]
    assert (stop.actor, stop.reason, stop.evidence["via"]) == ("dpo alice", why, "api")


@pytest.mark.parametrize("column", ["objected_at", "restricted_at"])
def test_a_mark_set_after_the_write_ahead_was_planned_still_stops_the_send(
    engine: Engine, tmp_path: Path, column: str
) -> None:
    """The send itself reads the marks: an enrollment still active is stopped, not sent."""
    one, _two = people(engine)
    enrol(engine, start_round(engine))
    with engine.begin() as conn:
        conn.execute(update(PROFILE).where(PROFILE.c.id == one).values({column: NOW}))
    channels = {name: FakeChannel(name) for name in ("email", "sms", "letter")}
    assert send(engine, channels, tmp_path).sent == 1
    assert enrollments(engine)[one][0] == "stopped"
    assert [m.recipient for m in channels["email"].delivered.values()] == ["CRM-2@example.org"]


def test_the_audit_row_says_who_asked_why_and_through_what(engine: Engine) -> None:
    one, _two = people(engine)
    apply(engine, restrict)
    [row] = audits(engine, "profile.restricted")
    assert (row.actor, row.reason, row.profile_id) == ("dpo alice", ASKED.reason, one)
    assert row.evidence == {"requested_by": "dpo alice", "via": "api"}
    assert row.before == {"restricted_at": None}
    assert row.after == {"restricted_at": NOW.isoformat()}


def test_objecting_to_one_purpose_withdraws_its_consent_and_keeps_the_rounds(
    engine: Engine,
) -> None:
    one, two = people(engine)
    result = apply(engine, object_to_processing, purpose="newsletter", purposes=["newsletter"])
    assert result == "consent withdrawn"
    with engine.connect() as conn:
        consents = conn.execute(select(CONSENT)).all()
    assert [(c.profile_id, c.purpose, c.granted, c.source) for c in consents] == [
        (one, "newsletter", False, "objection")
    ]
    [row] = audits(engine, "consent.withdrawn")
    assert (row.actor, row.reason, row.entity_id) == ("dpo alice", ASKED.reason, consents[0].id)
    assert selected(engine) == {one, two}  # contact data is still kept accurate


def test_refused_requests_change_nothing(engine: Engine) -> None:
    one, _two = people(engine)
    with pytest.raises(RequestError, match="unknown purpose"):
        apply(engine, object_to_processing, purpose="lottery", purposes=["newsletter"])
    with pytest.raises(UnknownProfile) as unknown:
        apply(engine, restrict, external_id="CRM-404")
    assert "CRM-404" not in str(unknown.value)
    with engine.begin() as conn:
        erase_profiles(conn, profile_ids=[one], now=NOW, actor="dpo")
        marker = conn.execute(select(PROFILE.c.external_id).where(PROFILE.c.id == one)).scalar()
    audit_rows = len(audits(engine, "profile.erased"))
    for change in (object_to_processing, restrict, lift_restriction, withdraw_objection):
        with pytest.raises(ProfileErased, match="erased on"):
            apply(engine, change, external_id=str(marker))
    assert audits(engine, "consent.withdrawn") == [] and audits(engine, "profile.restricted") == []
    assert len(audits(engine, "profile.erased")) == audit_rows


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [
        ("", "why", "who asked is required"),
        ("alice", "  ", "the reason is required"),
        ("alice", "x" * 501, "longer than 500"),
        ("a" * 201, "why", "longer than 200"),
        ("alice", "line\x1b[31mred", "control character"),
    ],
)
def test_a_request_needs_who_and_why_within_the_trail_limits(
    by: str, reason: str, message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        Request.checked(requested_by=by, reason=reason, via="cli")
    assert Request.checked(requested_by=" alice ", reason="x" * 500, via="cli").requested_by == (
        "alice"
    )
