"""A Twilio stand-in per test, and a receiver of its status callbacks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outreach.providers.twilio.sms_rig import StandIn
from tests.standins.common import serve_in_thread
from tests.standins.twilio import TwilioState, WebhookReceiver, create_app


@pytest.fixture
def standin() -> Iterator[StandIn]:
    state = TwilioState()
    with serve_in_thread(create_app(state)) as url:
        yield StandIn(state, url)


@pytest.fixture
def hooks() -> Iterator[str]:
    """A local receiver for status callbacks: its base URL."""
    with serve_in_thread(WebhookReceiver()) as url:
        yield url
