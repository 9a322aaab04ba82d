"""Erasing a person from a sealed trail: the chain still verifies, and no byte of their name,
email, phone or address is left in the SQLite file or its write-ahead log (on PostgreSQL: in
no table; its files keep dead tuples until vacuum, which SQL cannot see). The CRM's external id
is kept on purpose in one place, the erasure notice, and in no other."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine, outreach_config
from enrich.settings import Settings
from models.audit_trail.reading import profile_trail
from models.audit_trail.sealing import seal
from models.audit_trail.verify import verify
from models.db import truncate_wal
from models.feedback.delivery_events import ingest_events
from models.feedback.event_records import EventRecord
from models.tables import ERASURE_NOTICE, OUTREACH, PROFILE, Enrollment
from models.types import utcnow
from outreach.channels import build_channels
from outreach.sending.dispatch import send_due_steps
from tests.factories import enrol, spec, start_round

EMAIL = "zebulon.quixwright@example.org"
PERSON = {
    "external_id": "CRM-QX-4242",
    "given_name": "Zebulon",
    "family_name": "Quixwright",
    "email": EMAIL,
    "mobile": "+31687651234",
    "street": "Quixwrightsteeg",
    "house_number": "77",
    "postal_code": "9999 ZQ",
    "city": "Zuidwoldum",
}
# What must not survive, as the bytes a scan of the files would find (a phone also without +);
# the external id survives in the erasure notice only.
KEY = PERSON["external_id"]
SECRETS = [v for k, v in PERSON.items() if k not in ("house_number", "mobile")] + ["687651234"]


def import_person(tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    head = ",".join(PERSON) + ",country,locale"
    other = "CRM-OK-1,Other,Person,other@example.org,+31611112222,Dorpsstraat,1,3511 AB,Utrecht"
    csv.write_text(f"{head}\n{','.join(PERSON.values())},NL,nl\n{other},NL,nl\n")
    result = CliRunner().invoke(app, ["import", str(csv)])
    assert result.exit_code == 0, result.output


def send_round(engine: Engine, settings: Settings) -> None:
    enrol(engine, start_round(engine))
    config = outreach_config(settings)
    with engine.connect() as conn:
        ids = list(conn.execute(select(Enrollment.id)).scalars())
    send_due_steps(engine=engine, enrollment_ids=ids, spec=spec(), channels=build_channels(config),
                   config=config, now=utcnow(), actor="system")  # fmt: skip
    seal(engine)


def bounce(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        oid = conn.execute(select(OUTREACH.c.id).where(OUTREACH.c.profile_id == pid)).scalar()
    event = EventRecord(
        provider="sendgrid", provider_event_id="ev-qx", event_type="bounced", outreach_id=oid,
        provider_message_id="m-qx", occurred_at=utcnow() - timedelta(minutes=1), recipient=EMAIL,
        detail=f"550 5.1.1 <{EMAIL}>: user unknown", hard_bounce=True,
        raw={"email": EMAIL, "event": "bounce", "reason": f"550 <{EMAIL}> unknown"},
    )  # fmt: skip
    with Session(engine) as session:
        ingest_events(session=session, events=[event], now=utcnow())
        session.commit()
    seal(engine)


def everything(engine: Engine, but: str = "") -> str:
    """Every row of every table but the table named ``but``, as one text."""
    with engine.connect() as conn:
        return "\n".join(
            repr(conn.execute(select(table)).all())
            for table in SQLModel.metadata.sorted_tables
            if table.name != but
        )


def found_in_files(path: Path, secrets: list[str]) -> set[tuple[str, str]]:
    """Which of ``secrets`` the SQLite file or its write-ahead log holds, as bytes."""
    files = [path, path.with_name(path.name + "-wal")]
    return {
        (f.name, s)
        for f in files
        if f.exists()
        for s in secrets
        if s.encode() in f.read_bytes() or s.lower().encode() in f.read_bytes().lower()
    }


def test_an_erased_person_leaves_no_byte_and_the_chain_verifies(
    settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(settings)
    import_person(tmp_path)
    with engine.connect() as conn:
        pid = conn.execute(
            select(PROFILE.c.id).where(PROFILE.c.external_id == PERSON["external_id"])
        ).scalar_one()
    send_round(engine, settings)
    bounce(engine, pid)
    assert all(s in everything(engine) for s in SECRETS)  # the scenario did record them
    assert verify(engine).problem is None
    with engine.connect() as conn:
        before = profile_trail(conn, [pid])
    assert any(r.after and r.after.get("given_name") == "Zebulon" for r in before)

    # A server keeps a connection open: SQLite then keeps its write-ahead log file as well.
    keeper = engine.connect()
    keeper.exec_driver_sql("SELECT 1").all()
    erased = CliRunner().invoke(
        app,
        [
            "profile",
            "erase",
            PERSON["external_id"],
            "--by",
            "dpo",
            "--reason",
            "ticket 12",
            "--yes",
        ],
    )
    assert erased.exit_code == 0, erased.output

    result = verify(engine)
    assert (result.problem, result.pending) == (None, 0)
    dump = everything(engine, but="erasure_notice").lower()
    assert [s for s in SECRETS if s.lower() in dump] == []
    assert "other@example.org" in dump  # the other customer is untouched
    with engine.connect() as conn:
        notices = conn.execute(select(ERASURE_NOTICE.c.profile_id, ERASURE_NOTICE.c.external_id))
        assert notices.all() == [(pid, KEY)]
    with engine.connect() as conn:
        after = profile_trail(conn, [pid])
    # Every row is still there; the erasure (and the stop of the enrollment) were added.
    assert [r.id for r in after[: len(before)]] == [r.id for r in before]
    assert after[-1].action == "profile.erased" and after[-1].reason == "ticket 12"
    assert any(r.after and r.after.get("given_name") == "[erased]" for r in after)
    if engine.dialect.name != "sqlite":
        keeper.close()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_personal")).scalar_one() > 0
        return
    path = Path(str(make_url(str(engine.url)).database))
    found = found_in_files(path, SECRETS)
    keeper.close()
    assert {secret for _, secret in found} == {KEY}
    # The notice is the only place the key is left in: without it, no byte of the person is.
    with engine.begin() as conn:
        conn.execute(delete(ERASURE_NOTICE))
    truncate_wal(engine)
    assert found_in_files(path, SECRETS) == set()
