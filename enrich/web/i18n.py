"""Landing-page text in Dutch and English, from ``templates/landing/strings.json``.

The language follows ``?lang=`` when given, else the profile's locale; other languages (de, fr)
fall back to English. Validation reasons are mapped to human text here; they never quote input.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.consent.record import NOT_OFFERED, NOTICE_CHANGED
from models.contact_data.validation import (
    TEXT_CONTROL,
    TEXT_DIRECTION,
    TEXT_NO_LETTER,
    TEXT_UNREADABLE,
)

LANGUAGES = ("nl", "en")
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}
# Refused characters get their own text, whatever the field: the customer must learn what to fix.
_TEXT_REASONS = (
    (TEXT_CONTROL, "err_text_control"),
    (TEXT_DIRECTION, "err_text_direction"),
    (TEXT_UNREADABLE, "err_text_unreadable"),
    (TEXT_NO_LETTER, "err_text_no_letter"),
    ("email syntax: no letter or digit", "err_text_no_letter"),
)


@lru_cache(maxsize=8)
def _load(templates_dir: str) -> dict[str, dict[str, Any]]:
    path = Path(templates_dir) / "landing" / "strings.json"
    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def strings(templates_dir: Path, language: str) -> dict[str, Any]:
    return _load(str(templates_dir))[language]


def choose_language(requested: object, profile_locale: str | None) -> str:
    if isinstance(requested, str) and requested in LANGUAGES:
        return requested
    base = (profile_locale or "nl").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def error_text(field: str, reason: str, text: dict[str, Any]) -> str:
    """Human text for one validation reason of ``field`` (email, mobile, street, ...)."""
    if reason == "unknown action":
        return str(text["err_action"])
    if "nothing to confirm" in reason:
        return str(text["err_nothing_to_confirm"])
    if "nothing to mark wrong" in reason:
        return str(text["err_nothing_to_contest"])
    if reason in (NOT_OFFERED, NOTICE_CHANGED):  # a stale or altered form: it says what happened
        return str(text["err_consents_changed"])
    for prefix, key in _TEXT_REASONS:
        if reason.startswith(prefix):
            return str(text[key])
    if reason.endswith(": empty") and f"err_{field}_empty" in text:
        return str(text[f"err_{field}_empty"])
    return str(text.get(f"err_{field}", text["err_postal"]))
