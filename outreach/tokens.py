"""Personal-link tokens: 128-bit random secrets, stored only as SHA-256 hashes with an expiry."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.tables import VerificationToken
from models.types import utcnow

TOKEN_BYTES = 16  # 128-bit
LINK_KIND = "link"
TOKEN_TABLE = VerificationToken.__table__  # type: ignore[attr-defined]


def new_token() -> str:
    """A fresh URL-safe token of TOKEN_BYTES random bytes (22 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest we store and look tokens up by."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def personal_link(base_url: str, token: str) -> str:
    """The landing-page link printed in every message and encoded in the letter's QR code."""
    return f"{base_url.rstrip('/')}/c/{token}"


def unsubscribe_link(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL (RFC 8058) carrying the same token, no personal data."""
    return f"{base_url.rstrip('/')}/u/{token}"


def token_from_link(link: str) -> str:
    """The token at the end of a personal link (the inverse of :func:`personal_link`)."""
    return link.rstrip("/").rsplit("/", 1)[-1]


def issue_link_tokens(
    conn: Connection | Session,
    *,
    items: Sequence[tuple[int, int]],
    ttl_days: int,
    now: datetime | None = None,
) -> dict[int, str]:
    """Insert one ``link`` token per ``(profile_id, outreach_id)`` in one bulk statement.

    Returns ``{outreach_id: plain_token}``; the plain token exists only in the returned dict
    (and the message built from it), the database keeps the hash.
    """
    if ttl_days <= 0:
        raise ValueError("ttl_days must be positive")
    issued_at = now or utcnow()
    expires_at = issued_at + timedelta(days=ttl_days)
    plain: dict[int, str] = {}
    rows = []
    for profile_id, outreach_id in items:
        if outreach_id in plain:
            raise ValueError(f"outreach {outreach_id} given twice")
        token = new_token()
        plain[outreach_id] = token
        rows.append(
            {
                "token_hash": hash_token(token),
                "kind": LINK_KIND,
                "profile_id": profile_id,
                "outreach_id": outreach_id,
                "contact_point_id": None,
                "attempts": 0,
                "expires_at": expires_at,
                "used_at": None,
                "created_at": issued_at,
            }
        )
    if rows:
        conn.execute(insert(TOKEN_TABLE), rows)
    return plain
