"""People's wishlist and block list; the program's relax rule.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` cannot change what an old migration does.

The new columns are NOT NULL with a server default, so the rows already there get an empty list and
``"cooldown"`` (what ``model.Person`` and ``model.Program`` default to). New weights need no migration: the
``programs.weights`` JSON of older rows simply lacks them, and reading falls back to the defaults.

On SQLite, batch mode adds a column with a plain ``ALTER TABLE … ADD COLUMN``, as long as the server default
is a literal string (a SQL expression would make Alembic rebuild the table). Dropping a column would also
rebuild the table by default, and rebuilding ``people`` with foreign keys switched on (``uow`` switches them
on for every connection) would run ``ON DELETE SET NULL`` on ``group_members.person_id`` when the old table is
dropped, unlinking every group member. So the downgrade asks for SQLite's own ``ALTER TABLE … DROP COLUMN``
(SQLite 3.35 or newer) instead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
CODE = sa.String(length=32)


def upgrade() -> None:
    """Add ``people.wishlist`` and ``people.blocked`` (JSON lists) and ``programs.relax``."""
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("wishlist", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("blocked", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("relax", CODE, nullable=False, server_default="cooldown"))


def downgrade() -> None:
    """Undo: drop the three columns (what they held is lost)."""
    with op.batch_alter_table("programs", recreate="never") as batch:
        batch.drop_column("relax")
    with op.batch_alter_table("people", recreate="never") as batch:
        batch.drop_column("blocked")
        batch.drop_column("wishlist")
