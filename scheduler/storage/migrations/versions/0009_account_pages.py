"""Account pages: no schema change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

The revision was reserved for the account pages (profile, wishlist and block list, pause, calendar source,
history, export, deletion). They turned out to need no new table or column: everything they edit is already on
``people``, and deleting an account removes rows from the existing tables (``scheduler.profile``). The revision
stays, empty, so that the numbering others build on does not move; upgrading and downgrading it change nothing.
"""

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the account pages use the existing tables."""


def downgrade() -> None:
    """Nothing to undo."""
