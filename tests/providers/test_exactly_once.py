"""Exactly once: the sending process is killed at many instants, a rerun finishes the round, and
the stand-ins, which count what they accepted, hold every message once: no duplicate, no loss.

The kills land where it matters: as a request arrives (the provider did not take it), after the
provider accepted it but before the answer was recorded, and at unscripted instants. Between
the two runs the stand-ins deliver their signed webhooks to the app, as the real ones would.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from models.messages.in_doubt import ChannelDoubt, unsettled
from models.tables import OUTREACH, AuditEvent, Outreach
from models.types import utcnow
from outreach.errors import ConfigurationError
from outreach.sending.resolution import resolve_in_doubt
from tests.conftest import REPO
from tests.providers.conftest import Setup, subprocess_env
from tests.providers.data import seed_round
from tests.providers.sender import send_round
from tests.standins.sendgrid_state import Outcome

SENDGRID_DOUBT = ChannelDoubt("sendgrid", timedelta(0))
GRACE_60 = {"email": ChannelDoubt("sendgrid", timedelta(minutes=60))}


class SenderFinished(AssertionError):
    """The sender ended before the kill it was meant to suffer."""


def run_sender(
    setup: Setup,
    round_id: int,
    now: datetime,
    *,
    kill_when: Callable[[], bool] | None = None,
    must_kill: bool = True,
    **env: object,
) -> bool:
    """Run the sender in its own process; SIGKILL it once ``kill_when()``. True if killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.providers.sender", str(round_id), now.isoformat()],
        cwd=REPO,
        env=subprocess_env(setup, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when is not None and kill_when():
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.005)
    if proc.poll() is None:
        proc.kill()
        pytest.fail("the sender did not finish within 120 s")
    _out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()[-3000:]
    if kill_when is not None and must_kill:
        raise SenderFinished("the sender finished before the kill point")
    return False


def outreach_statuses(engine: Engine, channel: str) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(OUTREACH.c.id, OUTREACH.c.status).where(OUTREACH.c.channel == channel)
            ).all()
        )


def assert_exactly_once(setup: Setup, *, emails: int, sms: int) -> None:
    engine = get_engine(setup.settings)
    email_rows = outreach_statuses(engine, "email")
    sent_emails = {i for i, status in email_rows.items() if status == "sent"}
    assert len(sent_emails) == emails, email_rows
    accepted = setup.sendgrid.accepted_per_outreach()
    assert {int(i) for i in accepted} == sent_emails
    assert set(accepted.values()) <= {1}, f"duplicates: {accepted.most_common(3)}"
    sms_rows = outreach_statuses(engine, "sms")
    sent_sms = {i for i, status in sms_rows.items() if status == "sent"}
    assert len(sent_sms) == sms, sms_rows
    assert setup.twilio.duplicates() == {}
    assert set(setup.twilio.per_outreach()) == sent_sms


def finish(setup: Setup, round_id: int, now: datetime) -> None:
    """Webhooks of what was accepted reach the app, then a rerun completes the round."""
    setup.sendgrid.flush_webhooks()
    setup.twilio.flush_webhooks()
    run_sender(setup, round_id, now)
    setup.sendgrid.flush_webhooks()
    setup.twilio.flush_webhooks()


def in_doubt_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(OUTREACH.c.id).where(
                    OUTREACH.c.status == "pending", OUTREACH.c.attempted_at.is_not(None)
                )
            ).scalars()
        )


def steward_sends_again(setup: Setup, round_id: int, ids: set[int], now: datetime) -> None:
    """``enrich outreach resolve --send`` for ``ids``, then the rerun that sends them."""
    resolution = resolve_in_doubt(
        get_engine(setup.settings),
        outreach_ids=sorted(ids),
        decision="send",
        decided_by="steward:alice",
        reason="checked SendGrid's activity feed: not delivered",
        now=now,
    )
    assert (set(resolution.resolved), resolution.refused) == (ids, {})
    run_sender(setup, round_id, now)
    setup.sendgrid.flush_webhooks()


@pytest.mark.parametrize("request_no", [1, 4])
def test_sendgrid_killed_after_accepting_then_rerun_settles_each_email_by_its_events(
    providers: Setup, request_no: int
) -> None:
    now = utcnow()
    round_id = seed_round(get_engine(providers.settings), emails=35, sms=0, now=now)
    state = providers.sendgrid
    state.push(*[Outcome()] * (request_no - 1), Outcome.slow_accept(8))
    # 35 emails in requests of 10: 10, 10, 10, 5.
    expected = min(35, 10 * request_no)
    run_sender(
        providers,
        round_id,
        now,
        kill_when=lambda: state.requests_seen >= request_no and len(state.delivered) >= expected,
    )
    assert len(state.delivered) == expected  # the kill came before any answer was recorded
    finish(providers, round_id, now)
    assert_exactly_once(providers, emails=35, sms=0)


@pytest.mark.parametrize("request_no", [1, 3])
def test_sendgrid_killed_as_a_request_arrives_leaves_it_in_doubt_until_the_steward_decides(
    providers: Setup, request_no: int
) -> None:
    """SendGrid never took the hanging request, but nothing can prove that: the rerun sends
    everything else and leaves those emails in doubt, named with their reason, instead of
    sending them a second time; the steward's decision sends them once."""
    engine = get_engine(providers.settings)
    now = utcnow()
    round_id = seed_round(engine, emails=35, sms=0, now=now)
    state = providers.sendgrid
    state.push(*[Outcome()] * (request_no - 1), Outcome.hang(8))
    expected = 10 * (request_no - 1)
    run_sender(
        providers,
        round_id,
        now,
        kill_when=lambda: state.requests_seen >= request_no and len(state.delivered) >= expected,
    )
    hung = in_doubt_ids(engine) - set(map(int, state.accepted_per_outreach()))
    assert len(hung) == 10
    finish(providers, round_id, now)

    assert in_doubt_ids(engine) == hung  # not sent again without evidence
    assert len(state.delivered) == 25
    with engine.connect() as conn:
        listed = unsettled(conn, now=now, channels={"email": SENDGRID_DOUBT}, round_id=round_id)
    assert {u.outreach_id for u in listed} == hung
    assert {u.kind for u in listed} == {"in_doubt"}
    assert all("enrich outreach resolve" in u.next_action for u in listed)  # grace 0 here

    steward_sends_again(providers, round_id, hung, now)
    assert_exactly_once(providers, emails=35, sms=0)
    with engine.connect() as conn:
        decisions = conn.execute(
            select(AuditEvent.entity_id, AuditEvent.actor).where(  # type: ignore[call-overload]
                AuditEvent.action == "outreach.resolved"
            )
        ).all()
    assert sorted(decisions) == sorted((i, "steward:alice") for i in hung)


@pytest.mark.parametrize("accepted_before_kill", [1, 13, 29])
def test_twilio_killed_with_requests_in_flight_then_rerun_sends_each_sms_once(
    providers: Setup, accepted_before_kill: int
) -> None:
    now = utcnow()
    round_id = seed_round(get_engine(providers.settings), emails=0, sms=30, now=now)
    providers.twilio.latency = 0.05  # several requests are in flight at any instant
    run_sender(
        providers,
        round_id,
        now,
        kill_when=lambda: len(providers.twilio.messages) >= accepted_before_kill,
        ENRICH_TWILIO_CONCURRENCY=4,
    )
    finish(providers, round_id, now)
    assert_exactly_once(providers, emails=0, sms=30)


@pytest.mark.parametrize("after_seconds", [0.8, 1.6, 2.4, 3.2])
def test_killed_at_unscripted_instants_then_rerun_sends_everything_once(
    providers: Setup, after_seconds: float
) -> None:
    """Each instant is counted from the first request a stand-in sees (a loaded machine starts
    the process slowly), and the SMS are paced to four a second, so sending the 20 takes at
    least 4.75 s: every instant lands in the middle of the round, and the test says so."""
    now = utcnow()
    round_id = seed_round(get_engine(providers.settings), emails=30, sms=20, now=now)
    providers.twilio.latency = 0.03
    providers.sendgrid.push(*[Outcome.slow_accept(0.3)] * 3)
    first_request: list[float] = []

    def due() -> bool:
        if not first_request and (
            providers.sendgrid.requests_seen or providers.twilio.request_times
        ):
            first_request.append(time.monotonic())
        return bool(first_request) and time.monotonic() - first_request[0] >= after_seconds

    killed = run_sender(
        providers, round_id, now, kill_when=due, ENRICH_TWILIO_MESSAGES_PER_SECOND=4
    )
    taken = len(providers.sendgrid.accepted_per_outreach()) + len(providers.twilio.per_outreach())
    assert killed and taken < 50, f"the kill came after the round ({taken} of 50 taken)"
    finish(providers, round_id, now)
    assert_exactly_once(providers, emails=30, sms=20)


def test_a_timed_out_email_stays_in_doubt_after_the_grace_until_the_steward_decides(
    providers: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No webhook event within the grace is no proof that SendGrid did not take the email:
    it is never sent again on its own; the steward's decision sends it once."""
    from enrich.settings import get_settings

    monkeypatch.setenv("ENRICH_SENDGRID_RECONCILE_GRACE_MINUTES", "60")
    monkeypatch.setenv("ENRICH_PROVIDER_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    now = utcnow()
    round_id = seed_round(get_engine(providers.settings), emails=15, sms=0, now=now)
    providers.sendgrid.push(Outcome(), Outcome.hang(6))  # 2nd request: no answer, not taken
    first = send_round(round_id, now)
    assert (first.sent, first.in_doubt) == (10, 5)
    providers.sendgrid.flush_webhooks()
    again = send_round(round_id, now + timedelta(minutes=30))  # within the grace: it waits
    assert (again.sent, again.in_doubt) == (0, 5)
    assert len(providers.sendgrid.delivered) == 10
    later = send_round(round_id, now + timedelta(minutes=61))
    assert (later.sent, later.in_doubt) == (0, 5)
    assert len(providers.sendgrid.delivered) == 10
    engine = get_engine(providers.settings)
    with engine.connect() as conn:
        listed = unsettled(conn, now=now + timedelta(minutes=30), channels=GRACE_60)
        late = unsettled(conn, now=now + timedelta(minutes=61), channels=GRACE_60)
    assert len(listed) == 5
    assert {u.reason for u in listed} == {
        "no answer from SendGrid within 3s; the message may have been accepted"
    }
    assert all(u.next_action.startswith("waiting for sendgrid events until") for u in listed)
    assert all("enrich outreach resolve" in u.next_action for u in late)
    steward_sends_again(providers, round_id, in_doubt_ids(engine), now + timedelta(minutes=62))
    assert_exactly_once(providers, emails=15, sms=0)


def test_a_slow_accepted_email_is_settled_by_its_webhook_not_sent_again(
    providers: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from enrich.settings import get_settings

    monkeypatch.setenv("ENRICH_PROVIDER_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    now = utcnow()
    round_id = seed_round(get_engine(providers.settings), emails=15, sms=0, now=now)
    providers.sendgrid.push(Outcome.slow_accept(6))  # taken, but the answer comes too late
    first = send_round(round_id, now)
    assert (first.sent, first.in_doubt) == (5, 10)
    providers.sendgrid.flush_webhooks()  # its "processed" events reach the app
    again = send_round(round_id, now)
    assert (again.already_sent, again.sent, again.in_doubt) == (10, 0, 0)
    assert_exactly_once(providers, emails=15, sms=0)


def test_a_refused_key_mid_batch_records_what_went_out_once_and_gives_back_the_rest(
    providers: Setup,
) -> None:
    """Chunk 2 of 3 in one send batch is too large (413), its first half goes out, its second
    half gets a 401, while chunk 1's answer is recorded and chunk 3 prepared: what went out is
    recorded and audited once, the rest stays unsent and unclaimed, and a rerun with a working
    key sends it once."""
    now = utcnow()
    engine = get_engine(providers.settings)
    round_id = seed_round(engine, emails=25, sms=0, now=now)
    providers.sendgrid.push(Outcome(), Outcome.fail(413), Outcome(), Outcome.fail(401))
    with pytest.raises(ConfigurationError, match="ENRICH_SENDGRID_API_KEY"):
        send_round(round_id, now)

    rows = outreach_statuses(engine, "email")
    sent = {i for i, status in rows.items() if status == "sent"}
    assert len(sent) == 15 and len(rows) == 25
    assert {int(i) for i in providers.sendgrid.accepted_per_outreach()} == sent
    with engine.connect() as conn:
        audited = Counter(
            conn.execute(
                select(AuditEvent.entity_id).where(  # type: ignore[call-overload]
                    AuditEvent.action == "outreach.sent"
                )
            ).scalars()
        )
        claimed = conn.execute(
            select(func.count()).where(Outreach.attempted_at.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()
    assert audited == Counter(sent)  # each once
    assert claimed == 15  # the refused half was given back, chunk 3 never claimed

    send_round(round_id, now)
    assert_exactly_once(providers, emails=25, sms=0)


def sent_count(engine: Engine, channel: str) -> int:
    return sum(1 for status in outreach_statuses(engine, channel).values() if status == "sent")


def test_killed_every_two_seconds_each_run_settles_more_sms_than_the_one_before(
    providers: Setup,
) -> None:
    """A run that dies leaves its claimed messages in doubt. The next run settles them with
    one look at Twilio's message list, records what it found at once, and only then sends
    on: so even a sender killed every two seconds gets further each time."""
    engine = get_engine(providers.settings)
    now = utcnow()
    round_id = seed_round(engine, emails=0, sms=60, now=now)
    twilio = providers.twilio
    twilio.latency = 0.05
    settled: list[int] = []
    for _ in range(8):
        seen = len(twilio.request_times)
        killed = run_sender(
            providers,
            round_id,
            now,
            kill_when=lambda seen=seen: (
                len(twilio.request_times) > seen  # type: ignore[misc]
                and time.monotonic() - twilio.request_times[seen] >= 2.0
            ),
            must_kill=False,
            ENRICH_TWILIO_MESSAGES_PER_SECOND=10,
            ENRICH_TWILIO_CONCURRENCY=4,
        )
        settled.append(sent_count(engine, "sms"))
        if not killed or settled[-1] == 60:
            break
    assert len(settled) >= 3, f"the sender was killed too rarely to tell: {settled}"
    assert settled[-1] == 60
    assert all(b > a for a, b in pairwise(settled)), settled
    twilio.flush_webhooks()
    assert_exactly_once(providers, emails=0, sms=60)
