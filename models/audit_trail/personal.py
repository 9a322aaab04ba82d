"""The personal part of an audit row: found, moved out of the hashed content, merged back.

Personal are the values under personal keys (names, contact values, address parts, external ids),
under free-text keys (an error, a provider's detail, a note), and any text holding a value the
profile holds. In the row they become :data:`PLACEHOLDER`; the values themselves go to
``audit_personal`` as ``[column, path, value]`` items, where deleting them is erasure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from sqlalchemy.engine import Connection

from models.audit_trail.canonical import canonical_text, canonical_values, parsed

PLACEHOLDER: Final = "[personal]"
ERASED: Final = "[erased]"
ERASED_PREFIX: Final = "erased:"
PERSONAL_KEYS: Final = frozenset(
    {
        "external_id",
        "given_name",
        "family_name",
        "name",
        "value",
        "raw_value",
        "street",
        "house_number",
        "postal_code",
        "city",
        "email",
        "mobile",
        "phone",
        "recipient",
        "address",
        "to",
        "from",
    }
)
# Free text may quote anything (a bounce message quotes the address).
FREE_TEXT_KEYS: Final = frozenset(
    {"error", "detail", "note", "excerpt", "body", "raw", "answers", "message"}
)
MOVED: Final = PERSONAL_KEYS | FREE_TEXT_KEYS
# Shorter values (a house number, a two-letter id) count under their keys only: found anywhere
# in text they would mostly hit unrelated digits.
MIN_TEXT_MATCH: Final = 4
JSON_COLUMNS: Final = ("before", "after", "evidence")
Item = list[Any]  # [column, [key or index, ...], value]


_HELD: Final = (
    "SELECT p.id, p.external_id, p.given_name, p.family_name, c.value, c.raw_value, c.street,"
    " c.house_number, c.postal_code, c.city FROM profile p"
    " LEFT JOIN contact_point c ON c.profile_id = p.id WHERE p.id IN ({ids})"
)


def _held_rows(conn: Connection, profile_ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    # One statement through the driver: these are read for every batch sealed.
    ids = ",".join(str(int(pid)) for pid in profile_ids)
    for pid, *texts in conn.exec_driver_sql(_HELD.format(ids=ids)).all():
        yield pid, texts


def _without_plus(text: str) -> str | None:
    """A phone number is also held (and looked for) without its +."""
    return text[1:] if text.startswith("+") and text[1:].isdigit() else None


def _needle(text: str) -> str | None:
    """How a held value is looked for inside text: lower-cased, and only when long enough."""
    return n if len(n := text.strip().lower()) >= MIN_TEXT_MATCH else None


def held_values(conn: Connection, profile_ids: Sequence[int]) -> dict[int, set[str]]:
    """Every personal string each profile holds, as stored (and phones also without the +)."""
    found: dict[int, set[str]] = {pid: set() for pid in profile_ids}
    if not found:
        return found
    for pid, texts in _held_rows(conn, list(found)):
        found[pid].update(texts)
    for held in found.values():
        held.difference_update((None, ""))
        held.update([bare for t in held if (bare := _without_plus(t)) is not None])
    return found


def profile_needles(conn: Connection, profile_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """The values of each profile (as :func:`held_values` has them) as looked for inside text,
    in one pass over the rows read."""
    found: dict[int, set[str]] = {pid: set() for pid in profile_ids}
    if not found:
        return {}
    for pid, texts in _held_rows(conn, list(found)):
        add = found[pid].add
        for t in texts:
            if t:
                for v in (t, _without_plus(t)):
                    if v is not None and (n := _needle(v)) is not None:
                        add(n)
    return {pid: frozenset(held) for pid, held in found.items()}


def plain(rows: Sequence[Mapping[str, Any]], needles: Mapping[int, frozenset[str]]) -> list[bool]:
    """For each row (its before, after, evidence as stored JSON texts), whether it is surely kept
    whole: its JSON is stored in RFC 8785 form, it has no moved key and no value of its profile
    appears in its string values or reason (where :func:`split` looks). The whole batch is parsed
    at once, each distinct text then looked at once; a False only means :func:`split` must look
    closer."""
    values = canonical_values(t for row in rows for c in JSON_COLUMNS if (t := row[c]) is not None)
    if values is None:
        return [False] * len(rows)
    # Each text's string values lower-cased, or None when it is not flat or holds a moved key.
    looked: dict[str, str | None] = {}
    for t, value in values.items():
        kind = type(value)
        if kind is dict:
            # Flat (no object or array inside, not even in a string): its keys are all.
            flat = t.find("{", 1) < 0 and "[" not in t and MOVED.isdisjoint(value)
            strings = [v for v in value.values() if type(v) is str]
            looked[t] = "\x00".join(strings).lower() if flat else None
        elif kind is str:
            looked[t] = value.lower()
        else:
            looked[t] = None if kind is list else ""
    out: list[bool] = []
    for row in rows:
        parts = [looked[t] for c in JSON_COLUMNS if (t := row[c]) is not None]
        if None in parts:
            out.append(False)
            continue
        found = needles.get(row["profile_id"]) if row["profile_id"] is not None else None
        if found:
            if isinstance(reason := row["reason"], str):
                parts.append(reason.lower())
            blob = "\x00".join(parts)  # type: ignore[arg-type]
            out.append(not any(n in blob for n in found))
        else:
            out.append(True)
    return out


def _kept(value: Any) -> bool:
    """Values that are not personal even under a personal key: markers written by erasure."""
    return (
        value is None
        or value in (PLACEHOLDER, ERASED)
        or (isinstance(value, str) and value.startswith(ERASED_PREFIX))
    )


def _holds(text: str, needles: frozenset[str]) -> bool:
    low = text.lower()
    return any(n in low for n in needles)


def _walk(
    value: Any, column: str, path: tuple[Any, ...], needles: frozenset[str], items: list[Item]
) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in MOVED and not _kept(item):
                items.append([column, [*path, key], item])
                out[key] = PLACEHOLDER
            else:
                out[key] = _walk(item, column, (*path, key), needles, items)
        return out
    if isinstance(value, list):
        return [_walk(v, column, (*path, i), needles, items) for i, v in enumerate(value)]
    if isinstance(value, str) and needles and not _kept(value) and _holds(value, needles):
        items.append([column, list(path), value])
        return PLACEHOLDER
    return value


def _collect(value: Any, strings: list[str]) -> bool:
    """Gather ``value``'s string values (not its keys) into ``strings``; whether it holds a moved
    key anywhere."""
    kind = type(value)
    if kind is str:
        strings.append(value)
        return False
    if kind is dict:
        touches = not MOVED.isdisjoint(value)
        inner = value.values()
    elif kind is list:
        touches, inner = False, value
    else:
        return False
    for v in inner:
        if type(v) is str:
            strings.append(v)
        elif _collect(v, strings):
            touches = True
    return touches


@lru_cache(maxsize=4096)
def _parsed(stored: str) -> tuple[Any, str, bool, str]:
    """A stored JSON text's value (shared: never changed in place), its canonical text, whether it
    holds a moved key, and its string values lower-cased (where a profile's values are looked
    for: keys are ours, and a name may well be part of one). The rows of a batch repeat texts."""
    value, text = parsed(stored)
    strings: list[str] = []
    touches = _collect(value, strings)
    return value, text, touches, "\x00".join(strings).lower()


def split(
    row: Mapping[str, Any], needles: frozenset[str]
) -> tuple[dict[str, Any], list[Item], dict[str, str]]:
    """``row``'s before, after, evidence (stored JSON texts, or None) and reason without their
    personal values; those values; and the canonical text of the JSON columns as kept."""
    parsed = [None if row[c] is None else _parsed(row[c]) for c in JSON_COLUMNS]
    reason = row["reason"]
    # One look for the profile's values in all of the row's strings; each part only on a hit.
    hit = False
    if needles:
        strings = [found[3] for found in parsed if found is not None]
        if isinstance(reason, str):
            strings.append(reason.lower())
        blob = "\x00".join(strings)
        hit = any(n in blob for n in needles)
    items: list[Item] = []
    kept: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for c, found in zip(JSON_COLUMNS, parsed, strict=True):
        if found is None:
            kept[c], texts[c] = None, "null"
            continue
        value, text, touches, lowered = found
        if touches or (hit and any(n in lowered for n in needles)):
            count = len(items)
            value = _walk(value, c, (), needles if hit else frozenset(), items)
            if len(items) > count:
                text = canonical_text(value)
        kept[c], texts[c] = value, text
    if hit and isinstance(reason, str) and _holds(reason, needles):
        items.append(["reason", [], reason])
        reason = PLACEHOLDER
    kept["reason"] = reason
    return kept, items, texts


def merge(row: dict[str, Any], items: Sequence[Item] | None) -> dict[str, Any]:
    """``row`` (its before, after, evidence, reason) with the personal values put back; a
    placeholder whose value was erased reads :data:`ERASED`."""
    out = {c: _copy(row[c]) for c in (*JSON_COLUMNS, "reason")}
    for column, path, value in items or ():
        if not path:
            out[column] = value
            continue
        target = out[column]
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    if items is None:
        for c in (*JSON_COLUMNS, "reason"):
            out[c] = _erased(out[c])
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _erased(value: Any) -> Any:
    if value == PLACEHOLDER:
        return ERASED
    if isinstance(value, dict):
        return {k: _erased(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_erased(v) for v in value]
    return value
