"""The Twilio stand-in answers like the real Messages API, as the official client sees it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outreach.providers.twilio.signature import verify_twilio
from outreach.providers.webhook_errors import SignatureError
from tests.paths import REPO
from tests.standins.common import free_port, serve_in_thread, wait_listening
from tests.standins.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    TwilioSpec,
    TwilioState,
    WebhookReceiver,
    create_app,
)

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
SENDER = "+15005550006"
SERVICE = "MG" + "ab" * 16


@pytest.fixture
def state() -> TwilioState:
    return TwilioState()


@pytest.fixture
def url(state: TwilioState) -> Iterator[str]:
    with serve_in_thread(create_app(state)) as base:
        yield base


def client(url: str, token: str = AUTH_TOKEN) -> Client:
    twilio = Client(ACCOUNT_SID, token, http_client=TwilioHttpClient(timeout=10), environment={})
    twilio.api.base_url = url
    return twilio


def post(url: str, form: dict[str, str], auth: tuple[str, str] = (ACCOUNT_SID, AUTH_TOKEN)):
    return httpx.post(url + MESSAGES, data=form, auth=auth, timeout=10)


def test_a_created_message_has_the_documented_shape(url: str, state: TwilioState) -> None:
    response = post(url, {"To": "+31612345678", "From": SENDER, "Body": "Hallo"})
    assert response.status_code == 201
    errors = TwilioSpec().response_errors(
        method="POST", path=MESSAGES, status=201, body=response.content
    )
    assert errors == []
    body = response.json()
    assert body["status"] == "queued" and body["date_sent"] is None
    assert body["to"] == "+31612345678" and body["from"] == SENDER and body["body"] == "Hallo"
    fetched = client(url).messages(body["sid"]).fetch()
    assert fetched.sid == body["sid"] and fetched.date_created is not None
    assert state.spec_errors == []


def test_a_messaging_service_send_is_accepted_without_a_sender_yet(url: str) -> None:
    created = client(url).messages.create(
        to="+31612345678", messaging_service_sid=SERVICE, body="x"
    )
    assert created.status == "accepted"
    assert created.from_ is None and created.messaging_service_sid == SERVICE


@pytest.mark.parametrize(
    ("form", "auth", "status", "code"),
    [
        ({"To": "+31612345678", "From": SENDER}, (ACCOUNT_SID, "wrong"), 401, 20003),
        ({"To": "+31612345678", "From": SENDER}, ("AC" + "f" * 32, AUTH_TOKEN), 401, 20003),
        ({"From": SENDER, "Body": "x"}, (ACCOUNT_SID, AUTH_TOKEN), 400, 21604),
        ({"To": "+31612345678", "Body": "x"}, (ACCOUNT_SID, AUTH_TOKEN), 400, 21603),
    ],
    ids=["wrong_token", "other_account", "no_to", "no_sender"],
)
def test_refusals_use_twilios_error_shape(
    url: str,
    state: TwilioState,
    form: dict[str, str],
    auth: tuple[str, str],
    status: int,
    code: int,
) -> None:
    response = post(url, form, auth)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert state.messages == []


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+15005550001", 21211),
        ("+15005550002", 21612),
        ("+15005550003", 21408),
        ("+15005550004", 21610),
        ("+15005550009", 21614),
    ],
)
def test_test_credential_numbers_fail_with_their_codes(
    url: str, state: TwilioState, number: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client(url).messages.create(to=number, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (400, code)
    assert state.messages == []


def test_a_request_breaking_the_document_is_refused_and_recorded(
    url: str, state: TwilioState
) -> None:
    response = post(url, {"To": "+31612345678", "MessagingServiceSid": "MG-not-a-sid"})
    assert response.status_code == 400
    assert any("MessagingServiceSid" in e for e in state.spec_errors)
    assert state.messages == []


def test_list_filters_by_number_and_date_sent_and_pages(url: str, state: TwilioState) -> None:
    twilio = client(url)
    for n in range(5):
        twilio.messages.create(to="+31611111111", from_=SENDER, body=f"m{n}")
    twilio.messages.create(to="+31622222222", from_=SENDER, body="other")
    newest_first = twilio.messages.list(to="+31611111111", page_size=2)
    assert [m.body for m in newest_first] == ["m4", "m3", "m2", "m1", "m0"]
    since = datetime.now(UTC) - timedelta(minutes=1)
    # Not sent yet: no date_sent, so a DateSent filter finds nothing.
    assert twilio.messages.list(to="+31611111111", date_sent_after=since) == []
    state.flush_webhooks()  # no callback URL: statuses stay, nothing is posted
    assert state.webhooks == []
    state.messages[0].date_sent = datetime.now(UTC)
    [sent] = twilio.messages.list(to="+31611111111", date_sent_after=since)
    assert sent.body == "m0"
    assert twilio.messages.list(to="+31611111111", date_sent_before=since) == []
    assert state.spec_errors == []


def test_status_callbacks_are_signed_and_follow_the_message(state: TwilioState) -> None:
    receiver = WebhookReceiver()
    state.delivery_outcomes["+31622222222"] = ("undelivered", 30006)
    with serve_in_thread(create_app(state)) as url, serve_in_thread(receiver) as hooks:
        twilio = client(url)
        for number, oid in (("+31611111111", 7), ("+31622222222", 8)):
            twilio.messages.create(
                to=number,
                from_=SENDER,
                body="x",
                status_callback=f"{hooks}/webhooks/twilio/status?oid={oid}",
            )
        sent = state.flush_webhooks()
        assert [h.status_code for h in sent] == [200] * 4
        assert [m.status for m in twilio.messages.list()] == ["undelivered", "delivered"]
    assert state.per_outreach() == {7: 1, 8: 1}
    assert [(r.url.rsplit("=", 1)[1], r.form["MessageStatus"]) for r in receiver.received] == [
        ("7", "sent"),
        ("7", "delivered"),
        ("8", "sent"),
        ("8", "undelivered"),
    ]
    assert receiver.received[-1].form["ErrorCode"] == "30006"
    for hook in receiver.received:
        verify_twilio(
            auth_token=AUTH_TOKEN, url=hook.url, params=hook.form, signature=hook.signature
        )
    with pytest.raises(SignatureError):
        hook = receiver.received[0]
        verify_twilio(auth_token="other", url=hook.url, params=hook.form, signature=hook.signature)


def test_an_inbound_stop_is_signed(state: TwilioState) -> None:
    receiver = WebhookReceiver()
    with serve_in_thread(receiver) as hooks:
        hook = state.send_inbound(
            f"{hooks}/webhooks/twilio/inbound", from_number="+31611111111", to=SENDER
        )
    assert hook.status_code == 200
    [received] = receiver.received
    assert received.form["Body"] == "STOP" and received.form["OptOutType"] == "STOP"
    verify_twilio(
        auth_token=AUTH_TOKEN, url=received.url, params=received.form, signature=received.signature
    )


def test_over_the_rate_limit_answers_429(url: str, state: TwilioState) -> None:
    state.messages_per_second = 3
    codes = [post(url, {"To": "+31612345678", "From": SENDER}).status_code for _ in range(5)]
    assert codes[:3] == [201, 201, 201]
    assert 429 in codes[3:]
    assert len(state.messages) == codes.count(201)


def test_injected_failures_come_in_order_then_normal_service(url: str, state: TwilioState) -> None:
    state.fail_next(429)
    state.fail_next(503)
    state.fail_next(500, method="GET")
    form = {"To": "+31612345678", "From": SENDER}
    assert [post(url, form).status_code for _ in range(3)] == [429, 503, 201]
    assert len(state.messages) == 1
    listing = httpx.get(url + MESSAGES, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert (listing.status_code, listing.json()["code"]) == (500, 20500)
    assert state.max_rate(creates_only=True) == 3 and state.max_rate() == 4


def timed_out_post(url: str, number: str) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            url + MESSAGES,
            data={"To": number, "From": SENDER},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=0.3,
        )


def test_a_slow_answer_accepts_the_message_or_not(url: str, state: TwilioState) -> None:
    state.fail_next(delay=1.0, accept=True)
    timed_out_post(url, "+31611111111")
    state.wait_answered(1)
    assert len(state.sent_to("+31611111111")) == 1
    state.fail_next(delay=1.0)
    timed_out_post(url, "+31622222222")
    state.wait_answered(2)
    assert state.sent_to("+31622222222") == []


def test_runs_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.twilio", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, lambda: process.poll() is None)
        response = post(f"http://127.0.0.1:{port}", {"To": "+31612345678", "From": SENDER})
        assert response.status_code == 201
        assert json.loads(response.content)["sid"].startswith("SM")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert (out, err) == (b"", b"")  # quiet unless something goes wrong
