"""Introductions through a connector who knows both (issue 15, part 4).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``introductions``: one row per (asker, wished): a person on the asker's wishlist they never met, the connector
  asked to introduce them (someone who met both), the state (``asked``, ``introduced``, ``not_now``,
  ``declined``), when it was asked and when answered. Deleting the asker or the person wished for deletes the
  row; deleting the connector empties ``connector_id``. Nothing is carried over: the next cycle asks.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``introductions``."""
    op.create_table(
        "introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("wished_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asker_id"], ["people.id"], name=op.f("fk_introductions_asker_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wished_id"], ["people.id"], name=op.f("fk_introductions_wished_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["connector_id"], ["people.id"], name=op.f("fk_introductions_connector_id_people"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introductions")),
        sa.UniqueConstraint("asker_id", "wished_id", name=op.f("uq_introductions_asker_id_wished_id")),
    )


def downgrade() -> None:
    """Undo: drop ``introductions`` (requests and their answers are forgotten; the next cycle asks again)."""
    op.drop_table("introductions")
