"""Reading a JSON request body we can trust the shape of: UTF-8, standard JSON, bounded depth.

Python's parser recurses per nesting level, so a body of a few thousand brackets raises
RecursionError (a 500) and a merely deep one recurses again wherever the value is serialised or
validated. Every JSON body the web app reads comes through :func:`parse_json`, which refuses
such bodies with a terse :class:`BodyError` to answer as a 4xx.
"""

from __future__ import annotations

import json
from typing import Any, Final

# Deeper than any body we accept (a SendGrid event nests three levels, with its "pool").
MAX_DEPTH: Final = 16


class BodyError(ValueError):
    """The body cannot be read as JSON; the message is terse and safe to answer with."""


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), and PostgreSQL's jsonb refuses them.
    raise BodyError(f"body must be standard JSON ({name} is not a number)")


def depth(value: object) -> int:
    """How deep ``value`` nests (a scalar is 0, ``[]`` is 1), without recursing."""
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 0)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, level) for child in children)
    return deepest


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a JSON body; raises :class:`BodyError` for anything we will not read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BodyError("body must be UTF-8") from err
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as err:
        raise BodyError("body nests too deeply") from err
    except BodyError:
        raise
    except ValueError as err:  # json.JSONDecodeError, and integers of over 4,300 digits
        raise BodyError("body is not JSON") from err
    if depth(value) > max_depth:
        raise BodyError("body nests too deeply")
    return value
