"""The customer's rights in a real browser: "stop contacting me" and "this is wrong".

A customer opens their personal link, ticks or chooses, submits and reads the answer; then the
test runs what the steward and the sender would (the round plan, the due ladder step through
the real outbox, a contact moment) and checks that none of it reaches the customer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from enrich.runtime import outreach_config
from enrich.settings import Settings
from models.campaigns.spec import CampaignSpec, Step
from models.contact_moments.recording import NoAsk, record_contact_moment
from models.rounds.selection import gap_masks, plan
from models.tables import AUDIT, CONTACT, ENROLLMENT
from models.types import utcnow
from outreach.channels import build_channels
from outreach.sending.dispatch import BatchOutcome, send_due_steps
from outreach.sending.due import due_for_advance
from tests.browser.test_landing_browser import (
    BOUNCED_EMAIL,
    enrollment_state,
    fresh_case,
    html_lang,
    link,
)
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, SPEC
from tests.models.contact_moments.moment_data import POLICY

pytestmark = pytest.mark.browser

# The customer got an SMS first; the email is the next step of the ladder.
SMS_FIRST = SPEC.model_copy(
    update={"ladder": [Step(channel="sms", wait_days=5), Step(channel="email", wait_days=5)]}
)


def make_due(engine: Engine, enrollment_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == enrollment_id)
            .values(next_due_at=utcnow() - timedelta(minutes=1))
        )


def due_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [eid for eid, _round in due_for_advance(conn=conn, now=utcnow(), limit=100)]


def send_due(
    engine: Engine, settings: Settings, spec: CampaignSpec, ids: list[int]
) -> BatchOutcome:
    """The sender's run over ``ids``, through the real outbox channels."""
    config = outreach_config(settings)
    return send_due_steps(
        engine=engine, enrollment_ids=ids, spec=spec, channels=build_channels(config),
        config=config, now=utcnow(), actor="system",
    )  # fmt: skip


def outbox_files(settings: Settings, channel: str) -> list[Path]:
    folder = settings.resolved_outbox_dir / channel
    return sorted(p for p in folder.glob("*") if p.is_file()) if folder.exists() else []


def audit_actions(engine: Engine, profile_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(AUDIT.c.action).where(AUDIT.c.profile_id == profile_id).order_by(AUDIT.c.id)
            ).scalars()
        )


def test_stop_contacting_me_without_javascript(
    new_context: Callable[..., BrowserContext],
    live_server: str,
    settings: Settings,
    engine: Engine,
) -> None:
    case = fresh_case(engine, [BOUNCED_EMAIL, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    make_due(engine, case.enrollment_id)
    assert due_ids(engine) == [case.enrollment_id]  # the next step would go out now
    page = new_context(java_script_enabled=False).new_page()
    page.goto(link(live_server, case))
    box = page.get_by_role("checkbox", name="Neem geen contact meer met mij op over mijn gegevens")
    assert page.locator("fieldset#group-objection legend").inner_text() == "Geen contact meer"
    box.check()
    page.click("#submit")
    heading = page.locator("h1#objected")
    heading.wait_for()
    assert heading.inner_text() == "Wij nemen geen contact meer met u op"
    assert html_lang(page) == "nl"
    assert "geen berichten meer" in page.locator("main").inner_text()

    assert enrollment_state(engine, case.enrollment_id) == "stopped"
    assert "profile.objected" in audit_actions(engine, case.profile_id)
    now = utcnow()
    with engine.connect() as conn:  # what `enrich round plan` counts
        counted = plan(conn=conn, spec=SPEC, now=now, max_age_days=365, cooldown_days=0,
                       exhausted_cooldown_days=0)  # fmt: skip
    assert counted.total == 0 and counted.excluded["opted_out"] == 1
    assert due_ids(engine) == []
    assert send_due(engine, settings, SPEC, [case.enrollment_id]) == BatchOutcome()
    assert outbox_files(settings, "sms") == [] and outbox_files(settings, "email") == []
    with engine.begin() as conn:
        moment = record_contact_moment(
            conn, external_id="p1", channel="sms", context="invoice", now=now, spec=SPEC,
            policy=POLICY, max_age_days=365,
        )  # fmt: skip
    assert isinstance(moment, NoAsk) and moment.reason == "opted_out"


def test_email_marked_wrong_is_not_written_to(
    page: Page, live_server: str, settings: Settings, engine: Engine
) -> None:
    contacts: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
    case = fresh_case(engine, contacts, gaps=["invalid_email"], channel="sms", spec=SMS_FIRST)
    page.goto(link(live_server, case) + "?lang=en")
    wrong = page.get_by_role("group", name="Email address").get_by_label("This is wrong")
    wrong.check()
    page.click("#submit")
    page.locator("#thanks").wait_for()
    assert not page.locator("#email-sent").is_visible()  # nothing was sent to prove

    with engine.connect() as conn:
        email = conn.execute(
            select(CONTACT.c.status).where(CONTACT.c.id == case.points["email"])
        ).scalar_one()
        masks = gap_masks(conn, gaps=["invalid_email"], now=utcnow(), max_age_days=365,
                          profile_ids=[case.profile_id])  # fmt: skip
    assert email == "contested"
    assert masks[case.profile_id] != 0, "the next round asks for a new email"
    assert "contact_point.contested" in audit_actions(engine, case.profile_id)

    make_due(engine, case.enrollment_id)  # the email step of the ladder is due
    outcome = send_due(engine, settings, SMS_FIRST, [case.enrollment_id])
    assert (outcome.sent, outcome.skipped) == (0, 1)
    assert outbox_files(settings, "email") == [], "an email went to the contested address"
    assert enrollment_state(engine, case.enrollment_id) == "exhausted"
