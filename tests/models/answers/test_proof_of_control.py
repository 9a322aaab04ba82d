"""Proof of control (confirmation links, SMS codes) and the completion rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.answers.proof_of_control import (
    MAX_SMS_ATTEMPTS,
    CodeResult,
    check_sms_code,
    confirm_email,
)
from models.answers.submissions import (
    FieldAction,
    SubmissionForm,
    SubmissionResult,
    apply_submission,
)
from models.rounds.completion import goal_met
from models.tables import AuditEvent, ContactPoint, Enrollment, VerificationToken
from tests.models.answers.personal_link_data import (
    MOBILE_OK,
    NOW,
    POSTAL_OK,
    SECRET,
    Case,
    make_case,
    shown,
)

LATER = NOW + timedelta(minutes=2)


def submit(engine: Engine, case: Case, form: SubmissionForm) -> SubmissionResult:
    with Session(engine) as session:
        result = apply_submission(
            session=session,
            token=case.token,
            form=form,
            now=NOW,
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
        session.commit()
    return result


def enrollment_goal_met(*, session: Session, enrollment_id: int) -> bool:
    enrollment = session.get(Enrollment, enrollment_id)
    return enrollment is not None and goal_met(session=session, enrollment=enrollment)


def state(engine: Engine, case: Case) -> str:
    with Session(engine) as session:
        enrollment = session.get(Enrollment, case.enrollment_id)
        assert enrollment is not None
        return enrollment.state


def test_confirmation_link_verifies_email_and_completes_enrollment(engine: Engine) -> None:
    case = make_case(engine, [MOBILE_OK, POSTAL_OK], gaps=["missing_email"], channel="sms")
    form = SubmissionForm(
        email=FieldAction("change", value="nieuw@example.nl"),
        consents={"service": {"sms": True}},
        notices=shown("service"),
    )
    [challenge] = submit(engine, case, form).challenges
    assert state(engine, case) == "active"  # the new address is not proven yet
    with Session(engine) as session:
        assert not enrollment_goal_met(session=session, enrollment_id=case.enrollment_id)
        result = confirm_email(session=session, token=challenge.secret, now=LATER)
        session.commit()
    assert result.status == "ok" and result.completed == [case.enrollment_id]
    with Session(engine) as session:
        cp = session.get(ContactPoint, challenge.contact_point_id)
        assert cp is not None
        assert (cp.status, cp.verification_method, cp.is_primary) == (
            "verified",
            "email_link",
            True,
        )
        assert enrollment_goal_met(session=session, enrollment_id=case.enrollment_id)
        actions = session.exec(select(AuditEvent.action)).all()
    assert "enrollment.complete" in actions
    assert state(engine, case) == "completed"
    with Session(engine) as session:
        again = confirm_email(session=session, token=challenge.secret, now=LATER)
    assert again.status == "invalid"


def test_confirmation_link_expires_and_bad_tokens_are_invalid(engine: Engine) -> None:
    case = make_case(engine, [MOBILE_OK], gaps=["missing_email"], channel="sms")
    form = SubmissionForm(email=FieldAction("change", value="nieuw@example.nl"))
    [challenge] = submit(engine, case, form).challenges
    with Session(engine) as session:
        for token in ("", "nope", "x" * 10_000, "\x00é"):
            assert confirm_email(session=session, token=token, now=LATER).status == "invalid"
        late = NOW + timedelta(hours=25)
        assert confirm_email(session=session, token=challenge.secret, now=late).status == "invalid"
        # A personal link is not a confirmation link.
        assert confirm_email(session=session, token=case.token, now=LATER).status == "invalid"


def new_code(engine: Engine) -> tuple[Case, int, str]:
    case = make_case(engine, [POSTAL_OK], gaps=["missing_mobile"], channel="letter")
    form = SubmissionForm(mobile=FieldAction("change", value="06 1234 5679"))
    [challenge] = submit(engine, case, form).challenges
    assert challenge.kind == "sms_code"
    return case, challenge.challenge_id, challenge.secret


def check(
    engine: Engine, case: Case, challenge_id: int, code: str, now: datetime = LATER
) -> CodeResult:
    with Session(engine) as session:
        result = check_sms_code(
            session=session,
            profile_id=case.profile_id,
            challenge_id=challenge_id,
            code=code,
            now=now,
            code_secret=SECRET,
        )
        session.commit()
    return result


def test_code_is_stored_keyed_not_plain(engine: Engine) -> None:
    _case, challenge_id, code = new_code(engine)
    with Session(engine) as session:
        row = session.get(VerificationToken, challenge_id)
    assert row is not None and code not in row.token_hash
    assert row.expires_at == NOW + timedelta(minutes=10)


def test_wrong_code_five_times_locks(engine: Engine) -> None:
    case, challenge_id, code = new_code(engine)
    wrong = "000000" if code != "000000" else "111111"
    lefts = [check(engine, case, challenge_id, wrong) for _ in range(MAX_SMS_ATTEMPTS)]
    assert [(r.status, r.attempts_left) for r in lefts] == [
        ("wrong", 4),
        ("wrong", 3),
        ("wrong", 2),
        ("wrong", 1),
        ("locked", 0),
    ]
    assert check(engine, case, challenge_id, code).status == "locked"


def test_right_code_verifies_mobile(engine: Engine) -> None:
    case, challenge_id, code = new_code(engine)
    assert check(engine, case, challenge_id, "<script>").status == "wrong"
    result = check(engine, case, challenge_id, f" {code} ")
    assert result.status == "ok" and result.attempts_left == 3
    with Session(engine) as session:
        cp = session.get(ContactPoint, result.contact_point_id)
    assert cp is not None
    assert (cp.value, cp.status, cp.verification_method, cp.is_primary) == (
        "+31612345679",
        "verified",
        "sms_code",
        True,
    )
    # Required consent not answered yet: still active.
    assert result.completed == [] and state(engine, case) == "active"
    assert check(engine, case, challenge_id, code).status == "invalid"


def test_code_expires_and_belongs_to_its_profile(engine: Engine) -> None:
    case, challenge_id, code = new_code(engine)
    late = NOW + timedelta(minutes=11)
    assert check(engine, case, challenge_id, code, now=late).status == "expired"
    other = Case(case.profile_id + 1000, 0, 0, "", {})
    assert check(engine, other, challenge_id, code).status == "invalid"
    assert check(engine, case, challenge_id + 1000, code).status == "invalid"


def test_stale_verification_needs_fresh_verification(engine: Engine) -> None:
    stale = {"kind": "postal", "status": "verified", "verified_at": NOW - timedelta(days=900)}
    case = make_case(engine, [MOBILE_OK, stale], gaps=["stale_verification"], channel="letter")
    with Session(engine) as session:
        assert not enrollment_goal_met(session=session, enrollment_id=case.enrollment_id)
    form = SubmissionForm(
        postal=FieldAction("confirm"),
        consents={"service": {"sms": False}},
        notices=shown("service"),
    )
    result = submit(engine, case, form)
    assert result.completed == [case.enrollment_id]
    with Session(engine) as session:
        cp = session.get(ContactPoint, case.points["postal"])
    assert cp is not None and cp.verification_method == "letter:qr"
