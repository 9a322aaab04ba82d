"""Test data builders: profiles with contact points, rounds, campaigns and enrollments, written
straight to a real database (SQLite or PostgreSQL) the way the application would leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlmodel
import yaml
from sqlalchemy import insert, update
from sqlalchemy.engine import Connection, Engine

from models.campaigns.gaps import GAP_BITS, GAPS
from models.campaigns.spec import CampaignSpec, Step, load_campaign
from models.db import session_scope
from models.rounds.enrollment import create_round, enroll
from models.tables import CAMPAIGN, CONTACT, ENROLLMENT, PROFILE, ROUND, Campaign
from tests.paths import REPO

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MAX_AGE = 730
COOLDOWN = 30
EXHAUSTED_COOLDOWN = 180
# A round that ended ten days before NOW, and an instant before it began.
ENDED = NOW - timedelta(days=10)
BEFORE = ENDED - timedelta(days=31)

# A profile lacking nothing: usable email and mobile, a freshly verified postal address.
COMPLETE = [
    {"kind": "email", "status": "valid"},
    {"kind": "mobile", "status": "valid"},
    {"kind": "postal", "status": "verified", "verified_at": NOW - timedelta(days=10)},
]


def add_profile(
    conn: Connection, external_id: str, contacts: list[dict[str, Any]], **columns: Any
) -> int:
    """Insert one profile and its contact points with plain Core inserts; returns the id."""
    row = {
        "external_id": external_id,
        "given_name": "Test",
        "family_name": external_id,
        "locale": "nl",
        "country": "NL",
        "created_at": NOW,
        "updated_at": NOW,
        **columns,
    }
    profile_id = int(conn.execute(insert(PROFILE).values(**row)).inserted_primary_key[0])
    values = {
        "email": f"{external_id}@example.org",
        "mobile": "+31612345678",
        "postal": "Dorpsstraat 1",
    }
    for cp in contacts:
        postal = (
            {
                "street": "Dorpsstraat",
                "house_number": "1",
                "postal_code": "1234 AB",
                "city": "Amsterdam",
                "country": "NL",
            }
            if cp["kind"] == "postal"
            else {}
        )
        conn.execute(
            insert(CONTACT).values(
                profile_id=profile_id,
                value=values[cp["kind"]],
                is_primary=True,
                created_at=NOW,
                updated_at=NOW,
                **postal,
                **cp,
            )
        )
    return profile_id


def replace(
    contacts: list[dict[str, Any]], kind: str, *new: dict[str, Any]
) -> list[dict[str, Any]]:
    """COMPLETE with the contact points of ``kind`` replaced by ``new``."""
    return [c for c in contacts if c["kind"] != kind] + list(new)


def add_round(conn: Connection) -> int:
    campaign = CAMPAIGN
    rnd = ROUND
    cid = conn.execute(
        insert(campaign).values(key="t", version=1, content_hash="x", definition={}, created_at=NOW)
    ).inserted_primary_key[0]
    return int(
        conn.execute(
            insert(rnd).values(campaign_id=cid, started_by="test", status="running", started_at=NOW)
        ).inserted_primary_key[0]
    )


def spec(gaps: tuple[str, ...] | list[str] = GAPS) -> CampaignSpec:
    return CampaignSpec(
        key="t",
        name="T",
        gaps=list(gaps),
        ladder=[
            Step(channel="email", wait_days=5),
            Step(channel="sms", wait_days=5),
            Step(channel="letter", wait_days=21),
        ],
    )


def default_campaign(*more_gaps: str) -> CampaignSpec:
    """``campaigns/default.yaml`` widened by ``more_gaps``, as a steward would edit the file:
    for tests whose customers' only gap is one the default leaves out."""
    default = load_campaign(REPO / "campaigns" / "default.yaml")
    return CampaignSpec.model_validate(
        {**default.model_dump(), "gaps": [*default.gaps, *more_gaps]}
    )


def widened_campaign_file(path: Path, *more_gaps: str) -> Path:
    """:func:`default_campaign` written to ``path``, for ``ENRICH_CAMPAIGN_FILE``."""
    spec = default_campaign(*more_gaps)
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json")), encoding="utf-8")
    return path


def add_enrollment(
    conn: Connection,
    profile_id: int,
    state: str,
    *,
    ended_at: datetime | None = None,
    round_status: str = "running",
) -> int:
    round_id = add_round(conn)
    if round_status != "running":
        rnd = ROUND
        conn.execute(update(rnd).where(rnd.c.id == round_id).values(status=round_status))
    return int(
        conn.execute(
            insert(ENROLLMENT).values(
                round_id=round_id,
                profile_id=profile_id,
                state=state,
                gap_mask=GAP_BITS["missing_email"],
                step_index=2 if state != "active" else 0,
                created_at=BEFORE,
                updated_at=ended_at or BEFORE,
                ended_at=ended_at,
            )
        ).inserted_primary_key[0]
    )


def backdate(conn: Connection, profile_id: int, when: datetime) -> None:
    """The profile and its contact points were last written at ``when``."""
    conn.execute(
        update(PROFILE).where(PROFILE.c.id == profile_id).values(created_at=when, updated_at=when)
    )
    conn.execute(
        update(CONTACT)
        .where(CONTACT.c.profile_id == profile_id)
        .values(created_at=when, updated_at=when)
    )


def start_round(engine: Engine, started_by: str = "steward") -> int:
    with session_scope(engine) as session:
        campaign = session.exec(sqlmodel.select(Campaign)).first()
        if campaign is None:
            campaign = Campaign(key="t", version=1, content_hash="x", definition={})
            session.add(campaign)
            session.flush()
        round_ = create_round(
            session=session, campaign=campaign, started_by=started_by, parameters={"limit": None}
        )
        assert round_.id is not None
        return round_.id


def enrol(engine: Engine, round_id: int, **kwargs: object) -> int:
    options: dict[str, object] = {"batch_size": 2, **kwargs}
    return enroll(
        conn=engine,
        round_id=round_id,
        spec=spec(),
        now=NOW,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        **options,
    )  # type: ignore[arg-type]
