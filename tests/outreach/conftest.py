"""Fixtures for the outreach tests: an outbox config on the real templates, and message makers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.answers.link_tokens import new_token, personal_link
from outreach.channels.base import Message, PostalAddress
from outreach.config import OutreachConfig
from tests.paths import REPO

# The app and both provider stand-ins, for the channel contract (test_channel_contract.py).
from tests.providers.conftest import providers  # noqa: F401

BASE_URL = "https://enrich.example.org"

MakeMessage = Callable[..., Message]

ADDRESSES = {
    "NL": PostalAddress("Jan de Vries", "Dorpsstraat", "12a", "1234 AB", "Amsterdam", "NL"),
    "BE": PostalAddress("Anne Peeters", "Wetstraat", "16", "1000", "Brussel", "BE"),
    "DE": PostalAddress("Jürgen Weiß", "Hauptstraße", "5", "10115", "Berlin", "DE"),
    "FR": PostalAddress("Marie Dupont", "rue de Rivoli", "12", "75001", "Paris", "FR"),
}
RECIPIENTS = {"email": "jan@example.net", "sms": "+31612345678", "letter": ""}


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A copy of the real templates plus a ``broken`` template that needs an unknown variable."""
    target = tmp_path / "templates"
    shutil.copytree(REPO / "templates", target)
    broken = "Contract {{ contract_number }} for {{ given_name }}\n"
    for name in ("email/broken.subject.txt", "email/broken.txt", "sms/broken.txt"):
        (target / name).write_text(broken)
    (target / "email/broken.html").write_text(
        '{% extends "email/_layout.html" %}{% block body %}' + broken + "{% endblock %}"
    )
    (target / "letter/broken.html").write_text(
        '{% extends "letter/_page.html" %}{% block body %}' + broken + "{% endblock %}"
    )
    return target


@pytest.fixture
def outbox_config(tmp_path: Path, templates_dir: Path) -> OutreachConfig:
    return OutreachConfig(
        outbox_dir=tmp_path / "outbox",
        templates_dir=templates_dir,
        base_url=BASE_URL,
        letter_batch_size=500,
    )


@pytest.fixture
def make_message() -> MakeMessage:
    counter = iter(range(1, 1_000_000))

    def make(channel: str, **overrides: Any) -> Message:
        outreach_id = overrides.pop("outreach_id", None) or next(counter)
        values: dict[str, Any] = {
            "outreach_id": outreach_id,
            "channel": channel,
            "template": "ask",
            "locale": "nl",
            "recipient": RECIPIENTS[channel],
            "link": personal_link(BASE_URL, new_token()),
            "given_name": "Jan",
            "family_name": "de Vries",
            "address": ADDRESSES["NL"] if channel == "letter" else None,
            # Emails carry List-Unsubscribe with a token of its own, as dispatch issues them.
            "unsubscribe_token": new_token() if channel == "email" else None,
        }
        values.update(overrides)
        return Message(**values)

    return make
