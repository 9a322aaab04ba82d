"""Running the simulation against a real database: the clock, the ladder and the customers.

Everything goes through the product's own entry points with the simulated instant as ``now``:
``due_for_advance`` + ``send_due_steps`` with a :class:`Respect` each tick, the real outbox
channels (the customers read their links from the files written there), ``apply_submission``
for answers, ``unsubscribe`` for the one-click unsubscribe, ``ingest_events`` for SendGrid
bounces and Twilio STOP replies and status callbacks, and ``contact_moment`` for other
systems' asks.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.answers.link_tokens import token_from_link
from models.answers.personal_link import open_link
from models.answers.submissions import FieldAction, SubmissionForm, apply_submission
from models.answers.unsubscribe import unsubscribe
from models.campaigns.spec import CampaignSpec, sync_campaign
from models.db import session_scope
from models.feedback.delivery_events import ingest_events
from models.rounds.enrollment import create_round, enroll
from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy
from models.tables import ENROLLMENT, PROFILE
from outreach.channels import build_channels
from outreach.config import OutreachConfig
from outreach.contact_moments import contact_moment
from outreach.providers.sendgrid.events import sendgrid_events
from outreach.providers.twilio.events import twilio_inbound_event, twilio_status_event
from outreach.sending.dispatch import send_due_steps
from outreach.sending.due import due_for_advance
from tests.factories import default_campaign
from tests.models.answers.personal_link_data import shown
from tests.paths import REPO
from tests.simulation.population import END, START, TICK, Customer, Moment, seed

FIXTURES = REPO / "tests" / "fixtures"
BASE_URL = "https://enrich.example.org"
LINK = re.compile(re.escape(BASE_URL) + r"/c/[A-Za-z0-9_-]+")
UNSUBSCRIBE_LINK = re.compile(re.escape(BASE_URL) + r"/u/[A-Za-z0-9_-]+")
SECRET = b"simulation-code-secret"

CAPS = CapPolicy(period_days=30, max_messages=4, per_channel={"email": 3, "sms": 2, "letter": 1})
RESPECT = Respect(
    windows=WindowPolicy(
        email=SendWindow(time(8), time(21), frozenset(range(6))),
        sms=SendWindow(time(9), time(20), frozenset(range(5))),
        letter_days=frozenset(range(5)),
        letter_cutoff=time(15),
        holiday_country="NL",
        organisation_zone=ZoneInfo("Europe/Amsterdam"),
    ),
    caps=CAPS,
    default_zone=ZoneInfo("Europe/Amsterdam"),
)


@dataclass(frozen=True)
class Received:
    """A message as the customer has it: from the outbox files, not from our database."""

    outreach_id: int
    channel: str
    link: str
    unsubscribe_link: str | None = None  # an email's List-Unsubscribe URL


@dataclass
class Observed:
    """What the run produced, per external id."""

    profile_ids: dict[str, int]
    moments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, str] = field(default_factory=dict)
    wait_reasons: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    ticks: int = 0
    sends: int = 0  # send_due_steps calls


def inbox(outbox: Path) -> dict[str, list[Received]]:
    """Every email and SMS written to the outbox, by recipient, oldest first."""
    found: dict[str, list[Received]] = defaultdict(list)
    for path in sorted((outbox / "email").glob("*.eml"), key=lambda p: int(p.stem)):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        match = LINK.search(str(body.get_content()))
        assert match, f"no personal link in email {path.name}"
        recipient = str(msg["To"]).rsplit("<", 1)[-1].rstrip(">")
        unsubscribe = UNSUBSCRIBE_LINK.search(str(msg["List-Unsubscribe"] or ""))
        found[recipient].append(
            Received(
                int(msg["X-Enrich-Outreach-Id"]),
                "email",
                match[0],
                unsubscribe[0] if unsubscribe else None,
            )
        )
    for path in sorted((outbox / "sms").glob("batch-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            match = LINK.search(record["body"])
            assert match, "no personal link in an SMS"
            found[record["to"]].append(Received(record["outreach_id"], "sms", match[0]))
    for messages in found.values():
        messages.sort(key=lambda m: m.outreach_id)
    return found


class World:
    """One simulated database: the round, the clock and the customers' behaviour."""

    def __init__(self, engine: Engine, outbox: Path, customers: list[Customer]) -> None:
        self.engine = engine
        self.outbox = outbox
        self.customers = customers
        # Every simulated customer lacks a verified address (population.LACKS): the default
        # campaign widened to that gap selects each of them, whatever else they lack.
        self.spec: CampaignSpec = default_campaign("unverified_postal")
        self.config = OutreachConfig(
            outbox_dir=outbox, templates_dir=REPO / "templates", base_url=BASE_URL
        )
        self.channels = build_channels(self.config)
        self.observed = Observed(profile_ids=seed(engine, customers, now=START))
        self.events: dict[datetime, list[Callable[[datetime], None]]] = defaultdict(list)
        for customer in customers:
            self._script(customer)

    def start_round(self) -> int:
        with session_scope(self.engine) as session:
            campaign = sync_campaign(session=session, spec=self.spec)
            round_ = create_round(
                session=session, campaign=campaign, started_by="steward", parameters={}
            )
            assert round_.id is not None
            round_id = round_.id
        enrolled = enroll(
            conn=self.engine,
            round_id=round_id,
            spec=self.spec,
            now=START,
            max_age_days=730,
            cooldown_days=30,
            exhausted_cooldown_days=180,
            batch_size=500,
        )
        assert enrolled == len(self.customers)
        return round_id

    def run(self) -> Observed:
        self.start_round()
        now = START
        while now <= END:
            for event in self.events.get(now, []):
                event(now)
            self.tick(now)
            self.sample_waits()
            self.observed.ticks += 1
            now += TICK
        return self.observed

    def tick(self, now: datetime) -> None:
        with self.engine.connect() as conn:
            due = due_for_advance(conn=conn, now=now, limit=10_000)
        if not due:
            return
        self.observed.sends += 1
        send_due_steps(
            engine=self.engine,
            enrollment_ids=[enrollment_id for enrollment_id, _round in due],
            spec=self.spec,
            channels=self.channels,
            config=self.config,
            now=now,
            actor="system",
            respect=RESPECT,
        )

    def sample_waits(self) -> None:
        e, p = ENROLLMENT.c, PROFILE.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(p.external_id, e.wait_reason)
                .join(PROFILE, p.id == e.profile_id)
                .where(e.state == "active", e.wait_reason.is_not(None))
            ).all()
        for external_id, reason in rows:
            self.observed.wait_reasons[external_id].add(reason)

    # --- the customers' behaviour -------------------------------------------------------

    def _script(self, c: Customer) -> None:
        s = c.script
        if s.answer is not None:
            answer = s.answer
            self.events[answer.at].append(
                lambda now: self.answer(c, answer.via, consent=answer.consent, now=now)
            )
        if s.bounce_at is not None:
            self.events[s.bounce_at].append(lambda now: self.bounce(c, now))
        if s.dead_number_at is not None:
            self.events[s.dead_number_at].append(lambda now: self.dead_number(c, now))
        if s.stop_at is not None:
            self.events[s.stop_at].append(lambda now: self.stop(c, now))
        if s.unsubscribe_at is not None:
            self.events[s.unsubscribe_at].append(lambda now: self.unsubscribe(c, now))
        for m in s.moments:
            self.events[m.at].append(partial(self.moment, c, m))

    def _received(self, c: Customer, channel: str) -> Received:
        address = c.email if channel == "email" else c.mobile
        messages = [m for m in inbox(self.outbox)[address] if m.channel == channel]
        assert messages, f"{c.external_id} has no {channel} to act on"
        return messages[0]

    def answer(self, c: Customer, via: str, *, consent: bool, now: datetime) -> None:
        """Open the link of the first ``via`` message; confirm the address (and answer the
        required question when ``consent``)."""
        token = token_from_link(self._received(c, via).link)
        with Session(self.engine) as session:  # what the page asks: the customer's channels
            page = open_link(session=session, token=token, now=now)
        asked = {p.key: p.channels for p in page.purposes} if page else {}

        def answers(purpose: str, granted: bool) -> dict[str, bool | None]:
            return dict.fromkeys(asked.get(purpose, ()), granted)

        form = SubmissionForm(
            postal=FieldAction("confirm"),
            consents={
                "service": answers("service", True),
                "newsletter": answers("newsletter", False),
            }
            if consent
            else {"newsletter": answers("newsletter", True)},
            notices=shown("service", "newsletter", spec=self.spec),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            result = apply_submission(
                session=session,
                token=token,
                form=form,
                now=now,
                client_time=None,
                default_region="NL",
                code_secret=SECRET,
            )
            session.commit()
        assert result.status == "ok", (c.external_id, result.status, result.errors)
        self.observed.answers[c.external_id] = "completed" if result.completed else "not completed"

    def _ingest(self, events: list[Any], now: datetime) -> None:
        with session_scope(self.engine) as session:
            outcome = ingest_events(session=session, events=events, now=now)
        assert outcome.new == len(events) and outcome.unmatched == 0

    def bounce(self, c: Customer, now: datetime) -> None:
        """SendGrid reports a hard bounce of the ladder email (its custom arg names it)."""
        email = self._received(c, "email")
        payload = [
            {
                "event": "bounce",
                "type": "bounce",
                "sg_event_id": f"bounce-{email.outreach_id}",
                "sg_message_id": f"msg-{email.outreach_id}.filter0001",
                "timestamp": int(now.timestamp()),
                "email": c.email,
                "reason": f"550 5.1.1 <{c.email}>: mailbox unavailable",
                "status": "5.1.1",
                "outreach_id": str(email.outreach_id),
            }
        ]
        self._ingest(sendgrid_events(payload, received_at=now), now)

    def dead_number(self, c: Customer, now: datetime) -> None:
        """Twilio's status callback: the SMS was undeliverable, the handset is unknown."""
        sms = self._received(c, "sms")
        form = json.loads((FIXTURES / "twilio" / "status_failed_21211.json").read_text())
        sid = f"SMdead{sms.outreach_id:026d}"
        form |= {"To": c.mobile, "MessageSid": sid, "SmsSid": sid, "ErrorCode": "30005"}
        form |= {"MessageStatus": "undelivered", "SmsStatus": "undelivered"}
        self._ingest([twilio_status_event(form, sms.outreach_id, received_at=now)], now)

    def stop(self, c: Customer, now: datetime) -> None:
        """The customer replies STOP to the number our SMS came from."""
        self._received(c, "sms")  # they reply to a message they got
        form = json.loads((FIXTURES / "twilio" / "inbound_stop.json").read_text())
        sid = f"SMstop{c.index:026d}"
        form |= {"From": c.mobile, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
        self._ingest([twilio_inbound_event(form, received_at=now)], now)

    def unsubscribe(self, c: Customer, now: datetime) -> None:
        """The one-click unsubscribe of the ladder email's List-Unsubscribe header."""
        link = self._received(c, "email").unsubscribe_link
        assert link, f"{c.external_id}'s email has no List-Unsubscribe link"
        token = token_from_link(link)
        with Session(self.engine) as session:
            result = unsubscribe(
                session=session, token=token, now=now, method="list-unsubscribe-post"
            )
            session.commit()
        assert result.status == "ok", (c.external_id, result.status)

    def moment(self, c: Customer, moment: Moment, now: datetime) -> None:
        """Another system asks for a re-ask to carry in its own message to the customer."""
        result = contact_moment(
            self.engine,
            external_id=c.external_id,
            channel=moment.channel,
            context=moment.context,
            now=now,
            spec=self.spec,
            policy=CAPS,
            config=self.config,
        )
        if result.ask is not None:
            assert LINK.search(result.ask.text), "the re-ask block carries no personal link"
        self.observed.moments[c.external_id].append(result.reason or "asked")
