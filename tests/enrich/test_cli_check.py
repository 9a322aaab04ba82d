"""`enrich check`: one line per finding, and every problem names the variable to set."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import Settings, get_settings

runner = CliRunner()


def check(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, list[str]]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    result = runner.invoke(app, ["check"], terminal_width=60)
    return result.exit_code, result.output.splitlines()


def test_the_default_installation_passes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(monkeypatch)
    assert code == 0, lines
    assert all(line.startswith("ok") for line in lines)
    assert any("email channel: local outbox" in line for line in lines)


def test_provider_channels_without_credentials_name_each_variable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(monkeypatch, ENRICH_EMAIL_CHANNEL="sendgrid", ENRICH_SMS_CHANNEL="twilio")
    assert code == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    for variable in (
        "ENRICH_SENDGRID_API_KEY",
        "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY",
        "ENRICH_TWILIO_ACCOUNT_SID",
        "ENRICH_TWILIO_AUTH_TOKEN",
        "ENRICH_TWILIO_MESSAGING_SERVICE_SID or ENRICH_TWILIO_FROM_NUMBER",
    ):
        assert sum(variable in line for line in failures) == 1, (variable, failures)
    # The test base URL is https; a provider setup with the default secret is refused.
    assert any("ENRICH_SECRET_KEY" in line for line in failures)


def test_malformed_twilio_values_and_http_base_url(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(
        monkeypatch,
        ENRICH_SMS_CHANNEL="twilio",
        ENRICH_TWILIO_ACCOUNT_SID="AC123",
        ENRICH_TWILIO_AUTH_TOKEN="t",
        ENRICH_TWILIO_FROM_NUMBER="0612345678",
        ENRICH_BASE_URL="http://localhost:8000",
        ENRICH_SECRET_KEY="a-real-secret",
    )
    assert code == 1
    text = "\n".join(lines)
    assert "ENRICH_TWILIO_ACCOUNT_SID must look like AC + 32 hex digits" in text
    assert "ENRICH_TWILIO_FROM_NUMBER must be an E.164 number" in text
    assert "ENRICH_BASE_URL must be the public https address" in text


def test_a_missing_template_and_an_unmigrated_database(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    empty = tmp_path / "no-templates"
    empty.mkdir()
    code, lines = check(
        monkeypatch,
        ENRICH_TEMPLATES_DIR=str(empty),
        ENRICH_DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}",
    )
    assert code == 1
    text = "\n".join(lines)
    assert "missing in ENRICH_TEMPLATES_DIR for the default locale: email/ask.nl" in text
    assert "schema at nothing" in text and "run `enrich init`" in text
