"""One-click unsubscribe from an email's List-Unsubscribe header (RFC 8058)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from enrich.runtime import outreach_config
from enrich.settings import Settings
from models.tables import AuditEvent, ContactPoint, VerificationToken
from models.types import utcnow
from outreach.channels import build_channels
from outreach.channels.base import Message
from outreach.tokens import personal_link
from tests.enrich.landing_helpers import client_for, emails
from tests.models.responses_data import make_case
from tests.models.test_selection import COMPLETE

HEADER_URL = re.compile(r"<(https?://[^>]+/u/[^>]+)>")


def status_of(engine: Engine, cp_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(ContactPoint.status).where(ContactPoint.id == cp_id)
        ).scalar_one()


def opt_out_audits(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(AuditEvent.action == "contact_point.opt_out")
        ).scalar_one()


def test_the_header_link_opts_the_address_out_once(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, COMPLETE, gaps=["missing_mobile"])
    channels = build_channels(outreach_config(settings))
    link = personal_link(settings.base_url, case.token)
    message = Message(case.outreach_id, "email", "ask", "nl", "p1@example.org", link, "P", "One")
    assert channels["email"].send_batch([message])[0].ok
    (sent,) = emails(settings)
    match = HEADER_URL.search(sent["List-Unsubscribe"])
    assert match, sent["List-Unsubscribe"]
    path = match.group(1).removeprefix(settings.base_url)

    client = client_for(settings)
    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and 'id="unsubscribe"' in page.text
    assert status_of(engine, case.points["email"]) == "valid"

    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'id="unsubscribed"' in done.text
    assert status_of(engine, case.points["email"]) == "opted_out"
    assert status_of(engine, case.points["mobile"]) == "valid"  # only that address
    again = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert opt_out_audits(engine) == 1


def test_unknown_or_forged_links_change_nothing(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, COMPLETE, gaps=["missing_mobile"])
    client = client_for(settings)
    for token in ("unknown", case.token[:-2] + "xx", "x" * 300):
        response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404 and 'id="link-invalid"' in response.text
    assert status_of(engine, case.points["email"]) == "valid"
    assert opt_out_audits(engine) == 0


def test_a_link_that_expired_still_unsubscribes(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, COMPLETE, gaps=["missing_mobile"], ttl_days=1)
    assert utcnow() > case_expiry(engine, case.token)
    response = client_for(settings).post(f"/u/{case.token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert status_of(engine, case.points["email"]) == "opted_out"


def case_expiry(engine: Engine, token: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(
            select(VerificationToken.expires_at).where(
                VerificationToken.token_hash == hashlib.sha256(token.encode()).hexdigest()
            )
        ).scalar_one()


def test_the_confirmation_email_has_no_unsubscribe_header(settings: Settings) -> None:
    channels = build_channels(outreach_config(settings))
    message = Message(
        1, "email", "confirm", "en", "new@example.org", f"{settings.base_url}/e/abc", "A", "B",
        unsubscribe=False,
    )  # fmt: skip
    assert channels["email"].send_batch([message])[0].ok
    (sent,) = emails(settings)
    assert sent["List-Unsubscribe"] is None
