"""Program changes made on the site: the settings an admin changed, layered over the configuration file.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

Programs are defined in the configuration file; the admin's programs page may change a program's cadence,
kind, group size, rules and weights. Only what differs from the file is kept, one row per program, as JSON
(``{"cooldown_cycles": 4, "weights": {"never_met": 5.0}}``), with who changed it and when. A new table: nothing
stored before this revision changes, and the downgrade drops it (programs fall back to the file).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create ``program_changes`` (one row per program an admin changed on the site)."""
    op.create_table(
        "program_changes",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("changed_by", sa.String(320), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Undo: drop the table (the site's changes are lost; the configuration file stands)."""
    op.drop_table("program_changes")
