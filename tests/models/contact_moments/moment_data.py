"""Profiles, asks and read-back helpers the contact-moment tests share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.scheduling.caps import CapPolicy
from models.tables import AuditEvent, Campaign, Enrollment, Outreach, Round, VerificationToken
from outreach.config import OutreachConfig
from outreach.contact_moments import MomentAsk, MomentResult, contact_moment
from tests.factories import add_profile
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, NOW, POSTAL_OK, SPEC

POLICY = CapPolicy()  # 4 in 30 days; email 3, sms 2, letter 1
POSTAL_UNVERIFIED: dict[str, Any] = {"kind": "postal", "status": "unverified"}
GAPPY = [EMAIL_OK, MOBILE_OK, POSTAL_UNVERIFIED]  # SPEC's only open gap: unverified_postal
FULL = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
TABLES = (Outreach, Enrollment, Round, Campaign, VerificationToken, AuditEvent)


def ask(
    engine: Engine,
    config: OutreachConfig,
    external_id: str = "p1",
    *,
    channel: str = "email",
    context: str = "invoice",
    now: Any = NOW,
    policy: CapPolicy = POLICY,
) -> MomentResult:
    return contact_moment(
        engine,
        external_id=external_id,
        channel=channel,
        context=context,
        now=now,
        spec=SPEC,
        policy=policy,
        config=config,
        max_age_days=730,
    )


def the_ask(result: MomentResult) -> MomentAsk:
    assert result.ask is not None, result
    return result.ask


def profile(
    engine: Engine, contacts: list[dict[str, Any]], external_id: str = "p1", **kw: Any
) -> int:
    with engine.begin() as conn:
        return add_profile(conn, external_id, contacts, **kw)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[attr-defined]
            for t in TABLES
        }


def rows(engine: Engine, model: Any, **where: Any) -> list[Any]:
    with Session(engine) as session:
        query = select(model).filter_by(**where).order_by(model.id)
        return list(session.exec(query).scalars().all())  # type: ignore[call-overload]
