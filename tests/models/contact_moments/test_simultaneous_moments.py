"""Two contact moments for one customer at the same instant: one enrollment, caps never passed
together (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from models.tables import Enrollment, Outreach, Profile
from outreach.config import OutreachConfig
from outreach.contact_moments import MomentResult
from tests.models.answers.personal_link_data import NOW
from tests.models.contact_moments.moment_data import GAPPY, ask, profile, rows


def simultaneously(
    engine: Engine, config: OutreachConfig, profile_id: int, calls: list[Any]
) -> list[MomentResult]:
    """Run ``calls`` in threads that all start while the test holds the profile's row locked,
    so each has read what it can before any may write: a real race, every time."""
    results: list[MomentResult] = []
    errors: list[BaseException] = []

    def run(call: Any) -> None:
        try:
            results.append(call())
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    # Campaign version and standing round exist already: the race is over the profile alone.
    profile(engine, GAPPY, external_id="other")
    assert ask(engine, config, "other").ask is not None
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    with engine.begin() as conn:
        # SQLite: the UPDATE holds the write lock; PostgreSQL: FOR UPDATE blocks even FK checks.
        conn.execute(update(Profile).where(col(Profile.id) == profile_id).values(updated_at=NOW))
        conn.execute(select(Profile.id).where(col(Profile.id) == profile_id).with_for_update())
        for t in threads:
            t.start()
        time.sleep(1.0)
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_two_simultaneous_moments_share_one_enrollment(
    engine: Engine, config: OutreachConfig
) -> None:
    pid = profile(engine, GAPPY)
    calls = [lambda c=c: ask(engine, config, channel=c) for c in ("email", "sms")]
    results = simultaneously(engine, config, pid, calls)
    assert len(results) == 2 and all(r.ask is not None for r in results)
    [enrollment] = rows(engine, Enrollment, profile_id=pid)
    assert {o.enrollment_id for o in rows(engine, Outreach, profile_id=pid)} == {enrollment.id}


def test_two_simultaneous_moments_never_pass_a_cap_together(
    engine: Engine, config: OutreachConfig
) -> None:
    pid = profile(engine, GAPPY)
    calls = [lambda: ask(engine, config, channel="letter")] * 2
    reasons = [r.reason for r in simultaneously(engine, config, pid, calls)]
    assert sorted(reasons, key=str) == [None, "capped"]
    assert len(rows(engine, Outreach, profile_id=pid)) == 1
