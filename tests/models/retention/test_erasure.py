"""Erasing a profile through a sweep decision: no personal value survives anywhere in the
database but the CRM's key in the erasure notice, the trail and the other profiles stay, and the
next CRM export does not bring the person back (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from models.answers.link_tokens import issue_link_tokens
from models.answers.submissions import FieldAction, SubmissionForm, apply_submission
from models.audit_trail.reading import profile_trail
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord
from models.importing.apply_rows import ERASED, import_csv
from models.retention.sweep_runs import decide, list_proposals, run_sweep
from models.tables import (
    CAMPAIGN,
    ERASURE_NOTICE,
    ROUND,
    AuditEvent,
    Consent,
    ContactPoint,
    DeliveryEvent,
    Enrollment,
    Outreach,
    Profile,
    Submission,
    VerificationToken,
)
from tests.factories import NOW
from tests.models.answers.personal_link_data import SECRET, SPEC, shown

OLD = NOW - timedelta(days=1000)
EMAIL = "wilhelmina.vandersloot@example.nl"
NEW_EMAIL = "w.vandersloot@example.com"
CSV = (
    "external_id,given_name,family_name,email,mobile,street,house_number,postal_code,city,"
    "country,locale\n"
    f"C-1001,Wilhelmina,Vandersloot,{EMAIL},+31687654321,Keizersgracht,123,1015 CJ,Amsterdam,"
    "NL,nl\n"
    "C-2002,Other,Person,other.person@example.nl,+31611112222,Dorpsstraat,1,3511 AB,Utrecht,NL,nl\n"
)
# Everything that identified C-1001; none of it may remain after the erasure.
PERSONAL = [
    "C-1001",
    "Wilhelmina",
    "Vandersloot",
    EMAIL,
    "687654321",
    "Keizersgracht",
    "1015 CJ",
    "Amsterdam",
]
T = {
    name: model.__table__  # type: ignore[attr-defined]
    for name, model in {
        "profile": Profile,
        "cp": ContactPoint,
        "consent": Consent,
        "token": VerificationToken,
        "submission": Submission,
        "outreach": Outreach,
        "delivery": DeliveryEvent,
        "audit": AuditEvent,
        "enrollment": Enrollment,
    }.items()
}


def import_file(engine: Engine, path: Path, now: Any) -> Any:
    return import_csv(engine=engine, path=path, source_name="customers.csv", default_region="NL",
                      supported_locales=["nl", "en"], default_locale="nl", now=now)  # fmt: skip


def customer_history(engine: Engine, pid: int) -> None:
    """C-1001's life: asked by email, answered (new email, consent), bounced, sent STOP, gone."""
    with engine.begin() as conn:
        cid = conn.execute(
            insert(CAMPAIGN).values(
                key="t", version=1, content_hash=SPEC.content_hash(),
                definition=SPEC.model_dump(mode="json"), created_at=OLD,
            )
        ).inserted_primary_key[0]  # type: ignore[index]  # fmt: skip
        rid = conn.execute(
            insert(ROUND).values(
                campaign_id=cid, started_by="test", status="running", started_at=OLD
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        eid = conn.execute(
            insert(T["enrollment"]).values(round_id=rid, profile_id=pid, state="active",
                                           gap_mask=1, step_index=0, created_at=OLD,
                                           updated_at=OLD)
        ).inserted_primary_key[0]  # type: ignore[index]  # fmt: skip
        email_cp = conn.execute(
            select(T["cp"].c.id).where(T["cp"].c.profile_id == pid, T["cp"].c.kind == "email")
        ).scalar_one()
        oid = conn.execute(
            insert(T["outreach"]).values(enrollment_id=eid, profile_id=pid,
                                         contact_point_id=email_cp, channel="email",
                                         template="ask", status="sent", sent_at=OLD,
                                         created_at=OLD, updated_at=OLD)
        ).inserted_primary_key[0]  # type: ignore[index]  # fmt: skip
        token = issue_link_tokens(conn, items=[(pid, oid)], ttl_days=30, now=OLD)[oid]
    with Session(engine) as session:
        form = SubmissionForm(
            email=FieldAction("change", NEW_EMAIL),
            consents={"newsletter": {"email": False}},
            notices=shown("newsletter"),
        )
        result = apply_submission(session=session, token=token, form=form,
                                  now=OLD + timedelta(days=1), client_time="10:00",
                                  default_region="NL", code_secret=SECRET)  # fmt: skip
        assert result.status == "ok" and result.challenges
        bounce = EventRecord(
            provider="sendgrid", provider_event_id="ev-1", event_type="bounced", outreach_id=oid,
            provider_message_id="m-1", occurred_at=OLD + timedelta(days=2), recipient=EMAIL,
            detail=f"550 5.1.1 <{EMAIL}>: user unknown", hard_bounce=True,
            raw={"email": EMAIL, "event": "bounce", "reason": f"550 <{EMAIL}> unknown"},
        )  # fmt: skip
        stop = EventRecord(
            provider="twilio", provider_event_id="sm-1", event_type="inbound", outreach_id=None,
            provider_message_id="sm-1", occurred_at=OLD + timedelta(days=3),
            recipient="+31687654321", recipient_kind="mobile", opt_out=True,
            raw={"From": "+31687654321", "Body": "STOP"},
        )  # fmt: skip
        ingest_events(session=session, events=[bounce, stop], now=OLD + timedelta(days=3))
        session.commit()
    with engine.begin() as conn:
        conn.execute(update(T["enrollment"]).values(state="exhausted"))
        conn.execute(
            update(T["profile"])
            .where(T["profile"].c.id == pid)
            .values(unreachable_at=OLD + timedelta(days=30))
        )


def whole_database(engine: Engine, but: str = "") -> str:
    """Every row of every table (but the table named ``but``), as one lower-cased text."""
    with engine.connect() as conn:
        return "\n".join(
            repr(conn.execute(select(table)).all())
            for table in SQLModel.metadata.sorted_tables
            if table.name != but
        ).lower()


def rows_of(engine: Engine, pid: int) -> list[Any]:
    """The profile, its contact points and its audit trail as read (an erasure seals the trail
    first, which leaves what a reader sees unchanged)."""
    with engine.connect() as conn:
        return [
            conn.execute(select(T["profile"]).where(T["profile"].c.id == pid)).all(),
            conn.execute(select(T["cp"]).where(T["cp"].c.profile_id == pid)).all(),
            [dataclasses.replace(r, sealed=False) for r in profile_trail(conn, [pid])],
        ]


def count(engine: Engine, table: str, pid: int) -> int:
    with engine.connect() as conn:
        if table == "audit":  # rows about the profile, also those naming only its records
            return len(profile_trail(conn, [pid]))
        t = T[table]
        return int(conn.execute(select(func.count()).where(t.c.profile_id == pid)).scalar_one())


def test_erase_removes_every_personal_value_and_keeps_the_trail(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    import_file(engine, path, OLD)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(T["profile"].c.external_id, T["profile"].c.id)).all())
    pid, other = ids["C-1001"], ids["C-2002"]
    customer_history(engine, pid)
    assert all(value.lower() in whole_database(engine) for value in PERSONAL)
    assert count(engine, "token", pid) == 2 and count(engine, "consent", pid) == 1

    run_sweep(engine, started_by="tester", idle_days=730, now=NOW, batch_size=100)
    with engine.connect() as conn:
        [proposal] = list_proposals(conn)
    assert (proposal.external_id, proposal.proposal) == ("C-1001", "archive")
    others_before = rows_of(engine, other)
    audits_before = count(engine, "audit", pid)
    outreach_before = count(engine, "outreach", pid)

    # The steward overrides the proposal, and even names the customer in the note.
    with engine.begin() as conn:
        done = decide(conn, proposal_ids=[proposal.id], decision="erase", decided_by="dpo",
                      note="Wilhelmina Vandersloot asked us to forget her", now=NOW)  # fmt: skip
    assert done.profiles_changed == 1

    # The CRM's key is kept in the erasure notice, and nowhere else; nothing else of them is.
    dump = whole_database(engine, but="erasure_notice")
    assert [value for value in PERSONAL if value.lower() in dump] == []
    assert NEW_EMAIL not in dump
    with engine.connect() as conn:
        notices = conn.execute(select(ERASURE_NOTICE)).all()
    assert [tuple(n) for n in notices] == [(pid, "C-1001", NOW)]
    assert rows_of(engine, other) == others_before
    for table in ("cp", "consent", "token"):
        assert count(engine, table, pid) == 0, table
    assert count(engine, "outreach", pid) == outreach_before
    assert count(engine, "audit", pid) == audits_before + 2
    with engine.connect() as conn:
        profile = conn.execute(select(T["profile"]).where(T["profile"].c.id == pid)).one()
        submission = conn.execute(select(T["submission"])).one()
        raws = conn.execute(select(T["delivery"].c.raw)).scalars().all()
        outreach_cp = conn.execute(select(T["outreach"].c.contact_point_id)).scalars().all()
        erased = conn.execute(
            select(AuditEvent.actor, AuditEvent.reason, AuditEvent.after).where(
                AuditEvent.action == "profile.erased"
            )
        ).one()
    assert profile.external_id.startswith("erased:") and len(profile.external_id) == 39
    assert (profile.erased_at, profile.archived_at, profile.given_name) == (NOW, NOW, None)
    assert (submission.data, submission.client_time) == (None, None)
    assert raws == [{"erased": True}, {"erased": True}]
    assert outreach_cp == [None]
    assert (erased.actor, erased.reason) == ("dpo", "opted_out_contact")
    # Three imported contact points and the new email from the landing page; the link token
    # and the email confirmation token; the one consent answer.
    assert erased.after == {
        "external_id": profile.external_id,
        "contact_points": 4,
        "consents": 1,
        "tokens": 2,
    }

    # The same customer in the next CRM export is rejected, not created again.
    report = import_file(engine, path, NOW)
    assert (report.profiles_created, report.profiles_unchanged) == (0, 1)
    assert [(r.line, r.reason) for r in report.rejects] == [(2, ERASED)]
    with engine.connect() as conn:
        ids = conn.execute(select(T["profile"].c.id, T["profile"].c.external_id)).all()
    assert sorted(ids) == sorted([(pid, profile.external_id), (other, "C-2002")])
