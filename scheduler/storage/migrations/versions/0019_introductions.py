"""Introductions through a connector who knows both (issue 15, part 4).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.
"""

from collections.abc import Sequence

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
