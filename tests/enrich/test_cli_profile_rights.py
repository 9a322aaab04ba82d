"""`enrich profile export | erase | object | restrict`: files a person can be handed, confirmed
erasure, refusals that change nothing, and what `round plan` then leaves out."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from enrich.cli import app
from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from flows.round import enrichment_round
from models.tables import AUDIT, CONSENT, PROFILE
from tests.factories import COMPLETE, add_profile, replace, widened_campaign_file
from tests.models.data_subject.people import two_customers

runner = CliRunner()
HOSTILE_ID = 'CRM-<script>alert("x")</script>\'&amp;'
HOSTILE_NAME = '</td><img src=x onerror=alert(1)>"'
LONG_REASON = ("<b>\"quoted\"</b> & 'single' \u202e " * 20)[:500].strip()


def profile_cmd(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["profile", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def people(settings: Settings, first: str = "CRM-1") -> list[int]:
    return two_customers(get_engine(settings), first=first)


def column(settings: Settings, name: str) -> list[Any]:
    with get_engine(settings).connect() as conn:
        return list(conn.execute(select(PROFILE.c[name]).order_by(PROFILE.c.id)).scalars())


def audit_count(settings: Settings) -> int:
    with get_engine(settings).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_export_writes_json_and_a_self_contained_page_for_hostile_values(
    settings: Settings, tmp_path: Path
) -> None:
    [one, _two] = people(settings, first=HOSTILE_ID)
    with get_engine(settings).begin() as conn:
        conn.execute(PROFILE.update().where(PROFILE.c.id == one).values(family_name=HOSTILE_NAME))
    code, _out, err = profile_cmd(
        "object", HOSTILE_ID, "--by", "dpo", "--reason", LONG_REASON, "--purpose", "newsletter"
    )
    assert code == 0, err
    code, out, err = profile_cmd(
        "export", HOSTILE_ID, "--by", "dpo", "--reason", "ticket 9", "--dir", str(tmp_path)
    )
    assert code == 0, err
    assert HOSTILE_ID not in out + err
    [json_file] = tmp_path.glob("*.json")
    [html_file] = tmp_path.glob("*.html")
    assert json_file.stat().st_mode & 0o077 == 0  # personal data: the owner's only
    document = json.loads(json_file.read_text(encoding="utf-8"))
    assert document["profile"]["external_id"] == HOSTILE_ID
    assert document["profile"]["family_name"] == HOSTILE_NAME
    assert LONG_REASON in [h["reason"] for h in document["history"]]
    assert "Bartholomeus" not in json_file.read_text(encoding="utf-8")

    page = html_file.read_text(encoding="utf-8")
    parsed = Tags()
    parsed.feed(page)
    names = {tag for tag, _attrs in parsed.tags}
    assert "script" not in names and "img" not in names and "link" not in names
    assert not [a for _t, attrs in parsed.tags for a in attrs if a in ("src", "href")]
    assert "http" not in page.split("<body>", 1)[1]
    text = "".join(parsed.text)
    assert HOSTILE_ID in text and HOSTILE_NAME in text and LONG_REASON.strip() in text
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_erase_asks_first_and_changes_nothing_when_declined(settings: Settings) -> None:
    people(settings)
    code, out, _err = profile_cmd(
        "erase", "CRM-1", "--by", "dpo", "--reason", "art 17", input="n\n"
    )
    assert code == 1 and "Nothing was changed" in out
    assert column(settings, "erased_at") == [None, None]

    code, out, err = profile_cmd("erase", "CRM-1", "--by", "dpo", "--reason", "art 17", input="y\n")
    assert code == 0, err
    external_ids = column(settings, "external_id")
    assert external_ids[0].startswith("erased:") and external_ids[1] == "CRM-2"
    assert f"the pseudonymous trail remains under {external_ids[0]}" in out
    assert column(settings, "given_name") == [None, "Bartholomeus"]

    code, out, err = profile_cmd("erase", external_ids[0], "--by", "dpo", "--reason", "again")
    assert code == 0 and "already erased" in out


def test_unknown_ids_and_bad_requests_exit_2_with_one_line_and_change_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    people(settings)
    before = audit_count(settings)
    for args in (
        ("erase", "CRM-404", "--by", "dpo", "--reason", "x", "--yes"),
        ("object", "CRM-404", "--by", "dpo", "--reason", "x"),
        ("restrict", "CRM-404", "--by", "dpo", "--reason", "x"),
        ("export", "CRM-404", "--by", "dpo", "--reason", "x", "--dir", str(tmp_path / "out")),
    ):
        code, _out, err = profile_cmd(*args)
        assert code == 2, args
        assert err.count("\n") == 1 and "unknown external id" in err and "CRM-404" not in err
        assert "Traceback" not in err
    refused = [
        (("restrict", "CRM-1", "--by", "dpo", "--reason", "x" * 501), "longer than 500"),
        (("restrict", "CRM-1", "--by", " ", "--reason", "x"), "who asked is required"),
        (("object", "CRM-1", "--by", "d", "--reason", "x", "--purpose", "lottery"), "purpose"),
        (("object", "CRM-1", "--by", "d", "--reason", "x", "--purpose", "newsletter", "--withdraw"),
         "only by the customer"),
    ]  # fmt: skip
    for args, message in refused:
        code, _out, err = profile_cmd(*args)
        assert (code, err.count("\n")) == (2, 1) and message in err, (args, err)
    assert audit_count(settings) == before and not (tmp_path / "out").exists()
    assert column(settings, "restricted_at") == [None, None]
    with get_engine(settings).connect() as conn:
        assert conn.execute(select(func.count()).select_from(CONSENT)).scalar_one() == 2


def test_objection_and_restriction_show_in_round_plan_and_can_be_undone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Their only gap is the address not yet verified: the campaign is widened to it.
    campaign = widened_campaign_file(tmp_path / "campaign.yaml", "unverified_postal")
    monkeypatch.setenv("ENRICH_CAMPAIGN_FILE", str(campaign))
    get_settings.cache_clear()
    people(settings)
    with get_engine(settings).begin() as conn:  # end the history's round: both are selectable
        conn.exec_driver_sql("UPDATE enrollment SET state = 'completed'")
    assert profile_cmd("object", "CRM-1", "--by", "dpo", "--reason", "letter")[1] == (
        "Objection: objected.\n"
    )
    code, out, err = profile_cmd("restrict", "CRM-2", "--by", "dpo", "--reason", "contested")
    assert (code, out) == (0, "Restriction: restricted.\n"), err
    plan = runner.invoke(app, ["round", "plan"]).output
    assert "0 profiles would be enrolled" in plan
    assert _count(plan, "opted out or objected") == 1
    assert _count(plan, "processing restricted") == 1

    assert profile_cmd("object", "CRM-1", "--by", "dpo", "--reason", "r", "--withdraw")[1] == (
        "Objection: objection withdrawn.\n"
    )
    assert profile_cmd("restrict", "CRM-2", "--by", "dpo", "--reason", "r", "--lift")[1] == (
        "Restriction: restriction lifted.\n"
    )
    assert "2 profiles would be enrolled" in runner.invoke(app, ["round", "plan"]).output


def _count(plan: str, label: str) -> int:
    [line] = [line for line in plan.splitlines() if label in line]
    return int(line.split("│")[-2].strip())


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_a_round_started_after_an_objection_or_restriction_writes_to_nobody_else(
    settings: Settings,
) -> None:
    engine = get_engine(settings)
    with engine.begin() as conn:
        for external_id in ("CRM-1", "CRM-2", "CRM-3"):
            add_profile(conn, external_id, replace(COMPLETE, "mobile"))
    profile_cmd("object", "CRM-1", "--by", "dpo", "--reason", "letter")
    profile_cmd("restrict", "CRM-2", "--by", "dpo", "--reason", "contested")

    summary = enrichment_round(started_by="tester")

    assert (summary["enrolled"], summary["sent"]) == (1, 1)
    emails = list((settings.resolved_outbox_dir / "email").glob("*.eml"))
    assert len(emails) == 1 and "CRM-3@example.org" in emails[0].read_text()
