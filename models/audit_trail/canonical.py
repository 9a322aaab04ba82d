"""The canonical bytes of an audit row's content: RFC 8785 (JSON Canonicalization Scheme).

A hash over these bytes does not depend on the database, the driver or this code's version:
RFC 8785 fixes key order, spacing, string escapes and number forms. ``json.dumps`` with sorted
keys and no spaces writes exactly the same bytes as long as the content holds no float, no
integer beyond 2**53 - 1 and no key with a character outside the Basic Multilingual Plane
(RFC 8785 orders keys by UTF-16 code units, Python by code points); such content takes this
fast path, everything else goes through the ``rfc8785`` package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785

SAFE_INT: Final = 2**53 - 1
# In JSON text: a run of 16 digits may be an unsafe integer; a character beyond U+FFFF may sit in
# a key. Either sends the text down the slow path (it may also just be inside a string).
_LONG_NUMBER: Final = re.compile("[0-9]{16}")
_BEYOND_BMP: Final = re.compile("[\U00010000-\U0010ffff]")
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
)
# ``JSONEncoder.encode`` builds its C encoder anew on every call, which costs more than encoding
# a small object; this one is built once (the same function, arguments as ``encode`` passes).
_MAKE_ENCODER: Final = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Final = (
    None
    if _MAKE_ENCODER is None
    else _MAKE_ENCODER(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
)


def _DUMP(value: Any) -> str:
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


# Every float json.dumps writes has a digit before a point or an exponent.
_FLOATISH: Final = re.compile("[0-9][.eE]")
# One JSON string, escaped as RFC 8785 escapes it (the same rules as ``json.dumps``).
encode_string: Final = json.encoder.encode_basestring


class NotPlain(Exception):
    """The content needs the full RFC 8785 encoder (a float, a large integer, an odd key)."""


def _no_float(text: str) -> float:
    raise NotPlain(text)


def canonical_text(value: Any) -> str:
    """RFC 8785 text of ``value`` (JSON-like: dicts with string keys, lists, scalars).

    Written by ``json.dumps`` first; only text that may hold a float, a large integer or a
    character beyond U+FFFF is checked further, and goes to ``rfc8785`` if it is not plain.
    """
    text: str = _DUMP(value)
    if _LONG_NUMBER.search(text) or (not text.isascii() and _BEYOND_BMP.search(text)):
        return rfc8785.dumps(value).decode("utf-8")
    if _FLOATISH.search(text):
        try:
            _DECODE(text)
        except NotPlain:
            return rfc8785.dumps(value).decode("utf-8")
    return text


def parsed(stored: str) -> tuple[Any, str]:
    """A stored JSON text's value and its RFC 8785 text, parsed once: a float anywhere sends it
    down the slow path as it is read (a text search for floats would also hit strings)."""
    try:
        value = _DECODE(stored)
    except NotPlain:
        value = json.loads(stored)
        return value, rfc8785.dumps(value).decode("utf-8")
    text: str = _DUMP(value)
    if _LONG_NUMBER.search(text) or (not text.isascii() and _BEYOND_BMP.search(text)):
        return value, rfc8785.dumps(value).decode("utf-8")
    return value, text


def canonical_values(texts: Iterable[str]) -> dict[str, Any] | None:
    """Each of ``texts`` (once each) with its value, when each is one JSON value already in its
    RFC 8785 form, all checked with one parse (in C); None only means some of them need
    :func:`parsed`."""
    unique = list(dict.fromkeys(texts))  # a batch repeats texts (the same ``after``, say)
    if not unique:
        return {}
    joined = "[" + ",".join(unique) + "]"
    if not joined.isascii() and _BEYOND_BMP.search(joined):
        return None
    try:
        values: list[Any] = _DECODE_PLAIN(joined)
    except (ValueError, NotPlain):
        return None
    # Each value written again must give its own text back: that also proves where each ends.
    if len(values) != len(unique) or not all(map(str.__eq__, map(_DUMP, values), unique)):
        return None
    return dict(zip(unique, values, strict=True))


def _small_int(digits: str) -> int:
    if len(digits) >= 16:  # perhaps beyond 2**53 - 1
        raise NotPlain(digits)
    return int(digits)


def stored_text(value: Any) -> str:
    """How the audit trail stores JSON: its RFC 8785 text, or, when it has none (an integer
    beyond 2**53), compact with sorted keys (sealing then refuses the row and says why)."""
    try:
        return canonical_text(value)
    except rfc8785.CanonicalizationError:
        return str(_DUMP(value))


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes of ``value``."""
    return canonical_text(value).encode("utf-8")


_DECODE: Final = json.JSONDecoder(parse_float=_no_float).decode
# Neither floats nor integers that may be beyond 2**53 - 1.
_DECODE_PLAIN: Final = json.JSONDecoder(parse_float=_no_float, parse_int=_small_int).decode


def canonical_time(at: datetime | str) -> str:
    """An instant as hashed: UTC, microseconds, ``Z`` (``2026-12-02T06:00:00.000000Z``).

    Accepts what the databases hand back: aware datetimes, or SQLite's naive UTC text.
    """
    if isinstance(at, str):
        if len(at) == 26 and at[10] == " " and at[19] == ".":  # SQLite's own form: skip the parse
            return f"{at[:10]}T{at[11:]}Z"
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
