"""Erasing a profile's personal data while keeping the trail that shows what was done, and when.

Deleted: the profile's contact points, consents, verification tokens and incentive entries
(the report no longer counts them), and the personal parts of its audit events (pending audit
rows are sealed first; the sealed rows and their hash chain stay as they are and read
``[erased]`` where a personal value was). Emptied: its names,
country, time zone and source; its submissions' answers; the provider payloads of its delivery
events. Replaced by ``[erased]``: in its outreach errors and its sweep notes, every value under
a personal key (names, contact values, address parts, external ids) and every occurrence of a
value the profile held.
Kept: the profile row itself (id, locale, timestamps), enrollments, outreach rows (without their
contact point), every audit row, and a new ``profile.erased`` audit event.

The external id becomes ``erased:<32 random hex digits>``. It is random rather than a hash of
the old id, because a hash of a CRM number is reversed by trying every number. The CRM's own
key survives in one place only, the ``erasure_notice`` row written in the same transaction
(profile id, external id, time; nothing else of the person): the changes feed tells the CRM of
the erasure by it, and the import refuses a row with that id, so a later CRM export does not
bring the person back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, delete, func, insert, literal, null, or_, select, update
from sqlalchemy.engine import Connection

from models.audit import AUDIT_TABLE, AuditRow, audit_many
from models.audit_trail.personal import MIN_TEXT_MATCH, PERSONAL_KEYS, held_values
from models.audit_trail.reading import profile_trail
from models.audit_trail.sealing import seal_pending
from models.tables import (
    AUDIT_PERSONAL,
    CONSENT,
    CONTACT,
    DELIVERY,
    ERASURE_NOTICE,
    INCENTIVE_ENTRY,
    OUTREACH,
    PROFILE,
    PROPOSAL,
    SUBMISSION,
    TOKEN,
)
from models.vocabulary import AuditAction

CP = CONTACT
AUDIT = AUDIT_TABLE

MARKER: Final = "[erased]"
ERASED_PREFIX: Final = "erased:"
_CHUNK = 500


def erased_external_id() -> str:
    """A fresh, random external id for an erased profile (see the module docstring)."""
    return ERASED_PREFIX + secrets.token_hex(16)


def _pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    usable = sorted({v.strip() for v in values if len(v.strip()) >= MIN_TEXT_MATCH}, key=len)
    if not usable:
        return None
    return re.compile("|".join(re.escape(v) for v in reversed(usable)), re.IGNORECASE)


def scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """``value`` with personal keys and every match of ``pattern`` replaced by the marker."""
    if isinstance(value, dict):
        return {
            k: MARKER if k in PERSONAL_KEYS and v is not None else scrub(v, pattern)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(MARKER, value)
    return value


def _rewrite(
    conn: Connection,
    table: Any,
    rows: Iterable[Any],
    columns: Sequence[str],
    patterns: Mapping[int, re.Pattern[str] | None],
) -> list[Any]:
    """Scrub ``columns`` of ``rows`` (each with ``id`` and ``profile_id``); returns the rows.

    One executemany UPDATE per column, with only the rows whose value changed, so a NULL
    stays NULL.
    """
    rows = list(rows)
    for column in columns:
        params = []
        for row in rows:
            old = getattr(row, column)
            new = scrub(old, patterns.get(row.profile_id))
            if new != old:
                params.append({"b_id": row.id, "b_value": new})
        if params:
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({column: bindparam("b_value", type_=table.c[column].type)}),
                params,
            )
    return rows


def _scrub_trail(
    conn: Connection, ids: Sequence[int], patterns: Mapping[int, re.Pattern[str] | None]
) -> None:
    """Audit rows, outreach errors, sweep notes and delivery events of these profiles."""
    audits = profile_trail(conn, ids)
    # Sealed rows keep their hashed content; their personal parts go, salts and all, so the
    # digests left in the chain cannot be tried against guesses. Rows still unsealed (none, as
    # erase_profiles seals first) would be scrubbed in place.
    unsealed = [r for r in audits if not r.sealed]
    _rewrite(conn, AUDIT, unsealed, ("before", "after", "evidence", "reason"), patterns)
    conn.execute(delete(AUDIT_PERSONAL).where(AUDIT_PERSONAL.c.profile_id.in_(ids)))
    # Delivery events tied to a contact point rather than an outreach (an inbound STOP) are
    # found through the audit rows they caused.
    event_owner: dict[int, int] = {}
    for r in audits:
        event_id = r.evidence.get("delivery_event_id") if isinstance(r.evidence, dict) else None
        if isinstance(event_id, int) and r.profile_id is not None:
            event_owner[event_id] = r.profile_id
    outreach = conn.execute(
        select(OUTREACH.c.id, OUTREACH.c.profile_id, OUTREACH.c.error, OUTREACH.c.reason)
        .where(OUTREACH.c.profile_id.in_(ids))
    ).all()  # fmt: skip
    _rewrite(conn, OUTREACH, outreach, ("error", "reason"), patterns)
    conn.execute(
        update(OUTREACH).where(OUTREACH.c.profile_id.in_(ids)).values(contact_point_id=None)
    )
    notes = conn.execute(
        select(PROPOSAL.c.id, PROPOSAL.c.profile_id, PROPOSAL.c.note)
        .where(PROPOSAL.c.profile_id.in_(ids), PROPOSAL.c.note.is_not(None))
    ).all()  # fmt: skip
    _rewrite(conn, PROPOSAL, notes, ("note",), patterns)
    profile_of = {r.id: r.profile_id for r in outreach}
    events = conn.execute(
        select(DELIVERY.c.id, DELIVERY.c.outreach_id, DELIVERY.c.detail).where(
            or_(
                DELIVERY.c.outreach_id.in_(list(profile_of)),
                DELIVERY.c.id.in_(list(event_owner)),
            )
        )
    ).all()
    if events:
        owner_of = {e.id: profile_of.get(e.outreach_id) or event_owner.get(e.id, 0) for e in events}
        conn.execute(
            update(DELIVERY)
            .where(DELIVERY.c.id == bindparam("b_id"))
            .values(raw={"erased": True}, detail=bindparam("b_detail")),
            [
                {"b_id": e.id, "b_detail": scrub(e.detail, patterns.get(owner_of[e.id]))}
                for e in events
            ],
        )


def erase_profiles(
    conn: Connection,
    *,
    profile_ids: Sequence[int],
    now: datetime,
    actor: str,
    proposals: Mapping[int, tuple[int, str]] | None = None,
    reason: str | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> int:
    """Erase the personal data of these profiles (see the module docstring); returns how many.

    ``proposals`` maps a profile id to the (proposal id, reason code) that led to it, for the
    ``profile.erased`` audit event; an erasure on request (:mod:`models.data_subject`) gives its
    ``reason`` and ``evidence`` (who asked, through what) instead. Runs in the caller's
    transaction, in chunks.
    """
    erased = 0
    why = proposals or {}
    ordered = sorted(set(profile_ids))
    seal_pending(conn, now=now)
    for start in range(0, len(ordered), _CHUNK):
        ids = ordered[start : start + _CHUNK]
        patterns = {pid: _pattern(values) for pid, values in held_values(conn, ids).items()}
        _scrub_trail(conn, ids, patterns)
        counts = _delete_data(conn, ids)
        _keep_notice(conn, ids, now)
        markers = {pid: erased_external_id() for pid in ids}
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id == bindparam("b_id"))
            .values(
                external_id=bindparam("b_marker"),
                given_name=None,
                family_name=None,
                country=None,
                time_zone=None,
                source=None,
                source_at=None,
                erased_at=now,
                updated_at=now,
            ),
            [{"b_id": pid, "b_marker": marker} for pid, marker in markers.items()],
        )
        conn.execute(
            update(PROFILE)
            .where(PROFILE.c.id.in_(ids), PROFILE.c.archived_at.is_(None))
            .values(archived_at=now)
        )
        audit_many(
            conn,
            [
                AuditRow(
                    at=now,
                    actor=actor,
                    action=AuditAction.PROFILE_ERASED,
                    entity_type="profile",
                    entity_id=pid,
                    profile_id=pid,
                    after={"external_id": markers[pid], **counts.get(pid, {})},
                    # A request's own texts could name the person: scrubbed like the rest.
                    reason=why[pid][1] if pid in why else scrub(reason or "erasure", patterns[pid]),
                    evidence={
                        "proposal_id": why[pid][0] if pid in why else None,
                        **scrub(dict(evidence or {}), patterns[pid]),
                    },
                )
                for pid in ids
            ],
        )
        erased += len(ids)
    # The erasure itself joins the chain at once: verify accepts the missing personal parts
    # because a sealed profile.erased event accounts for them.
    seal_pending(conn, now=now)
    return erased


def _keep_notice(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """The CRM's key of each profile erased now (not of one erased before: it has a marker)."""
    p = PROFILE.c
    kept = select(p.id, p.external_id, literal(now, PROFILE.c.updated_at.type)).where(
        p.id.in_(ids), p.erased_at.is_(None)
    )
    conn.execute(
        insert(ERASURE_NOTICE).from_select(["profile_id", "external_id", "erased_at"], kept)
    )


def _delete_data(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Delete what only holds personal data; returns per profile what was removed."""
    counts: dict[int, dict[str, int]] = {pid: {} for pid in ids}
    for name, table in (
        ("contact_points", CP),
        ("consents", CONSENT),
        ("tokens", TOKEN),
        ("incentive_entries", INCENTIVE_ENTRY),
    ):
        query = (
            select(table.c.profile_id, func.count())
            .where(table.c.profile_id.in_(ids))
            .group_by(table.c.profile_id)
        )
        for pid, n in conn.execute(query):
            counts[pid][name] = n
    conn.execute(
        update(SUBMISSION)
        .where(SUBMISSION.c.profile_id.in_(ids))
        .values(data=null(), client_time=None, token_id=None)
    )
    conn.execute(delete(TOKEN).where(TOKEN.c.profile_id.in_(ids)))
    conn.execute(delete(INCENTIVE_ENTRY).where(INCENTIVE_ENTRY.c.profile_id.in_(ids)))
    conn.execute(delete(CONSENT).where(CONSENT.c.profile_id.in_(ids)))
    conn.execute(delete(CP).where(CP.c.profile_id.in_(ids)))
    return counts
