"""`enrich profile dossier`: text, complete JSON, and one HTML page with nothing outside itself
that escapes whatever a customer's name holds; an unknown id is one line and exit 2."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from enrich.cli import app, exit_codes
from enrich.runtime import get_engine
from enrich.settings import Settings
from models.retention.erasure import erase_profiles
from models.tables import PROFILE
from models.types import utcnow
from tests.models.dossier.scenario import ALICE_EMAIL, ALICE_MOBILE, BOB, BOUNCE_REASON, build

runner = CliRunner()
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("https://evil.example/x","click")'


def dossier(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["profile", "dossier", *args], terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def test_text_names_the_file_line_change_proof_bounce_and_reason(
    settings: Settings, tmp_path: Path
) -> None:
    case = build(settings, tmp_path)
    code, out, _ = dossier("alice-1")
    assert code == 0, out
    assert "customers.csv, line 2" in out and "update.csv, line 3" in out
    assert '"value": "alice.old@example.org"' in out and f'"value": "{ALICE_EMAIL}"' in out
    assert f"link:sms, answering message {case.sms_outreach} (sms)" in out
    assert "CHALLENGE" in out and BOUNCE_REASON in out
    assert f"round {case.round_id}, step 1 (email): gaps" in out
    assert BOB[3] not in out and BOB[0] not in out


def test_json_is_valid_and_complete(settings: Settings, tmp_path: Path) -> None:
    case = build(settings, tmp_path)
    out_file = tmp_path / "alice.json"
    code, _, err = dossier("alice-1", "--format", "json", "--out", str(out_file))
    assert code == 0 and "alice.json" in err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600  # personal data: its owner only
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["format"] == "enrich.dossier/1"
    assert set(data) >= {"profile", "contact_points", "messages", "consents", "rights", "trail"}
    assert data["profile"]["external_id"] == "alice-1"
    # Every audit row about her is there, and every one names her records only.
    assert len(data["trail"]) >= 15
    points = {cp["id"]: cp for cp in data["contact_points"]}
    mobile = next(cp for cp in points.values() if cp["value"] == ALICE_MOBILE)
    assert mobile["verifications"][0]["outreach_id"] == case.sms_outreach
    assert mobile["update_due"] is not None and mobile["update_due"].startswith("20")
    messages = {m["id"]: m for m in data["messages"]}
    assert messages[case.email_outreach]["events"][0]["event_type"] == "bounced"
    assert {c["purpose"] for c in data["consents"]} == {"service", "newsletter"}
    assert all(BOB[3] not in json.dumps(part) for part in data.values())


def test_html_is_one_page_with_no_outside_reference_and_escapes_names(
    settings: Settings, tmp_path: Path
) -> None:
    build(settings, tmp_path, alice_given=HOSTILE)
    # A second import gives her a formula for a family name, as a spreadsheet attack would.
    quoted = FORMULA.replace('"', '""')
    (tmp_path / "names.csv").write_text(
        f'external_id,family_name\nalice-1,"{quoted}"\n', encoding="utf-8"
    )
    assert runner.invoke(app, ["import", str(tmp_path / "names.csv")]).exit_code == 0
    out_file = tmp_path / "alice.html"
    code, _, _ = dossier("alice-1", "--format", "html", "--out", str(out_file))
    assert code == 0
    html = out_file.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower() and HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;https://evil.example/x&#34;" in html
    # Nothing is fetched: no link, image, frame, stylesheet or form pointing anywhere.
    assert not re.search(r"<(a|img|link|iframe|object|embed|form|base)\b", html, re.I)
    assert not re.search(r"\b(src|href|action)\s*=", html, re.I)
    assert "url(" not in html and "@import" not in html
    for section in ("checklist", "contact-points", "messages", "consents", "rights", "trail"):
        assert f'id="{section}"' in html
    assert "import:names.csv:2" in html  # the name's source: the second import


def test_an_erased_profile_shows_the_proof_that_remains(settings: Settings, tmp_path: Path) -> None:
    case = build(settings, tmp_path)
    with get_engine(settings).begin() as conn:
        erase_profiles(
            conn, profile_ids=[case.alice], now=utcnow(), actor="dpo", reason="asked (Art. 17)"
        )
        marker = conn.execute(
            select(PROFILE.c.external_id).where(PROFILE.c.id == case.alice)
        ).scalar_one()
    code, out, _ = dossier(marker, "--format", "html")
    assert code == 0
    assert 'id="erased"' in out and "profile.erased" in out and "asked (Art. 17)" in out
    assert "link:sms" in out  # what was verified, and how, is still there
    for value in (ALICE_EMAIL, ALICE_MOBILE, "Jansen", "alice-1"):
        assert value not in out


def test_unknown_id_is_one_line_and_exit_2(settings: Settings, tmp_path: Path) -> None:
    build(settings, tmp_path)
    code, out, err = dossier("nobody-42", "--format", "html", "--out", str(tmp_path / "x.html"))
    assert code == exit_codes.INVALID
    assert err == "No profile has this external id.\n" and out == ""
    assert "nobody-42" not in err
    assert not (tmp_path / "x.html").exists()


def test_unknown_format_is_refused(settings: Settings, tmp_path: Path) -> None:
    code, _, err = dossier("alice-1", "--format", "pdf")
    assert code == exit_codes.INVALID and "pdf" in err
