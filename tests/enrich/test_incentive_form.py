"""The landing form's incentive question: its terms in the page's language, the token of the
file shown, and what a posted form gives (a forged, outdated or odd answer is refused)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enrich.web.forms import LinkForm
from enrich.web.i18n import PageText, error_text
from enrich.web.incentive_form import INVALID_CHOICE, incentive_question, read_incentive
from models.campaigns.spec import CampaignSpec, load_campaign
from models.incentives.entries import CLOSED, TERMS_CHANGED
from models.incentives.terms import ShownTerms, TermsError
from outreach.config import OutreachConfig
from outreach.i18n import translations
from outreach.render import Renderer
from tests.paths import REPO

SPEC = load_campaign(REPO / "campaigns" / "prize-draw.yaml")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(REPO / "templates", target)
    return target


def posted(**fields: str) -> LinkForm:
    return LinkForm.model_validate(fields)


def test_the_question_shows_the_terms_in_the_page_language(templates: Path) -> None:
    q = incentive_question(templates, SPEC, "de", "nl")
    assert q is not None
    assert q.headline == "Gewinnen Sie einen von zehn Gutscheinen zu 50 Euro"
    assert q.kind == "prize_draw" and q.terms_version == "2026-12" and q.terms_lang == "de"
    assert len(q.paragraphs) == 3 and "Verlosung" in q.paragraphs[0]
    version, _, digest = q.notice.partition(":")
    assert version == "2026-12" and len(digest) == 64
    default = load_campaign(REPO / "campaigns" / "default.yaml")
    assert incentive_question(templates, default, "de", "nl") is None


def test_a_language_without_terms_gets_the_default_and_says_which(templates: Path) -> None:
    (templates / "incentives" / "gift-vouchers" / "2026-12.sv.md").unlink()
    q = incentive_question(templates, SPEC, "sv", "nl")
    assert q is not None and q.terms_lang == "nl" and q.terms_language == "Nederlands"
    (templates / "incentives" / "gift-vouchers" / "2026-12.nl.md").unlink()
    with pytest.raises(TermsError, match="not found"):
        incentive_question(templates, SPEC, "sv", "nl")


def test_a_ticked_box_with_the_token_shown_is_an_entry(templates: Path) -> None:
    q = incentive_question(templates, SPEC, "fr", "nl")
    assert q is not None
    shown, error = read_incentive(
        templates, posted(incentive="yes", incentive_terms=q.notice), SPEC, "fr", "nl"
    )
    assert error is None
    assert shown == ShownTerms("gift-vouchers", "2026-12", q.notice.split(":")[1])
    # The page switched language after it was shown: the other language's file counts too.
    assert read_incentive(
        templates, posted(incentive="yes", incentive_terms=q.notice), SPEC, "en", "nl"
    ) == (shown, None)


def test_an_unticked_box_is_no_entry_and_no_error(templates: Path) -> None:
    assert read_incentive(templates, posted(), SPEC, "nl", "nl") == (None, None)
    assert read_incentive(templates, posted(incentive_terms="x:y"), SPEC, "nl", "nl") == (
        None,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"incentive": "on"}, INVALID_CHOICE),
        ({"incentive": "yes "}, INVALID_CHOICE),
        ({"incentive": "yes"}, TERMS_CHANGED),  # no token at all
        ({"incentive": "yes", "incentive_terms": "2026-12:" + "0" * 64}, TERMS_CHANGED),
        ({"incentive": "yes", "incentive_terms": "2025-01:" + "0" * 64}, TERMS_CHANGED),
        ({"incentive": "yes", "incentive_terms": "../../x:abc"}, TERMS_CHANGED),
    ],
)
def test_a_forged_outdated_or_odd_answer_is_refused(
    templates: Path, fields: dict[str, str], reason: str
) -> None:
    assert read_incentive(templates, posted(**fields), SPEC, "nl", "nl") == (None, reason)


def test_a_token_of_terms_changed_since_is_refused(templates: Path) -> None:
    q = incentive_question(templates, SPEC, "nl", "nl")
    assert q is not None
    path = templates / "incentives" / "gift-vouchers" / "2026-12.nl.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nEen nieuwe regel.\n", encoding="utf-8")
    form = posted(incentive="yes", incentive_terms=q.notice)
    assert read_incentive(templates, form, SPEC, "nl", "nl") == (None, TERMS_CHANGED)


def test_a_campaign_without_an_incentive_refuses_a_ticked_box(templates: Path) -> None:
    bare = CampaignSpec.model_validate({**SPEC.model_dump(), "incentive": None})
    form = posted(incentive="yes", incentive_terms="2026-12:" + "0" * 64)
    assert read_incentive(templates, form, bare, "nl", "nl") == (None, TERMS_CHANGED)


@pytest.mark.parametrize("lang", ["nl", "en", "de", "fr", "sv", "es", "pt"])
def test_each_refusal_has_its_own_text_in_every_language(templates: Path, lang: str) -> None:
    text = PageText(lang, translations(templates, lang))
    changed = error_text("incentive", TERMS_CHANGED, text)
    closed = error_text("incentive", CLOSED, text)
    odd = error_text("incentive", INVALID_CHOICE, text)
    assert len({changed, closed, odd}) == 3
    if lang != "en":
        assert "offer" not in changed and "offer" not in closed  # translated


def render(templates: Path, lang: str, **values: object) -> str:
    config = OutreachConfig(
        outbox_dir=templates / "outbox", templates_dir=templates, base_url="https://x.example"
    )
    env = Renderer(config).env_for(lang)
    context = {"errors": {}, "lang": lang, "incentive_chosen": False, **values}
    return env.get_template("landing/_incentive.html").render(context)


def test_the_fieldset_labels_the_box_and_carries_the_token(templates: Path) -> None:
    q = incentive_question(templates, SPEC, "en", "nl")
    page = render(templates, "en", incentive=q)
    assert q is not None and q.headline in page
    assert '<input type="checkbox" id="incentive" name="incentive" value="yes"' in page
    assert '<label for="incentive">Yes, I want to take part (terms version 2026-12)</label>' in page
    assert f'<input type="hidden" name="incentive_terms" value="{q.notice}">' in page
    assert " checked" not in page and "error-incentive" not in page
    failed = render(
        templates, "nl", incentive=q, incentive_chosen=True, errors={"incentive": "Fout."}
    )
    assert 'aria-describedby="incentive-hint error-incentive"' in failed
    assert 'aria-invalid="true"' in failed and " checked" in failed
    assert '<p class="error" id="error-incentive">Fout.</p>' in failed
    assert 'lang="en"' in failed  # English terms on a Dutch page are marked as such
    assert "Ja, ik wil meedoen (versie voorwaarden 2026-12)" in failed
    assert render(templates, "en", incentive=None).strip() == ""


@pytest.mark.parametrize(
    ("kind", "earned", "said"),
    [
        ("prize_draw", False, "You are taking part in this prize draw."),
        ("prize_draw", True, "your entry to this prize draw counts"),
        ("discount", False, "You have asked for this discount."),
        ("discount", True, "you have earned this discount"),
    ],
)
def test_an_entry_made_is_shown_instead_of_the_box(
    templates: Path, kind: str, earned: bool, said: str
) -> None:
    from dataclasses import replace

    from models.incentives.entries import IncentiveStatus
    from tests.factories import NOW

    q = incentive_question(templates, SPEC, "en", "nl")
    assert q is not None
    status = IncentiveStatus("gift-vouchers", "2026-12", NOW, NOW if earned else None)
    page = render(templates, "en", incentive=replace(q, kind=kind), incentive_status=status)
    assert said in page and 'role="status"' in page
    assert 'name="incentive"' not in page
