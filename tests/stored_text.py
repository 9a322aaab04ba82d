"""Test helper: find refused characters anywhere in the database, every table and text column."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

# Written out here, not imported: the test must not trust the rule it checks.
REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffd]")


def refused_characters(engine: Engine) -> list[tuple[str, str]]:
    """``(table.column, code point)`` for every stored refused character; [] when clean."""
    found: list[tuple[str, str]] = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    for text in _texts(value):
                        for char in REFUSED.findall(text):
                            found.append((f"{table.name}.{column}", f"U+{ord(char):04X}"))
    return found


def _texts(value: Any) -> Iterator[str]:
    """The strings in a column value, JSON documents (audit before/after, answers) included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
