"""Storage of the delivery work (migration 0005): a program's invitation sender, reading and changing one
meeting, and superseded effects across the migration."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import Cycle, Effect, Group, Interval, Meeting, Program
from scheduler.storage.migrate import downgrade_database, head_revision, upgrade_database
from scheduler.storage.orm import Base
from scheduler.storage.uow import SqlAlchemyUnitOfWork
from tests.integration.storage.test_storage_migrations import (
    column_names,
    run_sql,
    schema_differences,
    unit_of_work,
    upgrade_to,
)

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
SLOT = Interval(MONDAY + timedelta(hours=10), MONDAY + timedelta(hours=10, minutes=30))


def store_meeting(uow: SqlAlchemyUnitOfWork) -> Meeting:
    cycle = uow.cycles.add(Cycle("coffee", Interval(MONDAY, MONDAY + timedelta(days=5)), seed=1))
    assert cycle.id is not None
    (meeting,) = uow.cycles.add_meetings(cycle.id, [Meeting(Group(("a@example.com", "b@example.com"), 1.0,
                                                                    ("why",)), SLOT, "Video call")])
    return meeting


@pytest.mark.parametrize("invites", ["email", "google", "microsoft"])
def test_a_programs_invitation_sender_round_trips(uow: SqlAlchemyUnitOfWork, invites: str) -> None:
    uow.programs.save(Program("coffee", invites=invites))
    stored = uow.programs.get("coffee")
    assert stored is not None
    assert stored.invites == invites


def test_an_unknown_invitation_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="invites must be one of email, google, microsoft"):
        Program("coffee", invites="carrier-pigeon")


def test_one_meeting_reads_back_and_updates_with_a_rising_sequence(uow: SqlAlchemyUnitOfWork) -> None:
    meeting = store_meeting(uow)
    assert meeting.id is not None
    assert uow.cycles.meeting(meeting.id) == meeting
    assert uow.cycles.meeting(meeting.id + 1000) is None

    moved = replace(meeting, slot=Interval(SLOT.start + timedelta(days=1), SLOT.end + timedelta(days=1)),
                    sequence=1)
    uow.cycles.update_meeting(moved)
    assert uow.cycles.meeting(meeting.id) == moved
    cancelled = replace(moved, state="cancelled", sequence=2)
    uow.cycles.update_meeting(cancelled)
    assert uow.cycles.meetings(meeting.cycle_id) == [cancelled]  # type: ignore[arg-type]

    with pytest.raises(StorageError, match="changed meanwhile"):
        uow.cycles.update_meeting(replace(moved, sequence=2))  # a stale change: not above the stored sequence
    with pytest.raises(NotFoundError, match="no meeting"):
        uow.cycles.update_meeting(replace(moved, id=meeting.id + 1000, sequence=9))


def test_programs_stored_before_0005_send_their_own_invitations(database_url: str) -> None:
    upgrade_to(database_url, "0004")
    run_sql(database_url,
            "INSERT INTO programs (name, kind, cadence, group_size, duration_minutes, cooldown_cycles, meeting_mode,"
            " window_days, min_notice_hours, buffer_minutes, relax, tentative_busy, weights, created_at, updated_at)"
            " VALUES ('coffee', 'coffee', 'weekly', 2, 30, 6, 'virtual', 5, 24, 5, 'cooldown', '1', '{}',"
            " '2026-11-01 00:00:00', '2026-11-01 00:00:00')")

    assert upgrade_database(database_url) == head_revision()

    with unit_of_work(database_url) as uow:
        program = uow.programs.get("coffee")
    assert program is not None
    assert program.invites == "email"


def test_downgrading_0005_parks_superseded_effects_as_dead_and_drops_invites(database_url: str) -> None:
    upgrade_database(database_url)
    with unit_of_work(database_url) as uow:
        uow.programs.save(Program("coffee", invites="google"))
        uow.outbox.add(Effect("k/1", "email", {"a": 1}))
        uow.outbox.add(Effect("k/2", "email", {"a": 2}))
        uow.outbox.supersede("k/1", "rescheduled")
        uow.commit()

    assert downgrade_database(database_url, "0004") == "0004"

    assert "invites" not in column_names(database_url, "programs")
    assert run_sql(database_url, "SELECT key, state, last_error FROM outbox_effects ORDER BY key") == [
        ("k/1", "dead", "superseded: rescheduled"),
        ("k/2", "pending", ""),
    ]
    with pytest.raises(IntegrityError):
        run_sql(database_url, "UPDATE outbox_effects SET state = 'superseded' WHERE key = 'k/2'")

    assert upgrade_database(database_url) == head_revision()
    with unit_of_work(database_url) as uow:
        program = uow.programs.get("coffee")
        assert program is not None
        assert program.invites == "email"  # the choice was dropped with the column
        assert uow.outbox.supersede("k/2", "again") == 1
        uow.commit()
    differences = [d for d in schema_differences(database_url, Base.metadata)
                   if "outbox_effects" in str(d) or "programs" in str(d)]
    assert differences == []
