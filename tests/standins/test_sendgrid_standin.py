"""The SendGrid stand-in refuses what SendGrid refuses, accepts what the official client sends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sendgrid
from cryptography.hazmat.primitives import serialization
from python_http_client.exceptions import UnauthorizedError
from sendgrid.helpers.mail import (
    Asm,
    Category,
    CustomArg,
    Header,
    Mail,
    MailSettings,
    Personalization,
    SandBoxMode,
    Substitution,
    To,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from outreach.providers.sendgrid.events import sendgrid_events
from outreach.providers.sendgrid.signature import verify_sendgrid
from tests.outreach.providers.test_webhook_signatures import make_key
from tests.paths import REPO
from tests.standins.common import free_port, serve_in_thread, wait_listening
from tests.standins.sendgrid import create_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, Outcome, SendGridState

AUTH = {"Authorization": f"Bearer {STANDIN_API_KEY}"}


@pytest.fixture
def state() -> SendGridState:
    return SendGridState()


@pytest.fixture
def url(state: SendGridState) -> Iterator[str]:
    with serve_in_thread(create_app(state)) as base:
        yield base


def mail(n: int = 2, **personal: Any) -> Mail:
    """What our channel builds, through the official helper classes."""
    message = Mail(
        from_email=("service@example.org", "Example Energy"),
        plain_text_content="Dear -name-, open -link-",
        html_content="<p>Dear -name-, <a href='-link-'>open</a></p>",
    )
    for i in range(n):
        p = Personalization()
        p.add_to(To(f"user{i}@example.com", f"User {i}"))
        p.subject = f"Hello {i}"
        p.add_custom_arg(CustomArg("outreach_id", str(100 + i)))
        p.add_substitution(Substitution("-name-", f"Ann {i}"))
        p.add_substitution(Substitution("-link-", f"https://x.example/c/t{i}"))
        p.add_header(Header("List-Unsubscribe", f"<https://x.example/u/t{i}>"))
        message.add_personalization(p, index=i)
    message.add_category(Category("enrich"))
    message.asm = Asm(42)
    return message


def raw_body(n: int = 1) -> dict[str, Any]:
    return {
        "from": {"email": "service@example.org"},
        "personalizations": [
            {"to": [{"email": f"u{i}@example.com"}], "custom_args": {"outreach_id": str(i)}}
            for i in range(n)
        ],
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/v3/mail/send", json=body, headers=AUTH if headers is None else headers
    )


def test_official_client_mail_is_accepted_and_delivered_with_substitutions(
    state: SendGridState, url: str
) -> None:
    client = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=url)
    response = client.send(mail(2))
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    first, second = state.delivered
    assert first.message_id == second.message_id == message_id
    assert (first.recipient, first.subject) == ("user0@example.com", "Hello 0")
    assert first.text == "Dear Ann 0, open https://x.example/c/t0"
    assert second.html == "<p>Dear Ann 1, <a href='https://x.example/c/t1'>open</a></p>"
    assert second.custom_args == {"outreach_id": "101"}
    assert second.headers == {"List-Unsubscribe": "<https://x.example/u/t1>"}
    assert first.categories == ("enrich",) and first.asm == {"group_id": 42}
    assert state.accepted_per_outreach() == {"100": 1, "101": 1}


def test_missing_or_wrong_api_key_is_401(state: SendGridState, url: str) -> None:
    assert post(url, raw_body(), headers={}).status_code == 401
    wrong = post(url, raw_body(), headers={"Authorization": "Bearer SG.other"})
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["message"]
    with pytest.raises(UnauthorizedError):
        sendgrid.SendGridAPIClient("SG.other", host=url).send(mail(1))
    assert state.delivered == []


def test_more_than_1000_personalizations_is_400(state: SendGridState, url: str) -> None:
    response = post(url, raw_body(1001))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "personalizations"
    assert post(url, raw_body(1000)).status_code == 202


def test_more_than_1000_recipients_is_400(url: str) -> None:
    body = raw_body(1)
    body["personalizations"][0]["to"] = [{"email": f"u{i}@example.com"} for i in range(1001)]
    response = post(url, body)
    assert response.status_code == 400
    assert "recipients" in response.json()["errors"][0]["message"]


def test_non_string_custom_args_name_the_personalization(state: SendGridState, url: str) -> None:
    body = raw_body(3)
    body["personalizations"][2]["custom_args"]["outreach_id"] = 7
    response = post(url, body)
    assert response.status_code == 400
    fields = [e["field"] for e in response.json()["errors"]]
    assert "personalizations.2.custom_args.outreach_id" in fields
    assert state.delivered == []


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda b: b.pop("from"), None),  # required
        (lambda b: b["personalizations"][0].pop("to"), "personalizations.0"),
        (lambda b: b["personalizations"][0]["to"][0].update(email="no-at-sign"), None),
        (lambda b: b.update(categories=["x"] * 11), "categories"),
        (lambda b: b.update(content=[{"type": "text/plain", "value": ""}]), "content.0.value"),
    ],
)
def test_a_body_breaking_the_document_is_400(url: str, breakage: Any, field: str | None) -> None:
    body = raw_body(1)
    breakage(body)
    response = post(url, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors and all(set(e) == {"message", "field", "help"} for e in errors)
    if field is not None:
        assert field in [e["field"] for e in errors]


def test_configured_invalid_address_names_its_field(state: SendGridState, url: str) -> None:
    state.invalid.add("u1@example.com")
    response = post(url, raw_body(3))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "Does not contain a valid address.",
            "field": "personalizations.1.to.0.email",
            "help": None,
        }
    ]
    assert state.delivered == []


def test_body_over_the_size_limit_is_413(state: SendGridState, url: str) -> None:
    state.max_body_bytes = 2000
    assert post(url, raw_body(1)).status_code == 202
    assert post(url, raw_body(40)).status_code == 413
    assert len(state.delivered) == 1


def test_rate_limit_answers_429_with_the_reset_time(state: SendGridState, url: str) -> None:
    state.rate_limit, state.rate_window_seconds = 2, 3600
    assert [post(url, raw_body()).status_code for _ in range(2)] == [202, 202]
    refused = post(url, raw_body())
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()


def test_sandbox_mode_answers_200_and_delivers_nothing(state: SendGridState, url: str) -> None:
    message = mail(1)
    message.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    response = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=url).send(message)
    assert response.status_code == 200
    assert state.delivered == [] and len(state.sandboxed) == 1


def test_scripted_failures_then_normal_service(state: SendGridState, url: str) -> None:
    state.push(Outcome.fail(500), Outcome.fail(403), Outcome.fail(429, reset_at=2_000_000_000))
    assert post(url, raw_body()).status_code == 500
    assert post(url, raw_body()).status_code == 403
    throttled = post(url, raw_body())
    assert (throttled.status_code, throttled.headers["X-RateLimit-Reset"]) == (429, "2000000000")
    assert post(url, raw_body()).status_code == 202
    assert state.requests_seen == 4 and len(state.delivered) == 1


def test_slow_accept_records_the_message_although_the_client_gave_up(
    state: SendGridState, url: str
) -> None:
    state.push(Outcome.slow_accept(1.0), Outcome.hang(1.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/v3/mail/send", json=raw_body(), headers=AUTH, timeout=0.2)
    state.wait_answered(1)
    assert state.accepted_per_outreach() == {"0": 1}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/v3/mail/send", json=raw_body(), headers=AUTH, timeout=0.2)
    state.wait_answered(2)
    assert state.accepted_per_outreach() == {"0": 1}


# -- the Event Webhook ------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint that checks signatures the way the app does."""

    def __init__(self, public_key: str) -> None:
        self.public_key = public_key
        self.batches: list[list[dict[str, Any]]] = []

    async def receive(self, request: Request) -> JSONResponse:
        raw = await request.body()
        verify_sendgrid(
            public_key=self.public_key,
            signature_b64=request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
            timestamp=request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"),
            raw_body=raw,
            now=datetime.now(UTC),
        )
        self.batches.append(json.loads(raw))
        return JSONResponse({"ok": True})


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str, Any]]:
    private, public = make_key()
    hook = Receiver(public)
    app = Starlette(routes=[Route("/webhooks/sendgrid", hook.receive, methods=["POST"])])
    with serve_in_thread(app) as base:
        yield hook, f"{base}/webhooks/sendgrid", private


def test_signed_events_follow_each_accepted_request(receiver: tuple) -> None:
    hook, hook_url, private = receiver
    state = SendGridState(
        webhook_url=hook_url, webhook_key=private, bounce={"user1@example.com"}, drop=set()
    )
    with serve_in_thread(create_app(state)) as url:
        response = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=url).send(mail(2))
        deadline = time.monotonic() + 5
        while not hook.batches and time.monotonic() < deadline:
            time.sleep(0.02)
    [batch] = hook.batches
    message_id = response.headers["X-Message-Id"]
    assert [(e["event"], e["outreach_id"]) for e in batch] == [
        ("processed", "100"),
        ("delivered", "100"),
        ("processed", "101"),
        ("bounce", "101"),
    ]
    assert all(e["sg_message_id"].startswith(message_id + ".") for e in batch)
    assert len({e["sg_event_id"] for e in batch}) == 4
    bounce = batch[3]
    assert (bounce["type"], bounce["status"]) == ("bounce", "5.1.1")
    # What the app makes of them.
    events = sendgrid_events(batch)
    assert [e.event_type for e in events] == ["queued", "delivered", "queued", "bounced"]
    assert events[3].hard_bounce and events[3].outreach_id == 101
    assert events[0].provider_message_id == message_id


def test_queued_events_go_out_on_flush(receiver: tuple) -> None:
    hook, hook_url, private = receiver
    state = SendGridState(
        webhook_url=hook_url, webhook_key=private, webhook_auto=False, drop={"user0@example.com"}
    )
    with serve_in_thread(create_app(state)) as url:
        client = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=url)
        client.send(mail(1))
        client.send(mail(1))
        assert hook.batches == []
        assert state.flush_webhooks() == [200, 200]
    assert [[e["event"] for e in b] for b in hook.batches] == [["processed", "dropped"]] * 2
    assert state.flush_webhooks() == []


# -- suppression lists ------------------------------------------------------------------------


def test_suppression_lists_page_with_limit_and_offset(state: SendGridState, url: str) -> None:
    for i in range(5):
        state.seed("bounces", f"b{i}@example.com", created=1_700_000_000 + i)
    state.seed("spam_reports", "s@example.com", created=1_700_000_100)
    client = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=url).client.suppression
    pages = [
        client.bounces.get(query_params={"limit": 2, "offset": offset}).to_dict
        for offset in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    emails = {row["email"] for page in pages for row in page}
    assert emails == {f"b{i}@example.com" for i in range(5)}
    assert set(pages[0][0]) == {"created", "email", "reason", "status"}
    recent = client.bounces.get(query_params={"start_time": 1_700_000_003}).to_dict
    assert {r["email"] for r in recent} == {"b3@example.com", "b4@example.com"}
    [spam] = client.spam_reports.get().to_dict
    assert set(spam) == {"created", "email", "ip"}
    assert client.blocks.get().to_dict == []


def test_suppression_lists_refuse_what_the_document_refuses(url: str) -> None:
    response = httpx.get(f"{url}/v3/suppression/bounces", params={"limit": 501}, headers=AUTH)
    assert response.status_code == 400
    assert httpx.get(f"{url}/v3/suppression/bounces").status_code == 401


# -- a process of its own ---------------------------------------------------------------------


def test_runs_as_a_silent_subprocess_that_signs_webhooks(tmp_path: Path, receiver: tuple) -> None:
    hook, hook_url, private = receiver
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    port = free_port()
    command = [sys.executable, "-m", "tests.standins.sendgrid", "--port", str(port)]
    command += ["--webhook-url", hook_url, "--webhook-key", str(key_file)]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_listening(port, lambda: proc.poll() is None)
        client = sendgrid.SendGridAPIClient(STANDIN_API_KEY, host=f"http://127.0.0.1:{port}")
        assert client.send(mail(1)).status_code == 202
        deadline = time.monotonic() + 5
        while not hook.batches and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e["event"] for e in hook.batches[0]] == ["processed", "delivered"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert out == b"" and err == b""
