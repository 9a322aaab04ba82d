"""Which version a running round follows after an edit, and the once-only audit of the switch."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from models.campaigns.spec import CampaignSpec, Purpose, Step, sync_campaign
from models.campaigns.versions import (
    CAMPAIGN_UPDATED,
    RoundCampaign,
    ladder_versions,
    record_campaign_updates,
    round_campaigns,
)
from models.db import session_scope
from models.rounds.enrollment import create_round
from models.rounds.status import round_status
from models.tables import AUDIT, ROUND
from tests.factories import NOW

V1 = CampaignSpec(
    key="t",
    name="T",
    gaps=["missing_email"],
    ladder=[Step(channel="email", wait_days=5), Step(channel="sms", wait_days=5)],
    purposes=[Purpose(key="service", required=True, text_version="2026-01")],
)


def edited(spec: CampaignSpec, **changes: object) -> CampaignSpec:
    return CampaignSpec.model_validate({**spec.model_dump(), **changes})


def store(engine: Engine, spec: CampaignSpec) -> int:
    """Sync ``spec`` like a flow does; returns the stored version."""
    with session_scope(engine) as session:
        return sync_campaign(session=session, spec=spec).version


def start(engine: Engine, spec: CampaignSpec) -> int:
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=spec)
        round_ = create_round(session=session, campaign=campaign, started_by="t", parameters={})
        assert round_.id is not None
        return round_.id


def follow(engine: Engine, round_ids: list[int]) -> dict[int, RoundCampaign]:
    with engine.connect() as conn:
        return round_campaigns(conn, round_ids)


def record(engine: Engine, rounds: list[RoundCampaign]) -> int:
    with engine.begin() as conn:
        return record_campaign_updates(conn, rounds, now=NOW, actor="system:advance")


def events(engine: Engine) -> list[tuple[int, dict[str, object], dict[str, object]]]:
    a = AUDIT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.entity_id, a.before, a.after)
            .where(a.action == CAMPAIGN_UPDATED)
            .order_by(a.id)
        )
        return [(r.entity_id, r.before, r.after) for r in rows]


def test_a_round_takes_the_newest_ladder_and_keeps_its_own_gaps_and_purposes(
    engine: Engine,
) -> None:
    round_id = start(engine, V1)
    letter_first = [Step(channel="letter", template="nudge", wait_days=21)]
    assert store(engine, edited(V1, ladder=letter_first, gaps=["missing_mobile"], purposes=[])) == 2

    followed = follow(engine, [round_id])[round_id]

    assert (followed.key, followed.started_version, followed.newest_version) == ("t", 1, 2)
    assert followed.updated
    assert followed.spec.ladder == letter_first
    assert followed.spec.gaps == ["missing_email"]  # already selected by these
    assert followed.spec.purposes == V1.purposes  # the landing page asks these


def test_an_unedited_round_follows_its_own_version_and_nothing_is_recorded(
    engine: Engine,
) -> None:
    round_id = start(engine, V1)
    store(engine, edited(V1, key="other"))  # another campaign's versions do not count
    store(engine, edited(V1, key="other", name="Other v2"))
    followed = follow(engine, [round_id, 999])

    assert list(followed) == [round_id]  # an unknown round is left out
    assert not followed[round_id].updated
    assert followed[round_id].spec == V1
    assert record(engine, list(followed.values())) == 0
    assert events(engine) == []
    assert follow(engine, []) == {}


def test_a_switch_is_recorded_once_per_round_and_version(engine: Engine) -> None:
    first, second = start(engine, V1), start(engine, V1)
    store(engine, edited(V1, ladder=[Step(channel="sms", wait_days=3)]))

    assert record(engine, list(follow(engine, [first, second]).values())) == 2
    assert record(engine, list(follow(engine, [first, second]).values())) == 0
    v2 = {"campaign": "t", "version": 2}
    assert events(engine) == [
        (first, {"campaign": "t", "version": 1}, v2),
        (second, {"campaign": "t", "version": 1}, v2),
    ]

    store(engine, edited(V1, ladder=[Step(channel="letter", wait_days=3)]))
    assert record(engine, [follow(engine, [first])[first]]) == 1
    assert events(engine)[-1] == (first, v2, {"campaign": "t", "version": 3})

    with engine.connect() as conn:
        assert ladder_versions(conn, [first, second, 999]) == {first: 3, second: 2}
        status = round_status(conn, first)
        campaign_ids = set(conn.execute(select(ROUND.c.campaign_id)).scalars())
    assert (status.campaign_version, status.ladder_version) == (1, 3)
    assert status.as_dict()["ladder_version"] == 3
    assert len(campaign_ids) == 1  # both rounds still point at the version they started with


def test_two_runs_at_once_record_a_switch_once(engine: Engine) -> None:
    round_id = start(engine, V1)
    store(engine, edited(V1, name="T v2"))
    followed = follow(engine, [round_id])[round_id]
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(record(engine, [followed]))
        except BaseException as err:  # surfaced by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    with engine.begin() as conn:
        # Until both have started, hold what lets each read but not write: on PostgreSQL the
        # audit table against inserts, on SQLite the database's write lock.
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE")
        else:
            conn.execute(update(ROUND).where(ROUND.c.id == round_id).values(status=ROUND.c.status))
        for t in threads:
            t.start()
        time.sleep(1.0)
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(results) == [0, 1]
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(AUDIT.c.action == CAMPAIGN_UPDATED)
        ).scalar_one()
    assert count == 1
