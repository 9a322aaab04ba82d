"""the steward's report: fields verified at enrollment, a round's forecast, link opens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields_at_start", sa.Integer(), nullable=True))
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forecast", models.types.JSONType, nullable=True))
    with op.batch_alter_table("verification_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opened_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_token", schema=None) as batch_op:
        batch_op.drop_column("opened_at")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_column("forecast")
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("fields_at_start")
