"""Effects that go stale: a reminder is not sent once its meeting has begun.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

- ``outbox_effects.stale_at``: when set, the moment past which the effect means nothing any more; a relay that
  comes to it later supersedes it unsent. Effects stored before this revision have none and behave as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``outbox_effects.stale_at`` (empty for every effect already stored)."""
    with op.batch_alter_table("outbox_effects", recreate="never") as batch:
        batch.add_column(sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Undo: drop ``outbox_effects.stale_at`` (stale reminders would then be sent late again)."""
    with op.batch_alter_table("outbox_effects", recreate="never") as batch:
        batch.drop_column("stale_at")
