"""`enrich check`: one line per finding, and every problem names the variable to set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from models.tables import DELIVERY, OUTREACH
from models.types import utcnow
from tests.factories import COMPLETE, add_profile

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


def test_the_default_secret_is_refused_outside_a_local_demo(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command refuses it for a public base URL (exit 2, one line naming the variable);
    a local demo at localhost may keep it."""
    monkeypatch.delenv("ENRICH_SECRET_KEY")
    get_settings.cache_clear()
    result = runner.invoke(app, ["round", "plan"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "invalid setting ENRICH_SECRET_KEY: set a secret of your own; the default is only for a "
        "local demo (ENRICH_BASE_URL on localhost)"
    )
    code, _lines = check(monkeypatch, ENRICH_BASE_URL="http://localhost:8000")
    assert code == 0


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
    assert "missing in ENRICH_TEMPLATES_DIR: email/ask" in text
    assert "schema at nothing" in text and "run `enrich init`" in text


def accept(settings: Settings, provider: str, *, count: int, ago: timedelta, heard: int) -> None:
    """``count`` messages ``provider`` accepted ``ago``, ``heard`` of them with an event."""
    now = utcnow()
    with get_engine(settings).begin() as conn:
        for i in range(count):
            profile_id = add_profile(conn, f"{provider}-{ago}-{i}", COMPLETE)
            outreach_id = conn.execute(
                insert(OUTREACH).values(
                    profile_id=profile_id,
                    channel="email" if provider == "sendgrid" else "sms",
                    template="ask",
                    status="sent",
                    provider=provider,
                    sent_at=now - ago,
                    created_at=now - ago,
                    updated_at=now - ago,
                )
            ).inserted_primary_key[0]
            if i < heard:
                conn.execute(
                    insert(DELIVERY).values(
                        outreach_id=outreach_id,
                        provider=provider,
                        provider_event_id=f"ev{i}",
                        event_type="delivered",
                        occurred_at=now - ago,
                        received_at=now - ago,
                    )
                )


PROVIDERS = {
    "ENRICH_EMAIL_CHANNEL": "sendgrid",
    "ENRICH_SENDGRID_API_KEY": "SG.test",
    "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY": "key",
    "ENRICH_SMS_CHANNEL": "twilio",
    "ENRICH_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "ENRICH_TWILIO_AUTH_TOKEN": "token",
    "ENRICH_TWILIO_FROM_NUMBER": "+15005550006",
    "ENRICH_SECRET_KEY": "not-the-default",
}


def test_accepted_messages_without_any_event_say_the_webhooks_do_not_arrive(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(settings, "sendgrid", count=4, ago=timedelta(hours=2), heard=0)
    accept(settings, "twilio", count=5, ago=timedelta(hours=2), heard=3)
    accept(settings, "sendgrid", count=2, ago=timedelta(minutes=5), heard=0)  # too recent
    code, lines = check(monkeypatch, **PROVIDERS)
    assert code == 1
    email = next(line for line in lines if "email events" in line)
    sms = next(line for line in lines if "sms events" in line)
    assert email.startswith("FAIL")
    assert "none of the 4 messages SendGrid accepted 60+ min ago" in email
    assert "/webhooks/sendgrid" in email
    assert sms.startswith("FAIL") and "2 of the 5 messages Twilio accepted" in sms


def test_accepted_messages_with_events_pass(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(settings, "sendgrid", count=3, ago=timedelta(hours=2), heard=3)
    _code, lines = check(monkeypatch, **PROVIDERS)
    email = next(line for line in lines if "email events" in line)
    assert email.startswith("ok") and "every message it accepted (3)" in email
