"""`POST /api/data-subjects/dossier`: the CLI's JSON behind an API key, its reading audited with
who asked and why; an unknown id, a malformed body or a missing key is refused without repeating
the id, and it is in the OpenAPI document."""

from __future__ import annotations

import getpass
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web.app import create_app
from models.tables import AUDIT
from tests.models.dossier.scenario import ALICE_MOBILE, BOB, build

KEY = "dossier-key-for-the-privacy-tool-0123"
URL = "/api/data-subjects/dossier"


def ask(external_id: str, **extra: object) -> dict[str, object]:
    return {"external_id": external_id, "requested_by": "dpo", "reason": "ticket 7", **extra}


def without_reads(value: Any) -> Any:
    """``value`` without its time of writing and without the audit rows of dossier readings."""
    if isinstance(value, dict):
        return {k: without_reads(v) for k, v in value.items() if k != "generated_at"}
    if isinstance(value, list):
        return [
            without_reads(v)
            for v in value
            if not (isinstance(v, dict) and v.get("action") == "profile.dossier_read")
        ]
    return value


def client(settings: Settings, keys: str | None = KEY) -> TestClient:
    configured = settings.model_copy(
        update={"api_keys": SecretStr(keys) if keys is not None else None}
    )
    return TestClient(create_app(configured), base_url="https://testserver")


def test_the_api_answers_the_same_dossier_as_the_cli(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    case = build(settings, tmp_path)
    caplog.set_level(logging.INFO)
    with client(settings) as c:
        answer = c.post(URL, json=ask("alice-1"), headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()
    cli = json.loads(
        CliRunner().invoke(app, ["profile", "dossier", "alice-1", "--format", "json"]).stdout
    )
    # The same facts (only the time of writing and the readings themselves differ).
    assert without_reads(data) == without_reads(cli)
    with get_engine(settings).connect() as conn:
        reads = conn.execute(
            select(AUDIT.c.actor, AUDIT.c.reason, AUDIT.c.evidence, AUDIT.c.profile_id)
            .where(AUDIT.c.action == "profile.dossier_read").order_by(AUDIT.c.id)
        ).all()  # fmt: skip
    assert [(r.actor, r.reason, r.evidence["via"], r.profile_id) for r in reads] == [
        ("dpo", "ticket 7", "api", case.alice),
        (f"cli:{getpass.getuser()}", "dossier requested on the command line", "cli", case.alice),
    ]
    assert data["profile"]["id"] == case.alice
    assert any(cp["value"] == ALICE_MOBILE for cp in data["contact_points"])
    assert BOB[3] not in answer.text
    # Our log says a dossier was read, never whose or what it holds.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("enrich")]
    assert any("dossier" in line for line in ours)
    assert not [line for line in ours if "alice" in line or ALICE_MOBILE in line]


def test_unknown_id_and_missing_key_are_refused(settings: Settings, tmp_path: Path) -> None:
    build(settings, tmp_path)
    with client(settings) as c:
        unknown = c.post(URL, json=ask("nobody-42"), headers={"X-API-Key": KEY})
        no_key = c.post(URL, json=ask("alice-1"))
        wrong = c.post(URL, json=ask("alice-1"), headers={"X-API-Key": "not-the-key-at-all-00000"})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "unknown customer"})
    assert "nobody-42" not in unknown.text
    assert no_key.status_code == 401 and wrong.status_code == 401
    with client(settings) as c:
        control = c.post(URL, json=ask("alice\x00-1"), headers={"X-API-Key": KEY})
        too_long = c.post(URL, json=ask("a" * 129), headers={"X-API-Key": KEY})
        no_reason = c.post(URL, json={"external_id": "alice-1", "requested_by": "dpo"},
                           headers={"X-API-Key": KEY})  # fmt: skip
    assert control.status_code == 422 and too_long.status_code == 422
    assert no_reason.status_code == 422
    assert "alice" not in control.text
    assert "alice" not in no_key.text and "alice" not in wrong.text
    with client(settings, keys=None) as c:
        unconfigured = c.post(URL, json=ask("alice-1"), headers={"X-API-Key": KEY})
    assert unconfigured.status_code == 503


def test_the_route_is_in_the_openapi_document(settings: Settings) -> None:
    with client(settings) as c:
        paths = c.get("/api/openapi.json").json()["paths"]
    assert set(paths[URL]["post"]["responses"]) >= {"200", "401", "404", "422", "503"}
