"""A whole round offline through SendGrid and Twilio stand-ins: send, delivered, bounced and STOP
events back through the signed webhooks, escalation to the next channel, and completion."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from models.tables import ContactPoint, Enrollment, Outreach, Profile
from models.types import utcnow
from tests.enrich.landing_helpers import csrf_of
from tests.factories import add_profile
from tests.providers.conftest import Setup
from tests.providers.data import add_campaign_round, enroll_all
from tests.providers.sender import advance, send_round
from tests.standins.twilio_state import POOL_NUMBER

T = {t.__tablename__: t.__table__ for t in (Profile, ContactPoint, Enrollment, Outreach)}  # type: ignore[attr-defined]
UNVERIFIED_POSTAL = {"kind": "postal", "status": "unverified"}


def seed(engine: Engine, now) -> tuple[int, dict[str, int]]:
    with engine.begin() as conn:
        ids = {
            # answers through the link in the first email
            "answers": add_profile(
                conn,
                "answers",
                [
                    {"kind": "email", "status": "valid"},
                    {"kind": "mobile", "status": "valid"},
                    UNVERIFIED_POSTAL,
                ],
            ),
            # the email bounces, the SMS gets STOP, the letter goes out
            "bounces": add_profile(
                conn,
                "bounces",
                [
                    {"kind": "email", "status": "valid"},
                    {"kind": "mobile", "status": "valid"},
                    UNVERIFIED_POSTAL,
                ],
            ),
            # never answers and has no mobile: email, then (SMS skipped) a letter
            "silent": add_profile(
                conn, "silent", [{"kind": "email", "status": "valid"}, UNVERIFIED_POSTAL]
            ),
        }
        round_id = add_campaign_round(conn, now)
    enroll_all(engine, round_id, now)
    return round_id, ids


def history(engine: Engine, profile_id: int) -> list[tuple[int, str, str]]:
    o = T["outreach"].c
    with engine.connect() as conn:
        return [
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                select(o.step_index, o.channel, o.status)
                .where(o.profile_id == profile_id)
                .order_by(o.step_index)
            )
        ]


def statuses(engine: Engine, profile_id: int) -> dict[str, str]:
    cp = T["contact_point"].c
    with engine.connect() as conn:
        return dict(
            conn.execute(select(cp.kind, cp.status).where(cp.profile_id == profile_id)).all()
        )


def state_of(engine: Engine, profile_id: int) -> str:
    e = T["enrollment"].c
    with engine.connect() as conn:
        return str(conn.execute(select(e.state).where(e.profile_id == profile_id)).scalar_one())


def test_round_through_the_providers_escalates_and_completes(providers: Setup) -> None:
    engine = get_engine(providers.settings)
    now = utcnow()
    round_id, ids = seed(engine, now)
    providers.sendgrid.bounce.add("bounces@example.org")

    first = send_round(round_id, now)
    assert first.sent == 3
    # Processed, delivered and the bounce, in one batch per request: the silent customer's
    # email names the missing mobile too, so it went in a request of its own wording.
    assert providers.sendgrid.flush_webhooks() == [200, 200]
    [silent] = providers.sendgrid.delivered_to(history_id(engine, ids["silent"]))
    assert "Wij hebben geen mobiel nummer van u." in (silent.text or "")
    assert statuses(engine, ids["bounces"])["email"] == "bounced"

    # The hard bounce made the next step due at once: the SMS goes to the mobile.
    bounced = advance(round_id, now + timedelta(hours=1))
    assert bounced.sent == 1
    [sms] = providers.twilio.messages
    assert sms.to == "+31612345678"
    callbacks = providers.twilio.flush_webhooks()
    assert callbacks and {w.status_code for w in callbacks} == {200}
    stop = providers.twilio.send_inbound(
        f"{providers.app_url}/webhooks/twilio/inbound",
        from_number="+31612345678",
        to=POOL_NUMBER,
        body="STOP",
    )
    assert stop.status_code == 200
    assert statuses(engine, ids["bounces"])["mobile"] == "opted_out"

    # The customer who answers opens the link from the email they got and confirms.
    [delivered] = providers.sendgrid.delivered_to(history_id(engine, ids["answers"]))
    link = re.search(r"https?://\S+/c/[\w-]+", delivered.text or "")
    assert link is not None
    with httpx.Client(trust_env=False) as browser:
        page = browser.get(link.group(0))
        assert page.status_code == 200
        thanks = browser.post(
            link.group(0), data={"csrf_token": csrf_of(page), "postal_action": "confirm"}
        )
        assert thanks.status_code == 200, thanks.text
    assert state_of(engine, ids["answers"]) == "completed"

    # After the response window, the silent customer (no mobile) gets the letter; so does the
    # one whose SMS got STOP; the one who answered gets nothing more.
    later = advance(round_id, now + timedelta(days=6))
    assert (later.sent, later.skipped) == (2, 1)
    assert history(engine, ids["answers"]) == [(0, "email", "sent")]
    assert history(engine, ids["bounces"]) == [
        (0, "email", "failed"),
        (1, "sms", "sent"),
        (2, "letter", "sent"),
    ]
    assert history(engine, ids["silent"]) == [
        (0, "email", "sent"),
        (1, "sms", "skipped"),
        (2, "letter", "sent"),
    ]
    assert advance(round_id, now + timedelta(days=7)).sent == 0
    # Each provider got each message exactly once.
    assert set(providers.sendgrid.accepted_per_outreach().values()) == {1}
    assert len(providers.sendgrid.delivered) == 3
    assert providers.twilio.duplicates() == {} and len(providers.twilio.messages) == 1


def history_id(engine: Engine, profile_id: int) -> int:
    o = T["outreach"].c
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(o.id).where(o.profile_id == profile_id, o.channel == "email")
            ).scalar_one()
        )
