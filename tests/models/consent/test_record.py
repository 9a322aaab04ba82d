"""The rules on consent answers: only what the page asked, only on the notice it showed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.answers.submissions import (
    FieldAction,
    SubmissionForm,
    SubmissionResult,
    apply_submission,
)
from models.consent.record import NOT_OFFERED, NOTICE_CHANGED
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    NOW,
    POSTAL_OK,
    SECRET,
    counts,
    make_case,
    shown,
)


def answer(engine: Engine, token: str, form: SubmissionForm) -> SubmissionResult:
    with Session(engine) as session:
        result = apply_submission(
            session=session, token=token, form=form, now=NOW, client_time=None,
            default_region="NL", code_secret=SECRET,
        )  # fmt: skip
        session.commit()
    return result


@pytest.mark.parametrize(
    ("consents", "notices", "reason"),
    [
        ({"service": {"sms": True}}, shown("service"), NOT_OFFERED),
        ({"service": {"email": "yes"}}, shown("service"), NOT_OFFERED),
        ({"service": {"email": True}}, {}, NOTICE_CHANGED),
        # A real notice of the purpose, but not the version the campaign asks on.
        (
            {"service": {"email": True}},
            {"service": replace(shown("service")["service"], version="2025-12")},
            NOTICE_CHANGED,
        ),
        ({"service": {"email": False}}, {}, NOTICE_CHANGED),  # a withdrawal answers it too
    ],
    ids=["channel-not-asked", "not-an-answer", "no-notice", "other-version", "withdrawal"],
)
def test_refused_answers_store_nothing(
    engine: Engine, consents: dict[str, Any], notices: dict[str, Any], reason: str
) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    before = counts(engine)
    form = SubmissionForm(postal=FieldAction("confirm"), consents=consents, notices=notices)
    result = answer(engine, case.token, form)
    assert (result.status, result.errors) == ("invalid", {"consents": reason})
    assert counts(engine) == before


def test_an_unanswered_question_needs_no_notice(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    form = SubmissionForm(postal=FieldAction("confirm"), consents={"service": {"email": None}})
    result = answer(engine, case.token, form)
    assert result.status == "ok" and counts(engine)["consent"] == 0
