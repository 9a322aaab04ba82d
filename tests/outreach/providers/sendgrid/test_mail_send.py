"""The SendGrid channel against its stand-in: every customer gets their own message, once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from outreach.channels.base import Message
from outreach.channels.email_outbox import EmailOutbox
from outreach.config import OutreachConfig, SendGridConfig
from outreach.errors import ConfigurationError, ProviderUnavailable, is_transient
from outreach.providers.sendgrid.mail_send import SendGridEmail
from outreach.render import Renderer
from tests.outreach.conftest import MakeMessage
from tests.standins.common import free_port, serve_in_thread
from tests.standins.sendgrid import create_app
from tests.standins.sendgrid_state import STANDIN_API_KEY, Outcome, SendGridState

NOW = 1_767_344_400.25  # the fake clock's time (unix seconds)
NAMES = ["Jan", "Zoë & <Bo>", 'An "Quote"', "O'Neil", "Émile"]


class FakeTime:
    """Injected sleep and clock: sleeping advances the clock, nobody waits for real."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def state() -> SendGridState:
    return SendGridState()


@pytest.fixture
def url(state: SendGridState) -> Iterator[str]:
    with serve_in_thread(create_app(state)) as base:
        yield base


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_channel(outbox_config: OutreachConfig, url: str, fake_time: FakeTime) -> Any:
    def make(**sendgrid: Any) -> SendGridEmail:
        settings: dict[str, Any] = {
            "api_key": STANDIN_API_KEY,
            "host": url,
            "unsubscribe_group_id": 42,
            "max_retries": 3,
            "timeout_seconds": 5.0,
            **sendgrid,
        }
        config = replace(outbox_config, sendgrid=SendGridConfig(**settings))
        return SendGridEmail(config, sleep=fake_time.sleep, clock=fake_time.clock)

    return make


def emails(make_message: MakeMessage, n: int, **overrides: Any) -> list[Message]:
    return [
        make_message(
            "email",
            recipient=f"customer{i}@example.com",
            given_name=NAMES[i % len(NAMES)],
            family_name=None if i % 3 else "de Vries",
            categories=("enrich", "spring"),
            **overrides,
        )
        for i in range(n)
    ]


def assert_delivered_as_rendered(
    state: SendGridState, config: OutreachConfig, messages: list[Message]
) -> None:
    """Each message arrived once, exactly as its own full render, with its own headers."""
    renderer = Renderer(config)
    outbox = EmailOutbox(config, renderer)
    counts = state.accepted_per_outreach()
    for m in messages:
        assert counts[str(m.outreach_id)] == 1
        [got] = state.delivered_to(m.outreach_id)
        own = renderer.email(m)
        assert (got.subject, got.text, got.html) == (own.subject, own.text, own.html)
        assert got.recipient == m.recipient
        eml = outbox.build(m, own)
        assert got.headers == {
            "List-Unsubscribe": eml["List-Unsubscribe"],
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }


def test_2500_messages_go_in_three_requests_each_personal(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    channel = make_channel()
    messages = emails(make_message, 2500)
    results = channel.send_batch(messages)

    assert state.requests_seen == 3
    assert [r.outreach_id for r in results] == [m.outreach_id for m in messages]
    assert all(r.ok and r.provider == "sendgrid" for r in results)
    assert {r.provider_status for r in results} == {"accepted"}
    assert len({r.provider_message_id for r in results}) == 3
    assert_delivered_as_rendered(state, channel.config, messages)
    for m, r in zip(messages[:10], results[:10], strict=True):
        [got] = state.delivered_to(m.outreach_id)
        assert r.provider_message_id == got.message_id
        assert got.custom_args == {"outreach_id": str(m.outreach_id)}
        assert m.link in got.text and m.link in got.html
        assert str(escape(m.given_name)) in got.html
        assert f"Beste {m.given_name}," in got.text
        assert got.categories == ("enrich", "spring") and got.asm == {"group_id": 42}
        assert got.sender == {"email": "service@example.org", "name": "Example Energy"}
    [zoe] = state.delivered_to(messages[1].outreach_id)
    assert "Zoë &amp; &lt;Bo&gt;" in zoe.html and "Zoë & <Bo>" not in zoe.html
    assert zoe.to == ({"email": "customer1@example.com", "name": "Zoë & <Bo>"},)


def test_a_template_that_transforms_a_name_sends_those_messages_alone(
    state: SendGridState, make_channel: Any, make_message: MakeMessage, templates_dir: Path
) -> None:
    (templates_dir / "email/shout.subject.txt").write_text("Hallo {{ given_name|upper }}")
    (templates_dir / "email/shout.txt").write_text("HALLO {{ given_name|upper }}: {{ link }}")
    (templates_dir / "email/shout.html").write_text(
        "<p>HALLO {{ given_name|upper }}: <a href='{{ link }}'>{{ link }}</a></p>"
    )
    shouted = emails(make_message, 3, template="shout")
    plain = emails(make_message, 4)
    # A name carrying a placeholder's look, and one over SendGrid's substitution limit.
    tags = ("enrich", "spring")
    odd = [
        make_message("email", given_name="[[enrich:token:t]]", categories=tags),
        make_message("email", given_name="A" * 6000, categories=tags),
    ]
    messages = [*shouted, *plain, *odd]
    channel = make_channel()
    results = channel.send_batch(messages)

    assert all(r.ok for r in results)
    assert state.requests_seen == 3 + 1 + 2
    assert_delivered_as_rendered(state, channel.config, messages)
    [got] = state.delivered_to(shouted[1].outreach_id)
    assert got.text.startswith("HALLO ZOË & <BO>: ") and got.subject == "Hallo ZOË & <BO>"


class CountingRenderer(Renderer):
    """Counts the emails rendered (placeholder renders included)."""

    def __init__(self, config: OutreachConfig) -> None:
        super().__init__(config)
        self.emails = 0

    def email(self, message: Message, **kw: Any) -> Any:
        self.emails += 1
        return super().email(message, **kw)


def test_safe_templates_are_rendered_once_per_group_not_per_customer(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 600)
    # Names whose own render whitespace handling could change: rendered and checked alone.
    odd = [
        make_message("email", given_name=name, categories=("enrich", "spring"))
        for name in (" Jan", "Jan  Piet", "Jan\nPiet", "\u00a0Bo")
    ]
    channel = make_channel()
    counting = CountingRenderer(channel.config)
    channel.renderer = channel.planner.renderer = counting
    results = channel.send_batch([*messages, *odd])

    assert all(r.ok for r in results)
    assert_delivered_as_rendered(state, channel.config, [*messages, *odd])
    # Groups by (has given name, has family name): two placeholder renders and one full render
    # proving each; every odd name is rendered alone; nothing else is rendered.
    groups = {(bool(m.given_name), bool(m.family_name)) for m in [*messages, *odd]}
    assert counting.emails <= 3 * len(groups) + 2 * len(odd)


def test_400_naming_one_personalization_fails_only_that_message(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 5)
    state.invalid.add(messages[2].recipient)
    results = make_channel().send_batch(messages)

    assert [r.ok for r in results] == [True, True, False, True, True]
    bad = results[2]
    assert not bad.in_doubt and bad.contact_status == "invalid"
    assert bad.error == (
        "SendGrid refused the message (400): Does not contain a valid address. [to.0.email]"
    )
    assert state.requests_seen == 2
    assert state.accepted_per_outreach() == {
        str(m.outreach_id): 1 for i, m in enumerate(messages) if i != 2
    }


def test_400_naming_no_field_is_bisected_down_to_the_culprit(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 8)
    state.unnamed_rejects.add(messages[5].recipient)
    results = make_channel().send_batch(messages)

    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    assert results[5].error == "SendGrid refused the message (400): Bad Request"
    assert results[5].contact_status is None
    # 8 -> 4 + [4 -> 2 + [2 -> 1 + 1]]
    assert state.requests_seen == 7
    assert sum(state.accepted_per_outreach().values()) == 7
    assert max(state.accepted_per_outreach().values()) == 1


def test_refused_api_key_stops_the_run_naming_the_setting(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    broken = make_message("email", template="broken")
    messages = [broken, *emails(make_message, 3)]
    with pytest.raises(ConfigurationError) as caught:
        make_channel(api_key="SG.revoked").send_batch(messages)
    assert str(caught.value) == (
        "SendGrid refused the API key (401): check ENRICH_SENDGRID_API_KEY"
    )
    # What was settled before the refusal: the message whose template failed.
    [partial] = caught.value.partial_results
    assert partial.outreach_id == broken.outreach_id and not partial.ok
    assert "contract_number" in (partial.error or "")
    assert state.delivered == []


def test_refusal_midway_keeps_the_accepted_requests_as_partial_results(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 4)
    state.push(Outcome(), Outcome.fail(403))
    with pytest.raises(ConfigurationError, match=r"\(403\): check ENRICH_SENDGRID_API_KEY") as c:
        make_channel(batch_size=2).send_batch(messages)
    assert [(r.outreach_id, r.ok) for r in c.value.partial_results] == [
        (m.outreach_id, True) for m in messages[:2]
    ]
    assert set(state.accepted_per_outreach()) == {str(m.outreach_id) for m in messages[:2]}


def test_413_splits_the_request_until_it_fits(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 8)
    state.max_body_bytes = 5000  # the shared content and two personalizations fit, four do not
    results = make_channel().send_batch(messages)
    assert all(r.ok for r in results)
    assert state.requests_seen == 1 + 2 + 4
    assert_delivered_as_rendered(state, make_channel().config, messages)


def test_a_message_too_large_on_its_own_fails(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    state.max_body_bytes = 100
    [result] = make_channel().send_batch(emails(make_message, 1))
    assert not result.ok and not result.in_doubt
    assert result.error == "SendGrid refused the message (413): too large"


def test_429_waits_until_the_reset_then_sends_once(
    state: SendGridState, make_channel: Any, make_message: MakeMessage, fake_time: FakeTime
) -> None:
    messages = emails(make_message, 3)
    state.push(Outcome.fail(429, reset_at=int(NOW) + 7))
    results = make_channel().send_batch(messages)
    assert all(r.ok for r in results)
    assert fake_time.sleeps == [pytest.approx(6.75)]
    assert state.accepted_per_outreach() == {str(m.outreach_id): 1 for m in messages}


def test_500_twice_then_accepted_once(
    state: SendGridState, make_channel: Any, make_message: MakeMessage, fake_time: FakeTime
) -> None:
    messages = emails(make_message, 3)
    state.push(Outcome.fail(500), Outcome.fail(500))
    results = make_channel().send_batch(messages)
    assert all(r.ok for r in results)
    assert fake_time.sleeps == [1.0, 2.0]
    assert state.requests_seen == 3
    assert state.accepted_per_outreach() == {str(m.outreach_id): 1 for m in messages}


def test_provider_down_after_retries_raises_with_partial_results(
    state: SendGridState, make_channel: Any, make_message: MakeMessage, fake_time: FakeTime
) -> None:
    messages = emails(make_message, 4)
    state.push(Outcome(), *[Outcome.fail(503)] * 4)
    with pytest.raises(ProviderUnavailable) as caught:
        make_channel(batch_size=2).send_batch(messages)
    err = caught.value
    assert is_transient(err) and err.status == 503
    assert [r.outreach_id for r in err.partial_results] == [m.outreach_id for m in messages[:2]]
    assert all(r.ok for r in err.partial_results)
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert len(state.delivered) == 2


def test_nothing_listening_is_retried_then_unavailable(
    outbox_config: OutreachConfig, make_message: MakeMessage, fake_time: FakeTime
) -> None:
    port = free_port()  # nothing listens here
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    config = replace(
        outbox_config,
        sendgrid=SendGridConfig(
            api_key=STANDIN_API_KEY, host=f"http://127.0.0.1:{port}", max_retries=2
        ),
    )
    channel = SendGridEmail(config, sleep=fake_time.sleep, clock=fake_time.clock)
    with pytest.raises(ProviderUnavailable, match="could not be reached 3 times"):
        channel.send_batch(emails(make_message, 2))
    assert fake_time.sleeps == [1.0, 2.0]


def test_timeout_after_sending_is_in_doubt_and_never_resent(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = emails(make_message, 3)
    state.push(Outcome.slow_accept(1.5))
    results = make_channel(timeout_seconds=0.4).send_batch(messages)
    assert [(r.ok, r.in_doubt) for r in results] == [(False, True)] * 3
    assert results[0].error == (
        "no answer from SendGrid within 0.4s; the message may have been accepted"
    )
    state.wait_answered(1)
    assert state.requests_seen == 1
    assert state.accepted_per_outreach() == {str(m.outreach_id): 1 for m in messages}


def test_sandbox_mode_is_accepted_and_delivers_nothing(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    results = make_channel(sandbox=True).send_batch(emails(make_message, 2))
    assert all(r.ok and r.provider_status == "accepted" for r in results)
    [body] = state.sandboxed
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert state.delivered == []


def test_render_failures_and_bad_recipients_fail_alone(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    messages = [
        make_message("email", template="broken"),
        make_message("email", recipient="no address here"),
        make_message("email", unsubscribe=False, categories=()),
    ]
    results = make_channel(unsubscribe_group_id=None).send_batch(messages)
    assert [r.ok for r in results] == [False, False, True]
    assert results[1].error == "recipient is not an email address"
    [got] = state.delivered
    assert got.headers == {} and got.categories == () and got.asm is None


def test_already_sent_cannot_ask_sendgrid(make_channel: Any) -> None:
    channel = make_channel()
    assert channel.already_sent([]) == {}
    assert channel.name == "email" and channel.provider == "sendgrid"
    assert channel.batch_size == 1000
    assert channel.reconcile_grace.total_seconds() == 3600


def test_missing_key_is_a_configuration_error(outbox_config: OutreachConfig) -> None:
    with pytest.raises(ConfigurationError, match="ENRICH_SENDGRID_API_KEY"):
        SendGridEmail(outbox_config)


def test_a_400_about_our_settings_stops_the_run(
    state: SendGridState, make_channel: Any, make_message: MakeMessage
) -> None:
    too_many = tuple(f"tag{i}" for i in range(11))  # SendGrid allows ten categories
    messages = [make_message("email", categories=too_many) for _ in range(4)]
    with pytest.raises(ConfigurationError, match=r"refused our settings \(400, categories\)"):
        make_channel().send_batch(messages)
    assert state.requests_seen == 1 and state.delivered == []
