"""The customer's side in a real browser: every language from every channel, saying "I don't
have one", coming back through the same link to add a value, the progress on the way, and the
campaign's incentive offered, entered and earned.

Each customer here is a profile enrolled in a campaign and reached by one message; the page is
opened the way the customer would open it (the link of an email or SMS, the QR code of a
letter) and read as they would read it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from models.campaigns.spec import load_campaign
from models.tables import AUDIT, ENROLLMENT, INCENTIVE_ENTRY, OUTREACH, PROFILE, TOKEN
from models.types import utcnow
from outreach.i18n import translations
from outreach.reference import message_reference
from tests.browser.test_landing_browser import (
    contact_points,
    enrollment_state,
    fresh_case,
    html_lang,
    newest_sms_to,
)
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    POSTAL_OK,
    SPEC,
    Case,
    make_case,
)
from tests.paths import REPO

pytestmark = pytest.mark.browser

LANGUAGES = ("nl", "en", "de", "fr", "sv", "es", "pt")
CHANNELS = ("email", "sms", "letter")
MOBILE = "+31 6 11223344"
MOBILE_E164 = "+31611223344"


def customer(
    engine: Engine,
    n: int,
    contacts: list[dict[str, Any]],
    *,
    channel: str,
    locale: str,
    gap: str = "missing_mobile",
) -> Case:
    """Customer ``n``, enrolled an hour ago for ``gap`` in a campaign of its own, reached on
    ``channel`` by a message written in ``locale``."""
    case = fresh_case(engine, contacts, gaps=[gap], channel=channel,
                      spec=SPEC.model_copy(update={"key": f"journey-{n}"}))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(PROFILE).where(PROFILE.c.id == case.profile_id)
                     .values(external_id=f"journey-{n}", locale="nl"))  # fmt: skip
        conn.execute(update(OUTREACH).where(OUTREACH.c.id == case.outreach_id)
                     .values(locale=locale))  # fmt: skip
    return case


def text(lang: str, msgid: str) -> str:
    return translations(REPO / "templates", lang).gettext(msgid)


# Who each channel reaches: an email or a letter someone without a mobile, an SMS someone
# without an email; (contacts, gap, the missing field, what the page asks).
REACHED = {
    "email": ([EMAIL_OK, POSTAL_OK], "missing_mobile", "mobile",
              "We have no mobile number for you: please add one."),
    "letter": ([EMAIL_OK, POSTAL_OK], "missing_mobile", "mobile",
               "We have no mobile number for you: please add one."),
    "sms": ([MOBILE_OK, POSTAL_OK], "missing_email", "email",
            "We have no email address for you: please add one."),
}  # fmt: skip


def test_every_language_from_every_channel(page: Page, live_server: str, engine: Engine) -> None:
    """The page speaks the language of the message, shows its reference and how to check that
    it is genuine, and asks only for what is left: the missing field, not the verified address."""
    n = 0
    for channel in CHANNELS:
        contacts, gap, missing, ask = REACHED[channel]
        other = "email" if missing == "mobile" else "mobile"
        for lang in LANGUAGES:
            n += 1
            case = customer(engine, n, contacts, channel=channel, locale=lang, gap=gap)
            response = page.goto(f"{live_server}/c/{case.token}")
            where = f"{lang}/{channel}"
            assert response is not None and response.status == 200, where
            assert html_lang(page) == lang, where
            assert page.locator("#title").inner_text() == text(lang, "Your contact details")
            # It asks for this customer's own gap, as the message did, and for nothing else.
            asked = page.locator("#asked").inner_text()
            assert asked == text(lang, ask), where
            reference = message_reference(channel, case.outreach_id)
            assert reference in page.locator("footer.trust").inner_text(), where
            progress = page.locator("#progress-title").inner_text()
            # One on file but unconfirmed, one missing, the postal address verified, consent.
            assert re.search(r"\b1\b.*\b4\b", progress), (where, progress)
            assert page.locator("#state-postal.state-verified").is_visible(), where
            assert page.locator(f"#state-{missing}.state-missing").is_visible(), where
            assert page.locator(f"#state-{other}.state-to_check").is_visible(), where
            assert page.locator("#group-postal.done").count() == 1, where
            assert page.locator(f"#group-{missing}.done").count() == 0, where
            assert page.locator(f"#{missing}_action_none").is_enabled(), where
            assert page.locator("#postal_action_none").count() == 0, where


def test_decline_then_come_back_and_add_a_mobile(
    page: Page, live_server: str, settings: Settings, engine: Engine
) -> None:
    case = customer(engine, 1, [EMAIL_OK, POSTAL_OK], channel="email", locale="en")
    url = f"{live_server}/c/{case.token}"
    page.goto(url)
    page.check("#mobile_action_none")
    page.check("#consent_service_email_granted")
    page.click("#submit")
    page.locator("#thanks").wait_for()
    # What they sent, and what is left.
    assert "do not have one" in page.locator("#state-mobile").inner_text()
    assert page.locator("#state-mobile.state-declined").is_visible()
    assert page.locator("#state-consents.state-verified").is_visible()
    assert "3 of 4" in page.locator("#progress-title").inner_text()  # the email: unconfirmed
    assert enrollment_state(engine, case.enrollment_id) == "completed"

    # Back through the same link: the page remembers, and a mobile can still be added.
    page.click("#change-more")
    page.locator("#sent-before").wait_for()
    assert page.locator("#group-mobile.done").count() == 1
    page.check("#mobile_action_change")
    page.fill("#mobile", MOBILE)
    page.click("#submit")
    page.locator("#thanks").wait_for()
    assert page.locator("#state-mobile.state-pending").is_visible()
    assert "11223344" not in page.locator("#state-mobile").inner_text()  # masked
    code = re.search(r"\b(\d{6})\b", newest_sms_to(settings.resolved_outbox_dir, MOBILE_E164))
    assert code, "the proof SMS holds no 6-digit code"
    page.fill("#code", code.group(1))
    page.click("#code-submit")
    page.locator("#mobile-verified").wait_for()

    page.goto(url)
    assert page.locator("#state-mobile.state-verified").is_visible()
    [mobile] = contact_points(engine, case.profile_id, "mobile", MOBILE_E164)
    assert mobile["status"] == "verified"
    with engine.connect() as conn:
        declined = conn.execute(
            select(PROFILE.c.mobile_declined_at).where(PROFILE.c.id == case.profile_id)
        ).scalar_one()
        actions = conn.execute(
            select(AUDIT.c.action).where(AUDIT.c.profile_id == case.profile_id)
        ).scalars().all()  # fmt: skip
    assert declined is None
    assert "profile.field_declined" in actions and "profile.field_decline_withdrawn" in actions
    assert actions.count("submission.received") == 2


def test_declining_and_typing_a_value_is_refused_in_place(
    page: Page, live_server: str, engine: Engine
) -> None:
    case = customer(engine, 1, [EMAIL_OK, POSTAL_OK], channel="sms", locale="de")
    page.goto(f"{live_server}/c/{case.token}")
    page.check("#mobile_action_none")
    page.fill("#mobile", MOBILE)
    page.click("#submit")
    error = page.locator("#error-mobile")
    assert error.is_visible()
    assert error.inner_text() == text(
        "de",
        "You chose that you do not have one, but also typed one. Please choose one of the two.",
    )
    assert page.locator("#mobile").input_value() == MOBILE  # kept as typed
    assert enrollment_state(engine, case.enrollment_id) == "active"


def test_the_incentive_is_offered_entered_and_earned(
    page: Page, live_server: str, engine: Engine
) -> None:
    spec = load_campaign(REPO / "campaigns" / "prize-draw.yaml")
    assert spec.incentive is not None
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], channel="letter",
                     spec=spec)  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(OUTREACH).values(locale="fr"))
        conn.execute(update(TOKEN).values(expires_at=utcnow() + timedelta(days=30)))
        conn.execute(update(ENROLLMENT).values(created_at=utcnow() - timedelta(hours=1)))
    url = f"{live_server}/c/{case.token}"
    page.goto(url)
    headline = page.locator("#incentive-headline").inner_text()
    assert headline.strip() and page.locator("#incentive-terms").is_visible()
    assert html_lang(page) == "fr"
    page.check("#mobile_action_none")
    page.check("#consent_service_email_granted")
    page.check("#incentive")
    page.click("#submit")
    page.locator("#thanks").wait_for()
    with engine.connect() as conn:
        earned = conn.execute(
            select(INCENTIVE_ENTRY.c.earned_at).where(
                INCENTIVE_ENTRY.c.enrollment_id == case.enrollment_id
            )
        ).scalar_one()
    assert earned is not None, "the enrollment completed: the entry is earned"
    page.goto(url)  # coming back: the entry is shown, not asked again
    assert page.locator("#incentive-status").is_visible()
    assert page.locator("#incentive").count() == 0
