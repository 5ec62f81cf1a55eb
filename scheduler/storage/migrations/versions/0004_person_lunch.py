"""A person's own lunch hours, which replace their office's for lunch programs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` cannot change what an old migration does.

Two nullable ``TIME`` columns, the type ``work_start`` and ``work_end`` already round-trip through on both
databases (PostgreSQL ``time without time zone``; SQLite text that SQLAlchemy reads back as a ``time``). Both
empty means "the office's lunch hours": what every person stored before this revision gets, with no default to
write. The application sets both or neither.

Nullable columns with no default are a plain ``ALTER TABLE … ADD COLUMN`` on SQLite too. The downgrade drops
them with SQLite's own ``ALTER TABLE … DROP COLUMN`` (SQLite 3.35 or newer) for the reason 0002 gives: a rebuilt
``people`` table would unlink every group member.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``people.lunch_start`` and ``people.lunch_end`` (empty: the office's lunch hours)."""
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("lunch_start", sa.Time(), nullable=True))
        batch.add_column(sa.Column("lunch_end", sa.Time(), nullable=True))


def downgrade() -> None:
    """Undo: drop the two columns (everyone is back on their office's lunch hours)."""
    with op.batch_alter_table("people", recreate="never") as batch:
        batch.drop_column("lunch_end")
        batch.drop_column("lunch_start")
