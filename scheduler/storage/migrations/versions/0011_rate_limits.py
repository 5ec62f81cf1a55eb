"""Rate limits kept in the database, so that every web worker counts against the same allowance.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``rate_limits``: one token bucket per (area, client address), stored as a single number: ``full_at``, the
  time (seconds since the epoch) at which the bucket would be full again (the "theoretical arrival time" of the
  generic cell rate algorithm). A row whose ``full_at`` has passed is the same as no row, so ``tick`` deletes
  those. No index on ``full_at``: every request would pay for it, and the table holds only the clients of the
  last hour, which ``tick`` scans in a moment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``rate_limits``."""
    op.create_table(
        "rate_limits",
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("full_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("area", "client", name=op.f("pk_rate_limits")),
    )


def downgrade() -> None:
    """Drop ``rate_limits``: every client starts again with a full allowance."""
    op.drop_table("rate_limits")
