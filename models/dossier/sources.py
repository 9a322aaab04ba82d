"""Where a value came from, read from a record's ``source`` column and the trail rows about it.

An import writes ``import:<file>:<line>`` into the column and ``{"file", "line"}`` into its audit
evidence; the landing page writes ``landing`` and the message whose link the customer used; a
provider event names the provider as the actor (``provider:<name>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from models.dossier.facts import Entry, Source
from models.vocabulary import AuditAction

IMPORT_PREFIX: Final = "import:"
# The actions that write a value: the newest one is the value's current source.
WRITES: Final = frozenset(
    {
        AuditAction.PROFILE_CREATE,
        AuditAction.PROFILE_UPDATE,
        AuditAction.CONTACT_POINT_CREATE,
        AuditAction.CONTACT_POINT_UPDATE,
        AuditAction.CONTACT_POINT_ADDED,
        AuditAction.CONTACT_POINT_REENTERED,
    }
)
CREATES: Final = frozenset(
    {
        AuditAction.PROFILE_CREATE,
        AuditAction.CONTACT_POINT_CREATE,
        AuditAction.CONTACT_POINT_ADDED,
    }
)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _file_line(stored: str) -> tuple[str | None, int | None]:
    """``import:customers.csv:12`` -> (``customers.csv``, 12); a file name may hold colons."""
    rest = stored.removeprefix(IMPORT_PREFIX)
    name, sep, line = rest.rpartition(":")
    if sep and line.isdigit():
        return name, int(line)
    return rest or None, None


def _kind(stored: str | None, actor: str | None) -> str:
    if stored is not None and stored.startswith(IMPORT_PREFIX):
        return "import"
    if stored == "landing" or actor == "customer":
        return "landing"
    if actor is not None and actor.startswith("provider:"):
        return "provider"
    return "import" if stored is None and actor and "import" in actor else "unknown"


def from_entry(row: Entry) -> Source:
    """The source a writing audit row names: an import's file and line, or the page's message."""
    evidence = row.evidence or {}
    kind = _kind(None, row.actor)
    file, line = evidence.get("file"), _int(evidence.get("line"))
    if isinstance(file, str):
        kind = "import"
    return Source(
        kind=kind,
        stored=f"{IMPORT_PREFIX}{file}:{line}" if isinstance(file, str) else None,
        at=row.at,
        actor=row.actor,
        file=file if isinstance(file, str) else None,
        line=line,
        outreach_id=_int(evidence.get("outreach_id")),
    )


def parse_source(stored: str | None, at: datetime | None, rows: Sequence[Entry]) -> Source:
    """The current source of a record: its ``source`` column, with the newest writing row."""
    writes = [r for r in rows if r.action in WRITES]
    last = writes[-1] if writes else None
    if stored is None and last is not None:
        return from_entry(last)
    file, line = _file_line(stored) if stored and stored.startswith(IMPORT_PREFIX) else (None, None)
    outreach = _int((last.evidence or {}).get("outreach_id")) if last is not None else None
    return Source(
        kind=_kind(stored, last.actor if last else None),
        stored=stored,
        at=at,
        actor=last.actor if last else None,
        file=file,
        line=line,
        outreach_id=outreach if stored == "landing" else None,
    )


def origin(rows: Sequence[Entry]) -> Source | None:
    """Who first wrote the record, from its creating audit row (None when there is none)."""
    first = next((r for r in rows if r.action in CREATES), None)
    return from_entry(first) if first is not None else None
