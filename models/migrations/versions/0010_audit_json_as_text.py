"""audit JSON as written: PostgreSQL keeps the audit trail's JSON as text; no TRUNCATE of it

On PostgreSQL the audit trail's JSON columns become ``json`` (the text as written) instead of
``jsonb`` (parsed, re-spelled on output), so the verifier reads back the canonical bytes that
were hashed. Sealed rows are re-spelled canonically once, here; their hashes do not change
(they cover the canonical form, which is the same value). A statement trigger refuses
``TRUNCATE`` of the trail, which the row triggers do not see. SQLite keeps JSON as text already
and has no ``TRUNCATE``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:00:00
"""

import json
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from models.audit_trail.canonical import stored_text

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {"audit_event": ("before", "after", "evidence"), "audit_personal": ("data",)}
KEYS = {"audit_event": "id", "audit_personal": "audit_id"}
ROW_TRIGGERS = {
    "audit_event": "audit_event_sealed_no_change",
    "audit_personal": "audit_personal_no_update",
}
BATCH = 5000
NO_TRUNCATE = [
    """CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is the audit trail: it cannot be truncated', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()""",
    """CREATE TRIGGER audit_personal_no_truncate BEFORE TRUNCATE ON audit_personal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()""",
]


def _respell(table: str) -> None:
    """Every row's JSON in its canonical spelling, in batches by key."""
    conn = op.get_bind()
    key, columns = KEYS[table], COLUMNS[table]
    read = ", ".join(f"CAST({c} AS text)" for c in columns)
    sets = ", ".join(f"{c} = CAST(:{c} AS json)" for c in columns)
    last = -1
    while rows := conn.execute(
        text(f"SELECT {key}, {read} FROM {table} WHERE {key} > :last ORDER BY {key} LIMIT {BATCH}"),
        {"last": last},
    ).all():
        changed = []
        for row_key, *texts in rows:
            spelled = [None if t is None else stored_text(json.loads(t)) for t in texts]
            if spelled != list(texts):
                changed.append({"k": row_key, **dict(zip(columns, spelled, strict=True))})
        if changed:
            conn.execute(text(f"UPDATE {table} SET {sets} WHERE {key} = :k"), changed)
        last = rows[-1][0]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {ROW_TRIGGERS[table]}")
        _respell(table)
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {ROW_TRIGGERS[table]}")
    for statement in NO_TRUNCATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER audit_personal_no_truncate ON audit_personal")
    op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    op.execute("DROP FUNCTION audit_refuse_truncate()")
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb"
            )
