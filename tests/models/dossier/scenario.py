"""A customer's history built through the real code paths, for the dossier tests.

Alice and Bob are imported from ``customers.csv``; ``update.csv`` changes Alice's email. A round
of the default campaign emails both through the outbox; SendGrid reports Alice's email bounced,
so the SMS step goes out to her at once; she opens its link, confirms her mobile, enters a new
email, grants the service consent and refuses the newsletter, then opens the confirmation link
mailed to the new address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from enrich.runtime import get_engine
from enrich.settings import Settings
from models.campaigns.spec import sync_campaign
from models.db import session_scope
from models.feedback.delivery_events import ingest_events
from models.importing.apply_rows import import_csv
from models.rounds.enrollment import create_round, enroll
from models.tables import OUTREACH, PROFILE
from models.types import utcnow
from outreach.providers.sendgrid.events import sendgrid_events
from tests.enrich.landing_helpers import client_for, csrf_of, email_text, emails, sms_bodies, submit
from tests.factories import default_campaign
from tests.providers.sender import advance, send_round

HEADER = (
    "external_id,given_name,family_name,email,mobile,street,house_number,postal_code,city,country"
)
ALICE_OLD_EMAIL = "alice.old@example.org"
ALICE_EMAIL = "alice@example.org"  # from update.csv; it bounces
ALICE_NEW_EMAIL = "alice.new@example.net"  # entered on the landing page, then confirmed
ALICE_MOBILE = "+31612345678"
BOB = ("bob-2", "Robert", "Bobson", "bob.bobson@example.com", "+31687654321", "Kerkweg")
BOUNCE_REASON = "550 5.1.1 mailbox does not exist"


@dataclass(frozen=True)
class Scenario:
    alice: int
    bob: int
    round_id: int
    email_outreach: int
    sms_outreach: int
    started: datetime


def _import(settings: Settings, folder: Path, name: str, lines: list[str], now: datetime) -> None:
    path = folder / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    report = import_csv(
        engine=get_engine(settings),
        path=path,
        source_name=name,
        default_region=settings.default_region,
        supported_locales=settings.supported_locales,
        default_locale=settings.default_locale,
        now=now,
    )
    assert not report.rows_rejected and not report.invalid_values, report


def _bob_line() -> str:
    eid, given, family, email, mobile, street = BOB
    return f"{eid},{given},{family},{email},{mobile},{street},7,1011 AB,Amsterdam,NL"


def import_customers(
    settings: Settings, folder: Path, now: datetime, *, alice_given: str = "Alice"
) -> None:
    alice = f"alice-1,{alice_given},Jansen,{{email}},06 1234 5678,Dorpsstraat,1,1234 AB,Utrecht,NL"
    first = [alice.format(email=ALICE_OLD_EMAIL), _bob_line()]
    _import(settings, folder, "customers.csv", first, now - timedelta(days=30))
    _import(settings, folder, "update.csv", [_bob_line(), alice.format(email=ALICE_EMAIL)], now)


def _profile_id(settings: Settings, external_id: str) -> int:
    with get_engine(settings).connect() as conn:
        query = select(PROFILE.c.id).where(PROFILE.c.external_id == external_id)
        return int(conn.execute(query).scalar_one())


def _outreach(settings: Settings, profile_id: int, channel: str) -> int:
    with get_engine(settings).connect() as conn:
        query = select(OUTREACH.c.id).where(
            OUTREACH.c.profile_id == profile_id, OUTREACH.c.channel == channel
        )
        return int(conn.execute(query).scalar_one())


def start_round(settings: Settings, now: datetime) -> int:
    engine = get_engine(settings)
    # Both have an email, a mobile and an address not yet verified: the default campaign widened
    # to that gap selects them.
    spec = default_campaign("unverified_postal")
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=spec)
        round_ = create_round(
            session=session, campaign=campaign, started_by="steward", parameters={}
        )
        assert round_.id is not None
        round_id = round_.id
    enroll(
        conn=engine,
        round_id=round_id,
        spec=spec,
        now=now,
        max_age_days=settings.verification_max_age_days,
        cooldown_days=settings.cooldown_days,
        exhausted_cooldown_days=settings.exhausted_cooldown_days,
        batch_size=settings.batch_size,
    )
    return round_id


def bounce(settings: Settings, outreach_id: int, at: datetime) -> None:
    payload = [
        {
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": f"bounce-{outreach_id}",
            "sg_message_id": "msg-1.filter",
            "outreach_id": str(outreach_id),
            "email": ALICE_EMAIL,
            "timestamp": int(at.timestamp()),
            "reason": BOUNCE_REASON,
        }
    ]
    with Session(get_engine(settings)) as session:
        ingest_events(session=session, events=sendgrid_events(payload), now=at)
        session.commit()


def answer_by_sms(settings: Settings) -> None:
    [sms] = [s for s in sms_bodies(settings) if s["to"] == ALICE_MOBILE]
    link = re.search(r"/c/([A-Za-z0-9_-]+)", sms["body"])
    assert link, sms["body"]
    with client_for(settings) as client:
        form = {
            "mobile_action": "confirm",
            "email_action": "change",
            "email": ALICE_NEW_EMAIL,
            "consent_service_sms": "granted",
            "consent_newsletter_sms": "withdrawn",
        }
        thanks = submit(client, link.group(1), form)
        assert thanks.status_code == 200 and 'id="email-sent"' in thanks.text, thanks.text
        [mail] = [m for m in emails(settings) if m["To"].addresses[0].addr_spec == ALICE_NEW_EMAIL]
        confirm = re.search(r"https://enrich\.example\.org(/e/[A-Za-z0-9_-]+)", email_text(mail))
        assert confirm
        page = client.get(confirm.group(1))
        done = client.post(confirm.group(1), data={"csrf_token": csrf_of(page)})
        assert done.status_code == 200 and 'id="email-verified"' in done.text


def build(settings: Settings, folder: Path, *, alice_given: str = "Alice") -> Scenario:
    """The whole history above; returns the ids the tests look for."""
    started = utcnow() - timedelta(hours=1)  # the round ran before the customer answered
    import_customers(settings, folder, started - timedelta(days=1), alice_given=alice_given)
    alice, bob = _profile_id(settings, "alice-1"), _profile_id(settings, BOB[0])
    round_id = start_round(settings, started)
    assert send_round(round_id, started).sent == 2
    email = _outreach(settings, alice, "email")
    bounce(settings, email, started + timedelta(minutes=1))
    assert advance(round_id, started + timedelta(minutes=2)).sent == 1
    sms = _outreach(settings, alice, "sms")
    answer_by_sms(settings)
    return Scenario(alice, bob, round_id, email, sms, started)
