"""Test data for the landing-page rules: a profile enrolled in a campaign, reached by a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from models.answers.link_tokens import issue_link_tokens
from models.campaigns.gaps import gap_mask
from models.campaigns.spec import CampaignSpec, Purpose, Step
from models.consent.notices import ShownNotice, load_notice
from models.tables import (
    CAMPAIGN,
    CONTACT,
    ENROLLMENT,
    OUTREACH,
    ROUND,
    AuditEvent,
    Consent,
    ContactPoint,
    Submission,
    VerificationToken,
)
from tests.factories import add_profile
from tests.paths import REPO

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STARTED = NOW - timedelta(days=2)
SECRET = b"test-code-secret"

SPEC = CampaignSpec(
    key="t",
    name="T",
    gaps=["missing_email", "bounced_email", "missing_mobile", "unverified_postal"],
    ladder=[Step(channel="email", wait_days=5), Step(channel="sms", wait_days=5)],
    purposes=[
        # The versions of the notice files in templates/notices/ (the page shows their text).
        Purpose(key="service", required=True, text_version="2026-01"),
        Purpose(key="newsletter", text_version="2026-01"),
    ],
)


def shown(*purposes: str, spec: CampaignSpec = SPEC, locale: str = "nl") -> dict[str, ShownNotice]:
    """The notices the landing page shows for ``purposes``: the files in templates/notices/."""
    versions = {p.key: p.text_version for p in spec.purposes}
    notices = {}
    for purpose in purposes:
        notice = load_notice(
            REPO / "templates", purpose=purpose, version=versions[purpose], locale=locale
        )
        notices[purpose] = ShownNotice(notice.version, locale, notice.sha256)
    return notices


@dataclass
class Case:
    profile_id: int
    enrollment_id: int
    outreach_id: int
    token: str
    points: dict[str, int]  # kind -> contact point id


def make_case(
    engine: Engine,
    contacts: list[dict[str, Any]],
    *,
    gaps: list[str],
    channel: str = "email",
    spec: CampaignSpec = SPEC,
    ttl_days: int = 30,
) -> Case:
    """A profile with ``contacts``, an active enrollment for ``gaps`` and one sent message."""
    with engine.begin() as conn:
        pid = add_profile(conn, "p1", contacts)
        cid = conn.execute(
            insert(CAMPAIGN).values(
                key=spec.key,
                version=1,
                content_hash=spec.content_hash(),
                definition=spec.model_dump(mode="json"),
                created_at=STARTED,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        rid = conn.execute(
            insert(ROUND).values(
                campaign_id=cid, started_by="test", status="running", started_at=STARTED
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        eid = conn.execute(
            insert(ENROLLMENT).values(
                round_id=rid,
                profile_id=pid,
                state="active",
                gap_mask=gap_mask(gaps),
                step_index=0,
                next_due_at=NOW + timedelta(days=3),
                created_at=STARTED,
                updated_at=STARTED,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        cp_rows = conn.execute(
            select(CONTACT.c.id, CONTACT.c.kind).where(CONTACT.c.profile_id == pid)
        ).all()
        points = {kind: cp_id for cp_id, kind in cp_rows}
        kind = {"email": "email", "sms": "mobile", "letter": "postal"}[channel]
        oid = conn.execute(
            insert(OUTREACH).values(
                enrollment_id=eid,
                profile_id=pid,
                contact_point_id=points.get(kind),
                step_index=0,
                channel=channel,
                template="ask",
                status="sent",
                created_at=STARTED,
                sent_at=STARTED,
                updated_at=STARTED,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        token = issue_link_tokens(conn, items=[(pid, oid)], ttl_days=ttl_days, now=STARTED)[oid]
    return Case(pid, eid, oid, token, points)


def counts(engine: Engine) -> dict[str, int]:
    tables = [ContactPoint, Consent, Submission, AuditEvent, VerificationToken]
    with engine.connect() as conn:
        result = {
            t.__tablename__: conn.execute(  # type: ignore[attr-defined]
                select(func.count()).select_from(t)
            ).scalar_one()
            for t in tables
        }
        result["used_tokens"] = conn.execute(
            select(func.count())
            .select_from(VerificationToken)
            .where(VerificationToken.used_at.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()
    return result


# add_profile gives email p1@example.org, mobile +31612345678, postal Dorpsstraat 1, 1234 AB.
EMAIL_OK: dict[str, Any] = {"kind": "email", "status": "valid"}
MOBILE_OK: dict[str, Any] = {"kind": "mobile", "status": "valid"}
POSTAL_OK: dict[str, Any] = {
    "kind": "postal",
    "status": "verified",
    "verified_at": NOW - timedelta(days=10),
}
