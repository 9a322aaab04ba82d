"""The five channels as the contract suite drives them: each channel's rig (built on the real
templates, sending to its outbox folder or stand-in), how to read back what it took, how to make
its provider report a bounce, and a signed webhook event of its provider."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from enrich.runtime import get_engine
from models.answers.link_tokens import hash_token, new_token, personal_link, token_from_link
from models.tables import DELIVERY, OUTREACH, PROFILE
from models.types import utcnow
from outreach.channels.base import Channel, InDoubt, Message
from outreach.channels.email_outbox import EmailOutbox
from outreach.channels.letter_outbox import LetterOutbox
from outreach.channels.sms_outbox import SmsOutbox
from outreach.config import OutreachConfig
from outreach.providers.sendgrid.mail_send import SendGridEmail
from outreach.providers.twilio.sms import TwilioSms
from outreach.sending.dispatch import send_due_steps
from outreach.sending.due import due_enrollment_ids
from tests.factories import spec
from tests.outreach.conftest import MakeMessage
from tests.outreach.providers.test_webhook_signatures import make_key
from tests.providers.conftest import Setup
from tests.providers.data import mobile
from tests.standins.sendgrid_state import SendGridState
from tests.standins.twilio_state import AUTH_TOKEN


@dataclass
class Rig:
    """One channel under test, with the real places it sends to."""

    contract: Contract
    setup: Setup
    config: OutreachConfig
    channel: Channel

    @property
    def engine(self) -> Engine:
        return get_engine(self.setup.settings)

    def fresh(self) -> Channel:
        """The channel as a rerun builds it: a new instance, nothing carried over in memory."""
        return self.contract.build(self.config)


def _eml_ids(rig: Rig) -> Counter[int]:
    return Counter(int(p.stem) for p in (rig.config.outbox_dir / "email").glob("*.eml"))


def _sms_ids(rig: Rig) -> Counter[int]:
    ids: Counter[int] = Counter()
    for path in (rig.config.outbox_dir / "sms").glob("batch-*.jsonl"):
        ids.update(json.loads(line)["outreach_id"] for line in path.read_text().splitlines())
    return ids


def _letter_ids(rig: Rig) -> Counter[int]:
    ids: Counter[int] = Counter()
    for path in (rig.config.outbox_dir / "letters").glob("batch-*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            ids.update(int(row["outreach_id"]) for row in csv.DictReader(fh))
    return ids


def _sendgrid_ids(rig: Rig) -> Counter[int]:
    return Counter({int(k): n for k, n in rig.setup.sendgrid.accepted_per_outreach().items()})


def _twilio_ids(rig: Rig) -> Counter[int]:
    return rig.setup.twilio.per_outreach()


@dataclass(frozen=True)
class Signed:
    url: str
    content: bytes
    headers: dict[str, str]


def _sendgrid_event(rig: Rig, outreach_id: int, *, genuine: bool) -> Signed:
    event = {
        "event": "delivered",
        "sg_event_id": f"contract-{outreach_id}",
        "sg_message_id": f"contract-message-{outreach_id}",
        "outreach_id": str(outreach_id),
        "email": "customer@example.org",
        "timestamp": int(utcnow().timestamp()),
    }
    body = json.dumps([event]).encode()
    signer = rig.setup.sendgrid if genuine else SendGridState(webhook_key=make_key()[0])
    return Signed(f"{rig.setup.app_url}/webhooks/sendgrid", body, signer.sign(body))


def _twilio_event(rig: Rig, outreach_id: int, *, genuine: bool) -> Signed:
    url = f"{rig.setup.app_url}/webhooks/twilio/status?oid={outreach_id}"
    params = {
        "AccountSid": rig.setup.twilio.account_sid,
        "MessageSid": f"SM{outreach_id:032d}",
        "MessageStatus": "delivered",
        "To": mobile(outreach_id),
    }
    token = AUTH_TOKEN if genuine else "not-the-auth-token"
    signature = RequestValidator(token).compute_signature(url, params)
    return Signed(
        url,
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def _bounce_email(rig: Rig, recipient: str) -> None:
    rig.setup.sendgrid.bounce.add(recipient)


def _undeliverable_sms(rig: Rig, recipient: str) -> None:
    rig.setup.twilio.delivery_outcomes[recipient] = ("undelivered", 30005)


def _as_usual(rig: Rig, recipient: str) -> None:
    """Nothing arranged: the stand-ins deliver; an outbox has no outcome but its file."""


def _flush_sendgrid(rig: Rig) -> None:
    assert set(rig.setup.sendgrid.flush_webhooks()) <= {200}


def _flush_twilio(rig: Rig) -> None:
    assert {hook.status_code for hook in rig.setup.twilio.flush_webhooks()} <= {200}


@dataclass(frozen=True)
class Contract:
    id: str
    channel: str  # "email" | "sms" | "letter"
    provider: str
    build: Callable[[OutreachConfig], Channel]
    taken: Callable[[Rig], Counter[int]]
    # How a rerun learns what a crashed run handed over: "lookup" (already_sent finds exactly
    # what the channel took) or "events" (nothing can be asked by our id; the provider's
    # webhook events name each message it took).
    after_crash: str
    # The provider outcome a message meets -> (how to arrange it, the event types we store).
    statuses: dict[str, tuple[Callable[[Rig, str], None], frozenset[str]]]
    deliver_events: Callable[[Rig], None] | None  # the provider posts what it has to say
    # The app's route for the channel's signed events, and a request to it; None: no webhook.
    webhook: str | None
    signed: Callable[..., Signed] | None
    no_webhook_because: str = ""


OUTBOX_STATUSES: dict[str, tuple[Callable[[Rig, str], None], frozenset[str]]] = {
    # The written file is the whole story: the message is recorded sent and no event follows.
    "written": (_as_usual, frozenset()),
}

CONTRACTS = [
    Contract(
        id="email-outbox",
        channel="email",
        provider="outbox",
        build=EmailOutbox,
        taken=_eml_ids,
        after_crash="lookup",
        statuses=OUTBOX_STATUSES,
        deliver_events=None,
        webhook=None,
        signed=None,
        no_webhook_because="an .eml file in a folder: nobody reports on it",
    ),
    Contract(
        id="sms-outbox",
        channel="sms",
        provider="outbox",
        build=SmsOutbox,
        taken=_sms_ids,
        after_crash="lookup",
        statuses=OUTBOX_STATUSES,
        deliver_events=None,
        webhook=None,
        signed=None,
        no_webhook_because="a JSON line in a batch file: nobody reports on it",
    ),
    Contract(
        id="letter-outbox",
        channel="letter",
        provider="outbox",
        build=LetterOutbox,
        taken=_letter_ids,
        after_crash="lookup",
        statuses=OUTBOX_STATUSES,
        deliver_events=None,
        webhook=None,
        signed=None,
        no_webhook_because=(
            "the print house posts no events; a returned letter comes back by its return code "
            "(enrich letters returned)"
        ),
    ),
    Contract(
        id="sendgrid",
        channel="email",
        provider="sendgrid",
        build=SendGridEmail,
        taken=_sendgrid_ids,
        after_crash="events",
        statuses={
            "delivered": (_as_usual, frozenset({"queued", "delivered"})),
            "bounced": (_bounce_email, frozenset({"queued", "bounced"})),
        },
        deliver_events=_flush_sendgrid,
        webhook="/webhooks/sendgrid",
        signed=_sendgrid_event,
    ),
    Contract(
        id="twilio",
        channel="sms",
        provider="twilio",
        build=TwilioSms,
        taken=_twilio_ids,
        after_crash="lookup",
        statuses={
            "delivered": (_as_usual, frozenset({"sent", "delivered"})),
            "undelivered": (_undeliverable_sms, frozenset({"sent", "failed"})),
        },
        deliver_events=_flush_twilio,
        webhook="/webhooks/twilio/status",
        signed=_twilio_event,
    ),
]

WITH_WEBHOOKS = [c for c in CONTRACTS if c.webhook is not None]


def contract_params(contracts: Sequence[Contract]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in contracts]


RECIPIENT = {"email": "customer{}@example.org", "sms": "+316100000{:02d}", "letter": ""}


def messages(rig: Rig, make_message: MakeMessage, n: int, **overrides: Any) -> list[Message]:
    """``n`` messages of the rig's channel, each to its own recipient, with links on the app."""
    channel = rig.contract.channel
    return [
        make_message(
            channel,
            recipient=RECIPIENT[channel].format(i),
            link=personal_link(rig.config.base_url, new_token()),
            **overrides,
        )
        for i in range(n)
    ]


def in_doubt(sent: Sequence[Message], attempted_at: datetime) -> list[InDoubt]:
    return [
        InDoubt(
            outreach_id=m.outreach_id,
            recipient=m.recipient,
            attempted_at=attempted_at,
            token_hashes=frozenset({hash_token(token_from_link(m.link))}),
        )
        for m in sent
    ]


def send_round(rig: Rig, round_id: int) -> None:
    """Every due first step of the round through the rig's channel, as the round flow does."""
    now = utcnow()
    with rig.engine.connect() as conn:
        ids = due_enrollment_ids(conn=conn, round_id=round_id, now=now, limit=100, after_id=0)
    others = {"email": EmailOutbox, "sms": SmsOutbox, "letter": LetterOutbox}
    channels: dict[str, Channel] = {name: build(rig.config) for name, build in others.items()}
    channels[rig.contract.channel] = rig.channel
    outcome = send_due_steps(
        engine=rig.engine,
        enrollment_ids=ids,
        spec=spec(),
        channels=channels,
        config=rig.config,
        now=now,
        actor="contract",
    )
    assert outcome.sent == len(ids), outcome


def recipient_of(channel: str, index: int) -> str:
    """The address seed_round gives its ``index``-th profile of that channel."""
    return {"email": f"e{index}@example.org", "sms": mobile(index), "letter": ""}[channel]


def event_types_by_profile(engine: Engine) -> dict[str, set[str]]:
    query = (
        select(PROFILE.c.external_id, DELIVERY.c.event_type)
        .select_from(OUTREACH)
        .join(PROFILE, PROFILE.c.id == OUTREACH.c.profile_id)
        .outerjoin(DELIVERY, DELIVERY.c.outreach_id == OUTREACH.c.id)
    )
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for external_id, event_type in conn.execute(query):
            found.setdefault(external_id, set())
            if event_type is not None:
                found[external_id].add(event_type)
    return found


def delivery_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DELIVERY)).scalar_one())


def post(request: Signed) -> httpx.Response:
    with httpx.Client(timeout=10, trust_env=False) as client:
        return client.post(request.url, content=request.content, headers=request.headers)
