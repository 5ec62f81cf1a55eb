"""Calendar gaps: who in a cycle was planned without calendar data, and why.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

A person whose calendar could not be read (mailbox not found, no permission, provider down) is still planned,
on working hours alone; the cycle keeps the reason so that an admin can fix the calendar before the next one.
Only the reason in plain words is kept, never anything read from the calendar. A new table: nothing stored
before this revision changes, and the downgrade drops it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``calendar_gaps`` (one row per person of a cycle planned without calendar data)."""
    op.create_table(
        "calendar_gaps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("cycle_id", sa.Integer(), sa.ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_calendar_gaps_cycle_id", "calendar_gaps", ["cycle_id"])


def downgrade() -> None:
    """Undo: drop the table (the reasons are lost; the cycles are not)."""
    op.drop_index("ix_calendar_gaps_cycle_id", table_name="calendar_gaps")
    op.drop_table("calendar_gaps")
