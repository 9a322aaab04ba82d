"""Customers asked for different gaps each get their own wording through SendGrid, and those
asked for the same gaps still share one rendered request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from models.campaigns.asks import asks_of
from outreach.config import OutreachConfig, SendGridConfig
from outreach.providers.sendgrid.mail_send import SendGridEmail
from tests.outreach.conftest import MakeMessage
from tests.outreach.providers.sendgrid.test_mail_send import assert_delivered_as_rendered, emails
from tests.standins.common import serve_in_thread
from tests.standins.sendgrid import create_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, SendGridState


@pytest.fixture
def state() -> SendGridState:
    return SendGridState()


@pytest.fixture
def channel(outbox_config: OutreachConfig, state: SendGridState) -> Iterator[SendGridEmail]:
    with serve_in_thread(create_app(state)) as url:
        sendgrid = SendGridConfig(api_key=STANDIN_API_KEY, host=url, unsubscribe_group_id=42)
        yield SendGridEmail(replace(outbox_config, sendgrid=sendgrid))


def test_customers_asked_for_different_gaps_each_get_their_own_wording(
    state: SendGridState, channel: SendGridEmail, make_message: MakeMessage
) -> None:
    asks = [asks_of(["missing_mobile"]), asks_of(["unverified_postal"]), ()]
    messages = [m for a in asks for m in emails(make_message, 3, asks=a)]
    results = channel.send_batch(messages)

    assert all(r.ok for r in results)
    assert state.requests_seen == len(asks)  # one shared request per wording, still
    assert_delivered_as_rendered(state, channel.config, messages)
    no_mobile = state.delivered_to(messages[0].outreach_id)[0].text or ""
    address = state.delivered_to(messages[3].outreach_id)[0].text or ""
    assert "geen mobiel nummer" in no_mobile and "postadres" not in no_mobile
    assert "postadres" in address and "mobiel" not in address
