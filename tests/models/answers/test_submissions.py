"""Applying a landing-page form: validation first, single use, proof requests, consents, audit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.answers.link_tokens import hash_token
from models.answers.submissions import (
    FieldAction,
    PostalInput,
    SubmissionForm,
    SubmissionResult,
    apply_submission,
)
from models.tables import (
    AuditEvent,
    Consent,
    ContactPoint,
    Enrollment,
    Submission,
    VerificationToken,
)
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    NOW,
    POSTAL_OK,
    SECRET,
    Case,
    counts,
    make_case,
    shown,
)

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]


def submit(
    engine: Engine, case: Case, form: SubmissionForm, client_time: str | None = None
) -> SubmissionResult:
    with Session(engine, expire_on_commit=False) as session:
        result = apply_submission(
            session=session,
            token=case.token,
            form=form,
            now=NOW,
            client_time=client_time,
            default_region="NL",
            code_secret=SECRET,
        )
        session.commit()
    return result


def point(engine: Engine, cp_id: int) -> ContactPoint:
    with Session(engine) as session:
        cp = session.get(ContactPoint, cp_id)
        assert cp is not None
        return cp


def link_token_id(engine: Engine, case: Case) -> int | None:
    """The id of the stored token behind the case's personal link (found by its hash)."""
    with Session(engine) as session:
        return session.exec(
            select(VerificationToken.id).where(
                col(VerificationToken.token_hash) == hash_token(case.token)
            )
        ).one()


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


def test_invalid_email_changes_nothing_and_names_the_field(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    form = SubmissionForm(
        email=FieldAction("change", value="jan@@example"),
        postal=FieldAction("confirm"),
        consents={"service": {"email": True}},
        notices=shown("service"),
    )
    result = submit(engine, case, form)
    assert result.status == "invalid"
    assert result.errors == {"email": "email syntax: invalid domain"}
    assert counts(engine) == before  # nothing stored, token still usable
    assert submit(engine, case, SubmissionForm(postal=FieldAction("confirm"))).status == "ok"


HOSTILE = ["<script>alert(1)</script>", "x" * 10_000, "a\x00b@example.org", "jan@exa\x00mple.nl"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_values_are_field_errors(engine: Engine, text: str) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    address = PostalInput(street=text, house_number=text, postal_code=text, city=text)
    forms: list[tuple[SubmissionForm, str]] = [
        (SubmissionForm(email=FieldAction("change", value=text)), "email"),
        (SubmissionForm(mobile=FieldAction("change", value=text)), "mobile"),
        (SubmissionForm(postal=FieldAction("change", address=address)), "postal.street"),
        (
            SubmissionForm(
                postal=FieldAction(
                    "change",
                    address=PostalInput("Kerkstraat", "12", "1017 AB", "Amsterdam", text),
                )
            ),
            "postal.country",
        ),
        (SubmissionForm(consents={text: True}), "consents"),
    ]
    for form, key in forms:
        result = submit(engine, case, form, client_time=text)
        assert result.status == "invalid" and key in result.errors, (key, result)
        assert text not in "".join(result.errors.values())
    assert counts(engine) == before


def test_confirm_value_the_message_reached_verifies_it(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="sms")
    result = submit(engine, case, SubmissionForm(mobile=FieldAction("confirm")), "12:00+01:00")
    assert result.status == "ok" and result.challenges == []
    cp = point(engine, case.points["mobile"])
    assert (cp.status, cp.verification_method, cp.verified_at) == ("verified", "link:sms", NOW)
    [row] = audits(engine, "contact_point.verified")
    assert row.actor == "customer" and row.entity_id == cp.id
    assert row.evidence == {
        "token_id": link_token_id(engine, case),
        "outreach_id": case.outreach_id,
        "client_time": "12:00+01:00",
        "submission_id": result.submission_id,
        "method": "link:sms",
    }
    # The mobile gap is closed, but the required purpose is not answered yet.
    assert result.completed == []


def test_confirm_on_other_channel_needs_proof(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="email")
    result = submit(engine, case, SubmissionForm(mobile=FieldAction("confirm")))
    [challenge] = result.challenges
    assert challenge.kind == "sms_code" and challenge.contact_point_id == case.points["mobile"]
    assert challenge.secret.isdigit() and len(challenge.secret) == 6
    assert point(engine, case.points["mobile"]).status == "valid"


def test_confirm_postal_on_page_is_customer_confirmed(engine: Engine) -> None:
    contacts: list[dict[str, Any]] = [EMAIL_OK, {"kind": "postal", "status": "unverified"}]
    case = make_case(engine, contacts, gaps=["unverified_postal"])
    result = submit(engine, case, SubmissionForm(postal=FieldAction("confirm")))
    cp = point(engine, case.points["postal"])
    assert (cp.status, cp.verification_method) == ("verified", "customer_confirmed")
    assert result.completed == []  # "service" still unanswered


def test_change_email_adds_unverified_point_and_keeps_old_primary(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["bounced_email"])
    form = SubmissionForm(email=FieldAction("change", value="  Nieuw@Example.NL "))
    result = submit(engine, case, form)
    [challenge] = result.challenges
    assert challenge.kind == "email_confirm" and challenge.expires_at > NOW
    new = point(engine, challenge.contact_point_id)
    assert (new.value, new.status, new.is_primary) == ("Nieuw@example.nl", "unverified", False)
    assert point(engine, case.points["email"]).is_primary
    [row] = audits(engine, "contact_point.added")
    assert row.entity_id == new.id and (row.evidence or {})["method"] == "page_change"
    assert "Nieuw" not in str(row.after)
    with Session(engine) as session:
        sub = session.get(Submission, result.submission_id)
        assert sub is not None and sub.data is not None
        assert sub.data["email"] == {
            "action": "change",
            "contact_point_id": new.id,
            "result": "unverified",
        }
        assert challenge.secret not in str(sub.data)


def test_change_postal_becomes_primary_unverified(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["unverified_postal"])
    address = PostalInput("Kerkstraat", "12", "1017ab", "Amsterdam")
    result = submit(engine, case, SubmissionForm(postal=FieldAction("change", address=address)))
    assert result.challenges == []
    with Session(engine) as session:
        rows = session.exec(select(ContactPoint).where(col(ContactPoint.kind) == "postal")).all()
    new = next(cp for cp in rows if cp.id != case.points["postal"])
    assert (new.postal_code, new.status, new.is_primary) == ("1017 AB", "unverified", True)
    assert not point(engine, case.points["postal"]).is_primary


def test_consents_store_text_version_and_complete_enrollment(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="sms")
    form = SubmissionForm(
        mobile=FieldAction("confirm"),
        consents={"service": {"email": True, "sms": None}, "newsletter": {"sms": False}},
        notices=shown("service", "newsletter"),
    )
    result = submit(engine, case, form, "t")
    with Session(engine) as session:
        rows = session.exec(select(Consent).order_by(col(Consent.purpose))).all()
        enrollment = session.get(Enrollment, case.enrollment_id)
    digest = shown("service", "newsletter")
    assert [(c.purpose, c.channel, c.granted, c.text_version, c.source) for c in rows] == [
        ("newsletter", "sms", False, "2026-01", "landing"),
        ("service", "email", True, "2026-01", "landing"),
    ]
    assert [(c.text_locale, c.text_sha256) for c in rows] == [
        ("nl", digest["newsletter"].sha256),
        ("nl", digest["service"].sha256),
    ]
    assert (rows[0].evidence or {})["submission_id"] == result.submission_id
    assert len(audits(engine, "consent.granted")) == 1
    assert len(audits(engine, "consent.withdrawn")) == 1
    assert result.completed == [case.enrollment_id]
    assert enrollment is not None
    assert (enrollment.state, enrollment.end_reason, enrollment.next_due_at) == (
        "completed",
        "goal met",
        None,
    )
    assert len(audits(engine, "enrollment.complete")) == 1


def test_confirming_opted_out_point_is_opt_in(engine: Engine) -> None:
    contacts: list[dict[str, Any]] = [
        {"kind": "email", "status": "opted_out", "opted_out_at": NOW},
        MOBILE_OK,
    ]
    case = make_case(engine, contacts, gaps=["missing_mobile"], channel="sms")
    result = submit(engine, case, SubmissionForm(email=FieldAction("confirm")))
    cp = point(engine, case.points["email"])
    assert (cp.status, cp.opted_out_at) == ("valid", None)
    assert [c.kind for c in result.challenges] == ["email_confirm"]
    [row] = audits(engine, "contact_point.confirmed")
    assert row.reason == "opt-in on the landing page"


def test_a_link_takes_more_answers_until_its_limit(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    assert submit(engine, case, SubmissionForm()).status == "ok"
    # Coming back through the same link: the second answer applies too, and is audited.
    again = submit(engine, case, SubmissionForm(postal=FieldAction("confirm")))
    assert again.status == "ok"
    with Session(engine) as session:
        postal = session.exec(select(ContactPoint).where(ContactPoint.kind == "postal")).one()
        assert postal.status == "verified"
        assert len(session.exec(select(Submission)).all()) == 2
    for _ in range(8):
        assert submit(engine, case, SubmissionForm()).status == "ok"
    before = counts(engine)
    refused = submit(
        engine, case, SubmissionForm(email=FieldAction("change", value="x@example.org"))
    )
    assert refused.status == "limit"  # ten per link: each new value sends a confirmation
    assert counts(engine) == before


def test_parallel_submissions_apply_one_after_the_other(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    form = SubmissionForm(email=FieldAction("change", value="race@example.org"))
    results: list[Any] = []
    first = Session(engine, expire_on_commit=False)
    results.append(
        apply_submission(
            session=first,
            token=case.token,
            form=form,
            now=NOW,
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
    )

    def second() -> None:
        with Session(engine) as session:
            results.append(
                apply_submission(
                    session=session,
                    token=case.token,
                    form=form,
                    now=NOW,
                    client_time=None,
                    default_region="NL",
                    code_secret=SECRET,
                )
            )
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)  # blocked on the first one's lock on the token
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert [r.status for r in results] == ["ok", "ok"]
    with Session(engine) as session:
        assert len(session.exec(select(Submission)).all()) == 2
        emails = session.exec(select(ContactPoint).where(col(ContactPoint.kind) == "email")).all()
    # The second saw the first's new address and entered it again: no duplicate contact point.
    assert len(emails) == 2
