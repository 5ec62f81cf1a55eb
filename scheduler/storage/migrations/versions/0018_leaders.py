"""Leader programs: leaders' monthly capacity and requests to meet a leader (issue 15, part 4).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.
"""

from collections.abc import Sequence

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
