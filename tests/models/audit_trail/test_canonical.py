"""The fast paths write exactly RFC 8785: ``json.dumps`` where it applies, the row spelled out
piece by piece by the sealer, and SQLite's spelling the verifier hashes."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from models.audit_trail.canonical import canonical, canonical_time, parsed
from models.audit_trail.sealing import content, content_text

text = st.text(st.characters(codec="utf-8"), max_size=12)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | text
    | st.floats(allow_nan=False, allow_infinity=False)
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
documents = st.none() | st.dictionaries(text, values, max_size=5)


def rfc(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as err:
        return type(err)


@settings(max_examples=600, deadline=None)
@given(values)
def test_canonical_is_rfc8785(value: Any) -> None:
    expected = rfc(value)
    if isinstance(expected, bytes):
        assert canonical(value) == expected
    else:  # an integer beyond 2**53: refused the same way
        try:
            canonical(value)
        except rfc8785.CanonicalizationError:
            return
        raise AssertionError("accepted what RFC 8785 refuses")


@settings(max_examples=400, deadline=None)
@given(values)
def test_a_stored_text_parses_to_its_rfc8785_text(value: Any) -> None:
    """The sealer reads JSON as stored and writes its canonical text in one parse."""
    expected = rfc(value)
    stored = json.dumps(value, ensure_ascii=bool(value) and isinstance(value, dict))
    if isinstance(expected, bytes):
        assert parsed(stored)[1].encode() == expected
        assert parsed(stored)[0] == value
    else:
        try:
            parsed(stored)
        except rfc8785.CanonicalizationError:
            return
        raise AssertionError("accepted what RFC 8785 refuses")


def test_the_known_differences_take_the_slow_path() -> None:
    # Keys ordered by UTF-16 code units (U+1F600 sorts before U+FF61), floats in ECMAScript form.
    value = {"\uff61": 1, "\U0001f600": 2, "f": 1e21, "g": 0.1 + 0.2, "i": 2**53 - 1}
    assert canonical(value) == rfc8785.dumps(value)


rows = st.fixed_dictionaries({
    "id": st.integers(1, 2**40), "actor": text, "action": text, "entity_type": text,
    "entity_id": st.none() | st.integers(0, 2**40), "profile_id": st.none() | st.integers(0, 2**40),
    "before": documents, "after": documents, "evidence": documents, "reason": st.none() | text,
    "at": st.datetimes(timezones=st.just(UTC)),
})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(rows, st.none() | st.text("0123456789abcdef", min_size=64, max_size=64))
def test_the_sealers_spelling_is_rfc8785(row: dict[str, Any], digest: str | None) -> None:
    try:
        texts = {c: canonical(row[c]).decode() for c in ("before", "after", "evidence")}
    except rfc8785.CanonicalizationError:
        return
    assert content_text(row, texts, digest).encode() == rfc8785.dumps(content(row, digest))


@settings(max_examples=300, deadline=None)
@given(text, st.datetimes(min_value=datetime(1000, 1, 1)))
def test_sqlites_spelling_of_strings_and_times_is_rfc8785(value: str, at: datetime) -> None:
    con = sqlite3.connect(":memory:")
    stored = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    quoted, when = con.execute(
        "SELECT json_quote(?), json_quote(substr(?, 1, 10) || 'T' || substr(?, 12) || 'Z')",
        (value, stored, stored),
    ).fetchone()
    assert quoted.encode() == rfc8785.dumps(value)
    assert when.encode() == rfc8785.dumps(canonical_time(at.replace(tzinfo=UTC)))
