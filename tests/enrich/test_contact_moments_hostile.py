"""POST /api/contact-moments with a valid key and a hostile body answers 4xx, never 500."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from tests.enrich.test_contact_moments_api import EXTERNAL_ID, GAPPY, KEY, client, outreach_count
from tests.factories import add_profile


@pytest.fixture
def customer(engine: Engine) -> int:
    with engine.begin() as conn:
        return add_profile(conn, EXTERNAL_ID, GAPPY)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"external_id": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"external_id": "CRM-000417", "channel": "email", "context": "invoice", "x": '
        + b'{"a": ' * 100
        + b"1"
        + b"}" * 101,
        b'{"external_id": "\\ud800", "channel": "email", "context": "invoice"}',
        b'{"external_id": "CRM-000417", "channel": "email", "context": "invoice", "\\udfff": 1}',
        b'{"external_id": "CRM-000417", "channel": "email", "context": NaN}',
    ],
    ids=["deep-array", "deep-field", "deep-extra", "surrogate-id", "surrogate-key", "nan"],
)
def test_a_hostile_json_body_is_422_and_records_nothing(
    settings: Settings, engine: Engine, customer: int, body: bytes
) -> None:
    with client(settings) as c:
        answer = c.post(
            "/api/contact-moments",
            content=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    assert "\\ud" not in answer.text and "udfff" not in answer.text  # nothing echoed
    assert outreach_count(engine) == 0
