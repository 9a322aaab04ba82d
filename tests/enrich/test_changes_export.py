"""``enrich export changes`` and ``GET /api/changes``: what the steward and a pulling CRM get,
and what a refused request leaves (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.app import create_app
from models.changes_feed.changes import COLUMNS
from models.changes_feed.cursor import stored_cursor
from models.importing.apply_rows import ERASED
from models.safe_csv import dict_rows
from tests.models.changes_feed.changed_people import changed_people

runner = CliRunner()
KEY = "crm-pull-key-0123456789abcdef0123"


def export(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["export", "changes", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_nightly_export_picks_up_where_the_last_stopped(
    settings: Settings, tmp_path: Path
) -> None:
    changed_people(get_engine(settings))
    code, out, _ = export("--out", str(tmp_path / "monday.csv"))
    assert code == 0, out
    assert "5 change(s) written to" in out and "the next export starts after" in out
    rows = list(dict_rows((tmp_path / "monday.csv").read_text().splitlines(keepends=True)))
    assert [r["external_id"] for r in rows] == ["CRM-1", "CRM-2", "CRM-2", "CRM-3", "CRM-1"]
    code, out, _ = export("--out", str(tmp_path / "tuesday.jsonl"))
    assert code == 0 and out.startswith("0 change(s) written")
    until = out.split("cursor ")[1].split(" ")[0]
    code, _, _ = export("--since", "0", "--until", until, "--out", str(tmp_path / "again.csv"))
    assert code == 0
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "monday.csv").read_bytes()


def test_a_refused_or_failed_export_says_why_and_keeps_the_cursor(
    settings: Settings, tmp_path: Path
) -> None:
    changed_people(get_engine(settings))
    code, _, err = export("--out", str(tmp_path / "changes.xlsx"))
    assert code == 2 and "must end in .csv or .jsonl" in err and "Traceback" not in err
    code, _, err = export("--since", "9", "--until", "3", "--out", str(tmp_path / "c.csv"))
    assert code == 2 and "range 9..3 is empty or reversed" in err
    code, _, err = export("--out", str(tmp_path / "nowhere" / "c.csv"))
    assert code == 1 and err.startswith("cannot write the export:") and "cursor stays" in err
    assert not (tmp_path / "c.csv").exists()
    with get_engine(settings).connect() as conn:
        assert stored_cursor(conn) == 0


def client(settings: Settings) -> TestClient:
    configured = settings.model_copy(update={"api_keys": SecretStr(KEY)})
    return TestClient(create_app(configured), base_url="https://testserver")


def test_a_crm_pulls_the_same_lines_page_by_page(settings: Settings, tmp_path: Path) -> None:
    changed_people(get_engine(settings))
    export("--out", str(tmp_path / "all.csv"))
    whole = list(dict_rows((tmp_path / "all.csv").read_text().splitlines(keepends=True)))
    auth = {"Authorization": f"Bearer {KEY}"}
    pulled, since, until = [], 0, None
    with client(settings) as c:
        while since is not None:
            params = {"since": since, "limit": 2} | ({} if until is None else {"until": until})
            answer = c.get("/api/changes", params=params, headers=auth)
            assert answer.status_code == 200, answer.text
            assert answer.headers["cache-control"] == "no-store"
            page = answer.json()
            until, since = page["until"], page["next_since"]
            pulled += page["changes"]
    as_text = [{k: "" if v is None else ("true" if v is True else str(v)) for k, v in line.items()}
               for line in pulled]  # fmt: skip
    assert as_text == whole and len(pulled) == 5
    with get_engine(settings).connect() as conn:
        assert stored_cursor(conn) == int(whole[-1]["cursor"])  # only the CLI export moved it


def test_the_feed_refuses_a_missing_key_and_bad_cursors(settings: Settings) -> None:
    changed_people(get_engine(settings))
    auth = {"X-API-Key": KEY}
    with client(settings) as c:
        assert c.get("/api/changes").status_code == 401
        assert c.get("/api/changes", headers={"X-API-Key": "wrong" * 8}).status_code == 401
        for params in ({"since": -1}, {"since": "abc"}, {"limit": 0}, {"limit": 10_001},
                       {"since": 2**63}, {"until": "1e3"}):  # fmt: skip
            answer = c.get("/api/changes", params=params, headers=auth)
            assert answer.status_code == 422, (params, answer.text)
            assert "input" not in answer.text
        answer = c.get("/api/changes", params={"since": 5, "until": 2}, headers=auth)
        assert answer.status_code == 422
        assert answer.json() == {
            "detail": [{"field": "until", "error": "must not be before since"}]
        }
        empty = c.get("/api/changes", params={"since": 10**6}, headers=auth)
        assert empty.status_code == 422  # after the newest change: until (the head) < since


def test_the_openapi_document_describes_every_column_of_a_line(settings: Settings) -> None:
    with client(settings) as c:
        schemas = c.get("/api/openapi.json").json()["components"]["schemas"]
    line = schemas["ChangeLine"]
    assert list(line["properties"]) == list(COLUMNS) == sorted(line["required"], key=COLUMNS.index)
    types = {
        name: prop.get("type") or [t["type"] for t in prop["anyOf"]]
        for name, prop in line["properties"].items()
    }
    assert (types["cursor"], types["external_id"]) == ("integer", "string")
    assert (types["kind"], types["granted"]) == (["string", "null"], ["boolean", "null"])
    assert "erased" in line["description"]


def test_an_erasure_reaches_the_crm_and_its_next_export_does_not_bring_the_person_back(
    settings: Settings, tmp_path: Path
) -> None:
    crm = tmp_path / "crm.csv"
    crm.write_text("external_id,given_name,email\nCRM-7,Zora,zora@example.org\nCRM-8,Ivo,\n")
    assert runner.invoke(app, ["import", str(crm)]).exit_code == 0
    export("--out", str(tmp_path / "before.csv"))
    erase = ["profile", "erase", "CRM-7", "--by", "dpo", "--reason", "request 3", "--yes"]
    assert runner.invoke(app, erase).exit_code == 0

    code, out, _ = export("--out", str(tmp_path / "after.csv"))
    assert code == 0 and out.startswith("1 change(s) written")
    [line] = list(dict_rows((tmp_path / "after.csv").read_text().splitlines(keepends=True)))
    assert (line["external_id"], line["record"], line["change"]) == ("CRM-7", "profile", "erased")
    assert {k for k, v in line.items() if v} == {"cursor", "changed_at", "external_id", "record",
                                                 "change"}  # fmt: skip

    again = runner.invoke(app, ["import", str(crm), "--rejects", str(tmp_path / "rejects.csv")])
    assert again.exit_code == 1
    assert "1 row(s) name people erased here: not imported again" in again.stdout
    assert "fix them and import again" not in again.stdout
    rejects = list(dict_rows((tmp_path / "rejects.csv").read_text().splitlines(keepends=True)))
    assert [(r["line"], r["reason"]) for r in rejects] == [("2", ERASED)]
