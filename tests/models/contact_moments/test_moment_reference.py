"""The block another system embeds quotes its own reference (M-, the outreach id, a check
digit) and says how to check the ask is genuine, on every channel."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from outreach.config import OutreachConfig
from outreach.reference import message_reference
from tests.models.contact_moments.moment_data import GAPPY, ask, profile, the_ask


@pytest.mark.parametrize("channel", ["email", "sms", "letter"])
def test_the_block_quotes_the_reference_of_its_outreach(
    engine: Engine, config: OutreachConfig, channel: str
) -> None:
    profile(engine, GAPPY)
    block = the_ask(ask(engine, config, channel=channel))
    reference = message_reference("moment", block.outreach_id)
    assert reference in block.text and reference in block.html
    assert config.trust_phone in block.text and config.trust_phone in block.html
    assert "www.example.org/contact-check" in block.html
