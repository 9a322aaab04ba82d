"""The outreach configuration every contact-moment test sends with."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.config import OutreachConfig
from tests.paths import REPO


@pytest.fixture
def config(tmp_path: Path) -> OutreachConfig:
    return OutreachConfig(
        outbox_dir=tmp_path / "outbox",
        templates_dir=REPO / "templates",
        base_url="https://enrich.example.org",
        token_ttl_days=60,
    )
