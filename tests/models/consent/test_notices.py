"""Notice files: their exact text and hash, the published record, and what `check` finds."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from models.campaigns.spec import load_campaign
from models.consent.notices import (
    NoticeError,
    load_notice,
    notice_problems,
    publish,
    read_published,
)
from tests.paths import REPO

TEMPLATES = REPO / "templates"
# The languages the repository's notices are published in; a page in another language shows the
# default language's notice and says so (tests/enrich/test_landing_languages.py).
LANGUAGES = ("nl", "en")
DEFAULT = {p.key: p.text_version for p in load_campaign(REPO / "campaigns/default.yaml").purposes}


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the notices, as a steward's templates folder."""
    shutil.copytree(TEMPLATES / "notices", tmp_path / "notices")
    return tmp_path


def test_the_repository_notices_are_published_in_each_of_their_languages() -> None:
    assert notice_problems(TEMPLATES, DEFAULT) == []
    published = read_published(TEMPLATES)
    for purpose, version in DEFAULT.items():
        for lang in LANGUAGES:
            notice = load_notice(TEMPLATES, purpose=purpose, version=version, locale=lang)
            assert published[(purpose, version, lang)] == notice.sha256


def test_a_notice_is_its_exact_text_and_the_sha256_of_its_bytes() -> None:
    path = TEMPLATES / "notices/service/2026-01.en.md"
    notice = load_notice(TEMPLATES, purpose="service", version="2026-01", locale="en")
    assert notice.text == path.read_text(encoding="utf-8")
    assert notice.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert notice.question == path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
    assert len(notice.paragraphs) == 2 and "\n" not in "".join(notice.paragraphs)


@pytest.mark.parametrize(
    ("purpose", "version", "locale"),
    [("../landing", "2026-01", "en"), ("service", "../../x", "en"), ("service", "2026-01", "e/n")],
)
def test_names_that_would_leave_the_notices_folder_are_refused(
    purpose: str, version: str, locale: str
) -> None:
    with pytest.raises(NoticeError, match="not a notice"):
        load_notice(TEMPLATES, purpose=purpose, version=version, locale=locale)


def test_a_notice_without_its_question_line_is_refused(templates: Path) -> None:
    path = templates / "notices/service/2026-02.en.md"
    path.write_text("We may send you messages.\n", encoding="utf-8")
    with pytest.raises(NoticeError, match=r"2026-02\.en\.md: the first line must be"):
        load_notice(templates, purpose="service", version="2026-02", locale="en")


def test_an_edited_published_text_is_named_and_publish_refuses_it(templates: Path) -> None:
    path = templates / "notices/service/2026-01.nl.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nEen extra zin.\n", encoding="utf-8")
    [problem] = notice_problems(templates, DEFAULT)
    assert str(path) in problem and "changed after it was published" in problem
    before = (templates / "notices/published.json").read_bytes()
    with pytest.raises(NoticeError, match="changed after it was published"):
        publish(templates)
    assert (templates / "notices/published.json").read_bytes() == before


def test_a_deleted_published_text_is_named(templates: Path) -> None:
    (templates / "notices/newsletter/2026-01.en.md").unlink()
    problems = notice_problems(templates, DEFAULT)
    assert any("newsletter/2026-01.en.md is missing" in p for p in problems), problems


def test_a_new_version_is_a_draft_until_published(templates: Path) -> None:
    campaign = {**DEFAULT, "service": "2026-02"}
    problems = notice_problems(templates, campaign)
    assert {p.split(" (")[0] for p in problems} == {
        "purpose service: version 2026-02 has no en text",
        "purpose service: version 2026-02 has no nl text",
    }
    for lang in LANGUAGES:
        (templates / f"notices/service/2026-02.{lang}.md").write_text(
            f"# Service messages, {lang}\n\nA new text.\n", encoding="utf-8"
        )
    problems = notice_problems(templates, campaign)
    assert len(problems) == 2 and all("is not published" in p for p in problems)
    assert sorted(publish(templates)) == [
        ("service", "2026-02", "en"),
        ("service", "2026-02", "nl"),
    ]
    assert notice_problems(templates, campaign) == []
    assert publish(templates) == []  # nothing new
    record = json.loads((templates / "notices/published.json").read_text(encoding="utf-8"))
    assert set(record["service"]) == {"2026-01", "2026-02"}


def test_a_purpose_with_no_notice_at_all_is_named(templates: Path) -> None:
    [problem] = notice_problems(templates, {"marketing": "2026-01"})
    assert problem.startswith("purpose marketing: no notice file")
