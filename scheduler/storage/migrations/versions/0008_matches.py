"""Matches: each member's accept/decline answer to a meeting, and the rating of a "did you meet?" answer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

Two new tables; nothing stored before this revision changes. ``match_rsvps`` keeps one answer per member and
meeting (a later one replaces it), by person id, so deleting a person deletes their answers; ``feedback_ratings``
the optional 1–5 rating of a ``feedback`` row, in a table of its own so that answers given before it simply
have none. Both go with their meeting, person or answer (CASCADE). The downgrade drops them: the answers and
ratings are lost, the meetings and feedback are not.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``match_rsvps`` and ``feedback_ratings``."""
    op.create_table(
        "match_rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(32), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("answer IN ('accepted', 'declined')", name=op.f("ck_match_rsvps_answer")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_match_rsvps_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_match_rsvps_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_rsvps")),
        sa.UniqueConstraint("meeting_id", "person_id", name=op.f("uq_match_rsvps_meeting_id_person_id")),
    )
    op.create_index(op.f("ix_match_rsvps_person_id"), "match_rsvps", ["person_id"])
    op.create_table(
        "feedback_ratings",
        sa.Column("feedback_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_ratings_rating")),
        sa.ForeignKeyConstraint(
            ["feedback_id"], ["feedback.id"], name=op.f("fk_feedback_ratings_feedback_id_feedback"),
            ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_feedback_ratings")),
    )


def downgrade() -> None:
    """Undo: drop both tables."""
    op.drop_table("feedback_ratings")
    op.drop_index(op.f("ix_match_rsvps_person_id"), table_name="match_rsvps")
    op.drop_table("match_rsvps")
