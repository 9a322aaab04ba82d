"""The changes feed back to the CRM: what it carries, its cursor, its files (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.changes_feed.changes import COLUMNS, changes, head
from models.changes_feed.cursor import stored_cursor
from models.changes_feed.export_file import ExportError, export_changes
from models.data_subject.erasure import erase_on_request
from models.data_subject.request import Request
from models.db import make_engine
from models.safe_csv import dict_rows
from models.vocabulary import AuditAction as A
from tests.factories import NOW
from tests.models.changes_feed.changed_people import HOSTILE_STREET, change, changed_people


def lines(engine: Engine, since: int = 0, until: int | None = None) -> list[dict[str, object]]:
    with engine.connect() as conn:
        end = head(conn) if until is None else until
        return [c.as_dict() for c in changes(conn, since, end, 10_000)]


def export(engine: Engine, out: Path, since: int | None = None, until: int | None = None):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return export_changes(conn, out, since=since, until=until, now=NOW)


def test_each_changed_record_once_at_its_last_change_and_nothing_the_import_wrote(
    engine: Engine,
) -> None:
    changed_people(engine)
    got = lines(engine)
    summary = [(line["external_id"], line["record"], line["kind"] or line["purpose"],
                line["change"], line["status"]) for line in got]  # fmt: skip
    assert summary == [
        ("CRM-1", "contact_point", "postal", "changed", "unverified"),
        ("CRM-2", "contact_point", "email", "bounced", "bounced"),
        ("CRM-2", "consent", "service", "consent_granted", None),
        ("CRM-3", "contact_point", "mobile", "contested", "contested"),
        ("CRM-1", "contact_point", "email", "verified", "verified"),
    ]
    email = got[-1]
    assert email["value"] == "CRM-1@example.org" and email["method"] == "email_link"
    assert email["verified_at"] == (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert got[0]["street"] == HOSTILE_STREET
    assert got[2]["channel"] == "email" and got[2]["granted"] is True
    assert got[2]["notice_version"] == "2026-11"
    cursors = [line["cursor"] for line in got]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)


def test_pages_put_together_give_the_whole_range(engine: Engine) -> None:
    changed_people(engine)
    whole = lines(engine)
    with engine.connect() as conn:
        end, since, paged = head(conn), 0, []
        while page := changes(conn, since, end, 2):
            paged += [c.as_dict() for c in page]
            since = page[-1].cursor
    assert paged == whole
    # A later range holds only what changed later.
    assert lines(engine, since=whole[2]["cursor"]) == whole[3:]  # type: ignore[arg-type]


def test_an_erased_person_is_one_line_with_the_crm_key_and_nothing_else(engine: Engine) -> None:
    changed_people(engine)
    before = lines(engine)
    request = Request.checked(requested_by="dpo", reason="request 12", via="cli")
    with engine.begin() as conn:
        erase_on_request(conn, external_id="CRM-2", request=request, now=NOW)
    got = lines(engine)
    # Bram's bounce and consent are gone with him; his erasure comes last, at its own cursor.
    assert got[:-1] == [line for line in before if line["external_id"] != "CRM-2"]
    erased = got[-1]
    assert erased["cursor"] > before[-1]["cursor"]  # type: ignore[operator]
    assert {k: v for k, v in erased.items() if v is not None} == {
        "cursor": erased["cursor"],
        "changed_at": NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "external_id": "CRM-2",
        "record": "profile",
        "change": "erased",
    }
    # The next export starts after it, and an erasure before the range is not repeated.
    assert lines(engine, since=erased["cursor"]) == []  # type: ignore[arg-type]
    assert lines(engine, since=before[-1]["cursor"]) == [erased]  # type: ignore[arg-type]


def test_csv_export_is_spreadsheet_safe_and_reads_back_as_the_feed(
    engine: Engine, tmp_path: Path
) -> None:
    changed_people(engine)
    out = tmp_path / "changes.csv"
    done = export(engine, out)
    assert done.rows == 5 and done.since == 0
    raw = out.read_text(encoding="utf-8")
    assert raw.splitlines()[0] == ",".join(COLUMNS)
    assert "\"'=HYPERLINK(" in raw and ",=HYPERLINK" not in raw and '"=HYPERLINK' not in raw
    assert out.stat().st_mode & 0o777 == 0o600
    back = list(dict_rows(raw.splitlines(keepends=True)))
    expected = [
        {k: "" if v is None else ("true" if v is True else str(v)) for k, v in line.items()}
        for line in lines(engine)
    ]
    assert back == expected


def test_the_cursor_is_stored_and_a_rerun_gives_the_same_file(
    engine: Engine, tmp_path: Path
) -> None:
    people = changed_people(engine)
    first = export(engine, tmp_path / "first.jsonl")
    with engine.connect() as conn:
        assert stored_cursor(conn) == first.until > 0
    # Nothing new: the next export is empty and starts where the first stopped.
    empty = export(engine, tmp_path / "empty.jsonl")
    assert (empty.since, empty.rows) == (first.until, 0)
    assert (tmp_path / "empty.jsonl").read_text() == ""
    # Something changes; the first range, exported again, is still the same file.
    change(engine, people.cp[(people.cees, "email")], people.cees, A.CONTACT_POINT_OPTED_OUT,
           status="opted_out")  # fmt: skip
    again = export(engine, tmp_path / "again.jsonl", since=0, until=first.until)
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "first.jsonl").read_bytes()
    nightly = export(engine, tmp_path / "nightly.jsonl", since=first.until)
    [line] = [json.loads(t) for t in (tmp_path / "nightly.jsonl").read_text().splitlines()]
    assert (line["external_id"], line["kind"], line["change"]) == ("CRM-3", "email", "opted_out")
    assert nightly.until > first.until and again.rows == first.rows
    # Replaying an older range never moves the stored cursor back.
    export(engine, tmp_path / "replay.jsonl", since=0, until=first.until)
    with engine.connect() as conn:
        assert stored_cursor(conn) == nightly.until
    assert export(engine, tmp_path / "next.jsonl").since == nightly.until


@pytest.mark.parametrize(
    ("name", "since", "until", "message"),
    [
        ("changes.xlsx", None, None, "must end in .csv or .jsonl"),
        ("changes", None, None, "not (none)"),
        ("changes.csv", 5, 2, "range 5..2 is empty or reversed"),
        ("changes.csv", -1, None, "range -1.."),
    ],
)
def test_a_refused_export_writes_nothing_and_keeps_the_cursor(
    engine: Engine, tmp_path: Path, name: str, since: int | None, until: int | None,
    message: str,
) -> None:  # fmt: skip
    changed_people(engine)
    (tmp_path / "out").mkdir()
    export(engine, tmp_path / "out" / "before.csv")
    with engine.connect() as conn:
        kept = stored_cursor(conn)
    with pytest.raises(ExportError, match=re.escape(message)):
        export(engine, tmp_path / "out" / name, since=since, until=until)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["before.csv"]
    with engine.connect() as conn:
        assert stored_cursor(conn) == kept


def test_an_unwritable_place_leaves_no_file_and_keeps_the_cursor(
    engine: Engine, tmp_path: Path
) -> None:
    changed_people(engine)
    with pytest.raises(FileNotFoundError):
        export(engine, tmp_path / "missing" / "changes.csv")
    (tmp_path / "out" / "taken.csv").mkdir(parents=True)
    with pytest.raises(OSError):
        export(engine, tmp_path / "out" / "taken.csv")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["taken.csv"]
    assert list((tmp_path / "out" / "taken.csv").iterdir()) == []
    with engine.connect() as conn:
        assert stored_cursor(conn) == 0


@pytest.mark.postgres
def test_nightly_exports_while_answers_arrive_lose_and_repeat_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL, answers sealed by another connection while exports run one after another:
    the ranges follow each other, and every change falls in exactly one of them."""
    engine = make_engine(pg_url)
    people = changed_people(engine)
    stop = threading.Event()

    def answers() -> None:
        kinds = ("email", "mobile", "postal")
        i = 0
        while not stop.is_set():
            pid = (people.anna, people.bram, people.cees)[i % 3]
            change(engine, people.cp[(pid, kinds[i % 3])], pid, A.CONTACT_POINT_CONFIRMED,
                   status="valid")  # fmt: skip
            i += 1

    writer = threading.Thread(target=answers)
    writer.start()
    try:
        done = [export(engine, tmp_path / f"night-{n}.jsonl") for n in range(12)]
    finally:
        stop.set()
        writer.join()
    done.append(export(engine, tmp_path / "last.jsonl"))
    assert [d.since for d in done] == [0] + [d.until for d in done[:-1]]
    files = [f"night-{n}.jsonl" for n in range(12)] + ["last.jsonl"]
    for d, name in zip(done, files, strict=True):
        got = [json.loads(t)["cursor"] for t in (tmp_path / name).read_text().splitlines()]
        assert got == [line["cursor"] for line in lines(engine, d.since, d.until)]
    with engine.connect() as conn:
        seqs = conn.execute(text("SELECT count(*), max(seq) FROM audit_event")).one()
    assert done[-1].until == seqs[1] and sum(d.rows for d in done) >= 5
    engine.dispose()


def waits_for_a_lock(engine: Engine) -> bool:
    """Whether a connection to this database is waiting for a lock another one holds."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())


@pytest.mark.postgres
def test_a_second_export_at_the_same_time_waits_and_starts_where_the_first_stopped(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL, two exports on two connections, the second started while the first is still
    open and a new answer arrived in between: each change is in exactly one of the two files."""
    engine = make_engine(pg_url)
    people = changed_people(engine)
    done = {}
    second = threading.Thread(target=lambda: done.update(two=export(engine, tmp_path / "2.jsonl")))
    with engine.begin() as conn:
        done["one"] = export_changes(conn, tmp_path / "1.jsonl", since=None, until=None, now=NOW)
        change(engine, people.cp[(people.cees, "email")], people.cees, A.CONTACT_POINT_OPTED_OUT,
               status="opted_out")  # fmt: skip
        second.start()
        deadline = time.monotonic() + 30  # a guard against a hang, not a measurement
        while not waits_for_a_lock(engine):
            assert second.is_alive(), "the second export did not wait for the first"
            assert time.monotonic() < deadline, "the second export neither waited nor ended"
            time.sleep(0.01)
    second.join()
    one, two = done["one"], done["two"]
    assert (two.since, two.rows) == (one.until, 1)
    files = [
        json.loads(t)["cursor"]
        for name in ("1.jsonl", "2.jsonl")
        for t in (tmp_path / name).read_text().splitlines()
    ]
    assert files == [line["cursor"] for line in lines(engine)]
    with engine.connect() as conn:
        assert stored_cursor(conn) == two.until == head(conn)
    engine.dispose()
