"""`enrich check --credentials` against the SendGrid and Twilio stand-ins: one line per provider,
the exact variable to fix, exit 1 on a problem, and never the key or the token in the output."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import Settings, get_settings
from tests.standins.common import free_port, serve_in_thread
from tests.standins.sendgrid import create_app as sendgrid_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, Outcome, SendGridState
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioState
from tests.standins.twilio import create_app as twilio_app

runner = CliRunner()
SECRETS = ("ENRICH_SENDGRID_API_KEY", "ENRICH_TWILIO_AUTH_TOKEN", "ENRICH_SECRET_KEY")
SENDGRID_OK = "ok   email: SendGrid accepted the API key"
TWILIO_OK = "ok   sms: Twilio accepted the account SID and auth token"


@dataclass
class StandIns:
    sendgrid: SendGridState
    sendgrid_url: str
    twilio: TwilioState
    twilio_url: str


@pytest.fixture
def standins() -> Iterator[StandIns]:
    sendgrid, twilio = SendGridState(), TwilioState()
    with (
        serve_in_thread(sendgrid_app(sendgrid)) as sendgrid_url,
        serve_in_thread(twilio_app(twilio)) as twilio_url,
    ):
        yield StandIns(sendgrid, sendgrid_url, twilio, twilio_url)


def providers(standins: StandIns, **overrides: str) -> dict[str, str]:
    """A complete provider setup pointed at the stand-ins: every configuration check passes."""
    return {
        "ENRICH_EMAIL_CHANNEL": "sendgrid",
        "ENRICH_SENDGRID_API_KEY": STANDIN_API_KEY,
        "ENRICH_SENDGRID_HOST": standins.sendgrid_url,
        "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY": "configured",
        "ENRICH_SMS_CHANNEL": "twilio",
        "ENRICH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "ENRICH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "ENRICH_TWILIO_BASE_URL": standins.twilio_url,
        "ENRICH_TWILIO_FROM_NUMBER": "+15005550006",
        "ENRICH_SECRET_KEY": "a-real-secret-for-the-test",
        **overrides,
    }


def check(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``enrich check --credentials``; fails if any secret of ``env`` shows in the output."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    result = runner.invoke(app, ["check", "--credentials"], terminal_width=60)
    for name in SECRETS:
        if env.get(name):
            assert env[name] not in result.output, f"{name} leaked"
    return result.exit_code, result.output.splitlines()


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_outbox_channels_have_nothing_to_check(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(monkeypatch, {})
    assert code == 0, lines
    assert "ok   email: outbox, no credentials to check" in lines
    assert "ok   sms: outbox, no credentials to check" in lines


def test_right_credentials_pass(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    code, lines = check(monkeypatch, providers(standins))
    assert code == 0, lines
    assert SENDGRID_OK in lines and TWILIO_OK in lines
    assert standins.sendgrid.requests_seen == 1  # counted once the key is accepted
    assert len(standins.twilio.request_times) == 1
    assert standins.twilio.spec_errors == []


def test_a_wrong_sendgrid_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    env = providers(standins, ENRICH_SENDGRID_API_KEY="SG.wrong-key-do-not-print")
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert failures(lines) == ["FAIL email: SendGrid refused ENRICH_SENDGRID_API_KEY (401)"]
    assert TWILIO_OK in lines
    assert "wrong-key" not in "\n".join(lines)


def test_a_wrong_twilio_token(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    env = providers(standins, ENRICH_TWILIO_AUTH_TOKEN="wrong-token-do-not-print")
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert failures(lines) == [
        "FAIL sms: Twilio refused ENRICH_TWILIO_ACCOUNT_SID / ENRICH_TWILIO_AUTH_TOKEN "
        "(401, code 20003)"
    ]
    assert SENDGRID_OK in lines
    assert "wrong-token" not in "\n".join(lines)


def test_nothing_listening(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    sendgrid_url, twilio_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env = providers(standins, ENRICH_SENDGRID_HOST=sendgrid_url, ENRICH_TWILIO_BASE_URL=twilio_url)
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert failures(lines) == [
        f"FAIL email: SendGrid could not be reached at {sendgrid_url} (connection refused): "
        "check ENRICH_SENDGRID_HOST",
        f"FAIL sms: Twilio could not be reached at {twilio_url} (connection refused): "
        "check ENRICH_TWILIO_BASE_URL",
    ]


def test_no_answer_within_the_timeout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    standins.sendgrid.push(Outcome.hang(2.0))
    standins.twilio.fail_next(delay=2.0, method="GET")
    env = providers(standins, ENRICH_PROVIDER_TIMEOUT_SECONDS="0.3")
    started = time.monotonic()
    code, lines = check(monkeypatch, env)
    assert time.monotonic() - started < 2.0  # neither waited for the answer
    assert code == 1
    assert failures(lines) == [
        f"FAIL email: SendGrid could not be reached at {standins.sendgrid_url} (timeout): "
        "check ENRICH_SENDGRID_HOST",
        f"FAIL sms: Twilio could not be reached at {standins.twilio_url} (timeout): "
        "check ENRICH_TWILIO_BASE_URL",
    ]


def test_an_outage_says_try_again_later(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    standins.sendgrid.push(Outcome.fail(503))
    standins.twilio.fail_next(503, method="GET")
    code, lines = check(monkeypatch, providers(standins))
    assert code == 1
    assert failures(lines) == [
        "FAIL email: SendGrid answered 503: try again later",
        "FAIL sms: Twilio answered 503, code 20503: try again later",
    ]
    assert standins.sendgrid.requests_seen == 1  # asked once, no retry
    assert len(standins.twilio.request_times) == 1


def test_a_key_without_the_suppression_scope(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    standins.sendgrid.push(Outcome.fail(403))
    code, lines = check(monkeypatch, providers(standins))
    assert code == 1
    assert failures(lines) == [
        "FAIL email: ENRICH_SENDGRID_API_KEY lacks the scope suppression.read "
        "(`enrich providers sync-suppressions` needs it) (403)"
    ]


def test_hosts_swapped_name_the_host_variables(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    env = providers(
        standins,
        ENRICH_SENDGRID_HOST=standins.twilio_url,
        ENRICH_TWILIO_BASE_URL=standins.sendgrid_url,
    )
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert failures(lines) == [
        "FAIL email: SendGrid answered 404: check ENRICH_SENDGRID_HOST",
        "FAIL sms: Twilio answered 404: check ENRICH_TWILIO_BASE_URL",
    ]


def test_missing_or_malformed_credentials_are_not_sent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    env = providers(standins, ENRICH_TWILIO_ACCOUNT_SID="AC123", ENRICH_SENDGRID_API_KEY="")
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert standins.twilio.request_times == []
    assert not any(line.split(":")[0].endswith((" email", " sms")) for line in lines), lines
    text = "\n".join(failures(lines))
    assert "ENRICH_SENDGRID_API_KEY is not set" in text
    assert "ENRICH_TWILIO_ACCOUNT_SID must look like AC + 32 hex digits" in text


def test_an_address_that_is_no_url_or_carries_a_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, standins: StandIns
) -> None:
    port = free_port()
    env = providers(
        standins,
        ENRICH_SENDGRID_HOST="api.sendgrid.com",
        ENRICH_TWILIO_BASE_URL=f"http://operator:hunter2@127.0.0.1:{port}",
    )
    code, lines = check(monkeypatch, env)
    assert code == 1
    assert failures(lines) == [
        "FAIL email: SendGrid could not be reached at api.sendgrid.com (not a URL): "
        "check ENRICH_SENDGRID_HOST",
        f"FAIL sms: Twilio could not be reached at http://127.0.0.1:{port} (connection refused): "
        "check ENRICH_TWILIO_BASE_URL",
    ]
    assert "hunter2" not in "\n".join(lines)
