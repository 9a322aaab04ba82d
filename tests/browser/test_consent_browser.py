"""Consent in a real browser: a customer with only an email answers per channel on the notice's
text, and the consent is recorded with the hash of the text the browser displayed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.tables import CONSENT
from tests.browser.test_landing_browser import fresh_case, link
from tests.models.answers.personal_link_data import EMAIL_OK, POSTAL_OK
from tests.paths import REPO

pytestmark = pytest.mark.browser

NOTICE = REPO / "templates" / "notices" / "service" / "2026-01.en.md"


def test_email_only_customer_grants_on_the_notice_it_read(
    page: Page, live_server: str, engine: Engine, tmp_path: Path
) -> None:
    case = fresh_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    page.goto(link(live_server, case) + "?lang=en")
    service = page.locator("#purpose-service")
    # Only the email is asked: no SMS question for a customer without a mobile.
    assert service.locator("input[type=radio]").count() == 3
    assert page.locator("#consent_service_sms_granted").count() == 0
    assert page.locator("#label-consent_service_email").inner_text() == "By email"
    question, *paragraphs = [b for b in NOTICE.read_text(encoding="utf-8").split("\n\n")]
    assert page.locator("#question-service").inner_text().startswith(question[2:].strip())
    assert page.locator("#notice-service p").all_inner_texts() == [
        " ".join(p.split()) for p in paragraphs
    ]
    page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
    page.check("#consent_service_email_granted")
    page.check("#postal_action_confirm")
    page.click("#submit")
    page.locator("#thanks").wait_for()
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONSENT.c.purpose, CONSENT.c.channel, CONSENT.c.granted,
                   CONSENT.c.text_version, CONSENT.c.text_locale, CONSENT.c.text_sha256)
        ).all()  # fmt: skip
    digest = hashlib.sha256(NOTICE.read_bytes()).hexdigest()
    assert [tuple(r) for r in rows] == [("service", "email", True, "2026-01", "en", digest)]
