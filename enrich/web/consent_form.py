"""The consent questions of the landing form and the answers a posted form gives.

One question per purpose, read from its notice file in the page's language, with one answer
per channel the page asks (``PurposeView.channels``), named ``consent_<purpose>_<channel>``.
Each question carries ``notice_<purpose>`` = ``<version>:<sha256>`` of the notice shown, so the
answer is recorded with the exact text the customer read; a posted notice that is not the file
on disk, a field the page did not ask, or another version is refused by the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enrich.web.forms import LinkForm
from enrich.web.i18n import PageText
from models.answers.personal_link import LinkContext
from models.consent.notices import Notice, NoticeError, ShownNotice, load_notice, notice_path
from models.consent.record import NOT_OFFERED, NOTICE_CHANGED
from outreach.i18n import LANGUAGE_NAMES

CONSENT_VALUES = {"granted": True, "withdrawn": False, "unanswered": None}
_CURRENT = {True: "granted", False: "withdrawn", None: "unanswered"}
INVALID_ANSWER = "consent: invalid answer"


def field_name(purpose: str, channel: str) -> str:
    return f"consent_{purpose}_{channel}"


def notice_for(
    templates_dir: Path, *, purpose: str, version: str, lang: str, default: str
) -> Notice:
    """The notice in the page's language; a language without its own text (a published legal
    text, translated when the organisation publishes one) gets the default language's, which
    the page says and the consent records (``Notice.locale``)."""
    if lang != default and not notice_path(templates_dir, purpose, version, lang).is_file():
        lang = default
    return load_notice(templates_dir, purpose=purpose, version=version, locale=lang)


def questions(
    templates_dir: Path,
    ctx: LinkContext,
    lang: str,
    text: PageText,
    typed: dict[str, str],
    *,
    default: str,
) -> list[dict[str, Any]]:
    """What the form shows per purpose: the notice's question and text, one choice per channel
    (the posted answer after an error, else the one in force)."""
    shown = []
    for p in ctx.purposes:
        if not p.channels:
            continue
        notice = notice_for(
            templates_dir, purpose=p.key, version=p.text_version, lang=lang, default=default
        )
        channels = []
        for channel in p.channels:
            name = field_name(p.key, channel)
            channels.append(
                {
                    "name": name,
                    "label": text[f"consent_{channel}"],
                    "chosen": typed.get(name, _CURRENT[p.answers.get(channel)]),
                }
            )
        shown.append(
            {
                "key": p.key,
                "required": p.required,
                "text_version": p.text_version,
                "question": notice.question,
                "paragraphs": notice.paragraphs,
                "notice": f"{notice.version}:{notice.sha256}",
                # Another language's text when the page's has none: marked, and said.
                "notice_lang": notice.locale,
                "notice_language": LANGUAGE_NAMES.get(notice.locale, notice.locale),
                "channels": channels,
            }
        )
    return shown


@dataclass
class ConsentInput:
    consents: dict[str, dict[str, bool | None]] = field(default_factory=dict)
    notices: dict[str, ShownNotice] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # field -> answer, to show again
    error: str | None = None


def read_answers(
    templates_dir: Path, form: LinkForm, ctx: LinkContext, lang: str, *, default: str
) -> ConsentInput:
    """The answers and notices a form posted; ``error`` when they cannot be taken as posted."""
    read = ConsentInput()
    asked = {field_name(p.key, c): (p.key, c) for p in ctx.purposes for c in p.channels}
    if form.consent_fields() - set(asked):
        read.error = NOT_OFFERED
    for name, (purpose, channel) in asked.items():
        answer = form.consent(name.removeprefix("consent_")) or "unanswered"
        if answer not in CONSENT_VALUES:
            read.error = read.error or INVALID_ANSWER
            continue
        read.consents.setdefault(purpose, {})[channel] = CONSENT_VALUES[answer]
        read.typed[name] = answer
    for p in ctx.purposes:
        posted = form.notice(p.key)
        if not posted or not any(
            v is not None for v in read.consents.get(p.key, {}).values()
        ):  # a notice counts with an answer to it: the rules refuse an answer without one
            continue
        version, _, digest = posted.partition(":")
        try:
            notice = notice_for(
                templates_dir, purpose=p.key, version=version, lang=lang, default=default
            )
        except NoticeError:
            read.error = read.error or NOTICE_CHANGED
            continue
        if digest != notice.sha256:  # public, not a secret: no constant-time compare needed
            read.error = read.error or NOTICE_CHANGED  # the text changed since it was shown
            continue
        read.notices[p.key] = ShownNotice(notice.version, notice.locale, notice.sha256)
    return read
