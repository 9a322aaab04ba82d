"""exhausted cool-down: a partial index of each profile's exhausted enrollments

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollment_exhausted_profile",
            ["profile_id", "ended_at"],
            unique=False,
            sqlite_where=sa.text("state = 'exhausted'"),
            postgresql_where=sa.text("state = 'exhausted'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_enrollment_exhausted_profile",
            sqlite_where=sa.text("state = 'exhausted'"),
            postgresql_where=sa.text("state = 'exhausted'"),
        )
