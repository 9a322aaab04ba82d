"""A round of the example prize-draw campaign (without consent questions, so a verified email
completes an enrollment) with customers enrolled for a missing email, on a real database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine

from models.campaigns.gaps import GAP_BITS
from models.campaigns.spec import CampaignSpec, load_campaign, sync_campaign
from models.db import session_scope
from models.incentives.terms import ShownTerms, load_terms
from models.rounds.enrollment import create_round
from models.tables import CONTACT, ENROLLMENT
from tests.factories import NOW, add_profile
from tests.paths import REPO

TEMPLATES = REPO / "templates"
SPEC = CampaignSpec.model_validate(
    {**load_campaign(REPO / "campaigns" / "prize-draw.yaml").model_dump(), "purposes": []}
)


def shown(locale: str = "nl") -> ShownTerms:
    terms = load_terms(TEMPLATES, key="gift-vouchers", version="2026-12", locale=locale)
    return ShownTerms(terms.key, terms.version, terms.sha256)


@dataclass(frozen=True)
class Customer:
    profile_id: int
    enrollment_id: int
    external_id: str


def start(engine: Engine, spec: CampaignSpec = SPEC) -> int:
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=spec)
        round_ = create_round(session=session, campaign=campaign, started_by="t", parameters={})
        assert round_.id is not None
        return round_.id


def customer(engine: Engine, round_id: int, name: str, state: str = "active") -> Customer:
    """A customer without an email address (only a mobile), enrolled in the round."""
    with engine.begin() as conn:
        pid = add_profile(conn, name, [{"kind": "mobile", "status": "valid"}])
        eid = conn.execute(
            insert(ENROLLMENT).values(
                round_id=round_id,
                profile_id=pid,
                state=state,
                gap_mask=GAP_BITS["missing_email"],
                step_index=0,
                created_at=NOW - timedelta(days=1),
                updated_at=NOW - timedelta(days=1),
            )
        ).inserted_primary_key[0]
    return Customer(pid, int(eid), name)


def verify_email(engine: Engine, c: Customer) -> None:
    """The customer proved an email address: what closes their gap."""
    with engine.begin() as conn:
        conn.execute(
            insert(CONTACT).values(
                profile_id=c.profile_id, kind="email", value=f"{c.external_id}@example.org",
                status="verified", verified_at=NOW, is_primary=True, created_at=NOW,
                updated_at=NOW,
            )
        )  # fmt: skip


def set_state(engine: Engine, c: Customer, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(ENROLLMENT).where(ENROLLMENT.c.id == c.enrollment_id).values(state=state)
        )
