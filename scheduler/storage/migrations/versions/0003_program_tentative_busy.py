"""The program's tentative rule: whether events a calendar marks tentative count as busy.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` cannot change what an old migration does.

The setting used to be one ``calendar.tentative_busy`` key for the whole configuration, defaulting to true;
it is now a program's. The new column is NOT NULL with a server default, so the rows already there get true:
what ``model.Program`` defaults to and what every program did before.

The server default is the literal ``"1"``, not ``sa.true()``: on SQLite, batch mode adds a column with a plain
``ALTER TABLE … ADD COLUMN`` only while the default is a literal string (a SQL expression makes Alembic rebuild
the table), and both databases read ``'1'`` as true (SQLite stores the integer 1, PostgreSQL casts it to
``true``). The downgrade drops the column with SQLite's own ``ALTER TABLE … DROP COLUMN`` (SQLite 3.35 or newer)
for the reason 0002 gives.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``programs.tentative_busy`` (true for every program already stored)."""
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("tentative_busy", sa.Boolean(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Undo: drop ``programs.tentative_busy`` (what it held is lost)."""
    with op.batch_alter_table("programs", recreate="never") as batch:
        batch.drop_column("tentative_busy")
