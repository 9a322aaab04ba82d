"""The campaign file's incentive is validated, its terms files read like consent notices, and
`enrich check` names what is wrong with them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from enrich.cli.checks import check_notices
from enrich.settings import Settings
from models.campaigns.spec import LATER_KEYS, CampaignSpec, load_campaign
from models.incentives.terms import TermsError, load_terms, terms_problems
from tests.paths import REPO

PRIZE = REPO / "campaigns" / "prize-draw.yaml"
INCENTIVE = {"key": "gift-vouchers", "kind": "prize_draw", "terms_version": "2026-12"}


def with_incentive(incentive: Any, **more: Any) -> dict[str, Any]:
    base = load_campaign(REPO / "campaigns" / "default.yaml").model_dump()
    return {**base, "incentive": incentive, **more}


@pytest.mark.parametrize(
    ("incentive", "message"),
    [
        ({**INCENTIVE, "kind": "lottery"}, "prize_draw"),
        ({**INCENTIVE, "key": "Gift Vouchers"}, "pattern"),
        ({**INCENTIVE, "key": "../notices"}, "pattern"),
        ({**INCENTIVE, "terms_version": "2026/12"}, "pattern"),
        ({**INCENTIVE, "cost": -1}, "greater than or equal"),
        ({**INCENTIVE, "cost": float("inf")}, "finite"),
        ({**INCENTIVE, "prize": "a car"}, "Extra inputs"),
        ({k: v for k, v in INCENTIVE.items() if k != "terms_version"}, "terms_version"),
    ],
)
def test_a_bad_incentive_is_refused(incentive: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CampaignSpec.model_validate(with_incentive(incentive))


def test_a_cost_needs_the_campaign_currency() -> None:
    with pytest.raises(ValidationError, match=r"incentive\.cost needs costs"):
        CampaignSpec.model_validate(with_incentive({**INCENTIVE, "cost": 5}, costs=None))
    free = CampaignSpec.model_validate(with_incentive(INCENTIVE, costs=None))
    assert free.incentive is not None and free.incentive.cost is None


def test_the_example_campaign_offers_a_prize_draw() -> None:
    spec = load_campaign(PRIZE)
    assert spec.incentive is not None
    assert (spec.incentive.kind, spec.incentive.cost) == ("prize_draw", 5.0)
    assert spec.costs is not None and spec.costs.currency == "EUR"


def test_a_campaign_without_an_incentive_keeps_its_hash() -> None:
    """A version stored before incentives existed hashes as it did (LATER_KEYS)."""
    assert "incentive" in LATER_KEYS
    spec = load_campaign(REPO / "campaigns" / "default.yaml")
    data = spec.model_dump(mode="json")
    for key in LATER_KEYS:
        if data.get(key) is None:
            data.pop(key)
    assert "incentive" not in data
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    assert spec.content_hash() == digest
    assert load_campaign(PRIZE).content_hash() != spec.content_hash()


@pytest.mark.parametrize("locale", ["nl", "en", "de", "fr", "sv", "es", "pt"])
def test_every_language_has_a_headline_and_terms(locale: str) -> None:
    terms = load_terms(REPO / "templates", key="gift-vouchers", version="2026-12", locale=locale)
    assert terms.headline and len(terms.paragraphs) == 3
    assert "50" in terms.headline


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(REPO / "templates", target)
    return target


def test_check_names_a_missing_default_text_and_a_broken_one(templates: Path) -> None:
    spec = load_campaign(PRIZE)
    folder = templates / "incentives" / "gift-vouchers"
    assert terms_problems(templates, spec, "nl") == []
    (folder / "2026-12.nl.md").unlink()
    (folder / "2026-12.de.md").write_text("# Gewinnen <b>jetzt</b>\n\nText.\n", encoding="utf-8")
    (folder / "2026-12.fr.md").write_text("Pas de titre\n", encoding="utf-8")
    problems = terms_problems(templates, spec, "nl")
    assert any("has no nl text" in p for p in problems)
    assert any("2026-12.de.md: the headline may not hold <, > or &" in p for p in problems)
    assert any("2026-12.fr.md: the first line must be" in p for p in problems)
    assert terms_problems(templates, spec, "en") != []  # de and fr are still broken
    with pytest.raises(TermsError, match="not found"):
        load_terms(templates, key="gift-vouchers", version="2026-12", locale="nl")
    with pytest.raises(TermsError, match="not an incentive key"):
        load_terms(templates, key="../notices", version="2026-01", locale="nl")


def test_enrich_check_fails_without_the_default_terms(settings: Settings, templates: Path) -> None:
    configured = settings.model_copy(update={"campaign_file": PRIZE, "templates_dir": templates})
    ok = [f for f in check_notices(configured) if f.subject == "incentive terms"]
    assert [f.ok for f in ok] == [True]
    (templates / "incentives" / "gift-vouchers" / f"2026-12.{settings.default_locale}.md").unlink()
    failed = [f for f in check_notices(configured) if f.subject == "incentive terms"]
    assert failed and not any(f.ok for f in failed)
    assert "ENRICH_TEMPLATES_DIR" in failed[0].message
