"""The Twilio SMS channel pointed at the loopback stand-in, with a fake clock for pacing."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from models.answers.link_tokens import new_token, personal_link
from outreach.channels.base import Message
from outreach.config import OutreachConfig, TwilioConfig
from outreach.providers.twilio.sms import TwilioSms
from tests.outreach.conftest import MakeMessage
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioState

SENDER = "+15005550006"
SERVICE = "MG" + "cd" * 16


@dataclasses.dataclass
class StandIn:
    state: TwilioState
    url: str


class FakeTime:
    """A clock that moves only when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: list[Any] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        for hook in self.on_sleep:
            hook()

    def backoffs(self) -> list[float]:
        return [s for s in self.sleeps if s >= 0.5]


def configure(
    outbox_config: OutreachConfig, url: str, *, base_url: str | None = None, **twilio: Any
) -> OutreachConfig:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": SENDER,
        "base_url": url,
        "messages_per_second": 1000.0,
        "concurrency": 1,
        "timeout_seconds": 5.0,
        "max_retries": 3,
    }
    values.update(twilio)
    return dataclasses.replace(
        outbox_config,
        base_url=base_url or outbox_config.base_url,
        sms_channel="twilio",
        twilio=TwilioConfig(**values),
    )


def sms(make_message: MakeMessage, config: OutreachConfig, number: str, **over: Any) -> Message:
    """An SMS whose personal link points at ``config.base_url``, like the dispatcher's."""
    link = personal_link(config.base_url, new_token())
    return make_message("sms", recipient=number, link=link, **over)


def channel(config: OutreachConfig, fake: FakeTime | None = None) -> TwilioSms:
    if fake is None:
        return TwilioSms(config)
    return TwilioSms(config, sleep=fake.sleep, clock=fake.clock)
