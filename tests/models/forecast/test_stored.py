"""The forecast kept with its round: written once, when the round starts."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.forecast.stored import store_forecast
from models.tables import ROUND
from tests.factories import start_round


def test_a_round_keeps_the_first_forecast_stored(engine: Engine) -> None:
    round_id = start_round(engine)
    with engine.begin() as conn:
        assert store_forecast(conn, round_id, {"basis": "defaults", "selected": 3}) is True
        assert store_forecast(conn, round_id, {"basis": "observed", "selected": 9}) is False
    with engine.connect() as conn:
        stored = conn.execute(select(ROUND.c.forecast).where(ROUND.c.id == round_id)).scalar_one()
    assert stored == {"basis": "defaults", "selected": 3}


def test_storing_for_an_unknown_round_says_so(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(LookupError, match="round 99 does not exist"):
        store_forecast(conn, 99, {"basis": "defaults"})
