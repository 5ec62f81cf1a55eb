"""A pair meets once per planning window across programs, and seniority levels may be named (issue 15, part 1).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``programs.once_per_window``: whether the program keeps apart two people another program already groups in
  an overlapping window. NOT NULL with the server default ``"1"`` (true, on both databases, as 0003 explains),
  so every program already stored keeps pairs apart: the rule the issue asks for.
- ``programs.seniority_levels``: the program's named seniority levels, lowest first, as a JSON array (JSONB on
  PostgreSQL); ``'[]'`` for the programs already stored, which counted numeric levels only, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Add ``programs.once_per_window`` (true) and ``programs.seniority_levels`` (empty) to every program."""
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("once_per_window", sa.Boolean(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("seniority_levels", JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    """Undo: drop both columns (programs then group pairs again whatever others did, and named levels are
    forgotten)."""
    with op.batch_alter_table("programs", recreate="never") as batch:
        batch.drop_column("seniority_levels")
        batch.drop_column("once_per_window")
