"""Initial schema: people, programs, cycles with their groups and meetings, history, feedback, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Migrations are frozen history: use plain SQLAlchemy types here, never the application's models or types,
so that a later change to ``orm.py`` cannot change what an old migration does. (``orm.UtcDateTime`` stores
as ``DateTime(timezone=True)``; the JSON columns are JSONB on PostgreSQL.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EMAIL = sa.String(length=320)
CODE = sa.String(length=32)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp column (stored in UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table of the first release."""
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("team", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("office", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("work_days", JSON, nullable=False),
        sa.Column("work_start", sa.Time(), nullable=False),
        sa.Column("work_end", sa.Time(), nullable=False),
        sa.Column("calendar_kind", CODE, nullable=False),
        sa.Column("calendar_location", sa.Text(), nullable=False),
        sa.Column("kinds", JSON, nullable=False),
        sa.Column("mode", CODE, nullable=False),
        sa.Column("cadence", CODE, nullable=False),
        sa.Column("interests", JSON, nullable=False),
        sa.Column("seniority", sa.Text(), nullable=False),
        sa.Column("manager", sa.Text(), nullable=False),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        timestamp("verified_at", nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("email", name=op.f("uq_people_email")),
    )
    op.create_table(
        "programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", CODE, nullable=False),
        sa.Column("cadence", CODE, nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("cooldown_cycles", sa.Integer(), nullable=False),
        sa.Column("meeting_mode", CODE, nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("min_notice_hours", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("weights", JSON, nullable=False),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("name", name=op.f("uq_programs_name")),
    )
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=200), nullable=False),
        timestamp("window_start"),
        timestamp("window_end"),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("state", CODE, nullable=False),
        timestamp("created_at"),
        sa.CheckConstraint("state IN ('planned', 'delivered', 'closed')", name=op.f("ck_cycles_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycles")),
        sa.UniqueConstraint("program", "window_start", name=op.f("uq_cycles_program_window_start")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_groups_cycle_id_cycles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_index(op.f("ix_groups_cycle_id"), "groups", ["cycle_id"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_group_members_person_id_people"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("group_id", "position", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "email", name=op.f("uq_group_members_group_id_email")),
    )
    op.create_index(op.f("ix_group_members_email"), "group_members", ["email"])
    op.create_index(op.f("ix_group_members_person_id"), "group_members", ["person_id"])
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        timestamp("slot_start", nullable=True),
        timestamp("slot_end", nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("state", CODE, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_meetings_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("group_id", name=op.f("uq_meetings_group_id")),
    )
    op.create_table(
        "unmatched",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_unmatched_cycle_id_cycles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched")),
    )
    op.create_index(op.f("ix_unmatched_cycle_id"), "unmatched", ["cycle_id"])
    op.create_table(
        "pairing_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=200), nullable=False),
        sa.Column("person_a", EMAIL, nullable=False),
        sa.Column("person_b", EMAIL, nullable=False),
        sa.Column("met_on", sa.Date(), nullable=False),
        sa.CheckConstraint("person_a < person_b", name=op.f("ck_pairing_history_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_pairing_history_cycle_id_cycles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing_history")),
        sa.UniqueConstraint(
            "cycle_id", "person_a", "person_b", name=op.f("uq_pairing_history_cycle_id_person_a_person_b")
        ),
    )
    op.create_index(op.f("ix_pairing_history_cycle_id"), "pairing_history", ["cycle_id"])
    op.create_index("ix_pairing_history_pair", "pairing_history", ["person_a", "person_b"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("email", EMAIL, nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        timestamp("answered_at"),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_feedback_meeting_id_meetings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("meeting_id", "email", name=op.f("uq_feedback_meeting_id_email")),
    )
    op.create_table(
        "outbox_effects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("kind", CODE, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("state", CODE, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        timestamp("next_attempt_at", nullable=True),
        timestamp("claimed_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        timestamp("created_at"),
        timestamp("done_at", nullable=True),
        sa.CheckConstraint("state IN ('pending', 'in_flight', 'done', 'dead')", name=op.f("ck_outbox_effects_state")),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_outbox_effects_cycle_id_cycles"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_effects")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_effects_key")),
    )
    op.create_index(op.f("ix_outbox_effects_cycle_id"), "outbox_effects", ["cycle_id"])
    op.create_index("ix_outbox_effects_due", "outbox_effects", ["state", "next_attempt_at"])


def downgrade() -> None:
    """Drop every table (and with them their indexes), children before parents."""
    for table in (
        "outbox_effects",
        "feedback",
        "pairing_history",
        "unmatched",
        "meetings",
        "group_members",
        "groups",
        "cycles",
        "programs",
        "people",
    ):
        op.drop_table(table)
