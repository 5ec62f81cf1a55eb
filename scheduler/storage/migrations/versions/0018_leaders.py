"""Leader programs: the leaders managers suggest their reports meet (issue 15, part 4).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

The new table ``leader_suggestions`` holds one row per report and leader a manager suggested, keyed by both
people's ids, going with either person (CASCADE). A leader's capacity is a program setting (``leader_slots``,
from the configuration file), so nothing else changes. The downgrade drops the table (the suggestions are lost).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``leader_suggestions``."""
    op.create_table(
        "leader_suggestions",
        sa.Column("report_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("leader_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("suggested_by", sa.String(320), nullable=False),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["people.id"], name=op.f("fk_leader_suggestions_report_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["people.id"], name=op.f("fk_leader_suggestions_leader_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("report_id", "leader_id", name=op.f("pk_leader_suggestions")),
    )
    op.create_index(op.f("ix_leader_suggestions_leader_id"), "leader_suggestions", ["leader_id"])


def downgrade() -> None:
    """Undo: drop ``leader_suggestions``."""
    op.drop_index(op.f("ix_leader_suggestions_leader_id"), table_name="leader_suggestions")
    op.drop_table("leader_suggestions")
