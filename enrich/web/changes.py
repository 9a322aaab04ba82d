"""``GET /api/changes``: the changes feed for a CRM that pulls (API key, paged).

The same lines as ``enrich export changes`` (see :mod:`models.changes_feed.changes`). The first
call gives ``since`` (0, or the cursor the CRM stored) and no ``until``; the answer fixes
``until`` at the newest change and names the next page's ``since`` until the range is done
(``next_since`` is null). The CRM keeps ``until`` and starts its next pull after it. Reading
does not move the cursor ``enrich export changes`` stores. The route is a plain ``def``, so
FastAPI runs the database work in its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, create_model

from enrich.runtime import get_engine
from enrich.web.api_auth import ApiKeyDep
from enrich.web.deps import SettingsDep
from enrich.web.errors import NO_STORE, Invalid, Refused
from models.audit_trail.sealing import seal
from models.changes_feed.changes import MAX_PAGE, Change, changes, head

router = APIRouter(prefix="/api", tags=["changes feed"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Refused, "description": "Missing or wrong API key"},
    422: {"model": Invalid, "description": "A cursor or limit is refused: which, and why"},
    503: {"model": Refused, "description": "Not configured on the server"},
}


# The line's fields and types are those of ``Change``: one definition, so the API and the file
# cannot drift apart.
_FIELDS: dict[str, Any] = {name: (hint, ...) for name, hint in get_type_hints(Change).items()}


class ChangeLine(create_model("ChangeFields", **_FIELDS)):  # type: ignore[misc]
    """One changed record: a contact point or a consent as it is now, or an erased person
    (``record`` ``profile``, ``change`` ``erased``: only the cursor, time and external id)."""


class ChangesPage(BaseModel):
    since: int
    until: int
    changes: list[ChangeLine]
    next_since: int | None  # null: the range is done; pull again later after ``until``


@router.get("/changes", responses=RESPONSES)
def changes_page(
    _key: ApiKeyDep,
    response: Response,
    settings: SettingsDep,
    since: Annotated[int, Query(ge=0, le=2**62)] = 0,
    until: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
) -> ChangesPage:
    """The records changed after ``since`` (up to ``until``), oldest change first."""
    response.headers.update(NO_STORE)
    engine = get_engine(settings)
    if until is None:
        seal(engine)  # answers of the last minutes join the chain (skipped if a sealer runs)
    with engine.connect() as conn:
        end = head(conn) if until is None else until
        if end < since:
            field, why = (
                ("until", "must not be before since")
                if until is not None
                else ("since", "is after the newest change")
            )
            problem = [{"field": field, "error": why}]
            raise HTTPException(422, problem, headers=NO_STORE)
        lines = changes(conn, since, end, limit)
    following = lines[-1].cursor if len(lines) == limit else None
    return ChangesPage(
        since=since,
        until=end,
        changes=[ChangeLine.model_validate(line.as_dict()) for line in lines],
        next_since=following,
    )
