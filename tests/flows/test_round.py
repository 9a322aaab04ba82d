"""The round flow end to end on the real outbox channels: enrol, send, summarise, never twice;
what it leaves in Prefect: tables, a finished progress bar, a link to the steward's report."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from flows.round import enrichment_round, resume_round
from models.tables import ENROLLMENT, AuditEvent, Enrollment, Outreach, Round
from models.types import utcnow
from tests.factories import COMPLETE, add_profile, backdate, replace

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def outbox_counts(outbox: Path) -> dict[str, int]:
    sms = sum(len(f.read_text().splitlines()) for f in (outbox / "sms").glob("batch-*.jsonl"))
    letters = sum(
        len(list(csv.DictReader(f.open()))) for f in (outbox / "letters").glob("batch-*.csv")
    )
    return {"email": len(list((outbox / "email").glob("*.eml"))), "sms": sms, "letter": letters}


def artifacts(flow_run_id: UUID, *keys: str) -> dict[str, Any]:
    """The artifacts of one flow run under these keys, read back from the Prefect API: a
    table's rows, a progress's percentage, a link's markdown, and each description. Keys repeat
    across tests (one database per test, one Prefect server), the flow run does not."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=list(keys)),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    return {
        str(a.key): {
            "data": json.loads(a.data) if a.type == "table" else a.data,  # type: ignore[arg-type]
            "description": a.description,
        }
        for a in found
    }


def round_artifacts(state: Any, round_id: int) -> dict[str, Any]:
    """The round's artifacts of the flow run that ``state`` ends, by what they show."""
    what = ("gaps", "channels", "unsettled", "progress", "report")
    keys = {f"enrichment-round-{round_id}-{w}": w for w in what}
    found = artifacts(state.state_details.flow_run_id, *keys)
    return {keys[key]: artifact for key, artifact in found.items()}


def no_personal_data(published: dict[str, Any]) -> bool:
    text = json.dumps(published)
    return not any(value in text for value in ("@example.org", "+316", "Dorpsstraat", "Test"))


def count(settings: Settings, table: type) -> int:
    with get_engine(settings).connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()  # type: ignore[attr-defined]


def test_round_sends_each_first_step_once_and_a_rerun_sends_nothing(settings: Settings) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "e1", replace(COMPLETE, "mobile"))
        add_profile(conn, "e2", replace(COMPLETE, "mobile"), locale="en")
        add_profile(conn, "s1", replace(COMPLETE, "email"))
        add_profile(conn, "l1", [{"kind": "postal", "status": "unverified"}])
        add_profile(conn, "none", [{"kind": "postal", "status": "invalid"}])
        add_profile(conn, "complete", COMPLETE)
        add_profile(conn, "objector", [], objected_at=COMPLETE[2]["verified_at"])

    state = enrichment_round(started_by="tester", return_state=True)
    summary = state.result(_sync=True)

    assert summary["enrolled"] == 5
    assert summary["per_gap"] == {"missing_email": 3, "missing_mobile": 4}
    assert (summary["sent"], summary["failed"]) == (4, 0)
    assert summary["exhausted"] == 1
    assert summary["per_channel"]["email"] == {"sent": 2, "skipped": 3}
    outbox = settings.resolved_outbox_dir
    assert outbox_counts(outbox) == {"email": 2, "sms": 1, "letter": 1}
    sms = json.loads(next((outbox / "sms").glob("batch-*.jsonl")).read_text().splitlines()[0])
    assert "https://enrich.example.org/c/" in sms["body"]
    with engine.connect() as conn:
        stored = conn.execute(select(Round.status, Round.summary, Round.forecast)).one()
    assert stored.status == "finished"
    assert stored.summary["sent"] == 4
    # The forecast made as the round started: no earlier round, so the campaign's defaults.
    assert (stored.forecast["selected"], stored.forecast["basis"]) == (5, "defaults")
    assert [s["channel"] for s in stored.forecast["steps"]] == ["email", "sms", "letter"]
    outreach_rows = count(settings, Outreach)

    round_id = summary["round_id"]
    published = round_artifacts(state, round_id)
    assert published["gaps"]["data"] == [
        {"gap": "missing_email", "profiles": 3},
        {"gap": "missing_mobile", "profiles": 4},
    ]
    assert published["channels"]["data"] == [
        {"channel": "email", "sent": 2, "failed": 0, "skipped": 3, "pending": 0},
        {"channel": "letter", "sent": 1, "failed": 0, "skipped": 1, "pending": 0},
        {"channel": "sms", "sent": 1, "failed": 0, "skipped": 2, "pending": 0},
    ]
    assert "unsettled" not in published  # every message is settled
    assert published["progress"]["data"] == 100
    assert "5 of 5 enrolled profiles have their first step handled" in str(
        published["progress"]["description"]
    )
    report = Path(unquote(urlparse(str(published["report"]["data"]).split("](")[1][:-1]).path))
    assert report == settings.data_dir.resolve() / "reports" / f"round-{round_id}.html"
    assert f"Round {round_id}" in report.read_text(encoding="utf-8")
    assert report.stat().st_mode & 0o777 == 0o600
    assert f"enrich report --round {round_id} --out {report}" in str(
        published["report"]["description"]
    )
    assert no_personal_data(published)

    resumed = resume_round(round_id, started_by="tester", return_state=True)
    again = resumed.result(_sync=True)
    assert (again["sent"], again["enrolled"], again["already_sent"]) == (4, 5, 0)
    republished = round_artifacts(resumed, round_id)
    assert republished["unsettled"]["data"] == []  # replaces what an interrupted run left
    assert republished["progress"]["data"] == 100
    assert set(republished) == {"gaps", "channels", "unsettled", "progress", "report"}
    assert outbox_counts(outbox) == {"email": 2, "sms": 1, "letter": 1}
    assert count(settings, Outreach) == outreach_rows

    # A new round finds everybody either enrolled, exhausted (and waiting out the exhausted
    # cool-down: its data did not change) or in cool-down.
    second = enrichment_round(started_by="tester")
    assert second["enrolled"] == 0
    assert outbox_counts(outbox) == {"email": 2, "sms": 1, "letter": 1}
    with engine.connect() as conn:
        sent_audits = conn.execute(
            select(func.count()).where(AuditEvent.action == "outreach.sent")
        ).scalar_one()
        rounds = conn.execute(select(func.count()).select_from(Round)).scalar_one()
        enrollments = conn.execute(select(func.count()).select_from(Enrollment)).scalar_one()
    assert (sent_audits, rounds, enrollments) == (4, 2, 5)


def test_advance_sends_the_next_step_once_the_window_has_passed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from flows.advance import advance_ladders

    engine = get_engine(settings)
    with engine.begin() as conn:
        add_profile(conn, "e1", replace(COMPLETE, "mobile"), locale="en")
        add_profile(conn, "s1", replace(COMPLETE, "email"))
    # A report that cannot be written (a file where its folder goes) does not stop the round.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "reports").write_text("not a folder", encoding="utf-8")
    state = enrichment_round(started_by="tester", return_state=True)
    assert state.result(_sync=True)["sent"] == 2
    assert "report" not in round_artifacts(state, 1)
    assert "round 1: the report was not written (FileExistsError" in caplog.text
    outbox = settings.resolved_outbox_dir
    assert outbox_counts(outbox) == {"email": 1, "sms": 1, "letter": 0}

    # Nothing is due yet: the response windows are five days.
    assert advance_ladders()["sent"] == 0
    # Five days later (moved in the database rather than on the clock) the letters go out.
    enrollment = ENROLLMENT
    with engine.begin() as conn:
        conn.execute(update(enrollment).values(next_due_at=utcnow() - timedelta(minutes=1)))
    state = advance_ladders(return_state=True)
    summary = state.result(_sync=True)
    assert (summary["sent"], summary["skipped"]) == (2, 1)  # e1 has no mobile: SMS skipped
    published = artifacts(
        state.state_details.flow_run_id, "ladder-advance", "ladder-advance-progress"
    )
    [row] = published["ladder-advance"]["data"]
    assert {
        k: row[k] for k in ("round", "enrollments", "sent", "failed", "skipped", "exhausted")
    } == {"round": 1, "enrollments": 2, "sent": 2, "failed": 0, "skipped": 1, "exhausted": 0}
    assert published["ladder-advance-progress"]["data"] == 100
    assert "2 due enrollments handled" in str(published["ladder-advance-progress"]["description"])
    assert no_personal_data(published)
    assert outbox_counts(outbox) == {"email": 1, "sms": 1, "letter": 2}
    assert advance_ladders()["sent"] == 0
    assert outbox_counts(outbox) == {"email": 1, "sms": 1, "letter": 2}


CSV_HEADER = (
    "external_id,given_name,family_name,email,mobile,street,house_number,postal_code,city,country,"
    "locale"
)
# An address without a house number is kept as an invalid contact point: nothing is usable.
NO_WAY = "CRM-1,Anna,de Vries,,,Kerkstraat,,1017 GC,Amsterdam,NL,nl"
WITH_EMAIL = "CRM-1,Anna,de Vries,anna@example.org,,Kerkstraat,,1017 GC,Amsterdam,NL,nl"


def import_rows(tmp_path: Path, *rows: str) -> None:
    """``enrich import`` of a CSV file holding ``rows``."""
    path = tmp_path / "customers.csv"
    path.write_text("\n".join((CSV_HEADER, *rows)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output


def enrollments_of(settings: Settings) -> list[tuple[int, str, str | None]]:
    e = ENROLLMENT.c
    with get_engine(settings).connect() as conn:
        rows = conn.execute(select(e.round_id, e.state, e.end_reason).order_by(e.id)).all()
    return [(r.round_id, r.state, r.end_reason) for r in rows]


def test_rounds_in_a_row_leave_an_exhausted_profile_alone_until_its_data_changes(
    settings: Settings, tmp_path: Path
) -> None:
    import_rows(tmp_path, NO_WAY)
    first = enrichment_round(started_by="tester")
    assert (first["enrolled"], first["exhausted"]) == (1, 1)
    assert enrichment_round(started_by="tester")["enrolled"] == 0
    assert enrichment_round(started_by="tester")["enrolled"] == 0
    with get_engine(settings).connect() as conn:
        parameters = conn.execute(select(Round.parameters).where(Round.id == 3)).scalar_one()
    assert parameters["exhausted_cooldown_days"] == settings.exhausted_cooldown_days == 180
    # Importing the same file again changes nothing, so the profile still waits.
    import_rows(tmp_path, NO_WAY)
    assert enrichment_round(started_by="tester")["enrolled"] == 0
    assert enrollments_of(settings) == [(1, "exhausted", "no usable contact point")]

    # The CRM now knows an email address: the next round asks there.
    import_rows(tmp_path, WITH_EMAIL)
    fifth = enrichment_round(started_by="tester")
    assert (fifth["enrolled"], fifth["sent"]) == (1, 1)
    assert enrollments_of(settings)[-1] == (fifth["round_id"], "active", None)


def test_an_exhausted_profile_comes_back_once_the_period_is_over(settings: Settings) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        pid = add_profile(conn, "nobody", [{"kind": "postal", "status": "invalid"}])
    assert enrichment_round(started_by="tester")["exhausted"] == 1
    assert enrichment_round(started_by="tester")["enrolled"] == 0
    # Half a year passes (moved in the database rather than on the clock), nothing changes.
    ended = utcnow() - timedelta(days=settings.exhausted_cooldown_days, minutes=1)
    with engine.begin() as conn:
        conn.execute(update(ENROLLMENT).values(ended_at=ended))
        backdate(conn, pid, ended - timedelta(days=1))
    third = enrichment_round(started_by="tester")
    assert (third["enrolled"], third["exhausted"]) == (1, 1)
    assert [state for _round, state, _reason in enrollments_of(settings)] == ["exhausted"] * 2
