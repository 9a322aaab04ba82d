"""The Twilio SMS channel against the local Twilio stand-in: pacing, refusals, retries, doubt."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from sqlalchemy import select

from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from enrich.web.app import create_app as create_web_app
from models.answers.link_tokens import hash_token, new_token, token_from_link
from models.types import utcnow
from outreach.channels.base import InDoubt
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, ProviderUnavailable, is_transient
from outreach.providers.twilio.pacing import Pacer
from outreach.providers.twilio.signature import verify_twilio
from outreach.providers.twilio.sms import TwilioSms
from tests.models.feedback.people import T, person
from tests.outreach.conftest import MakeMessage
from tests.outreach.providers.twilio.sms_rig import (
    SENDER,
    SERVICE,
    FakeTime,
    StandIn,
    channel,
    configure,
    sms,
)
from tests.standins.common import free_port, serve_in_thread
from tests.standins.twilio import AUTH_TOKEN, TwilioState, WebhookReceiver, create_app


def test_200_messages_stay_within_the_rate_and_the_concurrency(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    rate, concurrency = 60.0, 4
    config = configure(
        outbox_config, standin.url, messages_per_second=rate, concurrency=concurrency
    )
    # Unpaced, this stand-in takes well over 100 requests a second: the pacing is ours.
    standin.state.latency = 0.04  # so that requests overlap
    standin.state.validate = False  # the other tests check requests against the document
    messages = [sms(make_message, config, f"+3161000{n:04d}") for n in range(200)]
    started = time.monotonic()
    results = channel(config).send_batch(messages)
    elapsed = time.monotonic() - started
    assert [r.outreach_id for r in results] == [m.outreach_id for m in messages]
    assert all(r.ok and r.provider == "twilio" for r in results)
    assert {r.provider_status for r in results} == {"queued"}
    state = standin.state
    assert len(state.messages) == 200 and state.duplicates() == {}
    assert state.max_rate() <= rate + 3  # spacing allows rate + 1; arrival jitter a little more
    assert elapsed >= 199 / rate
    assert 2 <= state.max_in_flight <= concurrency
    by_sid = {m.sid: m for m in state.messages}
    for message, result in zip(messages, results, strict=True):
        stored = by_sid[result.provider_message_id or ""]
        assert stored.outreach_id == message.outreach_id  # from StatusCallback's oid
        assert stored.to == message.recipient and message.link in stored.body
        assert stored.status_callback == (
            f"{config.base_url}/webhooks/twilio/status?oid={message.outreach_id}"
        )


def test_status_callbacks_reach_us_signed_with_the_outreach_id(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    receiver = WebhookReceiver()
    standin.state.delivery_outcomes["+31620000002"] = ("undelivered", 30006)
    with serve_in_thread(receiver) as hooks:
        config = configure(outbox_config, standin.url, base_url=hooks, concurrency=2)
        messages = [sms(make_message, config, f"+3162000000{n}") for n in range(3)]
        results = channel(config).send_batch(messages)
        standin.state.flush_webhooks()
    sids = {r.outreach_id: r.provider_message_id for r in results}
    finals = {}
    assert len(receiver.received) == 6
    for hook in receiver.received:
        verify_twilio(
            auth_token=AUTH_TOKEN, url=hook.url, params=hook.form, signature=hook.signature
        )
        oid = int(hook.url.rsplit("oid=", 1)[1])
        assert hook.form["MessageSid"] == sids[oid]
        finals[oid] = (hook.form["MessageStatus"], hook.form.get("ErrorCode"))
    ids = [m.outreach_id for m in messages]
    assert finals == {
        ids[0]: ("delivered", None),
        ids[1]: ("delivered", None),
        ids[2]: ("undelivered", "30006"),
    }


def test_callbacks_are_accepted_by_the_web_app_and_stored(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    outbox_config: OutreachConfig,
    make_message: MakeMessage,
    standin: StandIn,
) -> None:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ENRICH_BASE_URL", app_url)
    monkeypatch.setenv("ENRICH_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    get_settings.cache_clear()
    engine = get_engine(get_settings())
    ann = person(engine, "ann", "mobile", "+31612345678")
    config = configure(outbox_config, standin.url, base_url=app_url)
    with serve_in_thread(create_web_app(), port=port):
        message = sms(make_message, config, "+31612345678", outreach_id=ann.outreach_id)
        [result] = channel(config).send_batch([message])
        hooks = standin.state.flush_webhooks()
    get_settings.cache_clear()
    assert [h.status_code for h in hooks] == [200, 200]
    with engine.connect() as conn:
        stored = conn.execute(
            select(T["event"].c.event_type, T["event"].c.provider_event_id).where(
                T["event"].c.outreach_id == ann.outreach_id
            )
        ).all()
    sid = result.provider_message_id
    assert sorted(stored) == [("delivered", f"{sid}:delivered"), ("sent", f"{sid}:sent")]


def test_each_test_number_maps_to_its_contact_status(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    config = configure(outbox_config, standin.url, concurrency=3)
    numbers = ["+15005550001", "+15005550002", "+15005550004", "+15005550009", "+31612345678"]
    results = channel(config).send_batch([sms(make_message, config, n) for n in numbers])
    assert [(r.ok, r.contact_status) for r in results] == [
        (False, "invalid"),
        (False, "invalid"),
        (False, "opted_out"),
        (False, "invalid"),
        (True, None),
    ]
    assert [r.error.split(":")[0] for r in results[:4] if r.error] == [
        "twilio error 21211",
        "twilio error 21612",
        "twilio error 21610",
        "twilio error 21614",
    ]
    assert not any(n in (r.error or "") for r in results for n in numbers)
    assert [m.to for m in standin.state.messages] == ["+31612345678"]


def test_a_region_not_enabled_stops_the_batch_naming_the_region_only(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    config = configure(outbox_config, standin.url)
    numbers = ["+31611111111", "+31622222222", "+15005550003", "+31633333333"]
    messages = [sms(make_message, config, n) for n in numbers]
    with pytest.raises(ConfigurationError) as caught:
        channel(config).send_batch(messages)
    text = str(caught.value)
    assert "region US (21408)" in text and "Geo Permissions" in text
    assert "5005550003" not in text
    partial = caught.value.partial_results
    assert [(r.outreach_id, r.ok) for r in partial] == [
        (messages[0].outreach_id, True),
        (messages[1].outreach_id, True),
    ]
    assert [m.to for m in standin.state.messages] == numbers[:2]


def test_refused_credentials_stop_the_batch_naming_the_settings(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    config = configure(
        outbox_config, standin.url, auth_token="wrong", concurrency=4, messages_per_second=100.0
    )
    messages = [sms(make_message, config, f"+3161111111{n}") for n in range(8)]
    with pytest.raises(ConfigurationError) as caught:
        channel(config).send_batch(messages)
    assert "ENRICH_TWILIO_ACCOUNT_SID" in str(caught.value)
    assert "ENRICH_TWILIO_AUTH_TOKEN" in str(caught.value)
    assert caught.value.partial_results == []
    assert standin.state.messages == []
    assert len(standin.state.create_times) <= 4  # in-flight ones only; nothing after the stop


@pytest.mark.parametrize("statuses", [[429], [500], [503], [429, 500, 503]])
def test_throttling_and_outages_are_retried_then_accepted_once(
    outbox_config: OutreachConfig,
    make_message: MakeMessage,
    standin: StandIn,
    statuses: list[int],
) -> None:
    for status in statuses:
        standin.state.fail_next(status)
    fake = FakeTime()
    config = configure(outbox_config, standin.url)
    message = sms(make_message, config, "+31612345678")
    [result] = channel(config, fake).send_batch([message])
    assert result.ok and result.provider_message_id == standin.state.messages[0].sid
    assert standin.state.per_outreach() == {message.outreach_id: 1}
    assert len(standin.state.create_times) == len(statuses) + 1
    assert fake.backoffs() == [0.5, 1.0, 2.0][: len(statuses)]


def test_an_outage_outlasting_the_retries_keeps_what_was_settled(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    standin.state.fail_next(503, times=3)
    config = configure(outbox_config, standin.url, max_retries=2)
    broken = sms(make_message, config, "+31611111111", template="broken")
    waiting = sms(make_message, config, "+31622222222")
    with pytest.raises(ProviderUnavailable) as caught:
        channel(config, FakeTime()).send_batch([broken, waiting])
    assert is_transient(caught.value)
    assert "3 attempts" in str(caught.value) and "+3162" not in str(caught.value)
    [settled] = caught.value.partial_results
    assert settled.outreach_id == broken.outreach_id and not settled.ok
    assert standin.state.messages == []


def test_a_refused_connection_is_retried(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    state = TwilioState()
    port = free_port()
    config = configure(outbox_config, f"http://127.0.0.1:{port}")
    fake = FakeTime()
    with ExitStack() as stack:

        def start_standin() -> None:  # nothing listens until the first backoff
            if not stack_started:
                stack_started.append(
                    stack.enter_context(serve_in_thread(create_app(state), port=port))
                )

        stack_started: list[str] = []
        fake.on_sleep.append(start_standin)
        [result] = channel(config, fake).send_batch([sms(make_message, config, "+31612345678")])
    assert result.ok
    assert len(state.messages) == 1 and fake.backoffs() == [0.5]


def test_a_slow_accept_is_found_by_the_immediate_lookup(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    standin.state.fail_next(delay=1.0, accept=True)
    config = configure(outbox_config, standin.url, timeout_seconds=0.3)
    message = sms(make_message, config, "+31612345678")
    [result] = channel(config).send_batch([message])
    [stored] = standin.state.messages
    assert result.ok and not result.in_doubt
    assert (result.provider_message_id, result.provider_status) == (stored.sid, "queued")
    assert len(standin.state.create_times) == 1  # looked up, never sent again


def test_a_timeout_with_nothing_accepted_stays_in_doubt(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    standin.state.fail_next(delay=1.0)
    config = configure(outbox_config, standin.url, timeout_seconds=0.3)
    [result] = channel(config).send_batch([sms(make_message, config, "+31612345678")])
    assert result.in_doubt and not result.ok and result.provider_message_id is None
    assert "+316" not in (result.error or "")
    assert standin.state.messages == [] and len(standin.state.create_times) == 1


def test_already_sent_finds_a_message_by_its_token_hash_only(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn, hooks: str
) -> None:
    config = configure(outbox_config, standin.url, base_url=hooks, concurrency=4)
    sender = channel(config)
    number = "+31612345678"
    started = utcnow()
    ours = sms(make_message, config, number)
    [sent] = sender.send_batch([ours])
    # Then another customer sharing the number gets 25 messages, so ours is no longer among
    # the newest; after the callbacks every message has a date_sent.
    others = [sms(make_message, config, number) for _ in range(25)]
    assert all(r.ok for r in sender.send_batch(others))
    standin.state.flush_webhooks()
    never_sent = new_token()
    items = [
        InDoubt(
            ours.outreach_id, number, started, frozenset({hash_token(token_from_link(ours.link))})
        ),
        InDoubt(999_001, number, started, frozenset({hash_token(never_sent)})),
        InDoubt(999_002, "+31699999999", started, frozenset({hash_token(never_sent)})),
    ]
    found = sender.already_sent(items)
    assert list(found) == [ours.outreach_id]
    assert found[ours.outreach_id].ok
    assert found[ours.outreach_id].provider_message_id == sent.provider_message_id
    assert found[ours.outreach_id].provider_status == "delivered"
    assert standin.state.spec_errors == []


@pytest.mark.parametrize("sender", ["messaging_service", "from_number"])
def test_sends_through_a_messaging_service_or_a_number(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn, sender: str
) -> None:
    if sender == "messaging_service":
        config = configure(
            outbox_config, standin.url, messaging_service_sid=SERVICE, from_number=None
        )
    else:
        config = configure(outbox_config, standin.url)
    [result] = channel(config).send_batch([sms(make_message, config, "+31612345678")])
    [stored] = standin.state.messages
    if sender == "messaging_service":
        assert (stored.messaging_service_sid, stored.from_) == (SERVICE, None)
        assert result.provider_status == "accepted"
    else:
        assert (stored.messaging_service_sid, stored.from_) == (None, SENDER)
        assert result.provider_status == "queued"


def test_without_a_sender_the_channel_refuses_to_start(
    outbox_config: OutreachConfig, standin: StandIn
) -> None:
    with pytest.raises(ConfigurationError, match="ENRICH_TWILIO_FROM_NUMBER"):
        TwilioSms(configure(outbox_config, standin.url, from_number=None))
    with pytest.raises(ConfigurationError, match="ENRICH_TWILIO_AUTH_TOKEN"):
        TwilioSms(outbox_config)


def test_a_render_error_or_a_bad_number_fails_that_message_only(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    config = configure(outbox_config, standin.url, concurrency=2)
    messages = [
        sms(make_message, config, "+31611111111", template="broken"),
        sms(make_message, config, "06-12345678"),
        sms(make_message, config, "+31622222222"),
    ]
    results = channel(config).send_batch(messages)
    assert [r.ok for r in results] == [False, False, True]
    assert "contract_number" in (results[0].error or "")
    assert results[1].error == "recipient is not an E.164 number"
    assert [m.to for m in standin.state.messages] == ["+31622222222"]


def test_another_refusal_fails_the_message_with_its_code(
    outbox_config: OutreachConfig, make_message: MakeMessage, standin: StandIn
) -> None:
    config = configure(outbox_config, standin.url, messaging_service_sid="MG-bad", from_number=None)
    [result] = channel(config).send_batch([sms(make_message, config, "+31612345678")])
    assert not result.ok and not result.in_doubt and result.contact_status is None
    assert result.error == "twilio error 20001"


def test_the_pacer_spaces_calls_evenly() -> None:
    fake = FakeTime()
    pacer = Pacer(4.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        pacer.wait()
    assert fake.sleeps == [0.25, 0.25, 0.25, 0.25]
    fake.now += 10  # idle time is not saved up for a burst
    pacer.wait()
    pacer.wait()
    assert fake.sleeps[-1] == 0.25 and len(fake.sleeps) == 5
