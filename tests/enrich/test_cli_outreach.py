"""`enrich outreach show ID`: provider ids, statuses and events of one message, contact masked."""

from __future__ import annotations

import json

from sqlalchemy import update
from sqlmodel import Session
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord
from models.tables import OUTREACH
from tests.models.answers.personal_link_data import NOW, make_case

runner = CliRunner()
EMAIL = {"kind": "email", "status": "valid"}
ADDRESS = "p1@example.org"  # what add_profile gives external id p1


def test_show_lists_provider_ids_events_and_masks_the_address(settings: Settings) -> None:
    engine = get_engine(settings)
    case = make_case(engine, [EMAIL], gaps=["missing_mobile"])
    with engine.begin() as conn:
        conn.execute(
            update(OUTREACH)
            .where(OUTREACH.c.id == case.outreach_id)
            .values(provider="sendgrid", provider_message_id="abcdefghijklmnopqrstuv", attempts=1)
        )
    with Session(engine) as session:
        ingest_events(
            session=session,
            events=[
                EventRecord(
                    provider="sendgrid",
                    provider_event_id="ev-1",
                    event_type="delivered",
                    outreach_id=case.outreach_id,
                    provider_message_id="abcdefghijklmnopqrstuv.filter0001",
                    occurred_at=NOW,
                    recipient=ADDRESS,
                )
            ],
            now=NOW,
        )
        session.commit()
    result = runner.invoke(app, ["outreach", "show", str(case.outreach_id)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "abcdefghijklmnopqrstuv" in result.output
    assert "delivered" in result.output
    assert "sendgrid" in result.output
    assert ADDRESS not in result.output
    as_json = runner.invoke(app, ["outreach", "show", str(case.outreach_id), "--json"])
    data = json.loads(as_json.output)
    assert data["outreach"]["status"] == "sent"
    assert data["outreach"]["attempts"] == 1
    assert data["outreach"]["to"].startswith("p") and "@" in data["outreach"]["to"]
    assert data["outreach"]["to"] != ADDRESS
    assert [e["type"] for e in data["events"]] == ["delivered"]


def test_an_unknown_outreach_exits_2(settings: Settings) -> None:
    result = runner.invoke(app, ["outreach", "show", "999999"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
