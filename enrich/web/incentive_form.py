"""The landing form's incentive question (a prize draw or a discount) and what a posted form says.

The question shows the campaign's incentive terms in the page's language (the default
language's when the page's has no file), a checkbox ``incentive`` = ``yes`` and a hidden
``incentive_terms`` = ``<version>:<sha256>`` of the file shown, so an entry records the exact
terms the customer agreed to; a posted token that is not a file of the version the campaign
offers now is refused (:data:`TERMS_CHANGED`), as a consent on a changed notice is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrich.web.forms import LinkForm
from models.campaigns.spec import CampaignSpec
from models.incentives.entries import TERMS_CHANGED
from models.incentives.terms import ShownTerms, TermsError, terms_for, terms_in_force
from outreach.i18n import LANGUAGE_NAMES

INVALID_CHOICE = "incentive: invalid answer"  # the checkbox posted something other than "yes"


@dataclass(frozen=True)
class IncentiveQuestion:
    """What ``templates/landing/_incentive.html`` shows (the variable ``incentive``)."""

    key: str
    kind: str  # "prize_draw" | "discount"
    terms_version: str
    headline: str
    paragraphs: tuple[str, ...]
    notice: str  # the hidden ``incentive_terms`` value: "<version>:<sha256>"
    terms_lang: str  # the language of the terms shown (the page's, or the default's)
    terms_language: str  # that language in its own name, for "only available in ..."


def incentive_question(
    templates_dir: Path, spec: CampaignSpec, lang: str, default_locale: str
) -> IncentiveQuestion | None:
    """The campaign's incentive in the page's language; None when it offers none. A missing
    terms file in the default language raises :class:`TermsError` (``enrich check`` names it)."""
    incentive = spec.incentive
    if incentive is None:
        return None
    terms = terms_for(templates_dir, incentive, lang, default_locale)
    return IncentiveQuestion(
        key=incentive.key,
        kind=incentive.kind,
        terms_version=terms.version,
        headline=terms.headline,
        paragraphs=terms.paragraphs,
        notice=f"{terms.version}:{terms.sha256}",
        terms_lang=terms.locale,
        terms_language=LANGUAGE_NAMES.get(terms.locale.split("-")[0], terms.locale),
    )


def read_incentive(
    templates_dir: Path, form: LinkForm, spec: CampaignSpec, lang: str, default_locale: str
) -> tuple[ShownTerms | None, str | None]:
    """(the entry to record, or None when the box is not ticked; why the form cannot be taken,
    or None). A ticked box needs the token of the terms file the page shows now."""
    choice = form.incentive
    if not choice:
        return None, None
    if choice != "yes":
        return None, INVALID_CHOICE
    incentive = spec.incentive
    if incentive is None:
        return None, TERMS_CHANGED
    version, _, digest = form.incentive_terms.partition(":")
    if version != incentive.terms_version:
        return None, TERMS_CHANGED
    try:
        in_force = terms_in_force(templates_dir, spec)
    except TermsError:
        return None, TERMS_CHANGED
    # Any language's file of this version counts (the page may have switched language since
    # it was shown); no other text does.
    if digest not in in_force:
        return None, TERMS_CHANGED
    return ShownTerms(incentive.key, version, digest), None
