"""Customer CSV import: bad rows are rejected, bad values kept as ``invalid``, every change audited.

A row naming an erased person (an external id the ``erasure_notice`` keeps, or an ``erased:``
marker) is rejected: the import never creates an erased person again.

Rows are applied in chunks of ``CHUNK_SIZE``: one query per table reads what is stored, the diff
is made in Python, and executemany writes the changes and their audit rows in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, union, update
from sqlalchemy.engine import Connection, Engine

from models.audit import AUDIT_TABLE
from models.importing.read_file import (
    POINT_FIELDS,
    REQUIRED_COLUMNS,
    ImportFileError,
    ImportReport,
    RejectRow,
    Row,
    RowRules,
    check_encoding,
    read_rows,
    sniff_delimiter,
)
from models.tables import CONTACT, ERASURE_NOTICE, PROFILE
from models.types import utcnow
from models.vocabulary import BOUNCED, CONTESTED, OPTED_OUT, VERIFIED, AuditAction

__all__ = ["REQUIRED_COLUMNS", "ImportFileError", "ImportReport", "RejectRow", "import_csv"]

CHUNK_SIZE: Final = 1000

P = PROFILE
C = CONTACT
PROFILE_FIELDS: Final = ("given_name", "family_name", "locale", "country")
ERASED: Final = "external_id of an erased person: not imported again"
# A different spelling of the same value (raw_value) alone is not a change.
POINT_DIFF_FIELDS: Final = tuple(f for f in POINT_FIELDS if f != "raw_value")


@dataclass(frozen=True)
class _Context:
    now: datetime
    source_name: str
    actor: str
    default_locale: str


# ---------------------------------------------------------------------------- applying a chunk


def _same_value(kind: str, stored: str, wanted: str) -> bool:
    if kind in ("email", "postal"):  # mailbox names are case-insensitive in practice
        return stored.casefold() == wanted.casefold()
    return stored == wanted


def _merge_point(kind: str, stored: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """What the stored contact point should become; what Enrich learned itself is kept."""
    if not _same_value(kind, stored["value"], wanted["value"]):
        return wanted  # a new value: its status is the file's, earlier verification is void
    merged = {**wanted, "value": stored["value"]}
    merged["verified_at"] = stored["verified_at"]
    merged["verification_method"] = stored["verification_method"]
    if stored["status"] == CONTESTED:
        # The customer said this value is wrong; the CRM sending it again proves nothing.
        merged.update(status=CONTESTED, invalid_reason=stored["invalid_reason"])
    elif stored["status"] in (VERIFIED, BOUNCED):
        newer = [t for t in (stored["verified_at"], stored["bounced_at"]) if t is not None]
        csv_bounce = wanted["bounced_at"]
        if csv_bounce is None or (newer and csv_bounce <= max(newer)):
            merged.update(
                status=stored["status"],
                bounced_at=stored["bounced_at"],
                invalid_reason=stored["invalid_reason"],
            )
    return merged


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


class _Chunk:
    """One chunk of rows: read what is stored in one query per table, diff, write in bulk."""

    def __init__(self, conn: Connection, report: ImportReport, ctx: _Context) -> None:
        self.conn, self.report, self.ctx = conn, report, ctx
        self.audits: list[dict[str, Any]] = []
        self.touched: set[str] = set()  # external ids of existing profiles that changed
        self.new_ids: set[str] = set()

    def source(self, row: Row) -> str:
        return f"import:{self.ctx.source_name}:{row.line}"

    def stamps(self, *, created: bool) -> dict[str, Any]:
        """Values shared by every row of a statement: bound once, not once per row."""
        now = self.ctx.now
        return {"source_at": now, "updated_at": now, **({"created_at": now} if created else {})}

    def audit(self, row: Row, action: AuditAction, entity_id: int, profile_id: int,
              before: dict[str, Any] | None, after: dict[str, Any]) -> None:  # fmt: skip
        self.audits.append({
            "action": action, "entity_type": action.split(".")[0], "entity_id": entity_id,
            "profile_id": profile_id, "before": _jsonable(before), "after": _jsonable(after),
            "evidence": {"file": self.ctx.source_name, "line": row.line,
                         **({"notes": row.notes} if row.notes else {})},
        })  # fmt: skip

    def refuse_erased(self, rows: list[Row]) -> list[Row]:
        """The rows that name no erased person; the others are rejected in the report."""
        ids = [row.external_id for row in rows]
        n, p = ERASURE_NOTICE.c, P.c
        query = union(
            select(n.external_id).where(n.external_id.in_(ids)),
            select(p.external_id).where(p.external_id.in_(ids), p.erased_at.is_not(None)),
        )
        erased = set(self.conn.execute(query).scalars())
        for row in rows:
            if row.external_id in erased:
                self.report.add(row.line, "external_id", row.external_id, ERASED, "rejected")
                self.report.rows_erased += 1
        return [row for row in rows if row.external_id not in erased]

    def apply(self, rows: list[Row]) -> None:
        rows = self.refuse_erased(rows)
        if not rows:
            return
        ids = [row.external_id for row in rows]
        query = select(P.c.id, P.c.external_id, *(P.c[f] for f in PROFILE_FIELDS))
        stored = {
            r["external_id"]: dict(r)
            for r in self.conn.execute(query.where(P.c.external_id.in_(ids))).mappings()
        }
        points: dict[tuple[int, str], dict[str, Any]] = {}
        if stored:
            query = (
                select(C.c.id, C.c.profile_id, C.c.kind, *(C.c[f] for f in POINT_FIELDS))
                .where(C.c.profile_id.in_([p["id"] for p in stored.values()]))
                .where(C.c.is_primary.is_(True))
                .order_by(C.c.id)
            )
            for point in self.conn.execute(query).mappings():
                points.setdefault((point["profile_id"], point["kind"]), dict(point))
        new_rows = [row for row in rows if row.external_id not in stored]
        self.new_ids = {row.external_id for row in new_rows}
        self.update_profiles([row for row in rows if row.external_id in stored], stored)
        self.create_profiles(new_rows, stored)
        self.write_points(rows, stored, points)
        fixed = {"at": self.ctx.now, "actor": self.ctx.actor, "reason": "import"}
        # Creations have no "before": leaving the column out stores NULL without a JSON encode.
        for group in (
            [a for a in self.audits if a["before"] is not None],
            [
                {k: v for k, v in a.items() if k != "before"}
                for a in self.audits
                if a["before"] is None
            ],
        ):
            if group:
                self.conn.execute(insert(AUDIT_TABLE).values(fixed), group)
        updated = len(self.touched)
        self.report.profiles_created += len(new_rows)
        self.report.profiles_updated += updated
        self.report.profiles_unchanged += len(rows) - len(new_rows) - updated

    def update_profiles(self, rows: list[Row], stored: dict[str, dict[str, Any]]) -> None:
        updates = []
        for row in rows:
            old = stored[row.external_id]
            changed = {f: v for f, v in row.profile.items() if old[f] != v}
            if changed:
                self.touched.add(row.external_id)
                new = {f: changed.get(f, old[f]) for f in PROFILE_FIELDS}
                updates.append({"id": old["id"], **new, "source": self.source(row)})
                before = {f: old[f] for f in changed}
                self.audit(row, AuditAction.PROFILE_UPDATE, old["id"], old["id"], before, changed)
        _update_many(self.conn, P, updates, self.stamps(created=False))

    def create_profiles(self, rows: list[Row], stored: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        empty = {"given_name": None, "family_name": None, "country": None}
        values = [
            {**empty, "locale": self.ctx.default_locale, **row.profile,
             "external_id": row.external_id, "source": self.source(row)}
            for row in rows
        ]  # fmt: skip
        # Plain executemany, then one SELECT for the new ids: RETURNING with parameter order
        # falls back to one statement per row on SQLite.
        self.conn.execute(insert(P).values(self.stamps(created=True)), values)
        query = select(P.c.external_id, P.c.id).where(P.c.external_id.in_(self.new_ids))
        new_ids: dict[str, int] = dict(self.conn.execute(query).tuples().all())
        for row, value in zip(rows, values, strict=True):
            new_id = new_ids[row.external_id]
            stored[row.external_id] = {"id": new_id}
            after = {f: value[f] for f in ("external_id", *PROFILE_FIELDS)}
            self.audit(row, AuditAction.PROFILE_CREATE, new_id, new_id, None, after)

    def write_points(
        self, rows: list[Row], stored: dict[str, dict[str, Any]],
        points: dict[tuple[int, str], dict[str, Any]],
    ) -> None:  # fmt: skip
        inserts: list[tuple[Row, dict[str, Any]]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            profile_id = stored[row.external_id]["id"]
            for kind, wanted in row.points.items():
                old = points.get((profile_id, kind))
                if old is None:
                    value = {**wanted, "profile_id": profile_id, "kind": kind}
                    inserts.append((row, {**value, "source": self.source(row)}))
                elif old["status"] == OPTED_OUT:  # an opt-out is never undone by an import
                    self.report.opted_out_kept += 1
                    continue
                else:
                    merged = _merge_point(kind, old, wanted)
                    changed = [f for f in POINT_DIFF_FIELDS if merged[f] != old[f]]
                    if not changed:
                        continue
                    updates.append({"id": old["id"], **merged, "source": self.source(row)})
                    before = {"kind": kind, **{f: old[f] for f in changed}}
                    after = {"kind": kind, **{f: merged[f] for f in changed}}
                    self.audit(
                        row, AuditAction.CONTACT_POINT_UPDATE, old["id"], profile_id, before, after
                    )
                if row.external_id not in self.new_ids:
                    self.touched.add(row.external_id)
        if inserts:
            # A new point was never verified: those columns keep their NULL default.
            new_points = [
                {k: v for k, v in value.items() if k not in ("verified_at", "verification_method")}
                for _, value in inserts
            ]
            fixed = {"is_primary": True, **self.stamps(created=True)}
            self.conn.execute(insert(C).values(fixed), new_points)
            # A profile has at most one primary point per kind, and we only inserted where
            # there was none: (profile_id, kind) finds the new rows.
            query = select(C.c.profile_id, C.c.kind, C.c.id).where(
                C.c.profile_id.in_({v["profile_id"] for _, v in inserts}), C.c.is_primary.is_(True)
            )
            new_ids = {(pid, kind): cid for pid, kind, cid in self.conn.execute(query).tuples()}
            for row, value in inserts:
                new_id = new_ids[(value["profile_id"], value["kind"])]
                after = {f: value[f] for f in ("kind", *POINT_FIELDS) if value[f] is not None}
                self.audit(
                    row, AuditAction.CONTACT_POINT_CREATE, new_id, value["profile_id"], None, after
                )
        _update_many(self.conn, C, updates, self.stamps(created=False))


def _update_many(
    conn: Connection, table: Any, params: list[dict[str, Any]], fixed: dict[str, Any]
) -> None:
    """One executemany UPDATE by primary key; every params dict carries the same keys."""
    if not params:
        return
    # Bind names must differ from column names in an UPDATE's SET clause.
    columns = [k for k in params[0] if k != "id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}", type_=table.c[c].type) for c in columns})
        .values(fixed)
    )
    conn.execute(statement, [{f"b_{k}": v for k, v in p.items()} for p in params])


# ---------------------------------------------------------------------------- the entry point


def import_csv(
    *,
    engine: Engine,
    path: Path,
    source_name: str,
    default_region: str,
    supported_locales: list[str] | tuple[str, ...],
    default_locale: str,
    encoding: str = "utf-8",
    actor: str = "system:import",
    now: datetime | None = None,
) -> ImportReport:
    """Import customers from ``path``; each chunk of rows is one transaction with its audit rows.

    An empty cell never clears a stored value: a CRM export missing a value is not proof that
    the value is wrong. Raises :class:`ImportFileError` when the file cannot be read at all.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"file not found: {path.name}")
    check_encoding(path, encoding)
    report = ImportReport(source_name=source_name)
    ctx = _Context(now or utcnow(), source_name, actor, default_locale)
    rules = RowRules(default_region, tuple(supported_locales), default_locale)
    with path.open(encoding=encoding, newline="") as handle:
        delimiter = sniff_delimiter(handle.readline())
        handle.seek(0)
        chunk: list[Row] = []
        for row in read_rows(handle, delimiter, report, rules):
            chunk.append(row)
            if len(chunk) >= CHUNK_SIZE:
                with engine.begin() as conn:
                    _Chunk(conn, report, ctx).apply(chunk)
                chunk = []
        if chunk:
            with engine.begin() as conn:
                _Chunk(conn, report, ctx).apply(chunk)
    return report
