"""erasure notice: the CRM's key of each erased person, for the CRM and against a re-import

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_notice",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("erased_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("profile_id"),
    )
    with op.batch_alter_table("erasure_notice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_notice_external_id"), ["external_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("erasure_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_notice_external_id"))
    op.drop_table("erasure_notice")
