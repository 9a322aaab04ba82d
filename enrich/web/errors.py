"""What a client sees when a request fails: terse JSON that never repeats what it sent.

FastAPI's own 422 answer carries each error's ``input``, which may be a customer's address or
id; this one names the field and the rule only. Errors raised as ``HTTPException`` keep
FastAPI's ``{"detail": ...}`` answer, whose texts are ours and quote no input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

NO_STORE = {"Cache-Control": "no-store"}
_PLACES = ("body", "query", "path", "header", "cookie")


class Problem(BaseModel):
    """One refused field: which, and the rule it broke (never the value)."""

    field: str
    error: str


class Invalid(BaseModel):
    detail: list[Problem]


class Refused(BaseModel):
    detail: str


def problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    """``{"field", "error"}`` per validation error, the location's "body" prefix dropped."""
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            loc = loc[:1]
        field = ".".join(loc[1:] if len(loc) > 1 and loc[0] in _PLACES else loc)
        out.append({"field": field or "body", "error": str(error.get("msg", "invalid"))})
    return out


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": problems(errors)}, status_code=422, headers=NO_STORE)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
