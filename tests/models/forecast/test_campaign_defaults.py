"""`forecast_defaults` in a campaign file: checked when the file loads, and out of the stored
campaign's hash while unset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from models.campaigns.spec import CampaignError, load_campaign

HEAD = """key: t
name: T
gaps: [missing_email]
ladder:
  - {channel: email, wait_days: 5}
"""


def write(tmp_path: Path, defaults: str = "") -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(HEAD + defaults, encoding="utf-8")
    return path


def test_defaults_per_channel_are_read(tmp_path: Path) -> None:
    spec = load_campaign(
        write(
            tmp_path, "forecast_defaults:\n  sms: {answered: 0.3, verified: 0.2, completed: 0.1}\n"
        )
    )
    assert spec.forecast_defaults is not None
    rates = spec.forecast_defaults["sms"]
    assert (rates.answered, rates.verified, rates.completed, rates.sent) == (0.3, 0.2, 0.1, 1.0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("email: {answered: 1.5, verified: 0.1, completed: 0.1}", "less than or equal to 1"),
        ("email: {answered: 0.2, verified: -0.1, completed: 0.1}", "greater than or equal to 0"),
        ("fax: {answered: 0.2, verified: 0.1, completed: 0.1}", "unknown channels ['fax']"),
        ("email: {answered: 0.1, verified: 0.2, completed: 0.1}", "cannot exceed answered"),
        ("email: {answerd: 0.1, verified: 0.1, completed: 0.1}", "answerd"),
        ("email: {answered: .nan, verified: 0.1, completed: 0.1}", "finite number"),
    ],
)
def test_bad_defaults_are_refused_naming_what_is_wrong(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, f"forecast_defaults:\n  {entry}\n"))
    assert "forecast_defaults" in str(caught.value)
    assert message in str(caught.value)


def test_a_campaign_without_defaults_keeps_the_hash_it_had_before_the_key(tmp_path: Path) -> None:
    spec = load_campaign(write(tmp_path))
    earlier = {
        k: v
        for k, v in spec.model_dump(mode="json").items()
        if k not in ("costs", "forecast_defaults", "incentive")  # keys added later
    }
    assert (
        spec.content_hash()
        == hashlib.sha256(json.dumps(earlier, sort_keys=True).encode()).hexdigest()
    )
    with_defaults = load_campaign(
        write(
            tmp_path,
            "forecast_defaults:\n  email: {answered: 0.2, verified: 0.1, completed: 0.1}\n",
        )
    )
    assert with_defaults.content_hash() != spec.content_hash()
