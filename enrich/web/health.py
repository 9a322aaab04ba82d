"""``/healthz`` and ``/readyz`` for whatever runs the process (a supervisor, a load balancer).

``/healthz`` answers while the process serves requests. ``/readyz`` also asks the database:
200 when it answers and its schema is at the head of the migrations this code ships, else 503
with a short reason that names neither the database URL nor any secret.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from fastapi import APIRouter, HTTPException
from sqlalchemy.exc import SQLAlchemyError

from enrich.web.deps import EngineDep
from enrich.web.errors import NO_STORE
from models.db import current_revision, head_revision

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)  # for the process's supervisor, not an API


@lru_cache(maxsize=1)
def _head() -> str | None:
    return head_revision()  # the migration scripts do not change while the process runs


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(engine: EngineDep) -> dict[str, str]:
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as err:
        log.warning("not ready: database unreachable (%s)", type(err).__name__)
        raise HTTPException(503, "not ready: database unreachable", headers=NO_STORE) from None
    if revision != _head():
        log.warning("not ready: database schema at %s, code expects %s", revision, _head())
        detail = "not ready: database migrations not current (run `enrich init`)"
        raise HTTPException(503, detail, headers=NO_STORE)
    return {"status": "ready"}
