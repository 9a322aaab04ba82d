"""'I don't have one': the gap closes as declined, the enrollment completes, and nobody asks again
for the configured period; a value given later withdraws it. Progress counts it as done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.answers.personal_link import open_link
from models.answers.progress import progress
from models.answers.submissions import FieldAction, SubmissionForm, apply_submission
from models.campaigns.spec import CampaignSpec, Step
from models.rounds.selection import gap_masks, selection_query
from models.tables import PROFILE, AuditEvent, ContactPoint, Enrollment, Profile
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    NOW,
    POSTAL_OK,
    SECRET,
    Case,
    counts,
    make_case,
)

NO_CONSENTS = CampaignSpec(
    key="d",
    name="D",
    gaps=["missing_email", "missing_mobile", "invalid_mobile", "unverified_postal"],
    ladder=[Step(channel="email", wait_days=5)],
)
NONE = FieldAction("none")
MOBILE_BAD: dict[str, Any] = {"kind": "mobile", "status": "invalid"}


def submit(engine: Engine, case: Case, form: SubmissionForm, when: Any = NOW) -> Any:
    with Session(engine, expire_on_commit=False) as session:
        result = apply_submission(
            session=session,
            token=case.token,
            form=form,
            now=when,
            client_time=None,
            default_region="NL",
            code_secret=SECRET,
        )
        if result.status == "ok":
            session.commit()
        else:
            session.rollback()
    return result


def enrollment_state(engine: Engine, case: Case) -> str:
    with Session(engine) as session:
        enrollment = session.get(Enrollment, case.enrollment_id)
        assert enrollment is not None
        return enrollment.state


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def masks(engine: Engine, case: Case, when: Any, declined_days: int = 365) -> int:
    with engine.connect() as conn:
        found = gap_masks(conn, gaps=NO_CONSENTS.gaps, now=when, max_age_days=730,
                          profile_ids=[case.profile_id], declined_days=declined_days)  # fmt: skip
    return found[case.profile_id]


def test_declining_the_missing_mobile_completes_the_enrollment(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], spec=NO_CONSENTS)
    assert masks(engine, case, NOW) == 8  # missing_mobile
    result = submit(engine, case, SubmissionForm(mobile=NONE))
    assert result.status == "ok" and result.completed == [case.enrollment_id]
    assert enrollment_state(engine, case) == "completed"
    [row] = audits(engine, "profile.field_declined")
    assert row.actor == "customer" and row.after == {"kind": "mobile", "declined": True}
    assert row.evidence is not None and row.evidence["outreach_id"] == case.outreach_id
    # Not asked again within the period; asked again after it.
    assert masks(engine, case, NOW + timedelta(days=364)) == 0
    assert masks(engine, case, NOW + timedelta(days=366)) == 8
    assert masks(engine, case, NOW + timedelta(days=31), declined_days=30) == 8
    with engine.connect() as conn:
        args: dict[str, Any] = {"gaps": ["missing_mobile"], "now": NOW + timedelta(days=40),
                                "max_age_days": 730, "cooldown_days": 0,
                                "exhausted_cooldown_days": 0}  # fmt: skip
        assert conn.execute(selection_query(**args)).all() == []
        # With a period shorter than the time since, the same round selects them again.
        again = conn.execute(selection_query(**args, declined_days=30)).all()
        assert [(row.profile_id, row.gap_mask) for row in again] == [(case.profile_id, 8)]


def test_declining_a_broken_mobile_contests_it(engine: Engine) -> None:
    case = make_case(
        engine, [EMAIL_OK, MOBILE_BAD, POSTAL_OK], gaps=["invalid_mobile"], spec=NO_CONSENTS
    )
    assert submit(engine, case, SubmissionForm(mobile=NONE)).status == "ok"
    with Session(engine) as session:
        mobile = session.get(ContactPoint, case.points["mobile"])
        assert mobile is not None and mobile.status == "contested"  # never sent to again
    assert enrollment_state(engine, case) == "completed"
    assert masks(engine, case, NOW + timedelta(days=1)) == 0


def test_a_value_given_later_withdraws_the_decline(engine: Engine) -> None:
    case = make_case(engine, [POSTAL_OK], gaps=["missing_email", "missing_mobile"],
                     spec=NO_CONSENTS)  # fmt: skip
    both = SubmissionForm(email=FieldAction("change", value="later@example.org"), mobile=NONE)
    assert submit(engine, case, both).status == "ok"
    # The email waits for its proof: the enrollment is still open, the mobile is done.
    assert enrollment_state(engine, case) == "active"
    with Session(engine) as session:
        ctx = open_link(session=session, token=case.token, now=NOW)
        assert ctx is not None
        shown = progress(session, ctx, now=NOW, max_age_days=730)
    assert [(f.kind, f.state) for f in shown.fields] == [
        ("email", "pending"), ("mobile", "declined"), ("postal", "verified"),
    ]  # fmt: skip
    assert (shown.done, shown.total) == (2, 3)
    assert shown.fields[0].masked is not None and "later@example.org" not in shown.fields[0].masked
    # Back through the same link: a mobile after all.
    again = SubmissionForm(mobile=FieldAction("change", value="06 1234 5678"))
    assert submit(engine, case, again, NOW + timedelta(hours=1)).status == "ok"
    with Session(engine) as session:
        profile = session.get(Profile, case.profile_id)
        assert profile is not None and profile.mobile_declined_at is None
    assert len(audits(engine, "profile.field_decline_withdrawn")) == 1
    assert masks(engine, case, NOW + timedelta(days=2)) & 8 == 0  # a mobile is on file now


def test_refused_declines_change_nothing(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], spec=NO_CONSENTS)
    before = counts(engine)
    both = submit(engine, case, SubmissionForm(mobile=FieldAction("none", value="0612345678")))
    assert both.status == "invalid" and both.errors == {"mobile": "mobile: none and a value"}
    postal = submit(engine, case, SubmissionForm(postal=FieldAction("none")))
    assert postal.status == "invalid" and postal.errors == {"postal": "postal: cannot be declined"}
    assert counts(engine) == before
    with Session(engine) as session:
        profile = session.get(Profile, case.profile_id)
        assert profile is not None and profile.mobile_declined_at is None


def test_an_old_decline_does_not_complete_a_new_enrollment(engine: Engine) -> None:
    """A decline from before the enrollment started closed an earlier gap, not this one."""
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], spec=NO_CONSENTS)
    with engine.begin() as conn:
        conn.execute(
            update(PROFILE)
            .where(col(PROFILE.c.id) == case.profile_id)
            .values(mobile_declined_at=NOW - timedelta(days=400))
        )
    assert masks(engine, case, NOW) == 8  # the period is over: ask again
    assert submit(engine, case, SubmissionForm()).completed == []
    assert enrollment_state(engine, case) == "active"
