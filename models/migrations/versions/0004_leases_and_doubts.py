"""leases on enrollments (one run per due step) and the reason a message is in doubt

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(
            sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch.add_column(
            sa.Column("lease_expires_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_enrollment_lease_owner",
        "enrollment",
        ["lease_owner"],
        unique=False,
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
    )
    with op.batch_alter_table("outreach") as batch:
        batch.add_column(
            sa.Column("doubt_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outreach") as batch:
        batch.drop_column("doubt_reason")
    op.drop_index("ix_enrollment_lease_owner", table_name="enrollment")
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
