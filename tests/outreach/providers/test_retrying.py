"""The one retry budget as a provider sees it: a request that keeps failing is made
``max_retries + 1`` times, whatever the failure, waiting as long as a 429 asks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate

import pytest

from outreach.config import OutreachConfig, SendGridConfig
from outreach.errors import ProviderUnavailable
from outreach.providers.retrying import rate_limit_wait
from outreach.providers.sendgrid.mail_send import SendGridEmail
from outreach.providers.sendgrid.suppressions import fetch_suppressions
from tests.outreach.conftest import MakeMessage
from tests.outreach.providers.sendgrid.test_mail_send import NOW, FakeTime, emails
from tests.standins.common import serve_in_thread
from tests.standins.sendgrid import STANDIN_API_KEY, Outcome, SendGridState, create_app

MAX_RETRIES = 3


@pytest.fixture
def state() -> SendGridState:
    return SendGridState()


@pytest.fixture
def sendgrid(state: SendGridState) -> Iterator[SendGridConfig]:
    with serve_in_thread(create_app(state)) as url:
        yield SendGridConfig(api_key=STANDIN_API_KEY, host=url, max_retries=MAX_RETRIES)


def test_throttling_without_end_spends_the_same_budget_as_an_outage(
    state: SendGridState,
    sendgrid: SendGridConfig,
    outbox_config: OutreachConfig,
    make_message: MakeMessage,
) -> None:
    fake = FakeTime()
    state.push(*[Outcome.fail(429, reset_at=int(NOW) + 5)] * 20)
    channel = SendGridEmail(
        replace(outbox_config, sendgrid=sendgrid), sleep=fake.sleep, clock=fake.clock
    )
    with pytest.raises(ProviderUnavailable, match=f"answered 429 {MAX_RETRIES + 1} times"):
        channel.send_batch(emails(make_message, 2))
    assert state.requests_seen == MAX_RETRIES + 1
    # The first wait runs to the reset; the clock is past it for the others (the floor).
    assert fake.sleeps == [pytest.approx(4.75), 0.25, 0.25]
    assert state.delivered == []


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (Outcome.fail(503), f"answered 503 {MAX_RETRIES + 1} times"),
        (Outcome.fail(429), "kept throttling"),
    ],
)
def test_suppression_lists_keep_the_same_budget(
    state: SendGridState, sendgrid: SendGridConfig, outcome: Outcome, message: str
) -> None:
    fake = FakeTime()
    state.push(*[outcome] * 20)
    with pytest.raises(ProviderUnavailable, match=message):
        fetch_suppressions(sendgrid, sleep=fake.sleep, clock=fake.clock)
    assert state.requests_seen == MAX_RETRIES + 1


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Reset": str(NOW + 7)}, 7.0),
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": "3600"}, 60.0),  # a run is not stalled for an hour
        ({"X-RateLimit-Reset": str(NOW - 5)}, 0.25),  # our clock is behind theirs
        ({"X-RateLimit-Reset": "soon"}, None),  # unreadable: the usual backoff
        ({}, None),
    ],
)
def test_a_429_says_how_long_to_wait(headers: dict[str, str], wait: float | None) -> None:
    assert rate_limit_wait(headers, lambda: NOW) == (
        None if wait is None else pytest.approx(wait, abs=0.3)
    )
