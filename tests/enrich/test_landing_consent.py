"""Consent on the landing page: asked per channel the customer has, on the notice file's text,
recorded with the version and the hash of the text shown; altered forms store nothing."""

from __future__ import annotations

import hashlib
import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from enrich.settings import Settings
from models.tables import CONSENT, AuditEvent, Consent
from tests.enrich.landing_helpers import NOTICE, client_for, csrf_of, submit
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    NOW,
    POSTAL_OK,
    counts,
    make_case,
)
from tests.paths import REPO

EMAIL_ONLY: list[dict[str, Any]] = [EMAIL_OK, POSTAL_OK]
NOTICES = REPO / "templates" / "notices"


def sha256_of(purpose: str, locale: str, root: Path = NOTICES) -> str:
    return hashlib.sha256((root / purpose / f"2026-01.{locale}.md").read_bytes()).hexdigest()


def consents(engine: Engine) -> list[Consent]:
    with Session(engine) as session:
        return list(session.exec(select(Consent).order_by(col(Consent.id))).all())


def tampered(page_text: str, csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "postal_action": "confirm", **dict(NOTICE.findall(page_text)),
            **fields}  # fmt: skip


def test_a_customer_with_only_an_email_is_asked_about_email_only(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, EMAIL_ONLY, gaps=["missing_mobile"])
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}").text
    for purpose in ("service", "newsletter"):
        assert f'id="consent_{purpose}_email_granted"' in page
        assert f"consent_{purpose}_sms" not in page and f"consent_{purpose}_letter" not in page
    # The question and the notice are the file's text, in the page's language.
    notice = (NOTICES / "service/2026-01.nl.md").read_text(encoding="utf-8")
    question = notice.splitlines()[0].removeprefix("# ")
    assert re.search(rf'id="question-service">{re.escape(html.escape(question))}', page)
    assert html.escape(notice.split("\n\n")[1].strip(), quote=False) in page
    assert "per e-mail en sms" not in page  # the bundled question is gone
    assert dict(NOTICE.findall(page))["notice_service"] == f"2026-01:{sha256_of('service', 'nl')}"


def test_both_channels_for_a_customer_with_both(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["missing_mobile"])
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}?lang=en").text
    assert 'id="consent_service_email_granted"' in page
    assert 'id="consent_service_sms_withdrawn"' in page
    assert ">By text message<" in page


def test_granting_records_channel_version_and_the_hash_of_the_text_shown(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["missing_mobile"])
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}?lang=en")  # the customer reads it in English
        thanks = client.post(f"/c/{case.token}", data=tampered(
            page.text, csrf_of(page), lang="en", consent_service_email="granted",
            consent_service_sms="withdrawn", consent_newsletter_email="unanswered",
        ))  # fmt: skip
    assert thanks.status_code == 200 and 'id="thanks"' in thanks.text
    rows = [(c.purpose, c.channel, c.granted, c.text_version, c.text_locale, c.text_sha256,
             c.source) for c in consents(engine)]  # fmt: skip
    digest = sha256_of("service", "en")
    assert rows == [
        ("service", "email", True, "2026-01", "en", digest, "landing"),
        ("service", "sms", False, "2026-01", "en", digest, "landing"),
    ]
    with Session(engine) as session:
        audit = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "consent.granted")
        ).one()
    assert audit.after == {"purpose": "service", "channel": "email", "granted": True,
                           "text_version": "2026-01", "text_locale": "en",
                           "text_sha256": digest}  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        {"consent_service_sms": "granted"},  # no mobile: the page did not ask
        {"consent_marketing_email": "granted"},  # not a purpose of the campaign
        {"consent_service": "granted"},  # the old form's field, with no channel
        {"consent_service_email": "granted", "notice_service": "2025-01:" + "0" * 64},
        {"consent_service_email": "granted", "notice_service": "2026-01:" + "0" * 64},
        {"consent_service_email": "granted", "notice_service": "../../landing/form:x"},
        {"consent_service_email": "granted", "notice_service": ""},
        {"consent_service_email": "granted", "notice_service": "2026-01:é\u202e"},
    ],
    ids=[
        "channel",
        "purpose",
        "no-channel",
        "forged-version",
        "forged-hash",
        "path",
        "none",
        "odd-hash",
    ],
)
def test_an_altered_consent_field_is_refused_and_stores_nothing(
    settings: Settings, engine: Engine, fields: dict[str, str]
) -> None:
    case = make_case(engine, EMAIL_ONLY, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}")
        answer = client.post(f"/c/{case.token}", data=tampered(page.text, csrf_of(page), **fields))
        assert answer.status_code == 422
        assert 'id="error-consents"' in answer.text
        assert "De vragen over toestemming zijn veranderd" in answer.text
        assert counts(engine) == before  # nothing stored, the link still works
        again = submit(client, case.token, {"postal_action": "confirm"})
    assert again.status_code == 200 and consents(engine) == []


def test_a_notice_edited_while_the_page_was_open_is_refused(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    own = settings.model_copy(update={"templates_dir": tmp_path / "templates"})
    case = make_case(engine, EMAIL_ONLY, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(own) as client:
        page = client.get(f"/c/{case.token}")
        path = tmp_path / "templates/notices/service/2026-01.nl.md"
        path.write_text(path.read_text(encoding="utf-8") + "\nNieuw.\n", encoding="utf-8")
        form = tampered(page.text, csrf_of(page), consent_service_email="granted")
        answer = client.post(f"/c/{case.token}", data=form)
    assert answer.status_code == 422 and counts(engine) == before


def test_notice_text_is_shown_as_text_never_as_markup(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    path = tmp_path / "templates/notices/service/2026-01.nl.md"
    path.write_text('# Mogen wij <b>dit</b>?\n\n<script>alert("x")</script> & meer\n', "utf-8")
    own = settings.model_copy(update={"templates_dir": tmp_path / "templates"})
    case = make_case(engine, EMAIL_ONLY, gaps=["missing_mobile"])
    with client_for(own) as client:
        page = client.get(f"/c/{case.token}").text
        thanks = submit(client, case.token, {"consent_service_email": "granted"})
    assert "<script>alert" not in page and "<b>dit</b>" not in page
    assert "&lt;b&gt;dit&lt;/b&gt;" in page and "&lt;script&gt;" in page
    assert thanks.status_code == 200
    [row] = consents(engine)
    assert row.text_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_grant_on_an_older_notice_is_never_shown_pre_ticked(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, EMAIL_ONLY, gaps=["missing_mobile"])
    with engine.begin() as conn:
        for purpose, version in (("service", "2025-06"), ("newsletter", "2026-01")):
            conn.execute(
                insert(CONSENT).values(
                    profile_id=case.profile_id, purpose=purpose, channel="email", granted=True,
                    text_version=version, source="landing", recorded_at=NOW,
                )
            )  # fmt: skip
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}").text
    checked = set(re.findall(r'id="(consent_[a-z_]+)" value="[a-z]+" checked', page))
    assert checked == {"consent_service_email_unanswered", "consent_newsletter_email_granted"}
