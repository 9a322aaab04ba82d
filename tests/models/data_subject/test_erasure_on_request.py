"""Erasure on request: the profile is erased at once with who asked and why, its enrollment
stops, a second profile is untouched, and a second request says it was done already (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.data_subject.erasure import erase_on_request
from models.data_subject.request import Request, UnknownProfile
from models.tables import AUDIT, CONSENT, CONTACT, ENROLLMENT, ERASURE_NOTICE, PROFILE, SUBMISSION
from tests.factories import NOW
from tests.models.data_subject.people import two_customers

# The steward names the customer in the reason; the trail must not keep it.
ASKED = Request(
    requested_by="dpo alice", reason="CRM-1@example.org asked to be forgotten", via="api"
)


def of(engine: Engine, table: Any, pid: int) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c.profile_id == pid)).all()


def profile(engine: Engine, pid: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(PROFILE).where(PROFILE.c.id == pid)).one()


def erase(engine: Engine, external_id: str = "CRM-1") -> Any:
    with engine.begin() as conn:
        return erase_on_request(conn, external_id=external_id, request=ASKED, now=NOW)


def test_erasure_on_request_erases_one_profile_and_leaves_the_other(engine: Engine) -> None:
    one, two = two_customers(engine)
    other_before = [
        profile(engine, two),
        *(of(engine, t, two) for t in (CONTACT, CONSENT, SUBMISSION, ENROLLMENT)),
    ]
    done = erase(engine)
    assert (done.profile_id, done.already, done.erased_at) == (one, False, NOW)

    erased = profile(engine, one)
    assert erased.erased_at == NOW and erased.external_id.startswith("erased:")
    assert done.external_id == erased.external_id
    assert (erased.given_name, erased.family_name) == (None, None)
    assert of(engine, CONTACT, one) == [] and of(engine, CONSENT, one) == []
    assert [s.data for s in of(engine, SUBMISSION, one)] == [None]
    assert [(e.state, e.end_reason) for e in of(engine, ENROLLMENT, one)] == [
        ("stopped", "profile erased")
    ]
    assert other_before == [
        profile(engine, two),
        *(of(engine, t, two) for t in (CONTACT, CONSENT, SUBMISSION, ENROLLMENT)),
    ]

    with engine.connect() as conn:
        [row] = conn.execute(select(AUDIT).where(AUDIT.c.action == "profile.erased")).all()
        notices = conn.execute(select(ERASURE_NOTICE)).all()
    # The CRM's key alone is kept, for the changes feed and against a re-import.
    assert [tuple(n) for n in notices] == [(one, "CRM-1", NOW)]
    assert (row.actor, row.profile_id) == ("dpo alice", one)
    assert row.reason == "[erased] asked to be forgotten"
    assert row.evidence == {"proposal_id": None, "requested_by": "dpo alice", "via": "api"}


def test_a_second_request_says_it_was_done(engine: Engine) -> None:
    one, _two = two_customers(engine)
    erase(engine)
    with pytest.raises(UnknownProfile):  # the old id names no profile any more
        erase(engine)
    marker = profile(engine, one).external_id
    again = erase(engine, marker)
    assert (again.already, again.erased_at) == (True, NOW)
    with engine.connect() as conn:
        erasures = conn.execute(select(AUDIT.c.id).where(AUDIT.c.action == "profile.erased"))
        assert len(erasures.all()) == 1
