"""Delivery: who sends a program's invitations, and superseded outbox effects.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` cannot change what an old migration does.

- ``programs.invites``: ``email`` (Coffee Chat sends iMIP emails), ``google`` or ``microsoft`` (the provider
  creates the event and sends the invitations). NOT NULL with the server default ``'email'``, so every program
  stored before this revision keeps sending its own invitations, as it did.
- ``outbox_effects.state`` may also be ``superseded``: a reminder, feedback request or invite of a meeting
  that was rescheduled or cancelled since it was planned, kept for the record and never performed. Changing a
  CHECK constraint rebuilds the table on SQLite (batch mode copies the rows; nothing refers to this table).
  The downgrade parks superseded effects as ``dead`` (with the reason kept in ``last_error``), which an older
  release shows to the admin and does not send.

``meetings.state`` gains the value ``cancelled`` with no schema change: the column is free text of 32
characters, checked by the application.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('pending', 'in_flight', 'done', 'dead')"
NEW_STATES = "state IN ('pending', 'in_flight', 'done', 'dead', 'superseded')"


def upgrade() -> None:
    """Add ``programs.invites`` (``email`` for every stored program) and allow superseded effects."""
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("invites", sa.String(length=32), nullable=False, server_default="email"))
    with op.batch_alter_table("outbox_effects", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_outbox_effects_state"), type_="check")
        batch.create_check_constraint("state", NEW_STATES)


def downgrade() -> None:
    """Undo: superseded effects become dead (never sent), the old states' check returns, ``invites`` goes."""
    op.execute(
        "UPDATE outbox_effects SET state = 'dead', last_error = 'superseded: ' || last_error "
        "WHERE state = 'superseded'"
    )
    with op.batch_alter_table("outbox_effects", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_outbox_effects_state"), type_="check")
        batch.create_check_constraint("state", OLD_STATES)
    with op.batch_alter_table("programs", recreate="never") as batch:
        batch.drop_column("invites")
