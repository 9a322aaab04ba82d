"""The landing page notes when a personal link first opened it (the report's "link opened")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from models.tables import TOKEN
from tests.enrich.landing_helpers import client_for, submit
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, SPEC, make_case

FULL = [EMAIL_OK, MOBILE_OK, POSTAL_OK]


def opened_at(engine: Engine, outreach_id: int) -> datetime | None:
    with engine.connect() as conn:
        found: datetime | None = conn.execute(
            select(TOKEN.c.opened_at).where(TOKEN.c.outreach_id == outreach_id)
        ).scalar_one()
        return found


def test_the_first_opening_of_a_link_is_kept(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    assert opened_at(engine, case.outreach_id) is None
    with client_for(settings) as client:
        assert client.get(f"/c/{case.token}").status_code == 200
        first = opened_at(engine, case.outreach_id)
        assert first is not None
        assert client.get(f"/c/{case.token}?lang=en").status_code == 200  # a reload
        assert submit(client, case.token, {"postal_action": "confirm"}).status_code == 200
        again = client.get(f"/c/{case.token}")  # used now: it still opens, until it expires
        assert again.status_code == 200 and 'id="sent-before"' in again.text
    assert opened_at(engine, case.outreach_id) == first


def test_an_expired_link_is_not_counted_as_opened(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], ttl_days=1, spec=SPEC)
    with client_for(settings) as client:
        assert client.get(f"/c/{case.token}").status_code == 404
    assert opened_at(engine, case.outreach_id) is None
