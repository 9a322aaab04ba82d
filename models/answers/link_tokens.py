"""Link tokens: 128-bit random secrets, stored only as SHA-256 hashes with an expiry.

Every token a customer presents (a personal link, an unsubscribe link, an email confirmation) is
issued and looked up by the one hash here (:func:`hash_token`, :func:`hash_presented`).

Each message gets a personal-link token (kind ``link``: the landing page); an email gets an
unsubscribe token too (kind ``unsubscribe``: only the ``List-Unsubscribe`` link), so the header
that mail servers and forwarded copies show never holds the key to the customer's data.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.tables import TOKEN
from models.types import utcnow

TOKEN_BYTES = 16  # 128-bit
LINK_KIND = "link"
UNSUBSCRIBE_KIND = "unsubscribe"  # VerificationToken.kind of the List-Unsubscribe link
TOKEN_TABLE = TOKEN


def new_token() -> str:
    """A fresh URL-safe token of TOKEN_BYTES random bytes (22 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest we store and look tokens up by."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def hash_presented(token: object) -> str | None:
    """The stored hash of a token a request presents; None for anything no token can be."""
    if not isinstance(token, str) or not token or len(token) > 128 or not token.isascii():
        return None
    return hash_token(token)


def personal_link(base_url: str, token: str) -> str:
    """The landing-page link printed in every message and encoded in the letter's QR code."""
    return f"{base_url.rstrip('/')}/c/{token}"


def unsubscribe_link(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL (RFC 8058) with the message's unsubscribe token."""
    return f"{base_url.rstrip('/')}/u/{token}"


def token_from_link(link: str) -> str:
    """The token at the end of a personal link (the inverse of :func:`personal_link`)."""
    return link.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class MessageTokens:
    """The plain tokens of one outreach: its personal link's and, for an email, unsubscribe's."""

    link: str
    unsubscribe: str | None = None


def _row(
    kind: str, token: str, item: tuple[int, int], issued_at: datetime, expires_at: datetime
) -> dict[str, object]:
    profile_id, outreach_id = item
    return {
        "token_hash": hash_token(token),
        "kind": kind,
        "profile_id": profile_id,
        "outreach_id": outreach_id,
        "contact_point_id": None,
        "attempts": 0,
        "expires_at": expires_at,
        "used_at": None,
        "created_at": issued_at,
    }


def issue_tokens(
    conn: Connection | Session,
    *,
    items: Sequence[tuple[int, int]],
    ttl_days: int,
    now: datetime | None = None,
    unsubscribe_for: Collection[int] = (),
) -> dict[int, MessageTokens]:
    """Insert a ``link`` token per ``(profile_id, outreach_id)``, and an ``unsubscribe`` token
    for each outreach id in ``unsubscribe_for``, all in one bulk statement.

    Returns ``{outreach_id: MessageTokens}``; the plain tokens exist only in the returned dict
    (and the message built from it), the database keeps the hashes. The unsubscribe token
    carries the same expiry, which the unsubscribe link does not enforce (see
    :mod:`models.answers.unsubscribe`).
    """
    if ttl_days <= 0:
        raise ValueError("ttl_days must be positive")
    issued_at = now or utcnow()
    expires_at = issued_at + timedelta(days=ttl_days)
    wanted = set(unsubscribe_for)
    plain: dict[int, MessageTokens] = {}
    rows = []
    for item in items:
        outreach_id = item[1]
        if outreach_id in plain:
            raise ValueError(f"outreach {outreach_id} given twice")
        tokens = MessageTokens(new_token(), new_token() if outreach_id in wanted else None)
        plain[outreach_id] = tokens
        rows.append(_row(LINK_KIND, tokens.link, item, issued_at, expires_at))
        if tokens.unsubscribe is not None:
            rows.append(_row(UNSUBSCRIBE_KIND, tokens.unsubscribe, item, issued_at, expires_at))
    if rows:
        conn.execute(insert(TOKEN_TABLE), rows)
    return plain


def issue_link_tokens(
    conn: Connection | Session,
    *,
    items: Sequence[tuple[int, int]],
    ttl_days: int,
    now: datetime | None = None,
) -> dict[int, str]:
    """:func:`issue_tokens` without unsubscribe tokens: ``{outreach_id: plain link token}``
    (a contact-moment block is carried by another system's message, not sent by us)."""
    issued = issue_tokens(conn, items=items, ttl_days=ttl_days, now=now)
    return {outreach_id: tokens.link for outreach_id, tokens in issued.items()}
