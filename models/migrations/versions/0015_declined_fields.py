"""a customer can say they have no email or no mobile

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 20:10:00

- ``profile.email_declined_at`` and ``profile.mobile_declined_at``: when the customer last said
  on the landing page that they have no email address or no mobile number. Within the
  configured period (``declined_field_days``) that gap counts as closed: it is not asked again
  and an enrollment waiting for it completes. A value given later withdraws the statement.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("profile", schema=None) as batch_op:
        for column in ("email_declined_at", "mobile_declined_at"):
            batch_op.add_column(
                sa.Column(column, models.types.UTCDateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    with op.batch_alter_table("profile", schema=None) as batch_op:
        batch_op.drop_column("mobile_declined_at")
        batch_op.drop_column("email_declined_at")
