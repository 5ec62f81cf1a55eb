"""Accounts of the web site: the admin's disabled flag, server-side sessions, and used single-use links.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` or ``storage/accounts.py`` cannot change what an old migration does.
(``orm.UtcDateTime`` stores as ``DateTime(timezone=True)``.)

- ``accounts``: one row per person who has signed in or been disabled (``person_id`` is also the key);
  ``disabled_at`` set means the admin disabled the account.
- ``sessions``: a signed-in browser. ``id`` is the SHA-256 (hex) of the random token in the cookie, so a copy of
  the table signs nobody in. ``revoked_at`` set (sign-out, disabled account) ends it before ``expires_at``.
- ``used_links``: the SHA-256 of the nonce of every emailed link that was used, so each works once;
  ``expires_at`` is when the link's signature runs out and the row can go.

Rows of ``accounts`` and ``sessions`` go with their person (``ON DELETE CASCADE``); ``used_links`` holds no
address at all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST = sa.String(length=64)  # SHA-256 in hex
CODE = sa.String(length=32)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp column (stored in UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create ``accounts``, ``sessions`` and ``used_links``."""
    op.create_table(
        "accounts",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        timestamp("created_at"),
        timestamp("disabled_at", nullable=True),
        timestamp("last_sign_in_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_accounts_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", DIGEST, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        timestamp("created_at"),
        timestamp("last_seen_at"),
        timestamp("expires_at"),
        timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_sessions_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_person_id"), "sessions", ["person_id"])
    op.create_table(
        "used_links",
        sa.Column("nonce_hash", DIGEST, nullable=False),
        sa.Column("purpose", CODE, nullable=False),
        timestamp("used_at"),
        timestamp("expires_at"),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_used_links")),
    )


def downgrade() -> None:
    """Undo: drop the three tables (everyone is signed out; used links would work again until they expire)."""
    op.drop_table("used_links")
    op.drop_index(op.f("ix_sessions_person_id"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("accounts")
