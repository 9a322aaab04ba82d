"""One-click unsubscribe from an email's List-Unsubscribe header (RFC 8058)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from enrich.runtime import outreach_config
from enrich.settings import Settings
from models.tables import AuditEvent, ContactPoint, Enrollment, VerificationToken
from models.types import utcnow
from outreach.channels import build_channels
from outreach.channels.base import Channel, Message
from outreach.config import SendGridConfig
from outreach.providers.sendgrid.mail_send import SendGridEmail
from outreach.sending.dispatch import send_due_steps
from tests.enrich.landing_helpers import client_for, email_text, emails
from tests.factories import COMPLETE, add_profile, enrol, replace, spec, start_round
from tests.models.answers.personal_link_data import make_case
from tests.standins.common import serve_in_thread
from tests.standins.sendgrid import create_app as create_standin
from tests.standins.sendgrid_state import STANDIN_API_KEY, SendGridState

HEADER_URL = re.compile(r"<(https?://[^>]+/u/[^>]+)>")
PERSONAL_URL = re.compile(r"https?://[^\s\"<>]+/c/([A-Za-z0-9_-]+)")


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


@pytest.fixture
def sendgrid_url() -> Iterator[tuple[SendGridState, str]]:
    state = SendGridState()
    with serve_in_thread(create_standin(state)) as url:
        yield state, url


def send_ask(engine: Engine, settings: Settings, email: Channel) -> int:
    """Enrol one customer lacking a mobile and send the first ladder step (an email) through
    the real dispatch with ``email`` as the email channel; returns the email's contact point."""
    with engine.begin() as conn:
        profile_id = add_profile(conn, "unsub-1", replace(COMPLETE, "mobile"))
    enrol(engine, start_round(engine))
    config = outreach_config(settings)
    channels = {**build_channels(config), "email": email}
    with engine.connect() as conn:
        ids = [i for (i,) in conn.execute(select(Enrollment.id))]
    outcome = send_due_steps(
        engine=engine, enrollment_ids=ids, spec=spec(), channels=channels, config=config,
        now=utcnow(), actor="system",
    )  # fmt: skip
    assert outcome.sent == 1
    with engine.connect() as conn:
        return conn.execute(
            select(ContactPoint.id).where(
                ContactPoint.profile_id == profile_id, ContactPoint.kind == "email"
            )
        ).scalar_one()


def header_token(header: str, settings: Settings) -> str:
    match = HEADER_URL.search(header)
    assert match, header
    return match.group(1).removeprefix(f"{settings.base_url}/u/")


def check_tokens(engine: Engine, settings: Settings, cp_id: int, header: str, body: str) -> None:
    """What a reader of the header can and cannot do, and what the customer still can."""
    unsubscribe = header_token(header, settings)
    [personal] = PERSONAL_URL.findall(body)
    assert personal not in header  # the header never carries the key to the customer's data
    assert f"{settings.base_url}/u/{unsubscribe}" in body  # the footer link is the same one
    client = client_for(settings)
    opened = client.get(f"/c/{unsubscribe}")
    assert opened.status_code == 404 and 'id="link-invalid"' in opened.text
    assert client.get(f"/c/{personal}").status_code == 200  # the customer's own link works
    # The personal token of a new email does not unsubscribe (it is not in the header).
    assert client.post(f"/u/{personal}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert status_of(engine, cp_id) == "valid"
    page = client.get(f"/u/{unsubscribe}")  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and 'id="unsubscribe"' in page.text
    assert status_of(engine, cp_id) == "valid"
    expire_all_tokens(engine)  # unsubscribe keeps working after the personal link expired
    assert client.get(f"/c/{personal}").status_code == 404
    done = client.post(f"/u/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'id="unsubscribed"' in done.text
    assert status_of(engine, cp_id) == "opted_out"
    again = client.post(f"/u/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert opt_out_audits(engine) == 1


def expire_all_tokens(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(VerificationToken).values(expires_at=utcnow() - timedelta(days=1)))


def test_an_email_from_the_outbox_has_its_own_unsubscribe_token(
    settings: Settings, engine: Engine
) -> None:
    cp_id = send_ask(engine, settings, build_channels(outreach_config(settings))["email"])
    (sent,) = emails(settings)
    check_tokens(engine, settings, cp_id, sent["List-Unsubscribe"], email_text(sent))


def test_an_email_through_sendgrid_has_its_own_unsubscribe_token(
    settings: Settings, engine: Engine, sendgrid_url: tuple[SendGridState, str]
) -> None:
    state, url = sendgrid_url
    config = outreach_config(settings)
    sendgrid = SendGridConfig(api_key=STANDIN_API_KEY, host=url, max_retries=0)
    cp_id = send_ask(
        engine, settings, SendGridEmail(dataclasses.replace(config, sendgrid=sendgrid))
    )
    [got] = [d for r in state.accepted_per_outreach() for d in state.delivered_to(r)]
    assert got.text is not None
    check_tokens(engine, settings, cp_id, got.headers["List-Unsubscribe"], got.text)


def test_unknown_or_forged_links_change_nothing(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, COMPLETE, gaps=["missing_mobile"])
    client = client_for(settings)
    for token in ("unknown", case.token[:-2] + "xx", "x" * 300):
        response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404 and 'id="link-invalid"' in response.text
    assert status_of(engine, case.points["email"]) == "valid"
    assert opt_out_audits(engine) == 0


def test_an_old_email_whose_header_carries_the_personal_token_still_unsubscribes(
    settings: Settings, engine: Engine
) -> None:
    """Emails sent before unsubscribe tokens existed: their header holds the personal token,
    and no unsubscribe token was issued for their outreach; the link keeps working."""
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
