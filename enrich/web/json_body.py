"""Reading a JSON request body we can trust the shape of: UTF-8, standard JSON, bounded depth.

Python's parser recurses per nesting level, so a body of a few thousand brackets raises
RecursionError (a 500) and a merely deep one recurses again wherever the value is serialised or
validated. Every JSON body the web app reads comes through :func:`parse_json`, which refuses
such bodies with a terse :class:`BodyError` to answer as a 4xx: the webhooks call it on the
raw signed bytes, and :class:`BoundedJSONRoute` makes FastAPI read a route's Pydantic body
with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from enrich.web.errors import NO_STORE

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


class BoundedJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_json`; a refused body answers 422."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = parse_json(await self.body())
            except BodyError as err:
                detail = f"body must be a JSON object: {err}"
                raise HTTPException(422, detail, headers=NO_STORE) from err
        return self._json


class BoundedJSONRoute(APIRoute):
    """A route whose JSON body FastAPI reads through :class:`BoundedJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(BoundedJSONRequest(request.scope, request.receive))

        return bounded
