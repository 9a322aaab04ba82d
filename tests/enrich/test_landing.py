"""The landing page end to end: masked data, languages, confirming, proving email and mobile."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from enrich.settings import Settings
from models.tables import ContactPoint, Outreach, Profile
from tests.enrich.landing_helpers import (
    CHALLENGE,
    client_for,
    csrf_of,
    email_text,
    emails,
    enrollment_state,
    point,
    sms_bodies,
    submit,
)
from tests.enrich.test_web_security import assert_secure
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, SPEC, make_case

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, element_id
    return match.group(1).strip()


def test_page_shows_masked_data_purposes_and_versions(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}")
    assert page.status_code == 200
    assert_secure(page.headers)
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert text_of(html, "current-email") == "p***@example.org"
    assert text_of(html, "current-mobile") == "+31 6 ****5678"
    assert text_of(html, "current-postal") == "Dorpsstraat 1, 1234 ** Amsterdam"
    assert "p1@example.org" not in html and "12345678" not in html
    assert '<html lang="nl">' in html and "Uw contactgegevens" in html
    assert "contract, facturen en storingen" in html
    assert text_of(html, "version-service") == "2026-01"
    assert text_of(html, "version-newsletter") == "2026-01"
    for name in ("email_action_keep", "mobile_action_change", "postal_code", "submit",
                 "consent_service_email_granted", "consent_newsletter_sms_unanswered"):  # fmt: skip
        assert f'id="{name}"' in html
    assert "<script" not in html and "style=" not in html  # no JS, CSP-safe
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" in set_cookie


def test_language_follows_profile_and_switch(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        english = client.get(f"/c/{case.token}?lang=en")
        assert '<html lang="en">' in english.text and "Your contact details" in english.text
        assert 'aria-label="Language"' in english.text and ">Nederlands<" in english.text
        with engine.begin() as conn:
            conn.execute(update(Profile).values(locale="de"))  # German is a page language
        assert '<html lang="de">' in client.get(f"/c/{case.token}").text
        dutch = client.get(f"/c/{case.token}?lang=nl")
        assert '<html lang="nl">' in dutch.text and ">English<" in dutch.text
        bogus = client.get(f"/c/{case.token}?lang=xx")  # ignored: the profile's language
        assert '<html lang="de">' in bogus.text
        with engine.begin() as conn:
            conn.execute(update(Profile).values(locale="it"))  # no catalogue: the default
        assert '<html lang="nl">' in client.get(f"/c/{case.token}").text


def test_confirm_through_the_channel_that_reached_the_customer(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="sms")
    with client_for(settings) as client:
        thanks = submit(
            client, case.token, {"mobile_action": "confirm", "consent_service_email": "granted"}
        )
    assert thanks.status_code == 200 and 'id="thanks"' in thanks.text
    assert 'id="email-sent"' not in thanks.text and 'id="code-form"' not in thanks.text
    cp = point(engine, case.points["mobile"])
    assert (cp.status, cp.verification_method) == ("verified", "link:sms")
    assert enrollment_state(engine, case.enrollment_id) == "completed"


def test_change_email_then_confirm_link_from_outbox(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["bounced_email"])
    with client_for(settings) as client:
        thanks = submit(
            client,
            case.token,
            {
                "email_action": "change",
                "email": "nieuw@example.nl",
                "consent_service_email": "granted",
            },
        )
        assert thanks.status_code == 200 and 'id="email-sent"' in thanks.text
        [mail] = emails(settings)
        assert mail["To"].addresses[0].addr_spec == "nieuw@example.nl"
        assert "Bevestig" in mail["Subject"]
        link = re.search(r"https://enrich\.example\.org(/e/[A-Za-z0-9_-]+)", email_text(mail))
        assert link
        with Session(engine) as session:
            outreach = session.exec(select(Outreach).where(col(Outreach.template) == "confirm"))
            row = outreach.one()
            assert (row.enrollment_id, row.channel, row.status) == (None, "email", "sent")
            new = session.exec(
                select(ContactPoint).where(ContactPoint.value == "nieuw@example.nl")
            ).one()
        assert new.status == "unverified"
        page = client.get(link.group(1))  # a mail scanner's prefetch changes nothing
        assert page.status_code == 200 and 'id="confirm"' in page.text
        assert point(engine, new.id or 0).status == "unverified"
        assert enrollment_state(engine, case.enrollment_id) == "active"
        done = client.post(link.group(1), data={"csrf_token": csrf_of(page)})
        assert done.status_code == 200 and 'id="email-verified"' in done.text
        again = client.post(link.group(1), data={"csrf_token": csrf_of(page)})
        assert again.status_code == 404 and 'id="link-invalid"' in again.text
    verified = point(engine, new.id or 0)
    assert (verified.status, verified.verification_method, verified.is_primary) == (
        "verified",
        "email_link",
        True,
    )
    assert enrollment_state(engine, case.enrollment_id) == "completed"


def test_change_mobile_then_code_from_sms_outbox(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    with client_for(settings) as client:
        thanks = submit(
            client,
            case.token,
            {
                "mobile_action": "change",
                "mobile": "06 8765 4321",
                "consent_service_email": "granted",
            },
        )
        assert thanks.status_code == 200 and 'id="code-form"' in thanks.text
        [sms] = sms_bodies(settings)
        assert sms["to"] == "+31687654321"
        code = re.search(r"\b(\d{6})\b", sms["body"])
        assert code
        wrong = "000000" if code.group(1) != "000000" else "111111"
        form = {"csrf_token": csrf_of(thanks), "challenge": CHALLENGE.findall(thanks.text)[0]}
        bad = client.post("/code", data={**form, "code": wrong})
        assert bad.status_code == 422
        assert "4" in re.sub(r"<[^>]+>", "", bad.text.split('id="error-code"')[1])
        assert enrollment_state(engine, case.enrollment_id) == "active"
        ok = client.post("/code", data={**form, "code": code.group(1)})
        assert ok.status_code == 200 and 'id="mobile-verified"' in ok.text
    with Session(engine) as session:
        cp = session.exec(select(ContactPoint).where(ContactPoint.kind == "mobile")).one()
    assert (cp.status, cp.verification_method) == ("verified", "sms_code")
    assert enrollment_state(engine, case.enrollment_id) == "completed"


def test_unknown_expired_and_objected_links_get_the_same_page_a_used_one_opens(
    settings: Settings, engine: Engine
) -> None:
    live = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        assert submit(client, live.token, {"postal_action": "confirm"}).status_code == 200
        used = client.get(f"/c/{live.token}")  # coming back: the form, with what was sent
        assert used.status_code == 200 and 'id="sent-before"' in used.text
        assert 'id="state-postal" class="state state-verified"' in used.text
        client.post(
            f"/c/{live.token}", data={"csrf_token": csrf_of(used), "stop_contacting": "yes"}
        )
        objected = client.get(f"/c/{live.token}")
        unknown = client.get("/c/AAAAAAAAAAAAAAAAAAAAAA")
        confirm_unknown = client.get("/e/AAAAAAAAAAAAAAAAAAAAAA")
    with engine.begin() as conn:
        conn.execute(update(Profile).values(external_id="old"))
    other = SPEC.model_copy(update={"key": "t2"})
    expired = make_case(engine, FULL, gaps=["missing_mobile"], ttl_days=1, spec=other)
    with client_for(settings) as client:
        expired_page = client.get(f"/c/{expired.token}")
    pages = [objected, unknown, confirm_unknown, expired_page]
    assert {p.status_code for p in pages} == {404}
    headings = {re.search(r'<h1 id="link-invalid">([^<]+)</h1>', p.text).group(1) for p in pages}  # type: ignore[union-attr]
    assert len(headings) == 1
    for p in pages:
        assert_secure(p.headers)


def test_stylesheet_is_served_from_self(settings: Settings, engine: Engine) -> None:
    with client_for(settings) as client:
        css = client.get("/static/landing.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media" in css.text
