"""incentive entries: who took part in a campaign's prize draw or discount, and who earned it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:30:00

- ``incentive_entry``: one row per enrollment whose customer agreed to the campaign's incentive
  terms on the landing page (the terms' key, version and sha256 of the text shown), and when the
  enrollment's completion earned it (``earned_at``). Deleted when the person is erased.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "incentive_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("incentive_key", text(length=64), nullable=False),
        sa.Column("terms_version", text(length=64), nullable=False),
        sa.Column("terms_sha256", text(length=64), nullable=False),
        sa.Column("entered_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("earned_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enrollment_id", name="uq_incentive_entry_enrollment"),
    )
    with op.batch_alter_table("incentive_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incentive_entry_profile_id"), ["profile_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incentive_entry_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incentive_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incentive_entry_round_id"))
        batch_op.drop_index(batch_op.f("ix_incentive_entry_profile_id"))
    op.drop_table("incentive_entry")
