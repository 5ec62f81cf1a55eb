"""Programs for an audience and per-program opt-in (issue 15, part 5).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types.

``people.role`` is free text such as "engineer" or "leader", which a program's audience may name; the rows that
existed before it get "" (no role) from the server default, so the column can be NOT NULL at once. The new table
``program_choices`` holds one row per person and program they chose for: ``joined`` true (joined) or false
(left), and when. No row means the person never chose, which is what everyone has after this upgrade: programs
that take everyone in their audience go on as before. Rows are keyed by the person's id and go with the person
(CASCADE); programs are named, since they live in the configuration file. The downgrade drops the table (the
choices are lost) and the column, the latter with SQLite's own ``ALTER TABLE … DROP COLUMN`` for the reason
0002 gives: a rebuilt ``people`` table would unlink every group member.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``people.role`` (empty: no role) and create ``program_choices``."""
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("role", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "program_choices",
        sa.Column("person_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_program_choices_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", "program", name=op.f("pk_program_choices")),
    )
    op.create_index(op.f("ix_program_choices_program"), "program_choices", ["program"])


def downgrade() -> None:
    """Undo: drop ``program_choices`` and ``people.role``."""
    op.drop_index(op.f("ix_program_choices_program"), table_name="program_choices")
    op.drop_table("program_choices")
    with op.batch_alter_table("people", recreate="never") as batch:
        batch.drop_column("role")
