"""SQLAlchemy 2 table mappings of Coffee Chat, portable across SQLite and PostgreSQL.

These rows are a storage detail: repositories translate them to and from the frozen dataclasses of
``scheduler.model`` and never hand them out. The Alembic migrations in ``migrations/versions`` create exactly
this schema; ``tests/integration/storage`` checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: Alembic needs names to alter or drop constraints later, and SQLite batch
# migrations rebuild tables by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# What migration 0001 admits in ``cycles.state``. ``closed`` is in no version of ``CycleState`` that wrote rows;
# it stays admitted because narrowing a CHECK on SQLite rebuilds ``cycles``, and dropping that table with foreign
# keys on would cascade to every meeting.
CYCLE_STATES = ("planned", "delivered", "closed")
EFFECT_STATES = ("pending", "in_flight", "done", "dead", "superseded")

EMAIL_LENGTH = 320  # RFC 5321: 64 for the local part, 1 for "@", 255 for the domain
CODE_LENGTH = 32  # short enumerated values: kinds, modes, cadences, states


def utcnow() -> datetime:
    """The current moment, timezone-aware, in UTC: the default of every ``created_at`` column."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware in UTC.

    PostgreSQL keeps the offset (``timestamp with time zone``); SQLite stores text and silently drops it, so
    values are converted to UTC and stored naive there, and tagged UTC again when read. Naive values are
    refused on the way in: guessing their zone is how time-zone bugs start.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite); refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}: make it timezone-aware")
        value = value.astimezone(UTC)
        # SQLite keeps one text format, so every stored value must be in the same zone for comparisons and
        # ORDER BY (which are textual there) to be right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (compact, comparable); a JSON text column elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every Coffee Chat table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PersonRow(Base):
    """A participant. ``email`` is the natural key; ``id`` exists for foreign keys."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(Text)
    team: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text, default="")
    office: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    work_days: Mapped[list[int]] = mapped_column(JsonType)  # sorted weekday numbers, 0 = Monday
    work_start: Mapped[time] = mapped_column(Time)
    work_end: Mapped[time] = mapped_column(Time)
    calendar_kind: Mapped[str] = mapped_column(String(CODE_LENGTH), default="none")
    calendar_location: Mapped[str] = mapped_column(Text, default="")
    kinds: Mapped[list[str]] = mapped_column(JsonType)  # sorted, so equal sets store equal JSON
    mode: Mapped[str] = mapped_column(String(CODE_LENGTH))
    cadence: Mapped[str] = mapped_column(String(CODE_LENGTH))
    interests: Mapped[list[str]] = mapped_column(JsonType)
    seniority: Mapped[str] = mapped_column(Text, default="")
    manager: Mapped[str] = mapped_column(Text, default="")
    # Free text such as "engineer" or "leader" (see migration 0015); "" for the rows that existed before it.
    role: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Sorted lists. The server defaults gave the rows that existed before these columns their empty lists.
    wishlist: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")
    blocked: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")
    paused_until: Mapped[date | None] = mapped_column(Date)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The person's own lunch hours (local): both set, or both empty for their office's (see migration 0004).
    lunch_start: Mapped[time | None] = mapped_column(Time)
    lunch_end: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ProgramRow(Base):
    """A recurring pairing program, identified by name. ``weights`` holds ``model.Weights`` as JSON: a key
    missing from a row (one written before that weight existed) reads as the weight's default."""

    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(CODE_LENGTH))
    cadence: Mapped[str] = mapped_column(String(CODE_LENGTH))
    group_size: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    cooldown_cycles: Mapped[int] = mapped_column(Integer)
    meeting_mode: Mapped[str] = mapped_column(String(CODE_LENGTH))
    window_days: Mapped[int] = mapped_column(Integer)
    min_notice_hours: Mapped[int] = mapped_column(Integer)
    buffer_minutes: Mapped[int] = mapped_column(Integer)
    relax: Mapped[str] = mapped_column(String(CODE_LENGTH), default="cooldown", server_default="cooldown")
    # "1", not true(): the literal that SQLite and PostgreSQL both read as true (see migration 0003).
    tentative_busy: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    once_per_window: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # ``Program.seniority_levels``: the named levels, lowest first, as a JSON array (see migration 0016).
    seniority_levels: Mapped[list[str]] = mapped_column(JsonType, default=list, server_default="[]")
    # Who sends the invitations: "email", "google" or "microsoft" (see migration 0005).
    invites: Mapped[str] = mapped_column(String(CODE_LENGTH), default="email", server_default="email")
    weights: Mapped[dict[str, float]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ProgramChangeRow(Base):
    """What an admin changed of a program on the site, over the configuration file: only the settings that differ
    from the file, as JSON (``{"cooldown_cycles": 4, "weights": {"never_met": 5.0}}``). See
    ``scheduler.programs.settings``."""

    __tablename__ = "program_changes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType)
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CycleRow(Base):
    """One round of a program over a planning window.

    ``program`` is the program's name rather than a foreign key: programs are defined in the configuration
    file and may be renamed or removed there, while the cycles they ran (and the history behind cooldowns)
    must stay.
    """

    __tablename__ = "cycles"
    __table_args__ = (
        UniqueConstraint("program", "window_start"),
        CheckConstraint(f"state IN {CYCLE_STATES!r}", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    seed: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(CODE_LENGTH), default="planned")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class GroupRow(Base):
    """People put together in one cycle, with the score and the reasons for it."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JsonType)

    members: Mapped[list[GroupMemberRow]] = relationship(
        order_by="GroupMemberRow.position", cascade="all, delete-orphan", lazy="raise"
    )
    meeting: Mapped[MeetingRow | None] = relationship(
        back_populates="group", cascade="all, delete-orphan", lazy="raise"
    )


class GroupMemberRow(Base):
    """One member of a group. ``position`` keeps the members' order; ``person_id`` is empty once the person
    is deleted (or when they were never stored), while ``email`` stays for the record."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "email"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)


class MeetingRow(Base):
    """A group's meeting. The slot is empty when the group has no common free time."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    slot_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    slot_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    location: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(CODE_LENGTH), default="proposed")
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[GroupRow] = relationship(back_populates="meeting", lazy="raise")


class UnmatchedRow(Base):
    """Someone left out of a cycle, and why."""

    __tablename__ = "unmatched"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    reason: Mapped[str] = mapped_column(Text)


class CalendarGapRow(Base):
    """Someone a cycle planned on working hours alone, because their calendar could not be read, and why."""

    __tablename__ = "calendar_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    reason: Mapped[str] = mapped_column(Text)


class PairingHistoryRow(Base):
    """Two people grouped together in a cycle. ``person_a < person_b`` so each pair has one spelling.

    Emails rather than person ids: the memory of who met whom outlives a deleted profile, which is what keeps
    a re-joining person from being paired with the same colleague again at once.
    """

    __tablename__ = "pairing_history"
    __table_args__ = (
        UniqueConstraint("cycle_id", "person_a", "person_b"),
        CheckConstraint("person_a < person_b", name="ordered_pair"),
        Index("ix_pairing_history_pair", "person_a", "person_b"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    program: Mapped[str] = mapped_column(String(200))
    person_a: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    person_b: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    met_on: Mapped[date] = mapped_column(Date)


class FeedbackRow(Base):
    """One person's answer to "did you meet?" for one meeting; a later answer replaces the earlier one."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("meeting_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    met: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Whether the writer allowed the organisers to read ``comment`` (migration 0014); answers given before
    # the question existed stay private.
    comment_shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class OutboxEffectRow(Base):
    """A side effect to perform, identified by its deterministic ``key``.

    ``claimed_until`` is the lease of the relay that holds it in flight; once it passes, the effect is due
    again, so a relay that crashed mid-delivery does not strand it.
    """

    __tablename__ = "outbox_effects"
    __table_args__ = (
        CheckConstraint(f"state IN {EFFECT_STATES!r}", name="state"),
        # The relay's "what is due?" query filters on exactly these two columns.
        Index("ix_outbox_effects_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(CODE_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(CODE_LENGTH), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stale_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
