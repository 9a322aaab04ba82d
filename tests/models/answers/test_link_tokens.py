"""Personal-link tokens: 128-bit, only the hash is stored, with an expiry; on both databases."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from models.answers.link_tokens import (
    TOKEN_BYTES,
    hash_token,
    issue_link_tokens,
    new_token,
    personal_link,
    token_from_link,
)
from models.tables import OUTREACH, PROFILE, TOKEN

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def add_profile_with_outreach(conn: Connection, external_id: str) -> tuple[int, int]:
    profile_id = conn.execute(
        insert(PROFILE)
        .values(external_id=external_id, locale="nl", created_at=NOW, updated_at=NOW)
        .returning(PROFILE.c.id)
    ).scalar_one()
    outreach_id = conn.execute(
        insert(OUTREACH)
        .values(
            profile_id=profile_id,
            step_index=0,
            channel="letter",
            template="ask",
            status="pending",
            created_at=NOW,
            updated_at=NOW,
        )
        .returning(OUTREACH.c.id)
    ).scalar_one()
    return profile_id, outreach_id


def test_new_token_is_128_bit_url_safe_and_unique() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in list(tokens)[:50]:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
        assert len(base64.urlsafe_b64decode(token + "==")) == TOKEN_BYTES == 16


def test_link_format_and_round_trip() -> None:
    link = personal_link("https://enrich.example.org/", "AbC_-1")
    assert link == "https://enrich.example.org/c/AbC_-1"
    assert token_from_link(link) == "AbC_-1"
    assert hash_token("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_issue_link_tokens_stores_only_hashes_with_expiry(engine: Engine) -> None:
    with engine.begin() as conn:
        items = [add_profile_with_outreach(conn, f"c-{i}") for i in range(3)]
        issued = issue_link_tokens(conn, items=items, ttl_days=60, now=NOW)
    assert sorted(issued) == sorted(outreach_id for _, outreach_id in items)
    with engine.connect() as conn:
        rows = conn.execute(select(TOKEN).order_by(TOKEN.c.outreach_id)).mappings().all()
    assert len(rows) == 3
    for row, (profile_id, outreach_id) in zip(rows, sorted(items, key=lambda i: i[1]), strict=True):
        token = issued[outreach_id]
        assert row["token_hash"] == hash_token(token)
        assert token not in row.values()  # the plain token is nowhere in the row
        assert row["kind"] == "link"
        assert row["profile_id"] == profile_id
        assert row["attempts"] == 0 and row["used_at"] is None
        assert row["created_at"] == NOW
        assert row["expires_at"] == NOW + timedelta(days=60)


def test_issue_link_tokens_accepts_a_session(engine: Engine) -> None:
    with Session(engine) as session:
        profile_id, outreach_id = add_profile_with_outreach(session.connection(), "c-s")
        issued = issue_link_tokens(session, items=[(profile_id, outreach_id)], ttl_days=1)
        session.commit()
    with engine.connect() as conn:
        stored = conn.execute(select(TOKEN.c.token_hash, TOKEN.c.expires_at)).one()
    assert stored.token_hash == hash_token(issued[outreach_id])
    assert stored.expires_at > datetime.now(UTC)


def test_issue_link_tokens_rejects_bad_input(engine: Engine) -> None:
    with engine.begin() as conn:
        item = add_profile_with_outreach(conn, "c-x")
        with pytest.raises(ValueError, match="ttl_days"):
            issue_link_tokens(conn, items=[item], ttl_days=0)
        with pytest.raises(ValueError, match="given twice"):
            issue_link_tokens(conn, items=[item, item], ttl_days=5)
        assert issue_link_tokens(conn, items=[], ttl_days=5) == {}
    with engine.connect() as conn:
        assert conn.execute(select(TOKEN)).first() is None
