"""A small round with scripted outcomes, run through the product's own functions, for the report.

Eleven customers in one round of the campaign ``report`` (email, then SMS after 2 days, then a
letter after 2 more, which waits 3 days), with unit costs and one required purpose. The clock
is a variable: the ladder advances at ``T0``, ``T0 + 2 days``, ``T0 + 4 days`` and ``T0 + 7 days``
(10:00 UTC each, with SMS allowed 09:00-20:00 in the customer's zone and at most one SMS in 30
days), and the customers act in between through the real entry points: SendGrid and Twilio
events (``ingest_events``), the one-click unsubscribe, the landing page (``open_link`` then
``record_opened``, as the page's GET does, and ``apply_submission``). The report is read at
``NOW`` = ``T0 + 8 days``.

Each customer (country, locale): what happens.

- ``answers`` (NL, nl): email delivered, opened, clicked; opens the link and answers at +3 h
  (email, postal, consent): completed; erased at the end.
- ``late-consent`` (BE, fr): email delivered and opened; answers at +5 h without the consent
  (postal verified); answers the SMS at +2 d 2 h with it: completed.
- ``bounces`` (NL, nl): a stale verified email that hard-bounces; SMS delivered; letter;
  exhausted.
- ``stops`` (DE, de): email delivered; replies STOP to the SMS; letter; exhausted.
- ``dead-number`` (NL, en): SMS undeliverable (Twilio 30005: invalid); letter; exhausted;
  enrolled before ``fields_at_start`` was recorded.
- ``no-email`` (NL, nl): step 1 skipped, SMS at once; answered by SMS at +1 d with a new email
  address, confirmed by its link an hour later: completed.
- ``new-york`` (US, en): email; the SMS is held by quiet hours at every advance (05:00 in New
  York): waiting.
- ``capped`` (NL, nl): an SMS from an earlier round 5 days before: the SMS step is held by the
  cap.
- ``looks-only`` (NL, nl): a fresh verified email; opens the link, never answers; exhausted.
- ``unsubscribes`` (NL, nl): one-click unsubscribe of the email at +2 h; SMS; letter;
  exhausted.
- ``blocked`` (NL, nl): the email is blocked (SendGrid bounce type "blocked": failed); SMS;
  letter; exhausted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.answers.link_tokens import token_from_link
from models.answers.personal_link import open_link, record_opened
from models.answers.proof_of_control import confirm_email
from models.answers.submissions import (
    FieldAction,
    SubmissionForm,
    SubmissionResult,
    apply_submission,
)
from models.answers.unsubscribe import unsubscribe
from models.campaigns.spec import sync_campaign
from models.db import make_engine, session_scope, stored_id
from models.feedback.delivery_events import ingest_events
from models.retention.erasure import erase_profiles
from models.rounds.enrollment import create_round, enroll, finish_round
from models.tables import ENROLLMENT, ROUND
from outreach.channels import build_channels
from outreach.config import OutreachConfig
from outreach.providers.sendgrid.events import sendgrid_events
from outreach.providers.twilio.events import twilio_inbound_event, twilio_status_event
from outreach.sending.dispatch import send_due_steps
from outreach.sending.due import due_for_advance
from tests.conftest import _postgres_database
from tests.models.answers.personal_link_data import shown
from tests.models.round_report.population import (
    ADVANCES,
    BOTH,
    CUSTOMERS,
    DAY,
    FINISHED,
    FIXTURES,
    FORECAST,
    HOUR,
    MOBILE,
    NEW,
    POSTAL,
    RESPECT,
    SECRET,
    SPEC,
    T0,
    earlier_rounds,
    email_of,
    mobile_of,
    seed,
)
from tests.paths import REPO
from tests.simulation.world import BASE_URL, Received, inbox


@dataclass
class Scenario:
    engine: Engine
    round_id: int
    earlier_round_id: int
    standing_round_id: int
    profiles: dict[str, int]
    outbox: Path
    channels: dict[str, Any] = field(default_factory=dict)
    config: OutreachConfig | None = None
    mail: dict[str, list[Received]] | None = None  # the outbox as last read

    def received(self, name: str, channel: str) -> Received:
        """The last ``channel`` message ``name`` got, as read from the outbox files."""
        if self.mail is None:
            self.mail = inbox(self.outbox)
        address = email_of(name) if channel == "email" else mobile_of(name)
        found = [m for m in self.mail[address] if m.channel == channel]
        assert found, f"{name} has no {channel}"
        return found[-1]


def _ingest(engine: Engine, events: list[Any], now: datetime) -> None:
    with session_scope(engine) as session:
        done = ingest_events(session=session, events=events, now=now)
    assert done.new == len(events) and done.unmatched == 0


def _sendgrid(s: Scenario, name: str, at: datetime, *events: dict[str, Any]) -> None:
    email = s.received(name, "email")
    payload = [
        {
            "sg_event_id": f"{e['event']}-{e.get('type', '')}-{email.outreach_id}",
            "sg_message_id": f"msg-{email.outreach_id}.filter0001",
            "timestamp": int(at.timestamp()),
            "email": email_of(name),
            "outreach_id": str(email.outreach_id),
            **e,
        }
        for e in events
    ]
    _ingest(s.engine, sendgrid_events(payload, received_at=at), at)


def _twilio_status(s: Scenario, name: str, at: datetime, status: str, code: str = "") -> None:
    sms = s.received(name, "sms")
    form = json.loads((FIXTURES / "twilio" / "status_failed_21211.json").read_text())
    sid = f"SM{status[:4]}{sms.outreach_id:026d}"
    form |= {"To": mobile_of(name), "MessageSid": sid, "SmsSid": sid, "ErrorCode": code}
    form |= {"MessageStatus": status, "SmsStatus": status}
    _ingest(s.engine, [twilio_status_event(form, sms.outreach_id, received_at=at)], at)


def _stop(s: Scenario, name: str, at: datetime) -> None:
    s.received(name, "sms")
    form = json.loads((FIXTURES / "twilio" / "inbound_stop.json").read_text())
    sid = f"SMstop{s.profiles[name]:026d}"
    form |= {"From": mobile_of(name), "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
    _ingest(s.engine, [twilio_inbound_event(form, received_at=at)], at)


def open_page(engine: Engine, token: str, at: datetime) -> Any:
    """What the landing page's GET does with a personal link."""
    with session_scope(engine) as session:
        page = open_link(session=session, token=token, now=at)
        assert page is not None
        record_opened(session=session, token_id=page.token_id, now=at)
        return page


def _answer(
    s: Scenario,
    name: str,
    channel: str,
    at: datetime,
    *,
    consent: bool,
    confirm: tuple[str, ...],
    new_email: str | None = None,
) -> SubmissionResult:
    """Open the link of ``name``'s last ``channel`` message and answer the page."""
    token = token_from_link(s.received(name, channel).link)
    page = open_page(s.engine, token, at)
    asked = {p.key: p.channels for p in page.purposes}
    actions = {kind: FieldAction("confirm") for kind in confirm}
    if new_email is not None:
        actions["email"] = FieldAction("change", value=new_email)
    form = SubmissionForm(
        **actions,  # type: ignore[arg-type]
        consents={"service": dict.fromkeys(asked.get("service", ()), True)} if consent else {},
        notices=shown("service", spec=SPEC),
    )
    with Session(s.engine, expire_on_commit=False) as session:
        result = apply_submission(
            session=session,
            token=token,
            form=form,
            now=at,
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
        session.commit()
    assert result.status == "ok", (name, result.status, result.errors)
    return result


def _confirm_email(s: Scenario, secret: str, at: datetime) -> list[int]:
    """The customer opens the confirmation link the page sent to the new address."""
    with session_scope(s.engine) as session:
        done = confirm_email(session=session, token=secret, now=at)
    assert done.status == "ok"
    return done.completed


def _advance(s: Scenario, at: datetime) -> None:
    with s.engine.connect() as conn:
        due = due_for_advance(conn=conn, now=at, limit=10_000)
    if due:
        assert s.config is not None
        send_due_steps(
            engine=s.engine,
            enrollment_ids=[enrollment_id for enrollment_id, _ in due],
            spec=SPEC,
            channels=s.channels,
            config=s.config,
            now=at,
            actor="system",
            respect=RESPECT,
        )
        s.mail = None


def build(engine: Engine, outbox: Path) -> Scenario:
    """Run the scripted round (module docstring) and return what a test needs to read it."""
    with engine.begin() as conn:
        profiles = seed(conn)
        earlier, standing = earlier_rounds(conn, profiles["capped"])
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=SPEC)
        round_id = stored_id(
            create_round(
                session=session,
                campaign=campaign,
                started_by="steward",
                parameters={"limit": None, "max_age_days": 730},
            )
        )
    with engine.begin() as conn:
        conn.execute(
            update(ROUND).where(ROUND.c.id == round_id).values(started_at=T0, forecast=FORECAST)
        )
    enrolled = enroll(
        conn=engine,
        round_id=round_id,
        spec=SPEC,
        now=T0,
        max_age_days=730,
        cooldown_days=30,
        exhausted_cooldown_days=180,
        batch_size=100,
    )
    assert enrolled == len(CUSTOMERS)
    config = OutreachConfig(outbox_dir=outbox, templates_dir=REPO / "templates", base_url=BASE_URL)
    s = Scenario(
        engine,
        round_id,
        earlier,
        standing,
        profiles,
        outbox,
        build_channels(config),
        config,
    )
    with engine.begin() as conn:  # enrolled before the start's fields were recorded
        conn.execute(
            update(ENROLLMENT)
            .where(
                ENROLLMENT.c.round_id == round_id,
                ENROLLMENT.c.profile_id == profiles["dead-number"],
            )
            .values(fields_at_start=None)
        )
    _run(s)
    return s


def _run(s: Scenario) -> None:
    _advance(s, ADVANCES[0])  # the emails, and the SMS of no-email (its email step skipped)
    _sendgrid(
        s,
        "answers",
        T0 + HOUR,
        {"event": "delivered"},
        {"event": "open"},
        {"event": "click", "url": BASE_URL},
    )
    _sendgrid(s, "late-consent", T0 + HOUR, {"event": "delivered"}, {"event": "open"})
    _sendgrid(s, "stops", T0 + HOUR, {"event": "delivered"})
    _sendgrid(
        s,
        "bounces",
        T0 + HOUR,
        {"event": "bounce", "type": "bounce", "status": "5.1.1", "reason": "550 unknown"},
    )
    _sendgrid(
        s,
        "blocked",
        T0 + HOUR,
        {"event": "bounce", "type": "blocked", "status": "5.7.1", "reason": "554 policy"},
    )
    with Session(s.engine) as session:
        link = s.received("unsubscribes", "email").unsubscribe_link
        assert link is not None
        done = unsubscribe(
            session=session,
            token=token_from_link(link),
            now=T0 + 2 * HOUR,
            method="list-unsubscribe-post",
        )
        session.commit()
    assert done.status == "ok"
    answered = _answer(s, "answers", "email", T0 + 3 * HOUR, consent=True, confirm=BOTH)
    assert answered.completed
    later = _answer(s, "late-consent", "email", T0 + 5 * HOUR, consent=False, confirm=POSTAL)
    assert not later.completed
    open_page(s.engine, token_from_link(s.received("looks-only", "email").link), T0 + 6 * HOUR)
    new = _answer(
        s, "no-email", "sms", T0 + DAY, consent=True, confirm=("mobile", "postal"), new_email=NEW
    )
    assert not new.completed and len(new.challenges) == 1
    assert _confirm_email(s, new.challenges[0].secret, T0 + DAY + HOUR)
    _advance(s, ADVANCES[1])  # the SMS step; new-york held by quiet hours, capped by the cap
    _twilio_status(s, "bounces", ADVANCES[1] + HOUR, "delivered")
    _twilio_status(s, "dead-number", ADVANCES[1] + HOUR, "undelivered", "30005")
    again = _answer(s, "late-consent", "sms", ADVANCES[1] + 2 * HOUR, consent=True, confirm=MOBILE)
    assert again.completed
    _stop(s, "stops", ADVANCES[1] + 3 * HOUR)
    _advance(s, ADVANCES[2])  # the letters
    _advance(s, ADVANCES[3])  # the letters' wait is over: exhausted
    with s.engine.begin() as conn:
        erase_profiles(
            conn, profile_ids=[s.profiles["answers"]], now=ADVANCES[3] + HOUR, actor="steward"
        )
    with session_scope(s.engine) as session:
        finish_round(session=session, round_id=s.round_id, summary={}, actor="steward")
    with s.engine.begin() as conn:
        conn.execute(update(ROUND).where(ROUND.c.id == s.round_id).values(finished_at=FINISHED))


def enrollment_states(engine: Engine, round_id: int) -> dict[int, tuple[str, int, str | None]]:
    """``{profile_id: (state, step_index, wait_reason)}`` of the round."""
    e = ENROLLMENT.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.profile_id, e.state, e.step_index, e.wait_reason).where(e.round_id == round_id)
        )
        return {int(r[0]): (r[1], int(r[2]), r[3]) for r in rows}


def built_world(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Scenario]:
    """The scenario built once on a fresh database of ``request.param`` ("sqlite" or
    "postgresql"), for a module-scoped fixture; the report only reads it."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp / "enrich.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            database = contextmanager(_postgres_database)
            url = stack.enter_context(database(request.getfixturevalue("postgres")))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield build(engine, tmp / "outbox")


def database_url(scenario: Scenario) -> str:
    return scenario.engine.url.render_as_string(hide_password=False)
