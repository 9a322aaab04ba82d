"""SendGrid and Twilio webhook payloads map to our event vocabulary without ever raising."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from models.vocabulary import EVENT_TYPES
from outreach.providers.sendgrid.events import (
    SENDGRID_EVENT_TYPES,
    parse_sendgrid_batch,
    sendgrid_events,
)
from outreach.providers.twilio.events import (
    TWILIO_STATUS_TYPES,
    twilio_inbound_event,
    twilio_status_event,
)
from outreach.providers.webhook_errors import WebhookPayloadError
from tests.paths import FIXTURES

RECEIVED = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


def load(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def test_every_mapped_status_is_in_the_vocabulary() -> None:
    assert set(SENDGRID_EVENT_TYPES.values()) <= set(EVENT_TYPES)
    assert set(TWILIO_STATUS_TYPES.values()) <= set(EVENT_TYPES)


def test_each_sendgrid_event_type_is_mapped() -> None:
    events = sendgrid_events(load("sendgrid", "all_event_types.json"), received_at=RECEIVED)
    got = [(e.raw["event"], e.raw.get("type"), e.event_type) for e in events]
    assert got == [
        ("processed", None, "queued"),
        ("dropped", None, "rejected"),
        ("deferred", None, "deferred"),
        ("delivered", None, "delivered"),
        ("bounce", "bounce", "bounced"),
        ("bounce", "blocked", "failed"),
        ("open", None, "opened"),
        ("click", None, "clicked"),
        ("spamreport", None, "complained"),
        ("unsubscribe", None, "unsubscribed"),
        ("group_unsubscribe", None, "unsubscribed"),
        ("group_resubscribe", None, "unknown"),
    ]
    flags = {e.provider_event_id: e for e in events}
    hard = [e.raw["event"] for e in events if e.hard_bounce]
    assert hard == ["dropped", "bounce"]  # dropped "Bounced Address", and the type-bounce
    assert [e.raw["event"] for e in events if e.opt_out] == [
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
    ]
    assert [e.raw["event"] for e in events if e.opt_in] == ["group_resubscribe"]
    first = flags["cHJvY2Vzc2VkLTEtMTAwMQ"]
    assert first.provider == "sendgrid"
    assert first.outreach_id == 1
    assert first.provider_message_id == "Nz1j3Fg8SxW-wqQjuqDOYg"
    assert first.occurred_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert first.recipient == "ann@example.com"


def test_sendgrid_detail_carries_the_reason_without_the_address() -> None:
    events = sendgrid_events(load("sendgrid", "all_event_types.json"), received_at=RECEIVED)
    bounce = next(e for e in events if e.raw.get("type") == "bounce")
    assert bounce.detail is not None
    assert "5.1.1" in bounce.detail and "User unknown" in bounce.detail
    assert "ann@example.com" not in bounce.detail
    click = next(e for e in events if e.event_type == "clicked")
    assert click.detail is None  # the URL holds the personal token: never in the detail
    assert "ann@example.com" not in repr(bounce)  # recipient and raw stay out of logs


def test_sendgrid_event_without_status_reason_or_timestamp_is_fine() -> None:
    [event] = sendgrid_events(
        [{"event": "bounce", "type": "bounce", "sg_event_id": "x1", "email": "a@example.com"}],
        received_at=RECEIVED,
    )
    assert event.event_type == "bounced" and event.hard_bounce
    assert event.occurred_at == RECEIVED
    assert event.outreach_id is None


def test_unknown_and_malformed_sendgrid_events_never_sink_the_batch() -> None:
    payload: list[Any] = [
        {"event": "machine_learning_thing", "sg_event_id": "u1", "timestamp": 1767261600},
        "not an object",
        {"event": "delivered", "timestamp": "soon", "outreach_id": "7"},
        {"event": "delivered", "sg_event_id": "ok1", "timestamp": 1767261600, "outreach_id": "7"},
        {"event": "open", "sg_event_id": "far", "timestamp": 10**20},
        {"event": "open", "sg_event_id": "who", "email": ["a@example.com", "b"]},
        {"event": "delivered", "outreach_id": str(2**63)},
        {"event": "delivered", "timestamp": 1767261600},
    ]
    batch = parse_sendgrid_batch(payload, received_at=RECEIVED)
    assert [e.event_type for e in batch.events] == ["unknown", "delivered", "delivered"]
    assert batch.events[0].raw == payload[0]
    assert batch.events[0].detail == "machine_learning_thing"
    assert batch.events[1].outreach_id == 7
    assert [r.reason for r in batch.rejected] == [
        "event is not an object",
        "timestamp is not a Unix time",
        "timestamp is not a Unix time",
        "email is not text",
        "outreach_id is not an outreach id",
    ]
    assert all("a@example.com" not in r.excerpt for r in batch.rejected)
    # No sg_event_id: a stable id derived from the content, so a retry still deduplicates.
    again = parse_sendgrid_batch(payload, received_at=RECEIVED)
    assert batch.events[2].provider_event_id == again.events[2].provider_event_id
    assert batch.events[2].provider_event_id.startswith("sha256:")
    assert [r.fingerprint for r in batch.rejected] == [r.fingerprint for r in again.rejected]
    assert sendgrid_events(payload, received_at=RECEIVED) == batch.events


@pytest.mark.parametrize("payload", [{"event": "delivered"}, "[]", None, 3])
def test_a_sendgrid_body_that_is_not_a_list_is_refused(payload: Any) -> None:
    with pytest.raises(WebhookPayloadError, match="JSON array"):
        sendgrid_events(payload)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", "queued"),
        ("accepted", "queued"),
        ("scheduled", "queued"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "failed"),
        ("failed", "failed"),
        ("read", "opened"),
        ("canceled", "rejected"),
        ("partially_delivered", "unknown"),
        ("", "unknown"),
    ],
)
def test_each_twilio_status_is_mapped(status: str, expected: str) -> None:
    form = {**load("twilio", "status_delivered.json"), "MessageStatus": status, "SmsStatus": status}
    event = twilio_status_event(form, 12, received_at=RECEIVED)
    assert event.event_type == expected
    assert event.outreach_id == 12
    assert event.provider_event_id.startswith("SM3f1c2b0a9e8d7c6b5a4f3e2d1c0b9a8f:")
    assert event.raw == form
    assert not (event.opt_out or event.invalid_recipient or event.hard_bounce)


def test_twilio_status_event_keys_and_time() -> None:
    event = twilio_status_event(load("twilio", "status_delivered.json"), None, received_at=RECEIVED)
    assert event.provider == "twilio"
    assert event.provider_event_id == "SM3f1c2b0a9e8d7c6b5a4f3e2d1c0b9a8f:delivered"
    assert event.provider_message_id == "SM3f1c2b0a9e8d7c6b5a4f3e2d1c0b9a8f"
    assert event.occurred_at == RECEIVED
    assert event.outreach_id is None


@pytest.mark.parametrize(
    ("fixture", "invalid", "opt_out", "code"),
    [
        ("status_undelivered_30003.json", False, False, 30003),  # handset off: temporary
        ("status_failed_21211.json", True, False, 21211),
        ("status_failed_21610.json", False, True, 21610),
    ],
)
def test_twilio_error_codes(fixture: str, invalid: bool, opt_out: bool, code: int) -> None:
    event = twilio_status_event(load("twilio", fixture), 3, received_at=RECEIVED)
    assert event.event_type == "failed"
    assert (event.invalid_recipient, event.opt_out, event.error_code) == (invalid, opt_out, code)
    assert event.detail == f"error {code}"


@pytest.mark.parametrize("code", ["21612", "21614", "30005", "30006"])
def test_other_dead_number_codes_are_invalid(code: str) -> None:
    form = {**load("twilio", "status_failed_21211.json"), "ErrorCode": code}
    assert twilio_status_event(form, 3).invalid_recipient


def test_twilio_callback_without_sid_is_refused() -> None:
    with pytest.raises(WebhookPayloadError, match="MessageSid"):
        twilio_status_event({"MessageStatus": "sent"}, 1)
    with pytest.raises(WebhookPayloadError, match="MessageSid"):
        twilio_inbound_event({"Body": "STOP", "From": "+31612345678"})


@pytest.mark.parametrize(
    "body",
    ["STOP", "  stop ", "Stop please", "stop.", "StopAll", "unsubscribe", "Cancel", "END", "quit"],
)
def test_opt_out_words_are_read_from_the_first_word(body: str) -> None:
    form = {"MessageSid": "SMx", "From": "+31612345678", "To": "+15005550006", "Body": body}
    event = twilio_inbound_event(form, received_at=RECEIVED)
    assert event.event_type == "inbound"
    assert event.opt_out and not event.opt_in
    assert event.recipient == "+31612345678"
    assert event.provider_event_id == "SMx" and event.outreach_id is None
    assert body not in (event.detail or "")


@pytest.mark.parametrize("body", ["START", " yes ", "Unstop"])
def test_opt_in_words_need_the_whole_body(body: str) -> None:
    form = {"MessageSid": "SMy", "From": "+31612345678", "Body": body}
    event = twilio_inbound_event(form)
    assert event.opt_in and not event.opt_out


@pytest.mark.parametrize("body", ["Yes that is still my number", "Hello", "", "stopwatch"])
def test_other_messages_are_plain_inbound(body: str) -> None:
    event = twilio_inbound_event({"MessageSid": "SMz", "From": "+31612345678", "Body": body})
    assert event.event_type == "inbound"
    assert not event.opt_in and not event.opt_out


def test_advanced_opt_out_type_is_honoured() -> None:
    stop = twilio_inbound_event({**load("twilio", "inbound_text.json"), "OptOutType": "STOP"})
    assert stop.opt_out
    start = twilio_inbound_event({**load("twilio", "inbound_text.json"), "OptOutType": "START"})
    assert start.opt_in
    assert twilio_inbound_event(load("twilio", "inbound_stop.json")).opt_out
    assert twilio_inbound_event(load("twilio", "inbound_start.json")).opt_in
