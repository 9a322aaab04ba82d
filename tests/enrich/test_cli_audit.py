"""`enrich audit seal | verify | checkpoint | keygen`: what an operator and an auditor see."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from models.audit import AuditRow, audit_many
from models.audit_trail.canonical import canonical
from models.audit_trail.sealing import content, link, pending_count, seal
from models.vocabulary import AuditAction
from tests.models.audit_trail.trail_data import attacker, p, write_rows

runner = CliRunner()
COLUMNS = ("id", "at", "actor", "action", "entity_type", "entity_id", "profile_id", "before",
           "after", "reason", "evidence")  # fmt: skip


def audit(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["audit", *args])
    return result.exit_code, result.stdout, result.stderr


def keys(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    code, out, _ = audit("keygen")
    assert code == 0
    lines = dict(line.split("=", 1) for line in out.splitlines())
    monkeypatch.setenv("ENRICH_AUDIT_SIGNING_KEY", lines["ENRICH_AUDIT_SIGNING_KEY"])
    get_settings.cache_clear()
    return lines["ENRICH_AUDIT_SIGNING_KEY"], lines["ENRICH_AUDIT_PUBLIC_KEY"]


def test_seal_then_verify(settings: Settings) -> None:
    write_rows(get_engine(settings), 20)
    code, out, _ = audit("verify")
    assert code == 0 and "0 sealed row(s)" in out and "20 row(s) not sealed yet" in out
    assert audit("seal")[:2] == (0, "20 audit row(s) sealed.\n")
    code, out, _ = audit("verify")
    assert code == 0 and "intact: 20 sealed row(s), head seq 20" in out and "rows/s" in out


def test_verify_names_the_tampered_row_and_fails(settings: Settings) -> None:
    engine = get_engine(settings)
    write_rows(engine, 10)
    audit("seal")
    with attacker(engine) as cur:
        cur.execute("UPDATE audit_event SET reason = 'nothing happened' WHERE seq = 6")
    code, out, err = audit("verify")
    assert code == 1 and out == ""
    assert err.startswith("The audit trail is NOT intact: edited: row seq 6 (audit id")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_checkpoint_proves_the_past_with_only_the_public_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = get_engine(settings)
    _, public = keys(monkeypatch)
    write_rows(engine, 10)
    audit("seal")
    point = tmp_path / "checkpoint.json"
    code, out, _ = audit("checkpoint", "--out", str(point))
    assert code == 0 and "head seq 10" in out
    assert json.loads(point.read_text())["checkpoint"]["rows"] == 10
    # The auditor has the file and the public key, not the signing key.
    monkeypatch.delenv("ENRICH_AUDIT_SIGNING_KEY")
    get_settings.cache_clear()
    write_rows(engine, 5, start=11)
    audit("seal")
    code, out, _ = audit("verify", "--checkpoint", str(point), "--public-key", public)
    assert code == 0 and "Unchanged up to the checkpoint" in out and "head seq 15" in out

    # Someone rewrites row 4 and recomputes every hash after it: the chain alone looks intact.
    with attacker(engine) as cur:
        cur.execute("UPDATE audit_event SET reason = 'rewritten' WHERE seq = 4")
        cur.execute(
            "SELECT id, at, actor, action, entity_type, entity_id, profile_id, before, after,"
            " reason, evidence, personal_digest, seq FROM audit_event ORDER BY seq"
        )
        rows = cur.fetchall()
        prev = "0" * 64
        for r in rows:
            row = dict(zip(COLUMNS, r[:11], strict=True))
            for c in ("before", "after", "evidence"):
                row[c] = json.loads(row[c]) if isinstance(row[c], str) else row[c]
            new = link(prev, canonical(content(row, r[11])))
            update = "UPDATE audit_event SET prev_hash = ?, row_hash = ? WHERE seq = ?"
            cur.execute(p(engine, update), (prev, new, r[12]))
            prev = new
    assert audit("verify")[0] == 0
    code, out, err = audit("verify", "--checkpoint", str(point), "--public-key", public)
    assert code == 1 and "edited: the trail up to seq 10 is not the one the checkpoint" in err


def test_a_wrong_key_or_a_malformed_checkpoint_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_rows(get_engine(settings), 3)
    audit("seal")
    keys(monkeypatch)
    point = tmp_path / "checkpoint.json"
    assert audit("checkpoint", "--out", str(point))[0] == 0
    _, other_public = keys(monkeypatch)
    code, _, err = audit("verify", "--checkpoint", str(point), "--public-key", other_public)
    assert code == 2 and "signed with key" in err
    document = json.loads(point.read_text())
    document["checkpoint"]["rows"] = 2
    point.write_text(json.dumps(document))
    code, _, err = audit("verify", "--checkpoint", str(point), "--public-key", other_public)
    assert code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out, err = audit("verify", "--checkpoint", str(bad), "--public-key", other_public)
    assert (code, out, err) == (2, "", "bad.json is not a valid checkpoint file\n")
    assert audit("verify", "--checkpoint", str(bad))[2].startswith("A checkpoint needs a public")
    code, _, err = audit("verify", "--checkpoint", str(point), "--public-key", "c2hvcnQ=")
    assert (code, err) == (2, "the public key must be 32 bytes (base64 of an Ed25519 key)\n")


def test_a_forged_signature_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_rows(get_engine(settings), 3)
    audit("seal")
    _, public = keys(monkeypatch)
    point = tmp_path / "checkpoint.json"
    audit("checkpoint", "--out", str(point))
    document = json.loads(point.read_text())
    document["checkpoint"]["rows"] = 99
    point.write_text(json.dumps(document))
    code, _, err = audit("verify", "--checkpoint", str(point), "--public-key", public)
    assert (code, err) == (2, "the checkpoint's signature is not valid for this public key\n")


def test_checkpoint_without_a_signing_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    code, _, err = audit("checkpoint", "--out", str(tmp_path / "c.json"))
    assert code == 2 and err.startswith("Set ENRICH_AUDIT_SIGNING_KEY")
    assert not (tmp_path / "c.json").exists()


def test_a_row_without_a_canonical_form_stops_sealing_with_a_clear_error(
    settings: Settings,
) -> None:
    engine = get_engine(settings)
    write_rows(engine, 2)
    with engine.begin() as conn:
        row = AuditRow(actor="t", action=AuditAction.PROFILE_UPDATE, entity_type="profile",
                       entity_id=9, after={"n": 2**60})  # fmt: skip
        audit_many(conn, [row])
    code, out, err = audit("seal")
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("Sealing stopped: audit row 3 cannot be sealed:")
    assert audit("verify")[0] == 0  # nothing half-sealed


def test_a_batch_end_seal_leaves_an_unsealable_row_pending_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The work before it is committed: the end of a webhook request or a send batch must not
    fail because of a row it cannot seal; `enrich audit seal` reports it."""
    engine = get_engine(settings)
    write_rows(engine, 2)
    with engine.begin() as conn:
        row = AuditRow(actor="t", action=AuditAction.PROFILE_UPDATE, entity_type="profile",
                       entity_id=9, after={"n": 2**60})  # fmt: skip
        audit_many(conn, [row])
    caplog.set_level(logging.ERROR)
    assert seal(engine) == 0  # the batch holding it waits, no exception
    assert any("audit row 3 cannot be sealed" in r.getMessage() for r in caplog.records)
    with engine.connect() as conn:
        assert pending_count(conn) == 3
