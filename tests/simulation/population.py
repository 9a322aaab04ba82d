"""The simulated population: behaviour groups, each customer's script, and their profiles.

Day 0 is Friday 18 December 2026; the round starts at 18:00 UTC (19:00 in Amsterdam, 13:00 in
New York, 03:00 on Saturday in Tokyo), so weekends, quiet hours and the Christmas and New
Year holidays all fall inside the 60 simulated days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from models.tables import CONTACT, PROFILE

DAY0 = datetime(2026, 12, 18, tzinfo=UTC)  # a Friday
START = DAY0 + timedelta(hours=18)
DAYS = 60
END = START + timedelta(days=DAYS)
TICK = timedelta(hours=1)
NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"

# What a profile may lack. Every profile lacks a verified postal address (the gap that a
# confirmation on the landing page closes); one lacking "address" has only an invalid one, so
# its letter step is skipped.
LACKS = ("email", "mobile", "address")


def at(day: int, hour: int) -> datetime:
    """``hour``:00 UTC on simulation day ``day``."""
    return DAY0 + timedelta(days=day, hours=hour)


@dataclass(frozen=True)
class Answer:
    """The customer opens the link of their ``via`` message and confirms their address;
    ``consent`` False leaves the campaign's required question unanswered."""

    at: datetime
    via: str
    consent: bool = True


@dataclass(frozen=True)
class Moment:
    """Another system contacts the customer and asks for an Enrich re-ask to carry along."""

    at: datetime
    channel: str
    context: str


@dataclass(frozen=True)
class Script:
    group: str
    lacks: tuple[str, ...] = ()
    time_zone: str | None = None
    answer: Answer | None = None
    bounce_at: datetime | None = None  # the ladder email hard-bounces (SendGrid event)
    stop_at: datetime | None = None  # the customer replies STOP (Twilio inbound message)
    unsubscribe_at: datetime | None = None  # one-click unsubscribe from the ladder email
    dead_number_at: datetime | None = None  # Twilio reports the SMS undeliverable
    moments: tuple[Moment, ...] = ()


@dataclass(frozen=True)
class Customer:
    index: int
    script: Script

    @property
    def external_id(self) -> str:
        return f"sim-{self.index:03d}-{self.script.group}"

    @property
    def email(self) -> str:
        return f"customer{self.index:03d}@example.org"

    @property
    def mobile(self) -> str:
        return f"+3161{self.index:07d}"


_CAPPED_BY_EMAIL_MOMENTS = (
    Moment(at(1, 12), "email", "invoice"),
    Moment(at(3, 12), "email", "reminder"),
    Moment(at(4, 12), "email", "service"),  # refused: 3 emails in 30 days
)
_CAPPED_BY_SMS_MOMENTS = (
    Moment(at(1, 12), "sms", "invoice"),
    Moment(at(3, 12), "sms", "reminder"),
)

# (script, how many customers follow it)
GROUPS: tuple[tuple[Script, int], ...] = (
    (Script("answers-day-2", answer=Answer(at(2, 10), "email")), 3),
    (
        Script(
            "answers-day-2-then-moment",
            answer=Answer(at(2, 10), "email"),
            moments=(Moment(at(5, 12), "email", "invoice"),),  # nothing left to ask
        ),
        1,
    ),
    (Script("answers-day-8", answer=Answer(at(8, 11), "sms")), 3),
    (Script("answers-day-15", answer=Answer(at(15, 9), "email")), 2),
    (Script("answers-without-consent", answer=Answer(at(2, 10), "email", consent=False)), 1),
    (Script("bounces-day-1", bounce_at=at(1, 10)), 2),
    (Script("bounces-day-1-no-address", lacks=("address",), bounce_at=at(1, 10)), 1),
    (
        Script(
            "stop-day-7",
            stop_at=at(7, 12),
            moments=(Moment(at(8, 12), "sms", "reminder"),),  # refused: opted out of SMS
        ),
        2,
    ),
    (Script("stop-day-7-no-address", lacks=("address",), stop_at=at(7, 12)), 1),
    (
        Script(
            "unsubscribes-day-1",
            unsubscribe_at=at(1, 9),
            moments=(Moment(at(3, 12), "email", "invoice"),),  # refused: opted out of email
        ),
        1,
    ),
    (Script("dead-number-day-6", dead_number_at=at(6, 15)), 1),
    (Script("never-answers"), 3),
    (Script("never-answers-no-address", lacks=("address",)), 2),
    (Script("no-email", lacks=("email",)), 2),
    (Script("no-email-no-address", lacks=("email", "address")), 1),
    (Script("no-mobile", lacks=("mobile",)), 2),
    (Script("new-york-never-answers", time_zone=NEW_YORK), 1),
    (Script("new-york-answers-day-2", time_zone=NEW_YORK, answer=Answer(at(2, 10), "email")), 1),
    (Script("new-york-bounces", time_zone=NEW_YORK, bounce_at=at(1, 2)), 1),
    (Script("new-york-bounces-no-address", ("address",), NEW_YORK, bounce_at=at(1, 2)), 1),
    (Script("tokyo-never-answers", time_zone=TOKYO), 1),
    (Script("tokyo-answers-day-2", time_zone=TOKYO, answer=Answer(at(2, 10), "email")), 1),
    (Script("tokyo-no-email", ("email",), TOKYO), 1),
    (Script("tokyo-no-mobile-no-address", ("mobile", "address"), TOKYO), 1),
    (Script("capped-by-email-moments", moments=_CAPPED_BY_EMAIL_MOMENTS), 2),
    (Script("capped-by-sms-moments", moments=_CAPPED_BY_SMS_MOMENTS), 1),
)


def population() -> list[Customer]:
    out: list[Customer] = []
    for script, count in GROUPS:
        for _ in range(count):
            out.append(Customer(len(out) + 1, script))
    return out


def _contacts(customer: Customer) -> list[dict[str, Any]]:
    lacks = customer.script.lacks
    address = {
        "street": "Dorpsstraat",
        "house_number": str(customer.index),
        "postal_code": "1234 AB",
        "city": "Amsterdam",
        "country": "NL",
    }
    rows: list[dict[str, Any]] = []
    if "email" not in lacks:
        rows.append({"kind": "email", "value": customer.email, "status": "valid"})
    if "mobile" not in lacks:
        rows.append({"kind": "mobile", "value": customer.mobile, "status": "valid"})
    if "address" in lacks:
        rows.append(
            {
                "kind": "postal",
                "value": "Dorpsstraat",
                "status": "invalid",
                "invalid_reason": "address: missing house number",
                **address,
                "house_number": None,
            }
        )
    else:
        rows.append(
            {"kind": "postal", "value": f"Dorpsstraat {customer.index}", "status": "unverified"}
            | address
        )
    return rows


def seed(engine: Engine, customers: list[Customer], *, now: datetime) -> dict[str, int]:
    """Insert every customer's profile and contact points; ``{external_id: profile_id}``."""
    ids: dict[str, int] = {}
    stamps = {"created_at": now - timedelta(days=400), "updated_at": now - timedelta(days=400)}
    with engine.begin() as conn:
        for customer in customers:
            profile_id = int(
                conn.execute(
                    insert(PROFILE)
                    .values(
                        external_id=customer.external_id,
                        given_name="Sim",
                        family_name=f"Customer {customer.index}",
                        locale="nl",
                        country="NL",
                        time_zone=customer.script.time_zone,
                        **stamps,
                    )
                    .returning(PROFILE.c.id)
                ).scalar_one()
            )
            ids[customer.external_id] = profile_id
            conn.execute(
                insert(CONTACT),
                [
                    {"profile_id": profile_id, "is_primary": True, **stamps, **row}
                    for row in _contacts(customer)
                ],
            )
    return ids
