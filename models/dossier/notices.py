"""The notice text each consent was given on, read back from its versioned file.

A consent records the notice's version, locale and the sha256 of its exact text
(:mod:`models.consent.notices`); the file of that version and locale is read again and its hash
compared, so the dossier shows the text the customer saw, or says that the file no longer
matches (or is missing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from models.consent.notices import NoticeError, load_notice
from models.dossier.facts import ConsentFacts


def with_texts(consents: list[ConsentFacts], templates_dir: Path) -> list[ConsentFacts]:
    """``consents`` with ``text_shown`` and ``text_matches`` filled in where a notice is named."""
    out = []
    for consent in consents:
        if consent.text_version is None or consent.text_locale is None:
            out.append(consent)
            continue
        try:
            notice = load_notice(
                templates_dir,
                purpose=consent.purpose,
                version=consent.text_version,
                locale=consent.text_locale,
            )
        except NoticeError:
            out.append(dataclasses.replace(consent, text_matches=False))
            continue
        matches = None if consent.text_sha256 is None else notice.sha256 == consent.text_sha256
        out.append(dataclasses.replace(consent, text_shown=notice.text, text_matches=matches))
    return out
