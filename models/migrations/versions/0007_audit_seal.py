"""audit seal: the hash chain over audit rows, their personal data apart

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00

Adds the chain columns to ``audit_event``, the ``audit_personal`` side table, and the triggers
that refuse to change or delete a sealed row (and to change a personal part, which may only be
deleted: that is erasure).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED = "audit_event row is sealed into the audit chain: it cannot be {}"
PERSONAL = "audit_personal rows cannot be changed, only deleted (erasure)"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_sealed_no_update BEFORE UPDATE ON audit_event
    WHEN OLD.row_hash IS NOT NULL
    BEGIN SELECT RAISE(ABORT, '{SEALED.format("updated")}'); END""",
    f"""CREATE TRIGGER audit_event_sealed_no_delete BEFORE DELETE ON audit_event
    WHEN OLD.row_hash IS NOT NULL
    BEGIN SELECT RAISE(ABORT, '{SEALED.format("deleted")}'); END""",
    f"""CREATE TRIGGER audit_personal_no_update BEFORE UPDATE ON audit_personal
    BEGIN SELECT RAISE(ABORT, '{PERSONAL}'); END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION audit_event_refuse_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event row is sealed into the audit chain: it cannot be %',
            CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_event_sealed_no_change BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW WHEN (OLD.row_hash IS NOT NULL) EXECUTE FUNCTION audit_event_refuse_sealed()""",
    f"""CREATE FUNCTION audit_personal_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{PERSONAL}' USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    """CREATE TRIGGER audit_personal_no_update BEFORE UPDATE ON audit_personal
    FOR EACH ROW EXECUTE FUNCTION audit_personal_refuse_update()""",
]


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("row_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("personal_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sealed_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("uq_audit_event_seq", ["seq"], unique=True)
        batch_op.create_index(
            "ix_audit_event_unsealed",
            ["id"],
            unique=False,
            sqlite_where=sa.text("row_hash IS NULL"),
            postgresql_where=sa.text("row_hash IS NULL"),
        )
    op.create_table(
        "audit_personal",
        sa.Column("audit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("salt", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("data", models.types.JSONType, nullable=True),
        sa.ForeignKeyConstraint(["audit_id"], ["audit_event.id"]),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    with op.batch_alter_table("audit_personal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_personal_profile_id"), ["profile_id"], unique=False
        )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_personal_no_update ON audit_personal")
        op.execute("DROP TRIGGER audit_event_sealed_no_change ON audit_event")
        op.execute("DROP FUNCTION audit_personal_refuse_update()")
        op.execute("DROP FUNCTION audit_event_refuse_sealed()")
    else:
        for name in ("audit_event_sealed_no_update", "audit_event_sealed_no_delete"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TRIGGER audit_personal_no_update")
    with op.batch_alter_table("audit_personal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_personal_profile_id"))
    op.drop_table("audit_personal")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_unsealed")
        batch_op.drop_index("uq_audit_event_seq")
        for column in ("sealed_at", "personal_digest", "row_hash", "prev_hash", "seq"):
            batch_op.drop_column(column)
