"""Access (Art. 15): everything Enrich holds on one person, as one JSON-ready document.

The document holds the profile, its contact points, consents, enrollments, messages, their
delivery events, the landing-page submissions, the audit trail about the person, the purposes
(from the consents and from the campaigns that asked them) and the recipients: which processor
received which kind of data, derived from the messages sent (channel and provider). Each part is
one set-based query, whatever the person's history. Every column of those tables is included
except internal keys and secrets (the verification tokens hold only hashes of the personal
links, so they are left out), so a column added later is exported without a change here.

Collecting writes nothing; :func:`export_profile` adds the ``profile.exported`` audit event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.audit_trail.reading import profile_trail
from models.data_subject.request import Request, find_profile
from models.tables import (
    CAMPAIGN,
    CONSENT,
    CONTACT,
    DELIVERY,
    ENROLLMENT,
    INCENTIVE_ENTRY,
    OUTREACH,
    PROFILE,
    ROUND,
    SUBMISSION,
)
from models.vocabulary import FAILED, SENT, AuditAction

FORMAT: Final = "enrich-access-export/1"
PROCESSING: Final = (
    "keeping your contact data accurate (GDPR Art. 5(1)(d)): finding missing, bounced or "
    "unverified contact data and asking you to confirm or complete it"
)
# What a message on each channel hands its processor (the templates under templates/<channel>/).
CHANNEL_DATA: Final = {
    "email": ("name", "email address", "personal link"),
    "sms": ("mobile number", "personal link"),
    "letter": ("name", "postal address", "personal link (as a QR code)"),
}
# A contact moment's ask goes to the organisation's own system, which writes to the customer
# with contact data it holds itself: it receives the personal link only.
MOMENT_PROVIDER: Final = "contact_moment"
MOMENT_DATA: Final = ("personal link",)
# Columns that are internal keys or hold no data about the person.
_INTERNAL: Final = frozenset({"profile_id", "token_id"})
_HANDED_OVER: Final = (SENT, FAILED)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _record(row: Any, table: Table, skip: Iterable[str] = ()) -> dict[str, Any]:
    left_out = _INTERNAL | set(skip)
    return {c.name: _plain(row._mapping[c.name]) for c in table.columns if c.name not in left_out}


def _owned(conn: Connection, table: Table, profile_id: int, *order: Any) -> list[dict[str, Any]]:
    rows = conn.execute(select(table).where(table.c.profile_id == profile_id).order_by(*order))
    return [_record(r, table) for r in rows]


def _events(conn: Connection, outreach_ids: list[int]) -> list[dict[str, Any]]:
    if not outreach_ids:
        return []
    rows = conn.execute(
        select(DELIVERY)
        .where(DELIVERY.c.outreach_id.in_(outreach_ids))
        .order_by(DELIVERY.c.occurred_at, DELIVERY.c.id)
    )
    return [_record(r, DELIVERY) for r in rows]


def _campaign_purposes(conn: Connection, profile_id: int) -> dict[str, set[str]]:
    """Purpose -> the keys of the campaigns that asked the person about it (via enrollments)."""
    rows = conn.execute(
        select(CAMPAIGN.c.key, CAMPAIGN.c.definition)
        .select_from(
            ENROLLMENT.join(ROUND, ROUND.c.id == ENROLLMENT.c.round_id).join(
                CAMPAIGN, CAMPAIGN.c.id == ROUND.c.campaign_id
            )
        )
        .where(ENROLLMENT.c.profile_id == profile_id)
        .distinct()
    )
    asked: dict[str, set[str]] = {}
    for key, definition in rows:
        purposes = definition.get("purposes") if isinstance(definition, dict) else None
        for purpose in purposes or []:
            if isinstance(purpose, dict) and isinstance(purpose.get("key"), str):
                asked.setdefault(purpose["key"], set()).add(key)
    return asked


def purposes_of(consents: list[dict[str, Any]], asked: dict[str, set[str]]) -> list[dict[str, Any]]:
    """One entry per purpose: the campaigns that asked, and the newest answer on record."""
    newest: dict[str, dict[str, Any]] = {}
    for consent in sorted(consents, key=lambda c: (c["recorded_at"] or "", c["id"])):
        newest[consent["purpose"]] = consent
    out = []
    for purpose in sorted(set(newest) | set(asked)):
        answer = newest.get(purpose)
        out.append(
            {
                "purpose": purpose,
                "asked_by_campaigns": sorted(asked.get(purpose, ())),
                "granted": answer["granted"] if answer else None,
                "answered_at": answer["recorded_at"] if answer else None,
                "answer_source": answer["source"] if answer else None,
            }
        )
    return out


def recipients_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Which processor received which kind of data: one entry per channel and provider of the
    messages handed over (sent, or failed after the hand-over)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in messages:
        if m["status"] in _HANDED_OVER and m.get("provider"):
            grouped.setdefault((m["channel"], m["provider"]), []).append(m)
    out = []
    for (channel, provider), sent in sorted(grouped.items()):
        times = sorted(t for m in sent if (t := m.get("sent_at") or m.get("updated_at")))
        data = MOMENT_DATA if provider == MOMENT_PROVIDER else CHANNEL_DATA.get(channel, ())
        out.append(
            {
                "provider": provider,
                "channel": channel,
                "data": list(data),
                "messages": len(sent),
                "first": times[0] if times else None,
                "last": times[-1] if times else None,
            }
        )
    return out


def collect_export(conn: Connection, *, profile_id: int, now: datetime) -> dict[str, Any]:
    """The access document of one profile (see the module docstring); writes nothing."""
    profile = conn.execute(select(PROFILE).where(PROFILE.c.id == profile_id)).one()
    messages = _owned(conn, OUTREACH, profile_id, OUTREACH.c.created_at, OUTREACH.c.id)
    consents = _owned(conn, CONSENT, profile_id, CONSENT.c.recorded_at, CONSENT.c.id)
    history = [
        {
            "at": _plain(r.at),
            "actor": r.actor,
            "action": r.action,
            "entity_type": r.entity_type,
            "entity_id": r.entity_id,
            "before": _plain(r.before),
            "after": _plain(r.after),
            "reason": r.reason,
            "evidence": _plain(r.evidence),
        }
        for r in profile_trail(conn, [profile_id])
    ]
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "processing": PROCESSING,
        "profile": _record(profile, PROFILE),
        "contact_points": _owned(conn, CONTACT, profile_id, CONTACT.c.id),
        "consents": consents,
        "purposes": purposes_of(consents, _campaign_purposes(conn, profile_id)),
        "enrollments": _owned(conn, ENROLLMENT, profile_id, ENROLLMENT.c.id),
        "incentive_entries": _owned(conn, INCENTIVE_ENTRY, profile_id, INCENTIVE_ENTRY.c.id),
        "messages": messages,
        "events": _events(conn, [m["id"] for m in messages]),
        "submissions": _owned(conn, SUBMISSION, profile_id, SUBMISSION.c.id),
        "recipients": recipients_of(messages),
        "history": history,
    }


def export_profile(
    conn: Connection, *, external_id: str, request: Request, now: datetime
) -> dict[str, Any]:
    """The access document of the profile with this external id, audited as ``profile.exported``
    (in the caller's transaction: commit it with the document handed out)."""
    profile = find_profile(conn, external_id)
    document = collect_export(conn, profile_id=profile.id, now=now)
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=request.requested_by,
                action=AuditAction.PROFILE_EXPORTED,
                entity_type="profile",
                entity_id=profile.id,
                profile_id=profile.id,
                after={"parts": {k: len(v) for k, v in document.items() if isinstance(v, list)}},
                reason=request.reason,
                evidence=request.evidence,
            )
        ],
    )
    return document
