"""axe-core on the pages of the customer's journey that only some campaigns and visits show: the
incentive and its refusal, "I don't have one", the progress after sending, coming back through
the same link, in every language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page
from sqlalchemy import update
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from models.campaigns.spec import load_campaign
from models.tables import ENROLLMENT, OUTREACH, TOKEN
from models.types import utcnow
from tests.browser.test_accessibility_browser import (  # noqa: F401 (fixtures)
    Audit,
    audit,
    axe_page,
    axe_script,
    db_url,
)
from tests.browser.test_customer_journey_browser import LANGUAGES
from tests.models.answers.personal_link_data import EMAIL_OK, POSTAL_OK, make_case
from tests.paths import REPO

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_journey_pages_pass_axe(
    axe_page: Page,  # noqa: F811
    audit: Audit,  # noqa: F811
    live_server: str,
    settings: Settings,
    engine: Engine,
    lang: str,
) -> None:
    spec = load_campaign(REPO / "campaigns" / "prize-draw.yaml")
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], channel="letter",
                     spec=spec)  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(OUTREACH).values(locale=lang))
        conn.execute(update(TOKEN).values(expires_at=utcnow() + timedelta(days=30)))
        conn.execute(update(ENROLLMENT).values(created_at=utcnow() - timedelta(hours=1)))
    page = axe_page
    url = f"{live_server}/c/{case.token}"
    page.goto(url)
    page.locator("#group-incentive").wait_for()
    audit.check(page, "form with the incentive")

    # A forged terms token is refused next to the box; "none" with a number, next to the field.
    page.evaluate("document.querySelector('input[name=incentive_terms]').value = 'x:y'")
    page.check("#incentive")
    page.check("#mobile_action_none")
    page.fill("#mobile", "+31 6 11223344")
    page.click("#submit")
    page.locator("#error-incentive").wait_for()
    assert page.locator("#error-mobile").is_visible()
    audit.check(page, "incentive and decline refused")

    page.fill("#mobile", "")
    page.check("#incentive")
    page.check("#consent_service_email_granted")
    page.click("#submit")
    page.locator("#thanks").wait_for()
    assert page.locator("#progress").is_visible()
    audit.check(page, "thanks, with the progress")

    page.click("#change-more")
    page.locator("#sent-before").wait_for()
    assert page.locator("#incentive-status").is_visible()
    audit.check(page, "coming back")

    assert audit.found == {}, f"WCAG 2.1 AA violations ({lang}):\n{audit.report()}"
