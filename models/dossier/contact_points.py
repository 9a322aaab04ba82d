"""Each contact point of a dossier: its value, source, changes, proofs, challenges and due date.

The rows still in ``contact_point`` give the value and status; the audit rows naming the point
give its history. A point an erasure deleted is rebuilt from its audit rows alone, so the proof
that remains (verified when, by which method) stays in the dossier without the value.

When a value needs updating (``update_rule``):

- ``verified``: it counts as stale ``max_age_days`` after its verification, the date in
  ``update_due`` (the ``stale_verification`` gap of :mod:`models.rounds.selection`);
- ``verified_undated``: verified without a date, so already stale;
- ``unverified``: never proven; a round asks the customer to confirm it;
- ``broken``: bounced or invalid, kept and marked as such; a round asks for a new value;
- ``opted_out``: the customer left this route; it is never asked about again;
- ``contested``: the customer said it is wrong; it is not used until corrected or confirmed;
- ``erased``: deleted by an erasure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from models.dossier.facts import Challenge, ContactPointFacts, Entry, Source, Verification
from models.dossier.sources import origin, parse_source
from models.feedback.returned_letters import RETURNED_REASON
from models.vocabulary import BOUNCED, CONTESTED, INVALID, OPTED_OUT, VERIFIED, AuditAction

ADDRESS_PARTS: Final = ("street", "house_number", "postal_code", "city", "country")
# Audit actions that challenge a value's accuracy, and the kind of challenge each is.
CHALLENGES: Final[dict[str, str]] = {
    AuditAction.CONTACT_POINT_BOUNCED: "bounce",
    AuditAction.CONTACT_POINT_INVALID: "invalid",
    AuditAction.CONTACT_POINT_CONTESTED: "contested",
}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _challenge(row: Entry) -> Challenge | None:
    kind = CHALLENGES.get(row.action)
    if kind is None:
        return None
    after = row.after or {}
    if kind == "invalid" and (
        row.reason == RETURNED_REASON or after.get("invalid_reason") == RETURNED_REASON
    ):
        kind = "returned_letter"
    return Challenge(
        at=row.at,
        kind=kind,
        action=row.action,
        actor=row.actor,
        reason=row.reason,
        outreach_id=_int((row.evidence or {}).get("outreach_id")),
        evidence=row.evidence,
    )


def _verification(
    row: Entry,
    channel_of: Mapping[int, str],
    token_kind: Mapping[int, str],
    carrier: Mapping[int, int],
) -> Verification:
    evidence = row.evidence or {}
    outreach_id = _int(evidence.get("outreach_id"))
    token_id = _int(evidence.get("token_id"))
    method = evidence.get("method") or (row.after or {}).get("verification_method")
    return Verification(
        at=row.at,
        method=method if isinstance(method, str) else None,
        actor=row.actor,
        evidence=row.evidence,
        outreach_id=outreach_id,
        channel=channel_of.get(outreach_id) if outreach_id is not None else None,
        token_kind=token_kind.get(token_id) if token_id is not None else None,
        carried_by=carrier.get(token_id) if token_id is not None else None,
    )


def _due(
    status: str | None, verified_at: datetime | None, deleted: bool, max_age_days: int
) -> tuple[datetime | None, str]:
    if deleted:
        return None, "erased"
    if status == VERIFIED:
        if verified_at is None:
            return None, "verified_undated"
        return verified_at + timedelta(days=max_age_days), "verified"
    if status in (BOUNCED, INVALID):
        return None, "broken"
    if status == OPTED_OUT:
        return None, "opted_out"
    if status == CONTESTED:
        return None, "contested"
    return None, "unverified"


def _kind_from(rows: Sequence[Entry]) -> str | None:
    for row in rows:
        for side in (row.after, row.before):
            kind = (side or {}).get("kind")
            if isinstance(kind, str):
                return kind
    return None


def _display(point: Mapping[str, Any]) -> str:
    if point["kind"] != "postal":
        return str(point["value"])
    parts = [point["street"], point["house_number"], point["postal_code"], point["city"]]
    return " ".join(str(p) for p in parts if p) or str(point["value"])


def _facts(
    cp_id: int,
    point: Mapping[str, Any] | None,
    rows: list[Entry],
    channel_of: Mapping[int, str],
    token_kind: Mapping[int, str],
    carrier: Mapping[int, int],
    max_age_days: int,
) -> ContactPointFacts:
    verifications = [
        _verification(r, channel_of, token_kind, carrier)
        for r in rows
        if r.action == AuditAction.CONTACT_POINT_VERIFIED
    ]
    challenges = [c for c in map(_challenge, rows) if c is not None]
    deleted = point is None
    p: Mapping[str, Any] = point or {}
    status = p.get("status")
    verified_at = p.get("verified_at") or (
        verifications[-1].at if deleted and verifications else None
    )
    due, rule = _due(status, p.get("verified_at"), deleted, max_age_days)
    kind = p.get("kind") or _kind_from(rows)
    source = (
        parse_source(p.get("source"), p.get("source_at"), rows)
        if point is not None
        else (origin(rows) or Source(kind="unknown", stored=None, at=None, actor=None))
    )
    return ContactPointFacts(
        id=cp_id,
        kind=kind,
        value=_display(p) if point is not None else None,
        address={k: p.get(k) for k in ADDRESS_PARTS}
        if point is not None and kind == "postal"
        else None,
        status=status,
        is_primary=p.get("is_primary"),
        invalid_reason=p.get("invalid_reason"),
        deleted=deleted,
        source=source,
        origin=origin(rows),
        verified_at=verified_at,
        verification_method=p.get("verification_method")
        or (verifications[-1].method if deleted and verifications else None),
        bounced_at=p.get("bounced_at"),
        opted_out_at=p.get("opted_out_at"),
        update_due=due,
        update_rule=rule,
        verifications=verifications,
        challenges=challenges,
        changes=rows,
    )


def contact_point_facts(
    points: Sequence[Mapping[str, Any]],
    by_entity: Mapping[Any, list[Entry]],
    *,
    channel_of: Mapping[int, str],
    token_kind: Mapping[int, str],
    max_age_days: int,
) -> list[ContactPointFacts]:
    """One record per contact point still held or named by the trail, in id order."""
    # A confirmation email or code SMS names the challenge it carries in its sent row.
    carrier = {
        challenge: int(e.entity_id)
        for rows in by_entity.values()
        for e in rows
        if e.action == AuditAction.OUTREACH_SENT
        and e.entity_id is not None
        and (challenge := _int((e.evidence or {}).get("challenge_id"))) is not None
    }
    held = {int(p["id"]): p for p in points}
    named = {key[1] for key in by_entity if key[0] == "contact_point" and key[1] is not None}
    return [
        _facts(
            cp_id,
            held.get(cp_id),
            by_entity.get(("contact_point", cp_id), []),
            channel_of,
            token_kind,
            carrier,
            max_age_days,
        )
        for cp_id in sorted(set(held) | named)
    ]
