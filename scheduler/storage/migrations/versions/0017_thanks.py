"""Thank-you notes after a meeting (issue 15, part 4).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``thanks``: one row per thank-you note a member wrote to a partner after a meeting they said they met in:
  the meeting, the writer's and the recipient's addresses, whether the writer chose to tell the recipient's
  manager, and when. Never the note's text: that lives only in the email. One note per (meeting, writer,
  recipient); the rows go with their meeting, and with either person when an account is deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``thanks``."""
    op.create_table(
        "thanks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("writer", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("shared_with_manager", sa.Boolean(), nullable=False),
        sa.Column("thanked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_thanks_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thanks")),
        sa.UniqueConstraint("meeting_id", "writer", "recipient", name=op.f("uq_thanks_meeting_id_writer_recipient")),
    )


def downgrade() -> None:
    """Undo: drop ``thanks`` (the counts of thank-you notes are forgotten; the emails already queued stay)."""
    op.drop_table("thanks")
