"""An incentive's terms, as versioned files read like the consent notices.

The terms are ``templates/incentives/<key>/<terms_version>.<locale>.md``: a first line
``# <headline>`` (the short line the messages and the page's heading use), then paragraphs
separated by blank lines (the terms). Nothing in it is markup. The headline is put into email,
HTML and text alike as written, so it may hold no ``<``, ``>`` or ``&``. An entry records the
version and the sha256 of the exact file shown (:class:`ShownTerms`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.campaigns.spec import CampaignSpec, Incentive
from models.consent.notices import (
    LOCALE_PATTERN,
    PURPOSE_PATTERN,
    VERSION_PATTERN,
    VERSIONED_FILE,
    NoticeError,
    parse_notice,
    read_versioned,
)

INCENTIVES = "incentives"
_MARKUP = re.compile(r"[<>&]")


class TermsError(NoticeError):
    """An incentive's terms file is missing, unreadable or malformed; the message names it."""


@dataclass(frozen=True)
class Terms:
    key: str
    version: str
    locale: str
    text: str  # the file's exact content
    sha256: str
    headline: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class ShownTerms:
    """Which terms the page showed the customer who ticked the box: what an entry records."""

    key: str
    version: str
    sha256: str


def terms_path(templates_dir: Path, key: str, version: str, locale: str) -> Path:
    for value, pattern, what in (
        (key, PURPOSE_PATTERN, "key"),
        (version, VERSION_PATTERN, "version"),
        (locale, LOCALE_PATTERN, "locale"),
    ):
        if not re.fullmatch(pattern, value):
            raise TermsError(f"not an incentive {what}: {value[:70]!r}")
    return Path(templates_dir) / INCENTIVES / key / f"{version}.{locale}.md"


def load_terms(templates_dir: Path, *, key: str, version: str, locale: str) -> Terms:
    path = terms_path(templates_dir, key, version, locale)
    try:
        text, digest = read_versioned(path, "incentive terms")
        headline, paragraphs = parse_notice(text, path)
    except TermsError:
        raise
    except NoticeError as err:
        raise TermsError(str(err)) from err
    if _MARKUP.search(headline):
        raise TermsError(f"{path}: the headline may not hold <, > or &")
    if not paragraphs:
        raise TermsError(f"{path}: the terms after the headline are missing")
    return Terms(key, version, locale, text, digest, headline, paragraphs)


def terms_locales(templates_dir: Path, key: str, version: str) -> tuple[str, ...]:
    """The locales this version of the key's terms has a file in."""
    folder = Path(templates_dir) / INCENTIVES / key
    if not re.fullmatch(PURPOSE_PATTERN, key) or not folder.is_dir():
        return ()
    found = [m for p in sorted(folder.iterdir()) if (m := VERSIONED_FILE.fullmatch(p.name))]
    return tuple(m["locale"] for m in found if m["version"] == version)


def terms_for(templates_dir: Path, incentive: Incentive, locale: str, default: str) -> Terms:
    """The terms in ``locale`` (the exact locale, else its language, as the messages choose
    theirs), else in ``default``; a missing default file is a :class:`TermsError`."""
    have = terms_locales(templates_dir, incentive.key, incentive.terms_version)
    tried = (locale, locale.split("-")[0], default, default.split("-")[0])
    chosen = next((c for c in tried if c in have), default)
    return load_terms(
        templates_dir, key=incentive.key, version=incentive.terms_version, locale=chosen
    )


def terms_in_force(templates_dir: Path, spec: CampaignSpec) -> dict[str, str]:
    """``{sha256: locale}`` of every file of the campaign's incentive terms version."""
    incentive = spec.incentive
    if incentive is None:
        return {}
    out = {}
    for locale in terms_locales(templates_dir, incentive.key, incentive.terms_version):
        terms = load_terms(
            templates_dir, key=incentive.key, version=incentive.terms_version, locale=locale
        )
        out[terms.sha256] = locale
    return out


def terms_problems(templates_dir: Path, spec: CampaignSpec, default_locale: str) -> list[str]:
    """What ``enrich check`` reports of the campaign's incentive terms: the default locale's
    file missing, or a file of the version that does not parse."""
    incentive = spec.incentive
    if incentive is None:
        return []
    problems = []
    key, version = incentive.key, incentive.terms_version
    default = default_locale.split("-")[0]
    locales = terms_locales(templates_dir, key, version)
    if default not in locales and default_locale not in locales:
        problems.append(
            f"incentive {key}: version {version} has no {default} text "
            f"({terms_path(templates_dir, key, version, default)})"
        )
    for locale in locales:
        try:
            load_terms(templates_dir, key=key, version=version, locale=locale)
        except TermsError as err:
            problems.append(str(err))
    return problems
