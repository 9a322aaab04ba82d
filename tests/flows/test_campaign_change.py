"""Editing the campaign file while rounds run: the advance (and a resumed round) send the unsent
steps by the newest ladder, sent steps stay as they were, and the switch is audited once. The
advance also ends contact-moment enrollments whose links have all expired."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine, outreach_config
from enrich.settings import Settings, get_settings
from flows.advance import advance_ladders
from flows.round import enrichment_round, resume_round
from models.campaigns.spec import CampaignError, load_campaign
from models.campaigns.versions import CAMPAIGN_UPDATED
from models.contact_moments.recording import LINKS_EXPIRED
from models.tables import AUDIT, CAMPAIGN, ENROLLMENT, OUTREACH, PROFILE, ROUND, Campaign, Profile
from models.types import utcnow
from outreach.contact_moments import contact_moment
from tests.factories import COMPLETE, add_profile, replace
from tests.paths import REPO

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

# Usable email and mobile, an unverified address: the gap is unverified_postal.
GAPPY = replace(COMPLETE, "postal", {"kind": "postal", "status": "unverified"})
EMAIL = {"channel": "email", "template": "ask", "wait_days": 5}
SMS = {"channel": "sms", "template": "ask", "wait_days": 5}
LETTER = {"channel": "letter", "template": "ask", "wait_days": 21}
NUDGE_TEXT = "one more nudge: please check your details at"


class CampaignFile:
    """The campaign file the settings point at, rewritten by the test like a steward would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = yaml.safe_load((REPO / "campaigns" / "default.yaml").read_text())
        # The default widened to unverified addresses, the gap of every profile here (GAPPY).
        self.base["gaps"] = [*self.base["gaps"], "unverified_postal"]

    def write(self, ladder: list[dict[str, Any]]) -> None:
        self.path.write_text(yaml.safe_dump({**self.base, "ladder": ladder}), encoding="utf-8")


@pytest.fixture
def campaign(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CampaignFile:
    """A private campaign file, and the real templates plus an SMS template ``nudge``."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "sms" / "nudge.txt").write_text(f"{NUDGE_TEXT} {{{{ link }}}}\n")
    file = CampaignFile(tmp_path / "campaign.yaml")
    file.write([EMAIL, SMS, LETTER])
    monkeypatch.setenv("ENRICH_CAMPAIGN_FILE", str(file.path))
    monkeypatch.setenv("ENRICH_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    return file


def make_due(engine: Engine) -> None:
    """The response windows have passed (moved in the database rather than on the clock)."""
    with engine.begin() as conn:
        conn.execute(update(ENROLLMENT).values(next_due_at=utcnow() - timedelta(minutes=1)))


def steps(engine: Engine) -> list[tuple[Any, ...]]:
    """Every outreach row as the audit trail sees it, in step order."""
    o = OUTREACH.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.id, o.step_index, o.channel, o.template, o.status, o.sent_at, o.reason)
            .where(o.context.is_(None))
            .order_by(o.enrollment_id, o.step_index)
        )
        return [tuple(r) for r in rows]


def sms_bodies() -> list[str]:
    outbox = get_settings().resolved_outbox_dir / "sms"
    return [
        json.loads(line)["body"]
        for f in sorted(outbox.glob("batch-*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def switches(engine: Engine) -> list[tuple[int, int, int]]:
    """(round, version before, version after) of every recorded campaign switch."""
    a = AUDIT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.entity_id, a.before, a.after)
            .where(a.action == CAMPAIGN_UPDATED)
            .order_by(a.id)
        )
        return [(r.entity_id, r.before["version"], r.after["version"]) for r in rows]


def started_version(engine: Engine, round_id: int) -> int:
    r, c = ROUND.c, CAMPAIGN.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(c.version).join_from(ROUND, CAMPAIGN).where(r.id == round_id)
            ).scalar_one()
        )


def test_an_edited_template_goes_out_next_while_sent_steps_stay_as_they_were(
    settings: Settings, campaign: CampaignFile
) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "p1", GAPPY)
    round_id = enrichment_round(started_by="tester")["round_id"]
    [first] = steps(engine)
    assert first[1:5] == (0, "email", "ask", "sent")

    campaign.write([EMAIL, {**SMS, "template": "nudge"}, LETTER])
    make_due(engine)
    summary = advance_ladders()
    assert (summary["sent"], summary["failed"], summary["campaign_updates"]) == (1, 0, 1)
    [bodies] = [sms_bodies()]
    assert len(bodies) == 1 and bodies[0].startswith(NUDGE_TEXT)
    assert steps(engine)[0] == first  # the sent email's row is untouched
    assert steps(engine)[1][1:5] == (1, "sms", "nudge", "sent")
    assert started_version(engine, round_id) == 1  # the round keeps the version it started with
    assert switches(engine) == [(round_id, 1, 2)]

    make_due(engine)
    again = advance_ladders()
    assert (again["sent"], again["campaign_updates"]) == (1, 0)
    assert steps(engine)[2][1:5] == (2, "letter", "ask", "sent")
    assert switches(engine) == [(round_id, 1, 2)]  # once per (round, version), not per run

    result = CliRunner().invoke(app, ["round", "status", str(round_id)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(
        f"Round {round_id} (campaign default v1, ladder of v2): finished"
    )


def test_an_appended_step_extends_running_enrollments_and_removed_steps_exhaust_them(
    settings: Settings, campaign: CampaignFile
) -> None:
    engine = get_engine(settings)
    campaign.write([EMAIL, SMS])
    with engine.begin() as conn:
        profile_id = add_profile(conn, "p1", GAPPY)
    round_id = enrichment_round(started_by="tester")["round_id"]
    make_due(engine)
    assert advance_ladders()["sent"] == 1  # the SMS, the last step of version 1

    campaign.write([EMAIL, SMS, LETTER])
    make_due(engine)
    extended = advance_ladders()
    assert (extended["sent"], extended["exhausted"]) == (1, 0)
    assert [s[2] for s in steps(engine)] == ["email", "sms", "letter"]

    campaign.write([EMAIL])  # the enrollment stands at position 3 of a 1-step ladder
    make_due(engine)
    ended = advance_ladders()
    assert (ended["sent"], ended["exhausted"], ended["campaign_updates"]) == (0, 1, 1)
    assert len(steps(engine)) == 3
    with engine.connect() as conn:
        enrollment = conn.execute(select(ENROLLMENT.c.state, ENROLLMENT.c.end_reason)).one()
        unreachable = conn.execute(
            select(Profile.unreachable_at).where(Profile.id == profile_id)  # type: ignore[arg-type]
        ).scalar_one()
    assert tuple(enrollment) == ("exhausted", "ladder exhausted")
    assert unreachable is not None
    assert switches(engine) == [(round_id, 1, 2), (round_id, 2, 3)]


def test_a_resumed_round_sends_first_steps_by_the_newest_ladder(
    settings: Settings, campaign: CampaignFile
) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "early", GAPPY)
    round_id = enrichment_round(started_by="tester")["round_id"]
    with engine.begin() as conn:
        add_profile(conn, "late", GAPPY)  # imported after the round began: resume enrols it
    campaign.write([SMS, EMAIL, LETTER])

    summary = resume_round(round_id, started_by="tester")

    assert (summary["enrolled"], summary["sent"]) == (2, 2)
    assert summary["campaign_version"] == 1
    assert [s[1:5] for s in steps(engine)] == [
        (0, "email", "ask", "sent"),  # "early" got its first step under version 1
        (0, "sms", "ask", "sent"),  # "late" gets version 2's first step
    ]
    assert switches(engine) == [(round_id, 1, 2)]
    resume_round(round_id, started_by="tester")
    assert switches(engine) == [(round_id, 1, 2)]


def test_an_invalid_campaign_file_stops_the_advance_before_anything_is_sent(
    settings: Settings, campaign: CampaignFile
) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "p1", GAPPY)
    enrichment_round(started_by="tester")
    before = steps(engine)
    campaign.write([EMAIL, {**SMS, "channel": "fax"}])
    make_due(engine)

    with pytest.raises(CampaignError, match="unknown channel 'fax'"):
        advance_ladders()

    assert steps(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar_one() == 1
    campaign.write([EMAIL, SMS, LETTER])  # fixed: the ladder climbs on, still version 1
    assert advance_ladders()["sent"] == 1
    assert switches(engine) == []


def test_the_advance_ends_contact_moment_enrollments_whose_links_expired(
    settings: Settings, campaign: CampaignFile
) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "old", GAPPY)
        add_profile(conn, "new", GAPPY)
    spec = load_campaign(campaign.path)
    config = outreach_config(settings)
    now = utcnow()
    for external_id, asked_at in (("old", now - timedelta(days=90)), ("new", now)):
        result = contact_moment(
            engine,
            external_id=external_id,
            channel="email",
            context="invoice",
            now=asked_at,
            spec=spec,
            policy=settings.caps,
            config=config,
        )
        assert result.ask is not None, result  # links live settings.token_ttl_days (60)

    summary = advance_ladders()

    assert summary["moments_closed"] == 1
    p, e = PROFILE.c, ENROLLMENT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.external_id, e.state, e.end_reason).join(ENROLLMENT, e.profile_id == p.id)
        )
        states = {r.external_id: (r.state, r.end_reason) for r in rows}
    assert states == {"old": ("exhausted", LINKS_EXPIRED), "new": ("active", None)}
    assert advance_ladders()["moments_closed"] == 0
