"""The dossier's facts, collected from a history built through the real code paths: the import's
file and line, the change before and after, the proof and the message it came through, the
bounce as a challenge, the message's reason, the consent, and what remains after erasure."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from enrich.runtime import get_engine
from enrich.settings import Settings
from models.dossier import Dossier, UnknownProfile, collect_dossier
from models.dossier.facts import ContactPointFacts
from models.retention.erasure import erase_profiles
from models.tables import PROFILE
from models.types import utcnow
from tests.models.dossier.scenario import (
    ALICE_EMAIL,
    ALICE_MOBILE,
    ALICE_NEW_EMAIL,
    ALICE_OLD_EMAIL,
    BOB,
    BOUNCE_REASON,
    Scenario,
    build,
)

MAX_AGE = 400


def dossier_of(settings: Settings, external_id: str) -> Dossier:
    with get_engine(settings).connect() as conn:
        return collect_dossier(
            conn,
            external_id=external_id,
            now=utcnow(),
            max_age_days=MAX_AGE,
            idle_days=730,
            templates_dir=settings.templates_dir,
        )


def point(d: Dossier, kind: str, value: str | None) -> ContactPointFacts:
    [found] = [cp for cp in d.contact_points if cp.kind == kind and cp.value == value]
    return found


@pytest.fixture
def scenario(settings: Settings, tmp_path: Path) -> Scenario:
    return build(settings, tmp_path)


def test_an_imported_value_names_its_file_and_line_and_its_change(
    settings: Settings, scenario: Scenario
) -> None:
    d = dossier_of(settings, "alice-1")
    email = point(d, "email", ALICE_EMAIL)
    assert email.origin is not None
    assert (email.origin.kind, email.origin.file, email.origin.line) == (
        "import",
        "customers.csv",
        2,
    )
    # The value now on file came from the second file, its third line.
    assert (email.source.kind, email.source.file, email.source.line) == ("import", "update.csv", 3)
    [change] = [c for c in email.changes if c.action == "contact_point.update"]
    assert change.before == {"kind": "email", "value": ALICE_OLD_EMAIL}
    assert change.after == {"kind": "email", "value": ALICE_EMAIL}
    assert change.evidence == {"file": "update.csv", "line": 3}
    assert d.profile.source.file == "customers.csv" and d.profile.source.line == 2


def test_a_bounce_is_a_challenge_and_the_value_stays_marked_wrong(
    settings: Settings, scenario: Scenario
) -> None:
    email = point(dossier_of(settings, "alice-1"), "email", ALICE_EMAIL)
    [challenge] = email.challenges
    assert challenge.kind == "bounce" and challenge.actor == "provider:sendgrid"
    assert challenge.reason is not None and BOUNCE_REASON in challenge.reason
    assert challenge.outreach_id == scenario.email_outreach
    assert (email.status, email.update_rule, email.update_due) == ("bounced", "broken", None)
    assert email.verifications == []


def test_a_proof_names_its_method_the_message_and_when_it_goes_stale(
    settings: Settings, scenario: Scenario
) -> None:
    d = dossier_of(settings, "alice-1")
    mobile = point(d, "mobile", ALICE_MOBILE)
    [proof] = mobile.verifications
    assert (proof.method, proof.outreach_id, proof.channel) == (
        "link:sms",
        scenario.sms_outreach,
        "sms",
    )
    assert proof.token_kind == "link" and proof.actor == "customer"
    assert mobile.verified_at is not None and mobile.verification_method == "link:sms"
    assert abs(mobile.verified_at - proof.at) < timedelta(seconds=5)  # the audit row's own time
    assert mobile.update_rule == "verified"
    assert mobile.update_due == mobile.verified_at + timedelta(days=MAX_AGE)

    new = point(d, "email", ALICE_NEW_EMAIL)
    assert (new.source.kind, new.source.outreach_id) == ("landing", scenario.sms_outreach)
    [proof] = new.verifications
    [confirm] = [m for m in d.messages if m.template == "confirm"]
    assert (proof.method, proof.token_kind, proof.carried_by) == (
        "email_link",
        "email_confirm",
        confirm.id,
    )
    assert confirm.contact_point_id == new.id and confirm.step is None


def test_every_message_has_its_reason_events_and_answers(
    settings: Settings, scenario: Scenario
) -> None:
    d = dossier_of(settings, "alice-1")
    by_id = {m.id: m for m in d.messages}
    email, sms = by_id[scenario.email_outreach], by_id[scenario.sms_outreach]
    assert (email.round_id, email.step, email.campaign) == (scenario.round_id, 1, "default v1")
    assert email.reason is not None and email.reason.startswith(
        f"round {scenario.round_id}, step 1"
    )
    assert email.gaps and all(gap in email.reason for gap in email.gaps)
    assert [(e.event_type, e.provider) for e in email.events] == [("bounced", "sendgrid")]
    assert email.status == "failed"
    assert (sms.step, sms.status, sms.channel) == (2, "sent", "sms")
    [answer] = sms.answers
    assert answer.data is not None and set(answer.data["consents"]) == {"service", "newsletter"}
    assert any(link.kind == "link" and link.used_at is not None for link in sms.links)
    answers = {(c.purpose, c.granted, c.text_version) for c in d.consents}
    assert answers == {("service", True, "2026-01"), ("newsletter", False, "2026-01")}
    assert all(c.evidence is not None and c.evidence["outreach_id"] == sms.id for c in d.consents)
    # The text the customer was shown, read back from its versioned file and checked.
    assert all(c.text_matches is True and c.text_shown for c in d.consents)
    [enrollment] = d.enrollments
    assert enrollment.round_id == scenario.round_id and enrollment.gaps == email.gaps
    assert d.rights == [] and not d.erased


def test_a_second_persons_data_never_appears(settings: Settings, scenario: Scenario) -> None:
    alice = json.dumps(asdict(dossier_of(settings, "alice-1")), default=str)
    bob = json.dumps(asdict(dossier_of(settings, BOB[0])), default=str)
    for value in BOB:
        assert value not in alice
    for value in ("alice", "Jansen", ALICE_MOBILE, "Dorpsstraat", "Utrecht"):
        assert value.lower() not in bob.lower()
    trail = {e.id for e in dossier_of(settings, "alice-1").trail}
    assert trail and not trail & {e.id for e in dossier_of(settings, BOB[0]).trail}


def test_an_unknown_id_is_refused_without_repeating_it(settings: Settings) -> None:
    with pytest.raises(UnknownProfile) as err:
        dossier_of(settings, "nobody-42")
    assert "nobody-42" not in str(err.value)
    for odd in ("", "alice-1\x00", "\x1b[2J"):  # PostgreSQL refuses NUL in a query outright
        with pytest.raises(UnknownProfile):
            dossier_of(settings, odd)


def test_after_erasure_the_pseudonymous_proof_remains(
    settings: Settings, scenario: Scenario
) -> None:
    engine = get_engine(settings)
    before = dossier_of(settings, "alice-1")
    with engine.begin() as conn:
        erase_profiles(
            conn, profile_ids=[scenario.alice], now=utcnow(), actor="dpo", reason="asked (Art. 17)"
        )
        marker = conn.execute(
            select(PROFILE.c.external_id).where(PROFILE.c.id == scenario.alice)
        ).scalar_one()
    d = dossier_of(settings, marker)
    assert d.erased and d.profile.states["erased_at"] is not None
    [erasure] = [e for e in d.rights if e.action == "profile.erased"]
    assert (erasure.actor, erasure.reason) == ("dpo", "asked (Art. 17)")
    assert {cp.id for cp in d.contact_points} == {cp.id for cp in before.contact_points}
    assert all(cp.deleted and cp.value is None for cp in d.contact_points)
    mobile = next(
        cp for cp in d.contact_points if cp.id == point(before, "mobile", ALICE_MOBILE).id
    )
    assert mobile.kind == "mobile" and mobile.update_rule == "erased"
    [proof] = mobile.verifications
    assert (proof.method, proof.outreach_id) == ("link:sms", scenario.sms_outreach)
    assert mobile.verified_at == proof.at and mobile.verification_method == "link:sms"
    assert [m.id for m in d.messages] == [m.id for m in before.messages]
    text = json.dumps(asdict(d), default=str)
    for value in (ALICE_EMAIL, ALICE_NEW_EMAIL, ALICE_OLD_EMAIL, ALICE_MOBILE, "Jansen", "alice-1"):
        assert value not in text
