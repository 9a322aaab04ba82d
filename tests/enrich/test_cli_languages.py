"""`enrich check` fails when a supported language lacks a translation of any message or page
string: a steward adding a language learns what is left to translate before a customer sees
English in the middle of Swedish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import Settings, get_settings
from outreach.i18n import po_path
from tests.paths import REPO

runner = CliRunner()


@pytest.fixture
def templates(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A steward's copy of the real templates, which the settings point at."""
    target = tmp_path / "templates"
    shutil.copytree(REPO / "templates", target)
    monkeypatch.setenv("ENRICH_TEMPLATES_DIR", str(target))
    get_settings.cache_clear()
    return target


def languages_lines() -> tuple[int, list[str]]:
    result = runner.invoke(app, ["check"], terminal_width=60)
    return result.exit_code, [line for line in result.output.splitlines() if "languages" in line]


def add_language(templates: Path, language: str, *, leave_out: str | None) -> None:
    """A new catalogue made from Dutch (any complete one will do), one string left empty."""
    with po_path(templates, "nl").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id == leave_out:
            message.string = ""
    target = po_path(templates, language)
    target.parent.mkdir(parents=True)
    with target.open("wb") as handle:
        write_po(handle, catalog)


def test_the_shipped_catalogues_pass(templates: Path) -> None:
    code, [line] = languages_lines()
    assert code == 0
    assert line == "ok   languages: every string translated in nl, en, de, fr, sv, es, pt"


def test_a_locale_with_one_missing_string_fails_naming_it(
    templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_language(templates, "it", leave_out="Please enter a valid city.")
    monkeypatch.setenv("ENRICH_SUPPORTED_LOCALES", '["nl", "en", "it"]')
    get_settings.cache_clear()
    code, [line] = languages_lines()
    assert code == 1
    assert line.startswith("FAIL languages: locale it: 1 of ")
    assert "'Please enter a valid city.'" in line and str(po_path(templates, "it")) in line


def test_a_fuzzy_translation_counts_as_missing(templates: Path) -> None:
    path = po_path(templates, "sv")
    with path.open("rb") as handle:
        catalog = read_po(handle)
    catalog.get("Your contact details").flags.add("fuzzy")  # type: ignore[union-attr]
    with path.open("wb") as handle:
        write_po(handle, catalog)
    code, [line] = languages_lines()
    assert code == 1 and line.startswith("FAIL languages: locale sv: 1 of ")


def test_a_new_string_in_a_template_fails_until_every_language_has_it(templates: Path) -> None:
    page = templates / "landing" / "thanks.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "{% endblock %}", '<p>{{ _("We will call you back.") }}</p>{% endblock %}', 1
        ),
        encoding="utf-8",
    )
    code, lines = languages_lines()
    assert code == 1
    # English is the source language: its text is the string itself.
    assert sorted(line.split(":")[1].strip() for line in lines) == [
        f"locale {lang}" for lang in sorted(("nl", "de", "fr", "sv", "es", "pt"))
    ]


def test_a_supported_locale_without_catalogue_fails(
    templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICH_SUPPORTED_LOCALES", '["nl", "en", "da"]')
    get_settings.cache_clear()
    code, [line] = languages_lines()
    assert code == 1 and line.startswith("FAIL languages: locale da: no catalogue")
