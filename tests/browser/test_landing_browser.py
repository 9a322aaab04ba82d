"""The landing page in a real browser: personal link, proof of control, masking, language.

Each test opens a personal link the way a customer would, reads the confirmation email or the
one-time code from the outbox the app wrote it to, and checks the result in the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from models.tables import CONTACT, ENROLLMENT, OUTREACH, TOKEN
from models.types import utcnow
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, Case, make_case

pytestmark = pytest.mark.browser


NEW_EMAIL = "nieuw.adres@example.net"
NEW_MOBILE_TYPED = "+31 6 87654321"
NEW_MOBILE = "+31687654321"
BOUNCED_EMAIL: dict[str, Any] = {"kind": "email", "status": "bounced"}
INVALID_MOBILE: dict[str, Any] = {"kind": "mobile", "status": "invalid"}


def fresh_case(engine: Engine, contacts: list[dict[str, Any]], **kwargs: Any) -> Case:
    """``make_case`` moved to the wall clock: the app under test uses the real time."""
    case = make_case(engine, contacts, **kwargs)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(ENROLLMENT)
            .where(ENROLLMENT.c.id == case.enrollment_id)
            .values(created_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=1))
        )
        conn.execute(
            update(TOKEN)
            .where(TOKEN.c.profile_id == case.profile_id)
            .values(created_at=now - timedelta(hours=1), expires_at=now + timedelta(days=30))
        )
    return case


def link(base_url: str, case: Case) -> str:
    return f"{base_url}/c/{case.token}"


def newest_email_to(outbox: Path, address: str) -> str:
    """The text part of the newest outbox email addressed to ``address``."""
    parser = BytesParser(policy=policy.default)
    found = []
    for path in (outbox / "email").glob("*.eml"):
        with path.open("rb") as fh:
            msg = parser.parse(fh)
        if address in str(msg["To"]):
            found.append((int(path.stem) if path.stem.isdigit() else 0, path.stat().st_mtime, msg))
    assert found, f"no email to the new address in the outbox ({outbox / 'email'})"
    msg = max(found, key=lambda item: (item[0], item[1]))[2]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None, "the confirmation email has no text part"
    return str(body.get_content())


def newest_sms_to(outbox: Path, number: str) -> str:
    """The body of the newest outbox SMS sent to ``number``."""
    records = []
    for path in (outbox / "sms").glob("batch-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("to") == number:
                    records.append(record)
    assert records, f"no SMS to the new number in the outbox ({outbox / 'sms'})"
    newest = max(records, key=lambda r: (str(r.get("created_at")), int(r["outreach_id"])))
    return str(newest["body"])


def contact_points(engine: Engine, profile_id: int, kind: str, value: str) -> list[dict[str, Any]]:
    """The profile's contact points of ``kind`` holding ``value``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACT).where(
                CONTACT.c.profile_id == profile_id,
                CONTACT.c.kind == kind,
                CONTACT.c.value == value,
            )
        ).all()
    return [dict(row._mapping) for row in rows]


def enrollment_state(engine: Engine, enrollment_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(ENROLLMENT.c.state).where(ENROLLMENT.c.id == enrollment_id)
            ).scalar_one()
        )


def html_lang(page: Page) -> str:
    return str(page.evaluate("document.documentElement.lang"))


def change_email_and_submit(page: Page, url: str) -> None:
    page.goto(url)
    page.check("#email_action_change")
    page.fill("#email", NEW_EMAIL)
    page.check("#consent_service_email_granted")
    page.click("#submit")
    page.locator("#thanks").wait_for()


def confirm_email_from_outbox(page: Page, settings: Settings, live_server: str) -> str:
    """Open the confirmation link from the outbox and press the button; returns the link."""
    text = newest_email_to(settings.resolved_outbox_dir, NEW_EMAIL)
    match = re.search(r"https?://\S+/e/[A-Za-z0-9_\-]+", text)
    assert match, "the confirmation email holds no /e/ link"
    confirm_url = match.group(0)
    assert confirm_url.startswith(live_server + "/e/"), "the link points at the configured site"
    page.goto(confirm_url)
    page.get_by_role("button", name=re.compile(r"confirm|bevestig", re.IGNORECASE)).click()
    page.locator("#email-verified").wait_for()
    return confirm_url


def test_unknown_link_shows_the_friendly_page(page: Page, live_server: str) -> None:
    for path in ("/c/unknown-token", "/e/unknown-token"):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 404, path
        assert page.locator("h1#link-invalid").is_visible(), path
        assert "content-security-policy" in response.headers, path


def test_correct_email_then_confirm_by_link(
    page: Page, live_server: str, settings: Settings, engine: Engine
) -> None:
    case = fresh_case(engine, [BOUNCED_EMAIL, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page.goto(link(live_server, case))
    for field in ("email", "mobile", "postal"):
        assert page.locator(f"#current-{field}").inner_text().strip(), field
    assert "***@example.org" in page.locator("#current-email").inner_text()

    change_email_and_submit(page, link(live_server, case))
    assert page.locator("#email-sent").is_visible()
    # Not verified yet: the customer has not proved control of the new address.
    new = contact_points(engine, case.profile_id, "email", NEW_EMAIL)
    assert [cp["status"] for cp in new] == ["unverified"]
    assert enrollment_state(engine, case.enrollment_id) == "active"

    # Opening the link alone (as a mail scanner does) changes nothing.
    text = newest_email_to(settings.resolved_outbox_dir, NEW_EMAIL)
    match = re.search(r"https?://\S+/e/[A-Za-z0-9_\-]+", text)
    assert match
    page.goto(match.group(0))
    assert contact_points(engine, case.profile_id, "email", NEW_EMAIL)[0]["status"] == "unverified"

    confirm_url = confirm_email_from_outbox(page, settings, live_server)

    new = contact_points(engine, case.profile_id, "email", NEW_EMAIL)
    assert len(new) == 1
    assert new[0]["status"] == "verified"
    assert new[0]["verification_method"] == "email_link"
    assert new[0]["is_primary"]
    assert enrollment_state(engine, case.enrollment_id) == "completed"
    # The confirmation link works once.
    response = page.goto(confirm_url)
    assert response is not None and response.status == 404
    assert page.locator("h1#link-invalid").is_visible()


def test_rejected_field_keeps_what_was_typed(page: Page, live_server: str, engine: Engine) -> None:
    case = fresh_case(engine, [BOUNCED_EMAIL, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page.goto(link(live_server, case))
    page.check("#email_action_change")
    page.fill("#email", "not-an-address")
    page.click("#submit")
    error = page.locator("#error-email")
    assert error.is_visible() and error.inner_text().strip()
    assert page.locator("#email").input_value() == "not-an-address"
    assert "error-email" in (page.locator("#email").get_attribute("aria-describedby") or "")
    assert page.is_checked("#email_action_change")
    assert contact_points(engine, case.profile_id, "email", "not-an-address") == []


def test_correct_mobile_then_type_the_code(
    page: Page, live_server: str, settings: Settings, engine: Engine
) -> None:
    case = fresh_case(engine, [EMAIL_OK, INVALID_MOBILE, POSTAL_OK], gaps=["invalid_mobile"])
    page.goto(link(live_server, case))
    page.check("#mobile_action_change")
    page.fill("#mobile", NEW_MOBILE_TYPED)
    page.check("#consent_service_email_granted")
    page.click("#submit")
    page.locator("#thanks").wait_for()
    form = page.locator("form#code-form")
    assert form.is_visible()

    body = newest_sms_to(settings.resolved_outbox_dir, NEW_MOBILE)
    codes = re.findall(r"(?<![\w-])\d{6}(?![\w-])", body)
    assert len(codes) == 1, "the one-time code SMS holds exactly one 6-digit code"
    form.locator("#code").fill(codes[0])
    form.locator("#code-submit").click()
    page.locator("#mobile-verified").wait_for()

    new = contact_points(engine, case.profile_id, "mobile", NEW_MOBILE)
    assert len(new) == 1
    assert new[0]["status"] == "verified"
    assert new[0]["verification_method"] == "sms_code"
    assert enrollment_state(engine, case.enrollment_id) == "completed"


def test_wrong_code_says_how_many_attempts_are_left(
    page: Page, live_server: str, settings: Settings, engine: Engine
) -> None:
    case = fresh_case(engine, [EMAIL_OK, INVALID_MOBILE, POSTAL_OK], gaps=["invalid_mobile"])
    page.goto(link(live_server, case))
    page.check("#mobile_action_change")
    page.fill("#mobile", NEW_MOBILE_TYPED)
    page.click("#submit")
    body = newest_sms_to(settings.resolved_outbox_dir, NEW_MOBILE)
    real = re.findall(r"(?<![\w-])\d{6}(?![\w-])", body)[0]
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    page.fill("#code", wrong)
    page.click("#code-submit")
    error = page.locator("#error-code")
    assert error.is_visible()
    assert re.search(r"\d", error.inner_text()), "the message says how many attempts are left"
    new = contact_points(engine, case.profile_id, "mobile", NEW_MOBILE)
    assert [cp["status"] for cp in new] == ["unverified"]


def test_data_on_file_is_shown_masked_only(page: Page, live_server: str, engine: Engine) -> None:
    case = fresh_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page.goto(link(live_server, case))
    assert page.locator("#current-email").inner_text().strip() == "p***@example.org"
    assert "5678" in page.locator("#current-mobile").inner_text()
    assert "*" in page.locator("#current-mobile").inner_text()
    assert "Dorpsstraat 1" in page.locator("#current-postal").inner_text()
    html = page.content()
    compact = re.sub(r"[\s\-.()]", "", html)
    for full in ("p1@example.org", "p1%40example.org", "p1&#64;example.org"):
        assert full not in html, "the full email address is in the page"
    for number in ("+31612345678", "0612345678", "612345678", "%2B31612345678"):
        assert number not in compact, "the full mobile number is in the page"
    assert "1234AB" not in compact, "the full postal code is in the page"


def test_language_follows_profile_and_switches(
    page: Page, live_server: str, engine: Engine
) -> None:
    case = fresh_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page.goto(link(live_server, case))
    assert html_lang(page) == "nl"
    dutch_button = page.locator("#submit").inner_text().strip()
    dutch_heading = page.locator("h1").first.inner_text().strip()
    nav = page.locator("nav[aria-label]")
    assert nav.count() >= 1, "the language switch is a labelled nav"

    page.get_by_role("link", name="English", exact=True).click()
    page.wait_for_load_state()
    assert html_lang(page) == "en"
    assert page.locator("#submit").inner_text().strip() != dutch_button
    assert page.locator("h1").first.inner_text().strip() != dutch_heading
    # Still the same customer's form, now in English, and back again.
    assert page.locator("#current-email").inner_text().strip() == "p***@example.org"
    page.get_by_role("link", name="Nederlands", exact=True).click()
    page.wait_for_load_state()
    assert html_lang(page) == "nl"
    assert page.locator("#submit").inner_text().strip() == dutch_button


# The heading a customer reads in each language, and the language's name in the switch.
HEADINGS = {
    "nl": ("Uw contactgegevens", "Nederlands"),
    "en": ("Your contact details", "English"),
    "de": ("Ihre Kontaktdaten", "Deutsch"),
    "fr": ("Vos coordonnées", "Français"),
    "sv": ("Dina kontaktuppgifter", "Svenska"),
    "es": ("Sus datos de contacto", "Español"),
    "pt": ("Os seus dados de contacto", "Português"),
}


@pytest.mark.parametrize("language", ["de", "fr", "sv", "es", "pt"])
def test_a_customer_from_a_message_in_their_language_reads_it_and_can_switch(
    page: Page, live_server: str, engine: Engine, language: str
) -> None:
    """The page follows the locale recorded on the message the link came in, whatever the
    profile says; the switch then leads to the default language."""
    case = fresh_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    with engine.begin() as conn:
        conn.execute(
            update(OUTREACH).where(OUTREACH.c.id == case.outreach_id).values(locale=language)
        )
    page.goto(link(live_server, case))
    heading, name = HEADINGS[language]
    assert html_lang(page) == language
    assert page.locator("h1").first.inner_text().strip() == heading
    current = page.locator("nav a[aria-current='true']")
    assert current.inner_text().strip() == name
    assert page.locator("nav a").count() == len(HEADINGS)
    page.get_by_role("link", name="Nederlands", exact=True).click()
    page.wait_for_load_state()
    assert html_lang(page) == "nl"
    assert page.locator("h1").first.inner_text().strip() == HEADINGS["nl"][0]


def test_every_input_has_a_label_and_keyboard_reaches_the_form(
    page: Page, live_server: str, engine: Engine
) -> None:
    case = fresh_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page.goto(link(live_server, case))
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.labels.length === 0)
            .map(el => el.id || el.name)"""
    )
    assert unlabelled == []

    reached: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        info = page.evaluate("() => [document.activeElement.id, document.activeElement.type || '']")
        reached.append(f"{info[0]}:{info[1]}")
        if info[0] == "submit":
            break
    radios = [item for item in reached if item.endswith(":radio")]
    assert radios, f"Tab never reached a radio button: {reached}"
    assert radios[0].startswith("email_action_"), f"first radio group is the email: {reached}"
    assert reached[-1].startswith("submit:"), f"Tab never reached the submit button: {reached}"
    # Space on a focused radio selects it, as on any form.
    page.focus("#email_action_change")
    page.keyboard.press("Space")
    assert page.is_checked("#email_action_change")


def test_phone_sized_screen(
    new_context: Callable[..., BrowserContext], live_server: str, engine: Engine
) -> None:
    case = fresh_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page = new_context(viewport={"width": 375, "height": 667}, is_mobile=True).new_page()
    page.goto(link(live_server, case))
    submit = page.locator("#submit")
    submit.scroll_into_view_if_needed()
    box = submit.bounding_box()
    assert box is not None and submit.is_visible()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px wide)"


def test_works_without_javascript(
    new_context: Callable[..., BrowserContext],
    live_server: str,
    settings: Settings,
    engine: Engine,
) -> None:
    case = fresh_case(engine, [BOUNCED_EMAIL, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    page = new_context(java_script_enabled=False).new_page()
    change_email_and_submit(page, link(live_server, case))
    assert page.locator("#email-sent").is_visible()
    confirm_email_from_outbox(page, settings, live_server)
    assert enrollment_state(engine, case.enrollment_id) == "completed"
