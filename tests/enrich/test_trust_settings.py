"""The phone number and web address every message names for checking a request is genuine are
settings: only a phone number, an https site and a plain path get in, never markup or a link
elsewhere; a refused value stops the command with the variable named and the value unsaid."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from enrich.cli import app
from enrich.cli.settings_errors import describe
from enrich.runtime import outreach_config
from enrich.settings import Settings, get_settings
from outreach.render import Renderer


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("ENRICH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ENRICH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def refused(**values: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    return describe(caught.value)


def test_the_defaults_read_like_an_example_and_reach_every_message(clean_env: None) -> None:
    settings = Settings()
    assert (settings.trust_phone, settings.organisation_website, settings.trust_web_path) == (
        "020 123 4567",
        "https://www.example.org",
        "/contact-check",
    )
    trust = Renderer(outreach_config(settings)).trust
    assert trust["url"] == "https://www.example.org/contact-check"
    assert trust["address"] == "www.example.org/contact-check"


def test_configured_values_flow_into_the_renderer(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICH_TRUST_PHONE", " +31 (0)20  555-0123 ")
    monkeypatch.setenv("ENRICH_ORGANISATION_WEBSITE", "https://www.energie.nl/")
    monkeypatch.setenv("ENRICH_TRUST_WEB_PATH", "/klantenservice/echt-of-nep")
    trust = Renderer(outreach_config(Settings())).trust
    assert trust["phone"] == "+31 (0)20 555-0123"
    assert trust["url"] == "https://www.energie.nl/klantenservice/echt-of-nep"


@pytest.mark.parametrize(
    "phone",
    [
        '<a href="https://evil.example">020 123 4567</a>',
        "020 123 4567<script>",
        "call 020 123 4567",
        "020&#49;23",
        "+-()",
        "",
        "0" * 31,
    ],
)
def test_a_phone_number_with_anything_but_digits_and_punctuation_is_refused(
    clean_env: None, phone: str
) -> None:
    assert refused(trust_phone=phone) == [
        "invalid setting ENRICH_TRUST_PHONE: must be a phone number: digits, spaces, +, - and "
        "parentheses only"
    ]


@pytest.mark.parametrize(
    "site",
    [
        "http://www.example.org",
        "www.example.org",
        "https://www.example.org/contact",
        "https://www.example.org?x=1",
        "https://user@www.example.org",
        'https://www.example.org"><script>',
        "javascript:alert(1)",
        "https://localhost",
    ],
)
def test_the_website_must_be_an_https_site_without_a_path(clean_env: None, site: str) -> None:
    assert refused(organisation_website=site) == [
        "invalid setting ENRICH_ORGANISATION_WEBSITE: must be an https address without a path, "
        "like https://www.example.org"
    ]


@pytest.mark.parametrize(
    "path", ["contact-check", "//evil.example/x", "/a b", "/x?next=https://evil", "/<b>", ""]
)
def test_the_path_must_be_a_plain_path_from_the_root(clean_env: None, path: str) -> None:
    assert refused(trust_web_path=path) == [
        "invalid setting ENRICH_TRUST_WEB_PATH: must be a path starting with /, like /contact-check"
    ]


def test_a_command_stops_on_a_hostile_phone_number_without_echoing_it(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICH_TRUST_PHONE", "<img src=x onerror=alert(1)>")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "invalid setting ENRICH_TRUST_PHONE: must be a phone number: digits, spaces, +, - and "
        "parentheses only"
    ]
    assert "onerror" not in result.output
