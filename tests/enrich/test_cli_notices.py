"""`enrich check` guards the published consent notices; `enrich notices publish` adds new ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import Settings, get_settings
from tests.paths import REPO

runner = CliRunner()


@pytest.fixture
def steward(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the templates and the campaign the settings point at; returns its folder."""
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    shutil.copy(REPO / "campaigns" / "default.yaml", tmp_path / "campaign.yaml")
    monkeypatch.setenv("ENRICH_TEMPLATES_DIR", str(tmp_path / "templates"))
    monkeypatch.setenv("ENRICH_CAMPAIGN_FILE", str(tmp_path / "campaign.yaml"))
    get_settings.cache_clear()
    return tmp_path


def check() -> tuple[int, list[str]]:
    result = runner.invoke(app, ["check"])
    return result.exit_code, [line for line in result.output.splitlines() if "notices" in line]


def test_editing_a_published_notice_fails_check_until_it_is_a_new_version(steward: Path) -> None:
    code, [line] = check()
    assert code == 0 and line.startswith("ok   consent notices: published and unchanged")
    published = steward / "templates/notices/service/2026-01.en.md"
    original = published.read_text(encoding="utf-8")
    published.write_text(original.replace("outages", "outages and maintenance"), "utf-8")
    code, lines = check()
    assert code == 1
    [line] = lines
    assert line.startswith("FAIL consent notices:") and str(published) in line
    assert "changed after it was published" in line and "ENRICH_TEMPLATES_DIR" in line
    refused = runner.invoke(app, ["notices", "publish"])
    assert refused.exit_code == 1 and str(published) in refused.stderr
    assert "Traceback" not in refused.output

    # The steward restores the published text and puts the new one in a new version.
    published.write_text(original, "utf-8")
    for lang in ("en", "nl"):
        old = steward / f"templates/notices/service/2026-01.{lang}.md"
        new = old.with_name(f"2026-02.{lang}.md")
        new.write_text(old.read_text(encoding="utf-8") + "\nMaintenance too.\n", "utf-8")
    campaign = steward / "campaign.yaml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace('text_version: "2026-01"', 'text_version: "2026-02"', 1))
    code, lines = check()
    assert code == 1 and len(lines) == 2 and all("is not published" in x for x in lines), lines
    done = runner.invoke(app, ["notices", "publish"])
    assert done.exit_code == 0
    assert "published service 2026-02 en" in done.output
    assert check() == (0, ["ok   consent notices: published and unchanged: service 2026-02, "
                           "newsletter 2026-01"])  # fmt: skip
    listed = runner.invoke(app, ["notices", "list"]).output
    assert "service 2026-02 nl published" in listed


def test_a_campaign_version_without_its_files_fails_check(steward: Path) -> None:
    campaign = steward / "campaign.yaml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace('text_version: "2026-01"', 'text_version: "2027-01"', 1))
    code, lines = check()
    assert code == 1
    missing = steward / "templates/notices/service/2027-01.nl.md"
    assert any("version 2027-01 has no nl text" in x and str(missing) in x for x in lines), lines
    (steward / "templates/notices/newsletter/2026-01.en.md").unlink()
    code, lines = check()
    assert any("newsletter/2026-01.en.md is missing" in x for x in lines), lines
