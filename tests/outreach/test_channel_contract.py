"""One contract every channel keeps: the three outboxes, SendGrid and Twilio.

Each channel sends to where it really sends (the outbox folders, the loopback stand-ins of
SendGrid and Twilio), and the web app, served on loopback, takes the providers' signed
webhooks into a real database. The table :data:`CONTRACTS` says what each channel does and,
where it cannot do a thing, says so with the reason; a test over such a thing runs over the
channels that can, and :func:`test_the_table_is_what_the_channels_and_the_app_do` holds the
table's claims against the code.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from enrich.runtime import outreach_config
from enrich.web import webhooks
from models.types import utcnow
from models.vocabulary import EVENT_TYPES
from outreach.providers.sendgrid.events import parse_sendgrid_batch
from tests.outreach.channel_rigs import (
    CONTRACTS,
    WITH_WEBHOOKS,
    Contract,
    Rig,
    contract_params,
    delivery_events,
    event_types_by_profile,
    in_doubt,
    messages,
    post,
    recipient_of,
    send_round,
)
from tests.outreach.conftest import MakeMessage
from tests.providers.conftest import Setup
from tests.providers.data import seed_round


@pytest.fixture
def rig(request: pytest.FixtureRequest, providers: Setup, templates_dir: Path) -> Iterator[Rig]:
    """The contract's channel on the real templates plus a ``broken`` one, sending to its
    outbox folder or stand-in, with the web app taking webhooks into the test's database."""
    contract: Contract = request.param
    config = dataclasses.replace(outreach_config(providers.settings), templates_dir=templates_dir)
    yield Rig(contract, providers, config, contract.build(config))


every_channel = pytest.mark.parametrize("rig", contract_params(CONTRACTS), indirect=True)

channels_with_webhooks = pytest.mark.parametrize(
    "rig", contract_params(WITH_WEBHOOKS), indirect=True
)


@every_channel
def test_each_message_is_taken_once_and_answered_in_order(
    rig: Rig, make_message: MakeMessage
) -> None:
    batch = messages(rig, make_message, 3)
    results = rig.channel.send_batch(batch)
    assert [r.outreach_id for r in results] == [m.outreach_id for m in batch]
    assert all(r.ok and r.provider == rig.contract.provider for r in results), results
    assert all(r.provider_message_id for r in results)
    assert rig.contract.taken(rig) == Counter({m.outreach_id: 1 for m in batch})


@every_channel
def test_a_render_failure_fails_that_message_and_the_rest_go_out(
    rig: Rig, make_message: MakeMessage
) -> None:
    good_1, broken, good_2 = messages(rig, make_message, 3)
    broken = dataclasses.replace(broken, template="broken")
    results = {r.outreach_id: r for r in rig.channel.send_batch([good_1, broken, good_2])}
    failed = results[broken.outreach_id]
    assert (failed.ok, failed.in_doubt) == (False, False)
    assert failed.error is not None and "contract_number is undefined" in failed.error
    assert results[good_1.outreach_id].ok and results[good_2.outreach_id].ok
    assert rig.contract.taken(rig) == Counter({good_1.outreach_id: 1, good_2.outreach_id: 1})


@every_channel
def test_after_a_crash_the_rerun_learns_what_the_channel_took(
    rig: Rig, make_message: MakeMessage
) -> None:
    """A run hands three messages over and dies before recording the answers; one more was
    claimed but never handed over. The rerun's channel must tell them apart without sending."""
    attempted_at = utcnow() - timedelta(seconds=1)
    *handed_over, never_sent = messages(rig, make_message, 4)
    answers = {r.outreach_id: r for r in rig.channel.send_batch(handed_over)}
    rerun = rig.fresh()
    found = rerun.already_sent(in_doubt([*handed_over, never_sent], attempted_at))
    if rig.contract.after_crash == "lookup":
        assert rerun.lookup_is_authoritative
        assert set(found) == set(answers)  # the one never handed over is not among them
        for outreach_id, result in found.items():
            assert result.ok and result.provider == rig.contract.provider
            assert result.provider_message_id == answers[outreach_id].provider_message_id
    else:  # "events": nothing to ask, so nothing counts as not sent; the events tell
        assert (found, rerun.lookup_is_authoritative) == ({}, False)
        names = {
            event.outreach_id
            for body, _headers in rig.setup.sendgrid.take_webhook_batches()
            for event in parse_sendgrid_batch(json.loads(body), received_at=utcnow()).events
            if event.event_type == "queued"
        }
        assert names == set(answers)
    assert rig.contract.taken(rig) == Counter(set(answers))  # nothing sent again


@every_channel
def test_what_the_provider_reports_is_stored_in_our_vocabulary(rig: Rig) -> None:
    contract = rig.contract
    outcomes = sorted(contract.statuses)
    counts = {"email": 0, "sms": 0, "letter": 0}
    counts[contract.channel] = len(outcomes)
    round_id = seed_round(
        rig.engine,
        emails=counts["email"],
        sms=counts["sms"],
        letters=counts["letter"],
        now=utcnow(),
    )
    for index, outcome in enumerate(outcomes):
        arrange, _expected = contract.statuses[outcome]
        arrange(rig, recipient_of(contract.channel, index))
    send_round(rig, round_id)
    if contract.deliver_events is not None:
        contract.deliver_events(rig)
    prefix = contract.channel[0]
    expected = {f"{prefix}{i}": set(contract.statuses[o][1]) for i, o in enumerate(outcomes)}
    stored = event_types_by_profile(rig.engine)
    assert stored == expected
    assert set().union(*stored.values()) <= set(EVENT_TYPES)


@channels_with_webhooks
def test_a_forged_signature_is_refused_and_stores_as_usual(rig: Rig) -> None:
    assert rig.contract.signed is not None
    forged = post(rig.contract.signed(rig, 7, genuine=False))
    assert (forged.status_code, forged.json()) == (403, {"detail": "bad signature"})
    assert delivery_events(rig.engine) == 0
    genuine = post(rig.contract.signed(rig, 7, genuine=True))  # the same event, signed right
    assert genuine.status_code == 200 and delivery_events(rig.engine) == 1


@channels_with_webhooks
def test_a_replayed_event_is_stored_once(rig: Rig) -> None:
    assert rig.contract.signed is not None
    request = rig.contract.signed(rig, 7, genuine=True)
    first, again = post(request), post(request)
    assert (first.json()["new"], first.json()["duplicates"]) == (1, 0)
    assert (again.json()["new"], again.json()["duplicates"]) == (0, 1)
    assert delivery_events(rig.engine) == 1


def test_the_table_is_what_the_channels_and_the_app_do() -> None:
    """Every channel is in the table once; a channel has a webhook exactly when a provider
    stands behind it, and the app serves each route the table names."""
    assert {(c.channel, c.provider) for c in CONTRACTS} == {
        ("email", "outbox"),
        ("sms", "outbox"),
        ("letter", "outbox"),
        ("email", "sendgrid"),
        ("sms", "twilio"),
    }
    for contract in CONTRACTS:
        assert (contract.webhook is None) == (contract.provider == "outbox"), contract.id
        assert (contract.webhook is None) == bool(contract.no_webhook_because), contract.id
        assert (contract.webhook is None) == (contract.signed is None), contract.id
    served = {getattr(route, "path", "") for route in webhooks.router.routes}
    assert {c.webhook for c in WITH_WEBHOOKS} <= served
