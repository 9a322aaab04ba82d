"""Re-ask on a new notice: a grant on an older version is the ``outdated_consent`` gap, only for
purposes with ``reask_on_new_notice``; opt-outs and newer answers always win."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.campaigns.gaps import GAP_BITS
from models.campaigns.spec import CampaignSpec, Purpose, Step, sync_campaign
from models.db import session_scope
from models.rounds.completion import complete_if_done
from models.rounds.enrollment import create_round, enroll
from models.rounds.selection import plan, selection_query
from models.tables import CONSENT, ENROLLMENT, PROFILE
from tests.factories import COMPLETE, COOLDOWN, EXHAUSTED_COOLDOWN, MAX_AGE, NOW, add_profile
from tests.factories import replace as replace_kind

OLD = NOW - timedelta(days=100)
OUTDATED = GAP_BITS["outdated_consent"]


def campaign(*, version: str, reask: bool) -> CampaignSpec:
    return CampaignSpec(
        key="t",
        name="T",
        gaps=["missing_email"],
        ladder=[Step(channel="email", wait_days=5)],
        purposes=[
            Purpose(key="service", required=True, text_version=version, reask_on_new_notice=reask),
            Purpose(key="newsletter", text_version="2026-01"),
        ],
    )


def consent(engine: Engine, pid: int, channel: str | None, granted: bool, version: str | None,
            at: datetime, purpose: str = "service") -> None:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            insert(CONSENT).values(
                profile_id=pid, purpose=purpose, channel=channel, granted=granted,
                text_version=version, source="landing", recorded_at=at,
            )
        )  # fmt: skip


def people(engine: Engine) -> dict[str, int]:
    """Complete profiles (no contact gap) with different consent histories."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for name in ("granted-old", "withdrew-old", "answered-new", "legacy", "legacy-answered",
                     "newsletter-old", "never-asked"):  # fmt: skip
            ids[name] = add_profile(conn, name, COMPLETE)
        left = [{"kind": "email", "status": "opted_out", "opted_out_at": OLD}]
        ids["left-email"] = add_profile(conn, "left-email", replace_kind(COMPLETE, "email", *left))
    consent(engine, ids["granted-old"], "email", True, "2026-01", OLD)
    consent(engine, ids["withdrew-old"], "email", False, "2026-01", OLD)
    consent(engine, ids["answered-new"], "email", True, "2026-01", OLD)
    consent(engine, ids["answered-new"], "email", True, "2026-02", OLD + timedelta(days=1))
    consent(engine, ids["legacy"], None, True, "2026-01", OLD)  # before consents had channels
    consent(engine, ids["legacy-answered"], None, True, "2026-01", OLD)
    consent(engine, ids["legacy-answered"], "sms", False, "2026-02", OLD + timedelta(days=1))
    consent(engine, ids["newsletter-old"], "email", True, "2025-01", OLD, purpose="newsletter")
    consent(engine, ids["left-email"], "email", True, "2026-01", OLD)  # then unsubscribed
    ids["objected"] = ids["never-asked"]  # granted, then objected to the purpose (no channel)
    consent(engine, ids["objected"], "email", True, "2026-01", OLD)
    consent(engine, ids["objected"], None, False, None, OLD + timedelta(days=2))
    return ids


def selected(engine: Engine, spec: CampaignSpec) -> dict[int, int]:
    query = selection_query(
        gaps=spec.gaps, now=NOW, max_age_days=MAX_AGE, cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN, reask=spec.reask_versions(),
    )  # fmt: skip
    with engine.connect() as conn:
        return {int(pid): int(mask) for pid, mask in conn.execute(query)}


def test_the_spec_turns_the_gap_on_per_purpose_and_off_by_default() -> None:
    assert "outdated_consent" not in campaign(version="2026-02", reask=False).gaps
    on = campaign(version="2026-02", reask=True)
    assert on.gaps == ["missing_email", "outdated_consent"]
    assert on.reask_versions() == {"service": "2026-02"}
    assert CampaignSpec.model_validate(on.model_dump()) == on  # a stored version reads back


def test_a_new_version_with_reask_selects_grants_on_the_old_one(engine: Engine) -> None:
    ids = people(engine)
    chosen = selected(engine, campaign(version="2026-02", reask=True))
    assert chosen == {ids["granted-old"]: OUTDATED, ids["legacy"]: OUTDATED}


def test_without_reask_nobody_is_selected_and_any_other_version_counts(engine: Engine) -> None:
    ids = people(engine)
    assert selected(engine, campaign(version="2026-02", reask=False)) == {}
    # Asking on 2026-01 again: only the grant in force on another version (2026-02) counts.
    assert selected(engine, campaign(version="2026-01", reask=True)) == {
        ids["answered-new"]: OUTDATED
    }


def test_the_plan_counts_the_gap(engine: Engine) -> None:
    people(engine)
    with engine.connect() as conn:
        counted = plan(conn=conn, spec=campaign(version="2026-02", reask=True), now=NOW,
                       max_age_days=MAX_AGE, cooldown_days=COOLDOWN,
                       exhausted_cooldown_days=EXHAUSTED_COOLDOWN)  # fmt: skip
    assert counted.per_gap == {"missing_email": 0, "outdated_consent": 2}
    assert counted.total == 2


def test_the_reasked_enrollment_completes_once_answered_on_the_new_notice(engine: Engine) -> None:
    ids = people(engine)
    spec = campaign(version="2026-02", reask=True)
    with session_scope(engine) as session:
        stored = sync_campaign(session=session, spec=spec)
        round_id = create_round(session=session, campaign=stored, started_by="t", parameters={}).id
    assert round_id is not None
    assert enroll(conn=engine, round_id=round_id, spec=spec, now=NOW, max_age_days=MAX_AGE,
                  cooldown_days=COOLDOWN, exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
                  batch_size=100) == 2  # fmt: skip
    pid = ids["granted-old"]

    def state() -> Any:
        with engine.connect() as conn:
            e = ENROLLMENT.c
            return conn.execute(select(e.state, e.gap_mask).where(e.profile_id == pid)).one()

    with Session(engine) as session:
        assert complete_if_done(session=session, profile_id=pid, now=NOW, evidence=None) == []
        session.commit()
    assert tuple(state()) == ("active", OUTDATED)
    consent(engine, pid, "email", True, "2026-02", NOW + timedelta(hours=1))
    with Session(engine) as session:
        done = complete_if_done(session=session, profile_id=pid, now=NOW, evidence=None)
        session.commit()
    assert len(done) == 1 and state()[0] == "completed"
    # Answered on the new notice: the next round with the same campaign leaves them alone.
    with engine.begin() as conn:
        conn.execute(PROFILE.update().where(PROFILE.c.id == pid).values(last_contacted_at=None))
    assert pid not in selected(engine, spec)
