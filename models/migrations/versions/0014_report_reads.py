"""the steward's report reads a round's messages by their round, and its facts by index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:30:00

- ``outreach.round_id``: the round of the message's enrollment (none for a confirmation link or
  one-time code), filled in for the rows already there; with the partial index
  ``ix_outreach_round_ladder`` a round's ladder messages are one index range, in the order
  the report counts them (step, channel, status).
- ``ix_delivery_event_outreach_type`` (outreach, event type) takes the place of the index on
  ``outreach_id`` alone: a message's best event is read from the index.
- ``ix_verification_token_link_opened``: the personal links that opened the page.
- ``ix_submission_outreach``: the answers given through a message, with when they came.
- ``ix_enrollment_round_walk`` (round, state, step, wait reason, fields at the start) takes the
  place of ``ix_enrollment_round_state``: what the report counts of a round's enrollments is
  read from the index, in its order.
- ``ix_contact_point_verified``: the verified points not opted out, with when verified: what
  makes a field complete now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LADDER = sa.text("context IS NULL")
LINK_OPENED = sa.text("kind = 'link' AND opened_at IS NOT NULL")
THROUGH_MESSAGE = sa.text("outreach_id IS NOT NULL")
USABLE_PROOF = sa.text("status = 'verified' AND opted_out_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("outreach", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_outreach_round_id_round", "round", ["round_id"], ["id"])
    op.execute(
        "UPDATE outreach SET round_id = (SELECT enrollment.round_id FROM enrollment"
        " WHERE enrollment.id = outreach.enrollment_id) WHERE enrollment_id IS NOT NULL"
    )
    op.create_index(
        "ix_outreach_round_ladder",
        "outreach",
        ["round_id", "step_index", "channel", "status", "sent_at"],
        sqlite_where=LADDER,
        postgresql_where=LADDER,
    )
    op.drop_index("ix_delivery_event_outreach_id", table_name="delivery_event")
    op.create_index(
        "ix_delivery_event_outreach_type", "delivery_event", ["outreach_id", "event_type"]
    )
    op.create_index(
        "ix_verification_token_link_opened",
        "verification_token",
        ["outreach_id"],
        sqlite_where=LINK_OPENED,
        postgresql_where=LINK_OPENED,
    )
    op.create_index(
        "ix_contact_point_verified",
        "contact_point",
        ["profile_id", "kind", "verified_at"],
        sqlite_where=USABLE_PROOF,
        postgresql_where=USABLE_PROOF,
    )
    op.drop_index("ix_enrollment_round_state", table_name="enrollment")
    op.create_index(
        "ix_enrollment_round_walk",
        "enrollment",
        ["round_id", "state", "step_index", "wait_reason", "fields_at_start"],
    )
    op.create_index(
        "ix_submission_outreach",
        "submission",
        ["outreach_id", "received_at"],
        sqlite_where=THROUGH_MESSAGE,
        postgresql_where=THROUGH_MESSAGE,
    )


def downgrade() -> None:
    op.drop_index("ix_submission_outreach", table_name="submission")
    op.drop_index("ix_enrollment_round_walk", table_name="enrollment")
    op.drop_index("ix_contact_point_verified", table_name="contact_point")
    op.create_index("ix_enrollment_round_state", "enrollment", ["round_id", "state"])
    op.drop_index("ix_verification_token_link_opened", table_name="verification_token")
    op.drop_index("ix_delivery_event_outreach_type", table_name="delivery_event")
    op.create_index("ix_delivery_event_outreach_id", "delivery_event", ["outreach_id"])
    op.drop_index("ix_outreach_round_ladder", table_name="outreach")
    with op.batch_alter_table("outreach", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outreach_round_id_round", type_="foreignkey")
        batch_op.drop_column("round_id")
