"""The consents a landing-page form gives: checked against what the page offered, then recorded
one row per purpose and channel, each with the notice it was given on.

A form may answer only the purposes and channels its page asked (``PurposeView.channels``), and
an answer counts only with the notice the page showed for it, on the campaign's version: an
answer to a question not asked, or on another notice, is refused whole and nothing is stored.
Withdrawing needs a notice as granting does: both answer the question it asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.answers.personal_link import LinkContext
from models.audit import audit
from models.consent.notices import ShownNotice
from models.tables import Consent
from models.vocabulary import AuditAction

# Answers by purpose, then channel: True granted, False withdrawn, None not answered.
ConsentAnswers = Mapping[str, Mapping[str, bool | None]]

NOT_OFFERED = "consent: not offered"  # a purpose or channel the page did not ask
NOTICE_CHANGED = "consent: notice changed"  # not the notice the campaign asks on now
LANDING = "landing"


def consent_error(
    ctx: LinkContext, consents: ConsentAnswers, notices: Mapping[str, ShownNotice]
) -> str | None:
    """Why the answers cannot be recorded, or None."""
    offered = {p.key: p for p in ctx.purposes}
    for purpose, answers in consents.items():
        view = offered.get(purpose)
        if view is None or not isinstance(answers, Mapping):
            return NOT_OFFERED
        for channel, value in answers.items():
            if channel not in view.channels or not (value is None or isinstance(value, bool)):
                return NOT_OFFERED
        if any(value is not None for value in answers.values()):
            shown = notices.get(purpose)
            if shown is None or shown.version != view.text_version:
                return NOTICE_CHANGED
    return None


def record_consents(
    *,
    session: Session,
    ctx: LinkContext,
    consents: ConsentAnswers,
    notices: Mapping[str, ShownNotice],
    now: datetime,
    evidence: dict[str, Any],
) -> dict[str, dict[str, bool]]:
    """One consent row and audit row per answered purpose and channel (validated first with
    :func:`consent_error`); returns the answers recorded."""
    recorded: dict[str, dict[str, bool]] = {}
    for purpose, answers in consents.items():
        for channel, granted in answers.items():
            if granted is None:
                continue
            shown = notices[purpose]
            consent = Consent(
                profile_id=ctx.profile_id,
                purpose=purpose,
                channel=channel,
                granted=granted,
                text_version=shown.version,
                text_locale=shown.locale,
                text_sha256=shown.sha256,
                source=LANDING,
                recorded_at=now,
                evidence=evidence,
            )
            session.add(consent)
            session.flush()
            audit(
                session=session,
                actor="customer",
                action=AuditAction.CONSENT_GRANTED if granted else AuditAction.CONSENT_WITHDRAWN,
                entity_type="consent",
                entity_id=consent.id,
                profile_id=ctx.profile_id,
                after={
                    "purpose": purpose,
                    "channel": channel,
                    "granted": granted,
                    "text_version": shown.version,
                    "text_locale": shown.locale,
                    "text_sha256": shown.sha256,
                },
                evidence={**evidence, "method": LANDING},
            )
            recorded.setdefault(purpose, {})[channel] = granted
    return recorded
