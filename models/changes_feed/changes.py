"""Results back to the CRM: every contact point and consent that changed since a cursor.

The cursor is an audit ``seq``. Sealed rows get ever larger seqs in the order they are sealed,
and a sealed row never changes, so a range ``(since, until]`` names the same changes for good:
an export that failed is rerun with the same cursors and gives the same file, and the next
export starts where the last one stopped, without a gap or an overlap.

Each record changed in the range comes once, at its last change there, with its value, status
and verification as they are now. What the import wrote (the CRM's own data coming in) is not
sent back. An erased person's records are gone: what is left of them is one line at the
erasure (``record`` ``profile``, ``change`` ``erased``), keyed by the external id the
``erasure_notice`` keeps, every other field empty, so that the CRM erases them too (Art. 19).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from models.audit_trail.canonical import canonical_time
from models.vocabulary import AuditAction

A = AuditAction
# The audit actions the feed carries, and the change each is exported as.
CHANGE: Final[dict[AuditAction, str]] = {
    A.CONTACT_POINT_ADDED: "added",
    A.CONTACT_POINT_REENTERED: "changed",
    A.CONTACT_POINT_CONFIRMED: "confirmed",
    A.CONTACT_POINT_VERIFIED: "verified",
    A.CONTACT_POINT_CONTESTED: "contested",
    A.CONTACT_POINT_BOUNCED: "bounced",
    A.CONTACT_POINT_INVALID: "invalid",
    A.CONTACT_POINT_OPT_OUT: "opted_out",
    A.CONTACT_POINT_OPTED_OUT: "opted_out",
    A.CONTACT_POINT_OPT_OUT_SIGNAL: "opted_out",
    A.CONTACT_POINT_OPT_IN_SIGNAL: "opted_in",
    A.CONTACT_POINT_RESTORED: "restored",
    A.CONSENT_GRANTED: "consent_granted",
    A.CONSENT_WITHDRAWN: "consent_withdrawn",
    A.PROFILE_ERASED: "erased",
}
MAX_PAGE: Final = 10_000
FETCH: Final = 5_000


class Change(NamedTuple):
    """One exported line: a contact point (``record`` = ``contact_point``), a consent, or an
    erased person (``profile``, only its cursor, time and external id)."""

    cursor: int  # the audit seq of the record's last change in the range
    changed_at: str
    external_id: str
    record: str
    change: str
    kind: str | None  # email, mobile, phone, postal
    value: str | None
    street: str | None
    house_number: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    status: str | None
    verified_at: str | None
    method: str | None
    purpose: str | None
    channel: str | None
    granted: bool | None
    notice_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


COLUMNS: Final = Change._fields

_CHANGES: Final = text(
    "WITH last AS ("
    " SELECT entity_type, entity_id, max(seq) AS seq FROM audit_event"
    " WHERE seq > :since AND seq <= :until AND action IN :actions"
    " AND entity_type IN ('contact_point', 'consent', 'profile')"
    " GROUP BY entity_type, entity_id)"
    " SELECT l.seq, a.at, a.action, l.entity_type, coalesce(e.external_id, p.external_id),"
    " c.kind, c.value, c.street, c.house_number, c.postal_code, c.city, c.country, c.status,"
    " c.verified_at, c.verification_method, n.purpose, n.channel, n.granted, n.text_version"
    " FROM last l JOIN audit_event a ON a.seq = l.seq"
    " LEFT JOIN contact_point c ON l.entity_type = 'contact_point' AND c.id = l.entity_id"
    " LEFT JOIN consent n ON l.entity_type = 'consent' AND n.id = l.entity_id"
    " LEFT JOIN erasure_notice e ON l.entity_type = 'profile' AND e.profile_id = l.entity_id"
    # The sealer gave every row its profile: joined by it, the profile's index is used.
    " JOIN profile p ON p.id = a.profile_id"
    # A record of a person still there, or the erasure of one (an erasure from before the
    # notices were kept has no key to give, and is left out).
    " WHERE (p.id = coalesce(c.profile_id, n.profile_id) AND p.erased_at IS NULL)"
    " OR e.profile_id = p.id"
    " ORDER BY l.seq LIMIT :limit"
).bindparams(bindparam("actions", expanding=True))


def head(conn: Connection) -> int:
    """The newest sealed seq: where an export that starts now ends."""
    return int(conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar_one())


def changes(conn: Connection, since: int, until: int, limit: int) -> list[Change]:
    """Up to ``limit`` changed records of ``(since, until]``, in cursor order. The next page
    starts after the last one's cursor (with the same ``until``); fewer than ``limit`` means
    the range is done."""
    return list(stream(conn, since, until, limit))


def stream(conn: Connection, since: int, until: int, limit: int = 2**62) -> Iterator[Change]:
    """The changed records of ``(since, until]`` in cursor order, read as they are written out
    (all of them unless ``limit`` says less)."""
    params = {"since": since, "until": until, "limit": limit, "actions": [str(a) for a in CHANGE]}
    streamed = {"stream_results": True, "yield_per": FETCH}  # this statement only
    rows = conn.execute(_CHANGES, params, execution_options=streamed)
    change = {str(a): word for a, word in CHANGE.items()}
    for (seq, at, action, record, external_id, kind, value, street, house_number, postal_code,
         city, country, status, verified_at, method, purpose, channel, granted,
         version) in rows.tuples():  # fmt: skip
        yield Change(
            int(seq), canonical_time(at), external_id, record, change[action], kind, value,
            street, house_number, postal_code, city, country, status,
            None if verified_at is None else canonical_time(verified_at), method, purpose,
            channel, None if granted is None else bool(granted), version,
        )  # fmt: skip
