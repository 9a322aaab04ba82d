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
from models.answers.personal_link import LinkContext
from models.consent.notices import NoticeError, ShownNotice, load_notice
from models.consent.record import NOT_OFFERED, NOTICE_CHANGED

CONSENT_VALUES = {"granted": True, "withdrawn": False, "unanswered": None}
_CURRENT = {True: "granted", False: "withdrawn", None: "unanswered"}
INVALID_ANSWER = "consent: invalid answer"


def field_name(purpose: str, channel: str) -> str:
    return f"consent_{purpose}_{channel}"


def questions(
    templates_dir: Path, ctx: LinkContext, lang: str, text: dict[str, Any], typed: dict[str, str]
) -> list[dict[str, Any]]:
    """What the form shows per purpose: the notice's question and text, one choice per channel
    (the posted answer after an error, else the one in force)."""
    shown = []
    for p in ctx.purposes:
        if not p.channels:
            continue
        notice = load_notice(templates_dir, purpose=p.key, version=p.text_version, locale=lang)
        channels = []
        for channel in p.channels:
            name = field_name(p.key, channel)
            channels.append(
                {
                    "name": name,
                    "label": text["consent_channels"][channel],
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


def read_answers(templates_dir: Path, form: LinkForm, ctx: LinkContext, lang: str) -> ConsentInput:
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
            notice = load_notice(templates_dir, purpose=p.key, version=version, locale=lang)
        except NoticeError:
            read.error = read.error or NOTICE_CHANGED
            continue
        if digest != notice.sha256:  # public, not a secret: no constant-time compare needed
            read.error = read.error or NOTICE_CHANGED  # the text changed since it was shown
            continue
        read.notices[p.key] = ShownNotice(notice.version, lang, notice.sha256)
    return read
