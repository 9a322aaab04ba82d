"""A provider that is slow for one customer's confirmation never delays another customer's page.

The app is served by uvicorn; the SendGrid stand-in accepts the confirmation email and then
holds its answer until the test releases it. Meanwhile another customer opens their page: it
must be served while the first submission is still waiting for the provider. Were the
submission to block the event loop, the page would wait for it (until the hold times out).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from enrich.settings import Settings, get_settings
from enrich.web.app import create_app
from models.tables import Profile
from tests.enrich.landing_helpers import NOTICE, csrf_of
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, POSTAL_OK, SPEC, make_case
from tests.standins.common import free_port, serve_in_thread
from tests.standins.sendgrid import create_app as sendgrid_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, Outcome, SendGridState

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
HOLD = 30.0  # the most the stand-in holds its answer: only a broken app waits that long


@pytest.fixture
def slow_sendgrid(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SendGridState, threading.Event, str]]:
    """The app (its URL) sending email through a SendGrid that holds its next answer."""
    state, release = SendGridState(), threading.Event()
    state.push(Outcome.held(release, timeout=HOLD))
    app_url = f"http://127.0.0.1:{free_port()}"
    with serve_in_thread(sendgrid_app(state)) as sendgrid_url:
        env = {
            "ENRICH_BASE_URL": app_url,  # plain http: the CSRF cookie is not Secure
            "ENRICH_EMAIL_CHANNEL": "sendgrid",
            "ENRICH_SENDGRID_API_KEY": STANDIN_API_KEY,
            "ENRICH_SENDGRID_HOST": sendgrid_url,
            "ENRICH_CONFIRMATION_TIMEOUT_SECONDS": str(HOLD * 2),  # the hold never times out
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        port = int(app_url.rsplit(":", 1)[1])
        with serve_in_thread(create_app(get_settings()), port=port):
            yield state, release, app_url
        release.set()
    get_settings.cache_clear()


def wait_for(condition: Any, timeout: float = HOLD) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the confirmation never reached the stand-in"
        time.sleep(0.02)


def test_a_slow_provider_on_one_submission_does_not_delay_another_page(
    slow_sendgrid: tuple[SendGridState, threading.Event, str], engine: Engine
) -> None:
    state, release, app_url = slow_sendgrid
    slow = make_case(engine, FULL, gaps=["bounced_email"])
    with engine.begin() as conn:
        conn.execute(update(Profile).values(external_id="first"))
    other = make_case(
        engine, FULL, gaps=["missing_mobile"], spec=SPEC.model_copy(update={"key": "t2"})
    )
    finished: list[str] = []
    answers: dict[str, httpx.Response] = {}

    def submit_slowly() -> None:
        with httpx.Client(base_url=app_url, timeout=HOLD * 3, trust_env=False) as client:
            page = client.get(f"/c/{slow.token}")
            form = {"csrf_token": csrf_of(page), "email_action": "change",
                    "email": "nieuw@example.nl", "consent_service_email": "granted",
                    **dict(NOTICE.findall(page.text))}  # fmt: skip
            answers["slow"] = client.post(f"/c/{slow.token}", data=form)
            finished.append("slow submission")

    submitting = threading.Thread(target=submit_slowly)
    submitting.start()
    try:
        wait_for(lambda: state.delivered)  # accepted: the provider now holds its answer
        with httpx.Client(base_url=app_url, timeout=HOLD * 3, trust_env=False) as client:
            answers["other"] = client.get(f"/c/{other.token}")
        finished.append("other page")
    finally:
        release.set()
        submitting.join(timeout=HOLD * 3)
    assert finished == ["other page", "slow submission"]
    assert answers["other"].status_code == 200 and 'id="landing-form"' in answers["other"].text
    assert answers["slow"].status_code == 200 and 'id="email-sent"' in answers["slow"].text
    [mail] = state.delivered
    assert mail.recipient == "nieuw@example.nl"
