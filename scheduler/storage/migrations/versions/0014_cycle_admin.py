"""The admin's cycle page: who may see a feedback comment (issue 15, part 6).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``feedback.comment_shared``: whether the writer of a "did you meet?" answer allowed the organisers to read
  its comment. NOT NULL with the server default ``'0'`` (false), so every answer stored before this revision
  stays private: nobody was asked. The literal string, as in 0003, lets SQLite add the column with a plain
  ``ALTER TABLE … ADD COLUMN``, and both databases read ``'0'`` as false.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``feedback.comment_shared`` (false for every answer already stored)."""
    with op.batch_alter_table("feedback", recreate="never") as batch:
        batch.add_column(sa.Column("comment_shared", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Undo: drop ``feedback.comment_shared`` (every comment is private again; the comments stay)."""
    with op.batch_alter_table("feedback", recreate="never") as batch:
        batch.drop_column("comment_shared")
