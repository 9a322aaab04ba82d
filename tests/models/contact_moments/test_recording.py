"""Contact moments from Python: who is asked, what is recorded, caps, enrollments, the block."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.answers.link_tokens import hash_token, token_from_link
from models.answers.submissions import FieldAction, SubmissionForm, apply_submission
from models.contact_moments.expiry import close_expired_moments
from models.contact_moments.recording import LINKS_EXPIRED, STANDING, WAIT_REASON
from models.tables import (
    OUTREACH,
    AuditEvent,
    ContactPoint,
    Enrollment,
    Outreach,
    Profile,
    Round,
    VerificationToken,
)
from outreach.config import OutreachConfig
from outreach.contact_moments import MomentResult
from tests.models.answers.personal_link_data import MOBILE_OK, NOW, SECRET, make_case, shown
from tests.models.contact_moments.moment_data import (
    FULL,
    GAPPY,
    POSTAL_UNVERIFIED,
    ask,
    counts,
    profile,
    rows,
    the_ask,
)


def test_a_profile_with_gaps_gets_an_ask_recorded_as_a_sent_outreach(
    engine: Engine, config: OutreachConfig
) -> None:
    pid = profile(engine, GAPPY)
    result = ask(engine, config)
    block = the_ask(result)
    assert result.reason is None
    assert block.link.startswith("https://enrich.example.org/c/")
    assert block.link in block.text and block.link in block.html
    assert block.expires_at == NOW + timedelta(days=60)
    [outreach] = rows(engine, Outreach)
    assert (outreach.id, outreach.profile_id, outreach.channel) == (block.outreach_id, pid, "email")
    assert (outreach.context, outreach.template, outreach.status) == ("invoice", "moment", "sent")
    assert (outreach.provider, outreach.sent_at, outreach.contact_point_id) == (
        "contact_moment",
        NOW,
        None,
    )
    assert outreach.reason == "contact moment (invoice, email): gaps unverified_postal"
    [token] = rows(engine, VerificationToken)
    assert token.token_hash == hash_token(token_from_link(block.link))
    assert (token.outreach_id, token.expires_at, token.kind) == (
        outreach.id,
        block.expires_at,
        "link",
    )
    [enrollment] = rows(engine, Enrollment)
    assert (enrollment.id, enrollment.state, enrollment.step_index) == (
        outreach.enrollment_id,
        "active",
        -1,
    )
    assert (enrollment.next_due_at, enrollment.wait_reason) == (None, WAIT_REASON)
    [round_] = rows(engine, Round)
    assert (round_.id, round_.status) == (enrollment.round_id, STANDING)
    with Session(engine) as session:
        stored = session.get(Profile, pid)
        assert stored is not None and stored.last_contacted_at == NOW


def test_audit_trail_names_the_moment_and_no_personal_data(
    engine: Engine, config: OutreachConfig
) -> None:
    profile(engine, GAPPY, external_id="CRM-4711")
    the_ask(ask(engine, config, "CRM-4711", channel="sms", context="reminder"))
    events = {e.action: e for e in rows(engine, AuditEvent)}
    assert set(events) == {"round.start", "enrollment.start", "outreach.sent"}
    sent = events["outreach.sent"]
    assert sent.reason == "contact moment (reminder, sms): gaps unverified_postal"
    assert sent.after == {"channel": "sms", "template": "moment", "context": "reminder"}
    written = " ".join(str((e.reason, e.after, e.evidence)) for e in events.values())
    for personal in ("CRM-4711", "p1@example.org", "+3161234", "Dorpsstraat", "Test"):
        assert personal not in written


def test_the_answer_through_the_link_completes_the_enrollment(
    engine: Engine, config: OutreachConfig
) -> None:
    profile(engine, GAPPY)
    block = the_ask(ask(engine, config))
    with Session(engine) as session:
        result = apply_submission(
            session=session,
            token=token_from_link(block.link),
            form=SubmissionForm(
                postal=FieldAction("confirm"),
                consents={"service": {"email": True}, "newsletter": {"email": None}},
                notices=shown("service"),
            ),
            now=NOW + timedelta(hours=1),
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
        session.commit()
    [enrollment] = rows(engine, Enrollment)
    assert result.status == "ok" and result.completed == [enrollment.id]
    assert (enrollment.state, enrollment.end_reason) == ("completed", "goal met")


def test_a_moment_link_proves_no_email_address_of_ours(
    engine: Engine, config: OutreachConfig
) -> None:
    """The other system's email may have gone elsewhere: confirming ours needs the proof mail."""
    profile(engine, GAPPY)
    block = the_ask(ask(engine, config))
    with Session(engine) as session:
        result = apply_submission(
            session=session,
            token=token_from_link(block.link),
            form=SubmissionForm(email=FieldAction("confirm")),
            now=NOW + timedelta(hours=1),
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
        session.commit()
    assert result.status == "ok" and [c.kind for c in result.challenges] == ["email_confirm"]
    [email] = rows(engine, ContactPoint, kind="email")
    assert email.status == "valid" and email.verified_at is None


@pytest.mark.parametrize(
    ("contacts", "columns", "reason"),
    [
        (FULL, {}, "complete"),
        (GAPPY, {"opted_out_at": NOW - timedelta(days=400)}, "opted_out"),
        (GAPPY, {"objected_at": NOW - timedelta(days=1)}, "opted_out"),
        (GAPPY, {"archived_at": NOW - timedelta(days=1)}, "archived"),
    ],
)
def test_nothing_is_asked_and_nothing_recorded(
    engine: Engine,
    config: OutreachConfig,
    contacts: list[dict[str, Any]],
    columns: dict[str, Any],
    reason: str,
) -> None:
    profile(engine, contacts, **columns)
    before = counts(engine)
    assert ask(engine, config) == MomentResult(None, reason)
    assert counts(engine) == before


def test_an_unknown_customer_gets_nothing(engine: Engine, config: OutreachConfig) -> None:
    profile(engine, GAPPY)
    assert ask(engine, config, "nobody") == MomentResult(None, "unknown")
    assert counts(engine)["outreach"] == 0


def test_an_opt_out_of_one_channel_blocks_only_that_channel(
    engine: Engine, config: OutreachConfig
) -> None:
    opted_out = {"kind": "email", "status": "opted_out", "opted_out_at": NOW - timedelta(days=9)}
    profile(engine, [opted_out, MOBILE_OK, POSTAL_UNVERIFIED])
    assert ask(engine, config, channel="email") == MomentResult(None, "opted_out")
    assert counts(engine)["outreach"] == 0
    the_ask(ask(engine, config, channel="sms"))


def test_a_capped_moment_records_nothing_and_says_until_when(
    engine: Engine, config: OutreachConfig
) -> None:
    # The ladder sent an SMS two days ago; an earlier round one twelve days ago.
    case = make_case(engine, GAPPY, gaps=["unverified_postal"], channel="sms")
    with engine.begin() as conn:
        conn.execute(
            insert(OUTREACH).values(
                enrollment_id=case.enrollment_id,
                profile_id=case.profile_id,
                step_index=1,
                channel="sms",
                template="ask",
                status="sent",
                sent_at=NOW - timedelta(days=12),
                created_at=NOW,
                updated_at=NOW,
            )
        )
    before = counts(engine)
    result = ask(engine, config, channel="sms")
    assert result == MomentResult(
        None, "capped", "frequency cap: 2 sms in 30 days", NOW + timedelta(days=18)
    )
    assert counts(engine) == before
    the_ask(ask(engine, config, channel="email"))  # another channel still has room
    the_ask(ask(engine, config, channel="sms", now=NOW + timedelta(days=18)))


def test_asks_count_toward_the_caps(engine: Engine, config: OutreachConfig) -> None:
    profile(engine, GAPPY)
    the_ask(ask(engine, config, channel="letter"))
    capped = ask(engine, config, channel="letter", now=NOW + timedelta(days=1))
    assert (capped.reason, capped.detail) == ("capped", "frequency cap: 1 letter in 30 days")
    the_ask(ask(engine, config, channel="email", now=NOW + timedelta(days=2)))
    the_ask(ask(engine, config, channel="sms", now=NOW + timedelta(days=3)))
    the_ask(ask(engine, config, channel="email", now=NOW + timedelta(days=4)))
    total = ask(engine, config, channel="email", now=NOW + timedelta(days=5))
    assert (total.reason, total.detail) == ("capped", "frequency cap: 4 messages in 30 days")
    assert total.until == NOW + timedelta(days=30)
    assert counts(engine)["outreach"] == 4 and counts(engine)["enrollment"] == 1


def test_a_moment_joins_the_active_ladder_enrollment(
    engine: Engine, config: OutreachConfig
) -> None:
    case = make_case(engine, GAPPY, gaps=["unverified_postal", "missing_email"])
    block = the_ask(ask(engine, config, channel="letter"))
    moment = next(o for o in rows(engine, Outreach) if o.id == block.outreach_id)
    # Recorded at the enrollment's current step, so the ladder's next step is still to come.
    assert (moment.enrollment_id, moment.step_index) == (case.enrollment_id, 0)
    assert counts(engine)["enrollment"] == 1 and counts(engine)["round"] == 1
    [enrollment] = rows(engine, Enrollment)
    assert (enrollment.gap_mask, enrollment.step_index, enrollment.wait_reason) == (1 | 32, 0, None)


def test_after_a_moment_enrollment_ended_the_next_moment_enrols_again(
    engine: Engine, config: OutreachConfig
) -> None:
    profile(engine, GAPPY)
    first = the_ask(ask(engine, config))
    with engine.begin() as conn:
        assert close_expired_moments(conn, now=first.expires_at - timedelta(seconds=1)) == 0
        assert close_expired_moments(conn, now=first.expires_at) == 1
    [ended] = rows(engine, Enrollment)
    assert (ended.state, ended.end_reason, ended.wait_reason) == ("exhausted", LINKS_EXPIRED, None)
    assert rows(engine, AuditEvent, action="enrollment.exhausted")[0].entity_id == ended.id
    the_ask(ask(engine, config, now=first.expires_at + timedelta(days=1)))
    old, new = rows(engine, Enrollment)
    assert (old.state, new.state) == ("exhausted", "active")
    assert old.round_id != new.round_id  # a round holds a profile once: a second standing round
    # Another customer joins the first standing round, not a third one.
    profile(engine, GAPPY, external_id="p2")
    the_ask(ask(engine, config, "p2"))
    assert rows(engine, Enrollment)[-1].round_id == old.round_id


def test_closing_leaves_live_links_and_ladder_enrollments_alone(
    engine: Engine, config: OutreachConfig
) -> None:
    case = make_case(engine, GAPPY, gaps=["unverified_postal"], ttl_days=1)
    profile(engine, GAPPY, external_id="p2")
    the_ask(ask(engine, config, "p2"))
    with engine.begin() as conn:
        assert close_expired_moments(conn, now=NOW + timedelta(days=30)) == 0
    assert {e.state for e in rows(engine, Enrollment)} == {"active"}
    assert rows(engine, Enrollment)[0].id == case.enrollment_id
