"""The customer's rights on the landing page, as plain functions: "stop contacting me" (an
objection through the personal link) and "this is wrong" (a contested value), on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from models.answers.link_tokens import issue_link_tokens
from models.answers.rights import object_through_link
from models.answers.submissions import FieldAction, SubmissionForm
from models.campaigns.spec import Step
from models.contact_moments.recording import NoAsk, record_contact_moment
from models.importing.apply_rows import import_csv
from models.rounds.selection import gap_masks, plan, selection_query
from models.tables import CONTACT, ENROLLMENT, OUTREACH, PROFILE, AuditEvent, Submission
from models.vocabulary import CONTESTED
from outreach.sending.write_ahead import write_ahead
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    NOW,
    POSTAL_OK,
    SPEC,
    Case,
    counts,
    make_case,
)
from tests.models.answers.test_submissions import submit
from tests.models.contact_moments.moment_data import POLICY

BOUNCED_EMAIL: dict[str, Any] = {"kind": "email", "status": "bounced"}
FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
WRONG = FieldAction("wrong", value="")


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).scalars()
        )


def status(engine: Engine, cp_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(CONTACT.c.status).where(CONTACT.c.id == cp_id)).scalar())


def another_link(engine: Engine, case: Case) -> str:
    """A second live personal link for the same message (the first is used up)."""
    with engine.begin() as conn:
        return issue_link_tokens(conn, items=[(case.profile_id, case.outreach_id)], ttl_days=30,
                                 now=NOW)[case.outreach_id]  # fmt: skip


def object_now(engine: Engine, token: str) -> str:
    with Session(engine) as session:
        result = object_through_link(session=session, token=token, now=NOW)
        session.commit()
    return result.status


# -- stop contacting me ---------------------------------------------------------------------


def test_objection_through_the_link_excludes_the_person_everywhere(engine: Engine) -> None:
    case = make_case(engine, [BOUNCED_EMAIL, MOBILE_OK, POSTAL_OK], gaps=["bounced_email"])
    with engine.begin() as conn:  # its next ladder step is due
        conn.execute(update(ENROLLMENT).values(next_due_at=NOW))
    assert object_now(engine, case.token) == "ok"
    with engine.begin() as conn:  # the sender's first phase writes nothing for it
        ids = [case.enrollment_id]
        assert write_ahead(conn, enrollment_ids=ids, spec=SPEC, now=NOW, respect=None) == (0, 0, 0)
        assert conn.execute(select(OUTREACH.c.id)).scalars().all() == [case.outreach_id]
    with engine.connect() as conn:
        profile = conn.execute(select(PROFILE).where(PROFILE.c.id == case.profile_id)).one()
        enrollment = conn.execute(select(ENROLLMENT)).one()
        assert profile.objected_at is not None
        assert (enrollment.state, enrollment.end_reason) == ("stopped", "objected")
        args: dict[str, Any] = {"now": NOW, "max_age_days": 365, "cooldown_days": 0}
        query = selection_query(gaps=SPEC.gaps, exhausted_cooldown_days=0, **args)
        assert conn.execute(query).all() == []
        counted = plan(conn=conn, spec=SPEC, exhausted_cooldown_days=0, **args)
        assert (counted.total, counted.excluded["opted_out"]) == (0, 1)
    with engine.begin() as conn:
        refused = record_contact_moment(
            conn, external_id="p1", channel="sms", context="invoice", now=NOW, spec=SPEC,
            policy=POLICY, max_age_days=365,
        )  # fmt: skip
    assert isinstance(refused, NoAsk) and refused.reason == "opted_out"
    [objected] = audits(engine, "profile.objected")
    assert objected.actor == "customer" and objected.profile_id == case.profile_id
    assert objected.reason and "landing page" in objected.reason
    assert objected.evidence is not None
    assert objected.evidence["via"] == "landing"
    assert objected.evidence["outreach_id"] == case.outreach_id
    assert objected.evidence["channel"] == "email" and objected.evidence["token_id"]
    [stop] = audits(engine, "enrollment.stop")
    assert stop.entity_id == case.enrollment_id and stop.actor == "customer"
    with Session(engine) as session:
        [sub] = session.exec(select(Submission)).scalars().all()
    assert sub.data == {"objection": True} and sub.outreach_id == case.outreach_id


def test_objection_needs_a_live_link_and_is_recorded_once(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    assert object_now(engine, case.token[:-2] + "xx") == "invalid_link"
    assert object_now(engine, "") == "invalid_link"
    assert counts(engine) == before
    assert object_now(engine, case.token) == "ok"
    after = counts(engine)
    assert object_now(engine, case.token) == "invalid_link"  # a replay changes nothing
    assert counts(engine) == after
    assert object_now(engine, another_link(engine, case)) == "invalid_link"  # objected: links end
    assert len(audits(engine, "profile.objected")) == 1


# -- this is wrong --------------------------------------------------------------------------


def test_wrong_without_a_new_value_contests_it(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    result = submit(engine, case, SubmissionForm(email=WRONG))
    assert result.status == "ok" and result.challenges == []
    assert status(engine, case.points["email"]) == CONTESTED
    [row] = audits(engine, "contact_point.contested")
    assert row.entity_id == case.points["email"] and row.actor == "customer"
    assert row.before == {"status": "valid"} and row.after == {"status": CONTESTED}
    assert row.evidence is not None and row.evidence["outreach_id"] == case.outreach_id
    with engine.connect() as conn:
        masks = gap_masks(conn, gaps=["invalid_email", "missing_email"], now=NOW,
                          max_age_days=365, profile_ids=[case.profile_id])  # fmt: skip
    assert masks[case.profile_id] == 4, "a contested email is a broken one: invalid_email"


def test_wrong_with_a_new_value_contests_the_old_and_adds_the_new(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    wrong = FieldAction("wrong", value=" nieuw@example.nl ")
    result = submit(engine, case, SubmissionForm(email=wrong))
    assert result.status == "ok" and len(result.challenges) == 1
    assert status(engine, case.points["email"]) == CONTESTED
    with engine.connect() as conn:
        new = conn.execute(select(CONTACT).where(CONTACT.c.value == "nieuw@example.nl")).one()
    assert (new.status, new.is_primary) == ("unverified", False)


def test_wrong_with_the_value_on_file_typed_again_adds_nothing(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)["contact_point"]
    same = FieldAction("wrong", value="P1@example.org")
    assert submit(engine, case, SubmissionForm(email=same)).challenges == []
    assert status(engine, case.points["email"]) == CONTESTED
    assert counts(engine)["contact_point"] == before


def test_wrong_needs_a_value_on_file_and_a_valid_new_one(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    before = counts(engine)
    nothing = submit(engine, case, SubmissionForm(mobile=WRONG))
    assert nothing.status == "invalid" and "nothing to mark wrong" in nothing.errors["mobile"]
    bad = submit(engine, case, SubmissionForm(email=FieldAction("wrong", value="not an email")))
    assert bad.status == "invalid" and "email" in bad.errors
    assert counts(engine) == before


def test_confirming_a_contested_value_withdraws_the_contest(engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="sms")
    submit(engine, case, SubmissionForm(email=WRONG, postal=WRONG))
    assert status(engine, case.points["postal"]) == CONTESTED
    case.token = another_link(engine, case)
    confirm = FieldAction("confirm")
    result = submit(engine, case, SubmissionForm(email=confirm, postal=confirm))
    assert result.status == "ok" and len(result.challenges) == 1  # proof of the email is asked
    assert status(engine, case.points["email"]) == "unverified"
    assert status(engine, case.points["postal"]) == "verified"  # a postal confirmation verifies
    withdrawn = [a for a in audits(engine, "contact_point.confirmed") if a.before]
    assert any(a.before == {"status": CONTESTED, "opted_out": False} for a in withdrawn)


def test_a_contested_value_is_never_written_to(engine: Engine) -> None:
    ladder = [Step(channel=c, wait_days=5) for c in ("sms", "email", "letter")]
    spec = SPEC.model_copy(update={"ladder": ladder})
    case = make_case(engine, FULL, gaps=["missing_mobile"], channel="sms", spec=spec)
    submit(engine, case, SubmissionForm(email=WRONG))
    with engine.begin() as conn:
        conn.execute(update(ENROLLMENT).values(next_due_at=NOW))  # the email step is due
        write_ahead(conn, enrollment_ids=[case.enrollment_id], spec=spec, now=NOW, respect=None)
        rows = conn.execute(
            select(OUTREACH.c.channel, OUTREACH.c.status, OUTREACH.c.contact_point_id)
            .where(OUTREACH.c.id != case.outreach_id)
            .order_by(OUTREACH.c.step_index)
        ).all()
    # The email step is skipped (no usable email); the letter goes to the address instead.
    assert [(r.channel, r.status) for r in rows] == [("email", "skipped"), ("letter", "pending")]
    assert case.points["email"] not in [r.contact_point_id for r in rows]


def test_an_import_of_the_same_value_keeps_the_contest(engine: Engine, tmp_path: Path) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    submit(engine, case, SubmissionForm(email=WRONG))
    path = tmp_path / "crm.csv"
    head, row = "external_id,email\n", "p1,{email}\n"
    path.write_text(head + row.format(email="P1@example.org"), encoding="utf-8")
    args: dict[str, Any] = {"default_region": "NL", "supported_locales": ["nl", "en"]}
    import_csv(engine=engine, path=path, source_name="crm.csv", default_locale="nl", **args)
    assert status(engine, case.points["email"]) == CONTESTED
    path.write_text(head + row.format(email="nieuw@example.nl"), encoding="utf-8")
    import_csv(engine=engine, path=path, source_name="crm2.csv", default_locale="nl", **args)
    with engine.connect() as conn:
        point = conn.execute(select(CONTACT).where(CONTACT.c.id == case.points["email"])).one()
    assert (point.value, point.status) == ("nieuw@example.nl", "valid")  # usable again
