"""Reserved: placeholder revision held for the lead's change; it changes nothing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

Revision 0010 belongs to another change in progress; this empty stand-in only lets 0011 (rate limits) follow
it on this branch. When both meet, the real 0010 replaces this file.
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: a placeholder."""


def downgrade() -> None:
    """Nothing: a placeholder."""
