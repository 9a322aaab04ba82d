"""A provider setup on this machine: the app serving webhooks, and SendGrid and Twilio stand-ins.

The app runs under uvicorn in a thread; the stand-ins post their signed webhooks to it, exactly
as the real providers post to a public deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from tests.outreach.providers.test_webhook_signatures import make_key
from tests.standins.common import free_port, serve_in_thread
from tests.standins.sendgrid import create_app as sendgrid_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, SendGridState
from tests.standins.twilio import create_app as twilio_app
from tests.standins.twilio_state import ACCOUNT_SID, AUTH_TOKEN, POOL_NUMBER, TwilioState


@dataclass
class Setup:
    settings: Settings
    app_url: str
    env: dict[str, str]  # ENRICH_* for a subprocess that sends through the stand-ins
    sendgrid: SendGridState
    sendgrid_url: str
    twilio: TwilioState
    twilio_url: str
    private_key: ec.EllipticCurvePrivateKey


@pytest.fixture
def providers(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """The app and both stand-ins, with every setting pointing at them."""
    private, public = make_key()
    app_url = f"http://127.0.0.1:{free_port()}"
    sendgrid = SendGridState(
        webhook_url=f"{app_url}/webhooks/sendgrid", webhook_key=private, webhook_auto=False
    )
    twilio = TwilioState()
    with (
        serve_in_thread(sendgrid_app(sendgrid)) as sendgrid_url,
        serve_in_thread(twilio_app(twilio)) as twilio_url,
    ):
        env = {
            "ENRICH_BASE_URL": app_url,
            "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY": public,
            "ENRICH_SMS_CHANNEL": "twilio",
            "ENRICH_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "ENRICH_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "ENRICH_TWILIO_FROM_NUMBER": POOL_NUMBER,
            "ENRICH_TWILIO_BASE_URL": twilio_url,
            "ENRICH_TWILIO_MESSAGES_PER_SECOND": "200",
            "ENRICH_EMAIL_CHANNEL": "sendgrid",
            "ENRICH_SENDGRID_API_KEY": STANDIN_API_KEY,
            "ENRICH_SENDGRID_HOST": sendgrid_url,
            "ENRICH_SENDGRID_BATCH_SIZE": "10",
            "ENRICH_SENDGRID_RECONCILE_GRACE_MINUTES": "0",
            "ENRICH_PROVIDER_TIMEOUT_SECONDS": "3",
            "ENRICH_PROVIDER_MAX_RETRIES": "2",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        app_settings = get_settings()
        port = int(app_url.rsplit(":", 1)[1])
        with serve_in_thread(create_app(app_settings), port=port):
            yield Setup(
                settings=app_settings,
                app_url=app_url,
                env={**os.environ, **env},
                sendgrid=sendgrid,
                sendgrid_url=sendgrid_url,
                twilio=twilio,
                twilio_url=twilio_url,
                private_key=private,
            )
        get_settings.cache_clear()


def subprocess_env(setup: Setup, **overrides: Any) -> dict[str, str]:
    return {**setup.env, **{k: str(v) for k, v in overrides.items()}}
