"""People who stop answering: activity, 'still in?' asks and pauses (issue 15, part 2).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``engagement``: one row per person who used one of our signed links or was asked "still in?": when they last
  used a link (``link_used_at``, a sign of life the other tables do not hold), when they were last asked
  (``asked_at``) and last paused for silence (``paused_at``). Keyed by the person's id and deleted with them.
  No row is needed for anyone else, so nothing is carried over: every person starts with no question and no
  pause, and their other signs of life (answers, sign-ins) are read where they already are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``engagement``."""
    op.create_table(
        "engagement",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("link_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_engagement_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_engagement")),
    )


def downgrade() -> None:
    """Undo: drop ``engagement`` (questions asked and pauses for silence are forgotten; people paused for
    silence take part again)."""
    op.drop_table("engagement")
