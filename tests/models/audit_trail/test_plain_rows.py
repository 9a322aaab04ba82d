"""The sealer's quick look: a batch's rows that are kept whole, found without parsing row by row.

What it calls whole must be exactly what the full look (``split``) keeps whole: no personal value
left in the hashed content, and the JSON hashed as stored only when stored in RFC 8785 form.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from models.audit_trail.canonical import canonical_values
from models.audit_trail.personal import JSON_COLUMNS, MOVED, plain, split

NAMES = ["anne", 'Zoë O"Hara', "back\\slash", "+31612345678", "anne@example.org"]
words = st.sampled_from(["channel", "email", "ask", "round 1", "sendgrid", *NAMES, *MOVED])
text = words | st.text(max_size=8) | st.builds(lambda a, b: a + " " + b, words, words)
scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | text | text | text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words | text, inner, max_size=3),
    max_leaves=8,
)
documents = st.none() | st.dictionaries(words | text, values, max_size=4)


def stored(document: Any, spelled: str) -> str | None:
    if document is None:
        return None
    if spelled == "canonical":
        try:
            return rfc8785.dumps(document).decode()
        except rfc8785.CanonicalizationError:
            return json.dumps(document)
    if spelled == "spaced":
        return json.dumps(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


rows = st.lists(
    st.fixed_dictionaries(
        {
            "before": documents,
            "after": documents,
            "evidence": documents,
            "reason": st.none() | text,
            "profile_id": st.none() | st.sampled_from([1, 2]),
        }
    ),
    min_size=1,
    max_size=4,
)
# One row spelled otherwise sends its whole batch to the closer look: mostly all canonical.
spellings = st.sampled_from(["canonical"] * 6 + ["spaced", "ascii"])
NEEDLES = {1: frozenset(n.lower() for n in NAMES), 2: frozenset()}


@settings(max_examples=400, deadline=None)
@given(rows, spellings, st.lists(st.floats(-1e3, 1e3), max_size=1))
def test_a_row_called_whole_is_one_split_keeps_whole(
    drawn: list[dict[str, Any]], spelled: str, floats: list[float]
) -> None:
    if floats:
        drawn[0]["after"] = {"f": floats[0]}
    batch = [
        {**r, "id": i, **{c: stored(r[c], spelled) for c in JSON_COLUMNS}}
        for i, r in enumerate(drawn)
    ]
    for row, whole in zip(batch, plain(batch, NEEDLES), strict=True):
        if not whole:
            continue
        pid = row["profile_id"]
        try:
            kept, items, texts = split(row, NEEDLES[pid] if pid is not None else frozenset())
        except rfc8785.CanonicalizationError:
            raise AssertionError("called whole a row that cannot be sealed") from None
        assert items == []
        assert kept["reason"] == row["reason"]
        assert all(texts[c] == (row[c] or "null") for c in JSON_COLUMNS)


def test_typical_rows_are_whole_and_personal_ones_are_not() -> None:
    after = '{"channel":"email","provider":"sendgrid","step":0,"template":"ask"}'
    row = {"before": None, "after": after, "evidence": '{"outreach_id":1}', "profile_id": 1}
    batch = [
        {**row, "reason": "round 1, step 1 (email)"},
        {**row, "reason": "sent to anne@example.org"},  # a held value in free text
        {**row, "after": '{"email":"x@example.org"}', "reason": None},  # a personal key
        {**row, "after": '{"note":{"deep":1}}', "reason": None},  # nested: looked at closer
    ]
    held = {1: frozenset({'zoë o"hara', "anne@example.org"})}
    assert plain(batch, held) == [True, False, False, False]
    # A name inside a key ("anne" in "channel") is no hit: keys are ours. In a value it is.
    assert "anne" in NEEDLES[1]
    assert plain(batch[:1], NEEDLES) == [True]
    named = [{**batch[0], "after": '{"channel":"email","template":"anne"}'}]
    assert plain(named, NEEDLES) == [False]
    assert split(named[0], NEEDLES[1])[1] == [["after", ["template"], "anne"]]
    spaced = [{**batch[0], "after": json.dumps(json.loads(after))}]
    assert plain(spaced, held) == [False]  # not RFC 8785 as stored: split rewrites it


def test_texts_are_canonical_only_each_on_its_own() -> None:
    texts = ['{"a":1}', "[1,2]", '"x"', '{"a":1}']
    assert canonical_values(texts) == {'{"a":1}': {"a": 1}, "[1,2]": [1, 2], '"x"': "x"}
    # Together these read as RFC 8785 JSON, but neither is a JSON value on its own.
    assert canonical_values(["1,[2", "3]"]) is None
    assert canonical_values(['{"b":1,"a":2}']) is None  # keys out of order
    assert canonical_values(['{"a":1.5}']) is None  # floats take the full path
    assert canonical_values(['{"a":12345678901234567}']) is None  # perhaps beyond 2**53
    assert canonical_values(['{"\U0001f600":1}']) is None  # UTF-16 key order may differ
    assert canonical_values(["", "{}"]) is None
