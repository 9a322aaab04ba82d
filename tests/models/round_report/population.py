"""The round the report tests read: its campaign, clock, customers and an earlier round.

The customers and what each does are in the table of :mod:`tests.models.round_report.scenario`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from models.campaigns.spec import CampaignSpec, Costs, Purpose, Step
from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy
from models.tables import CAMPAIGN, CONTACT, ENROLLMENT, OUTREACH, PROFILE, ROUND
from tests.paths import REPO

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ADVANCES = (T0, T0 + 2 * DAY, T0 + 4 * DAY, T0 + 7 * DAY)
FINISHED = T0 + 7 * DAY + 2 * HOUR
NOW = T0 + 8 * DAY
EARLIER = T0 - 6 * DAY  # the earlier round (another campaign) started then
SECRET = b"report-code-secret"
BOTH, POSTAL, MOBILE = ("email", "postal"), ("postal",), ("mobile",)
NEW = "no-email-new@example.org"
FIXTURES = REPO / "tests" / "fixtures"

SPEC = CampaignSpec(
    key="report",
    name="Report",
    gaps=[
        "missing_email",
        "bounced_email",
        "invalid_email",
        "missing_mobile",
        "invalid_mobile",
        "unverified_postal",
        "stale_verification",
    ],
    ladder=[
        Step(channel="email", wait_days=2),
        Step(channel="sms", wait_days=2),
        Step(channel="letter", wait_days=3),
    ],
    purposes=[Purpose(key="service", required=True, text_version="2026-01")],
    costs=Costs(currency="EUR", per_message={"email": 0.01, "sms": 0.08, "letter": 0.9}),
)
EARLIER_SPEC = SPEC.model_copy(update={"key": "earlier", "costs": None, "purposes": []})
# What `enrich round plan` would have kept with the round (the shape of models.forecast).
FORECAST: dict[str, Any] = {
    "campaign": {"key": "report", "version": 1},
    "made_at": T0.isoformat(),
    "basis": "defaults",
    "observed_rounds": [],
    "currency": "EUR",
    "selected": 11,
    "steps": [
        {"step": 1, "channel": "email", "messages": 10, "cost": 0.1, "verified": 3},
        {"step": 2, "channel": "sms", "messages": 7, "cost": 0.56, "verified": 1},
        {"step": 3, "channel": "letter", "messages": 5, "cost": 4.5, "verified": 1},
    ],
    "total": {"messages": 22, "letters": 5, "cost": 5.16, "verified": 5, "completed": 4},
}
RESPECT = Respect(
    windows=WindowPolicy(
        email=SendWindow(time(0), time(0), frozenset(range(7))),
        sms=SendWindow(time(9), time(20), frozenset(range(7))),
        letter_days=frozenset(range(7)),
        letter_cutoff=time(0),
        holiday_country=None,
    ),
    caps=CapPolicy(period_days=30, max_messages=10, per_channel={"sms": 1}),
    default_zone=ZoneInfo("Europe/Amsterdam"),
)

# name: (country, locale, time zone, {kind: (status, verified_at)})
UNVERIFIED = ("unverified", None)
VALID = ("valid", None)
CUSTOMERS: dict[str, tuple[str, str, str | None, dict[str, tuple[str, datetime | None]]]] = {
    "answers": ("NL", "nl", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "late-consent": ("BE", "fr", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "bounces": (
        "NL",
        "nl",
        None,
        {"email": ("verified", T0 - 1000 * DAY), "mobile": VALID, "postal": UNVERIFIED},
    ),
    "stops": ("DE", "de", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "dead-number": ("NL", "en", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "no-email": ("NL", "nl", None, {"mobile": VALID, "postal": UNVERIFIED}),
    "new-york": (
        "US",
        "en",
        "America/New_York",
        {"email": VALID, "mobile": VALID, "postal": UNVERIFIED},
    ),
    "capped": ("NL", "nl", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "looks-only": (
        "NL",
        "nl",
        None,
        {"email": ("verified", T0 - 10 * DAY), "mobile": VALID, "postal": UNVERIFIED},
    ),
    "unsubscribes": ("NL", "nl", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
    "blocked": ("NL", "nl", None, {"email": VALID, "mobile": VALID, "postal": UNVERIFIED}),
}


def email_of(name: str) -> str:
    return f"{name}@example.org"


def mobile_of(name: str) -> str:
    return f"+3161{list(CUSTOMERS).index(name):07d}"


def seed(conn: Connection) -> dict[str, int]:
    ids: dict[str, int] = {}
    stamps = {"created_at": T0 - 400 * DAY, "updated_at": T0 - 400 * DAY}
    for index, (name, (country, locale, zone, points)) in enumerate(CUSTOMERS.items()):
        profile_id = conn.execute(
            insert(PROFILE).values(
                external_id=f"report-{index}",
                given_name="Report",
                family_name=name,
                locale=locale,
                country=country,
                time_zone=zone,
                **stamps,
            )
        ).inserted_primary_key[0]
        ids[name] = int(profile_id)
        for kind, (status, verified_at) in points.items():
            value = {"email": email_of(name), "mobile": mobile_of(name)}.get(kind, f"Weg {index}")
            postal = (
                {
                    "street": "Weg",
                    "house_number": str(index + 1),
                    "postal_code": "1234 AB",
                    "city": "Amsterdam",
                    "country": "NL",
                }
                if kind == "postal"
                else {}
            )
            conn.execute(
                insert(CONTACT).values(
                    profile_id=profile_id,
                    kind=kind,
                    value=value,
                    status=status,
                    verified_at=verified_at,
                    is_primary=True,
                    **postal,
                    **stamps,
                )
            )
    return ids


def earlier_rounds(conn: Connection, profile_id: int) -> tuple[int, int]:
    """A round of another campaign that sent ``capped`` an SMS 5 days before T0 and completed,
    and a standing contact-moment round; their ids."""
    campaign_id = conn.execute(
        insert(CAMPAIGN).values(
            key=EARLIER_SPEC.key,
            version=1,
            content_hash=EARLIER_SPEC.content_hash(),
            definition=EARLIER_SPEC.model_dump(mode="json"),
            created_at=EARLIER,
        )
    ).inserted_primary_key[0]
    round_id = conn.execute(
        insert(ROUND).values(
            campaign_id=campaign_id,
            started_by="steward",
            status="finished",
            parameters={"max_age_days": 730},
            started_at=EARLIER,
            finished_at=EARLIER + 3 * DAY,
        )
    ).inserted_primary_key[0]
    enrollment_id = conn.execute(
        insert(ENROLLMENT).values(
            round_id=round_id,
            profile_id=profile_id,
            state="completed",
            gap_mask=1,
            step_index=0,
            end_reason="goal met",
            created_at=EARLIER,
            updated_at=EARLIER + 3 * DAY,
            ended_at=EARLIER + 3 * DAY,
        )
    ).inserted_primary_key[0]
    conn.execute(
        insert(OUTREACH).values(
            enrollment_id=enrollment_id,
            round_id=round_id,
            profile_id=profile_id,
            step_index=0,
            channel="sms",
            template="ask",
            status="sent",
            created_at=T0 - 5 * DAY,
            sent_at=T0 - 5 * DAY,
            updated_at=T0 - 5 * DAY,
        )
    )
    # A contact-moment round: never in a report unless asked for by id.
    standing = conn.execute(
        insert(ROUND).values(
            campaign_id=campaign_id,
            started_by="system",
            status="standing",
            started_at=EARLIER,
        )
    ).inserted_primary_key[0]
    return int(round_id), int(standing)
