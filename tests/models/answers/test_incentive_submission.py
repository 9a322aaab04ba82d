"""The incentive through the landing form's rules: an entry made when coming back after the
enrollment completed is earned at once; one for an enrollment that ran out is refused."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.answers.submissions import FieldAction, SubmissionForm
from models.campaigns.spec import load_campaign
from models.incentives.terms import ShownTerms, terms_for
from models.tables import ENROLLMENT, INCENTIVE_ENTRY
from tests.models.answers.personal_link_data import EMAIL_OK, POSTAL_OK, make_case, shown
from tests.models.answers.test_declined import enrollment_state, submit
from tests.paths import REPO

SPEC = load_campaign(REPO / "campaigns" / "prize-draw.yaml")
assert SPEC.incentive is not None
TERMS = terms_for(REPO / "templates", SPEC.incentive, "nl", "nl")
TAKE_PART = ShownTerms(SPEC.incentive.key, TERMS.version, TERMS.sha256)


def earned(engine: Engine, enrollment_id: int) -> list[bool]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(INCENTIVE_ENTRY.c.earned_at).where(
                INCENTIVE_ENTRY.c.enrollment_id == enrollment_id
            )
        ).scalars()
        return [at is not None for at in rows]


def test_taking_part_after_completing_is_earned_at_once(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], spec=SPEC)
    service = {"service": {"email": True}}
    done = SubmissionForm(mobile=FieldAction("none"), consents=service,
                          notices=shown("service", spec=SPEC))  # fmt: skip
    assert submit(engine, case, done).status == "ok"
    assert enrollment_state(engine, case) == "completed"
    assert earned(engine, case.enrollment_id) == []
    # Back through the same link, the box ticked this time.
    assert submit(engine, case, SubmissionForm(incentive=TAKE_PART)).status == "ok"
    assert earned(engine, case.enrollment_id) == [True]


def test_taking_part_after_the_ladder_ran_out_is_refused(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"], spec=SPEC)
    with engine.begin() as conn:
        conn.execute(update(ENROLLMENT).values(state="exhausted"))
    result = submit(engine, case, SubmissionForm(incentive=TAKE_PART))
    assert result.status == "invalid" and result.errors == {"incentive": "incentive: closed"}
    assert earned(engine, case.enrollment_id) == []
