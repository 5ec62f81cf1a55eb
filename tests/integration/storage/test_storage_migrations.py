"""Migrations: from an empty database to head and back, the schema they build, the rows they carry over
from one revision to the next, and the schema check."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, Text, inspect, text

from scheduler.errors import StorageError
from scheduler.model import Cycle, Group, Interval, Meeting, Person, Program, Weights, WorkingHours
from scheduler.storage.migrate import (
    alembic_config,
    check_schema,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from scheduler.storage.orm import Base
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory


def table_names(url: str) -> set[str]:
    """The tables in the database at ``url`` (for PostgreSQL: in its search_path schema)."""
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_differences(url: str, metadata: MetaData) -> list[object]:
    """What Alembic's autogenerate would change to make the database at ``url`` look like ``metadata``."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def upgrade_to(url: str, revision: str) -> None:
    """Upgrade the database at ``url`` to ``revision`` (``upgrade_database`` only knows head)."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def column_names(url: str, table: str) -> set[str]:
    """The columns of ``table`` in the database at ``url``."""
    engine = create_engine_for(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def run_sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run plain SQL statements in one transaction; return the rows of the last one (if it has any)."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                result = connection.exec_driver_sql(statement)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(url: str) -> Iterator[SqlAlchemyUnitOfWork]:
    """An entered unit of work on ``url``, with an engine of its own disposed of afterwards."""
    engine = create_engine_for(url)
    try:
        with SqlAlchemyUnitOfWork(make_session_factory(engine)) as uow:
            yield uow
    finally:
        engine.dispose()


def test_upgrade_builds_every_table_in_an_empty_database(database_url: str) -> None:
    assert current_revision(database_url) is None

    revision = upgrade_database(database_url)

    assert revision == head_revision()
    assert current_revision(database_url) == revision
    assert table_names(database_url) == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrading_a_database_at_head_changes_nothing(migrated_url: str) -> None:
    assert upgrade_database(migrated_url) == head_revision()
    assert schema_differences(migrated_url, Base.metadata) == []


def test_migrated_schema_matches_the_orm_models(migrated_url: str) -> None:
    assert schema_differences(migrated_url, Base.metadata) == []


def test_schema_comparison_does_notice_a_difference(migrated_url: str) -> None:
    # Guards the test above: an empty diff must mean "same schema", not "comparison looked at nothing".
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["people"].append_column(Column("nickname", Text(), nullable=True))

    differences = schema_differences(migrated_url, changed)

    assert [(diff[0], diff[3].name) for diff in differences] == [("add_column", "nickname")]


def test_downgrade_to_base_removes_every_table(migrated_url: str) -> None:
    assert downgrade_database(migrated_url, "base") is None
    assert current_revision(migrated_url) is None
    # Alembic keeps its own (now empty) bookkeeping table.
    assert table_names(migrated_url) <= {"alembic_version"}
    assert upgrade_database(migrated_url) == head_revision()


# Rows as release 0001 wrote them: every column of that schema, spelled in SQL both databases read the same way.
PERSON_AT_0001 = """
INSERT INTO people (
    email, name, team, department, office, timezone, work_days, work_start, work_end, calendar_kind,
    calendar_location, kinds, mode, cadence, interests, seniority, manager, paused_until, opted_out, verified_at,
    created_at, updated_at
) VALUES (
    'ada@example.com', 'Ada', 'Engines', 'Research', 'London', 'Europe/London', '[0, 1, 2, 3]', '08:30:00',
    '16:30:00', 'none', '', '["coffee"]', 'virtual', 'fortnightly', '["chess", "go"]', 'senior',
    'charles@example.com', NULL, FALSE, NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
)
"""
PROGRAM_AT_0001 = """
INSERT INTO programs (
    name, kind, cadence, group_size, duration_minutes, cooldown_cycles, meeting_mode, window_days,
    min_notice_hours, buffer_minutes, weights, created_at, updated_at
) VALUES (
    'lunch', 'lunch', 'monthly', 2, 60, 3, 'in_person', 10, 48, 15,
    '{"different_department": 2.5, "different_office": 1.5, "never_met": 4.0, "shared_interest": 0.0,
      "common_slots": 0.5, "timezone_overlap": 1.0}',
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
)
"""


def test_rows_written_at_0001_read_back_at_head_with_the_defaults_of_what_is_new(database_url: str) -> None:
    upgrade_to(database_url, "0001")
    run_sql(database_url, PERSON_AT_0001, PROGRAM_AT_0001)

    assert upgrade_database(database_url) == head_revision()

    with unit_of_work(database_url) as uow:
        person, program = uow.people.get("ada@example.com"), uow.programs.get("lunch")
    assert person == Person(
        email="ada@example.com",
        name="Ada",
        team="Engines",
        department="Research",
        office="London",
        timezone="Europe/London",
        working_hours=WorkingHours(frozenset({0, 1, 2, 3}), time(8, 30), time(16, 30)),
        kinds=frozenset({"coffee"}),
        mode="virtual",
        cadence="fortnightly",
        interests=frozenset({"chess", "go"}),
        seniority="senior",
        manager="charles@example.com",
        wishlist=frozenset(),
        blocked=frozenset(),
    )
    assert program == Program(
        name="lunch",
        kind="lunch",
        cadence="monthly",
        duration_minutes=60,
        cooldown_cycles=3,
        meeting_mode="in_person",
        window_days=10,
        min_notice_hours=48,
        buffer_minutes=15,
        relax="cooldown",
        # The six weights the row has, and wishlist, no_shared_manager and seniority_mix at their defaults.
        weights=Weights(different_department=2.5, shared_interest=0.0),
    )
    # The new columns hold real empty lists, not NULL read back as empty.
    assert run_sql(database_url, "SELECT wishlist, blocked FROM people") in ([([], [])], [("[]", "[]")])
    assert run_sql(database_url, "SELECT relax FROM programs") == [("cooldown",)]


def test_downgrading_0002_drops_its_columns_and_keeps_everything_else(database_url: str) -> None:
    upgrade_database(database_url)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    with unit_of_work(database_url) as uow:
        for email in ("ada@example.com", "bob@example.com"):
            uow.people.save(
                Person(email, email[:3], "Engines", wishlist=frozenset({"team:Ads"}), blocked=frozenset({"x@y.org"}))
            )
        uow.programs.save(Program("coffee", relax="never", weights=Weights(wishlist=9.0)))
        cycle = uow.cycles.add(Cycle("coffee", Interval(start, start + timedelta(days=5)), seed=1))
        assert cycle.id is not None
        uow.cycles.add_meetings(cycle.id, [Meeting(Group(("ada@example.com", "bob@example.com"), 1.0), None)])
        uow.commit()

    assert downgrade_database(database_url, "0001") == "0001"

    assert {"wishlist", "blocked"}.isdisjoint(column_names(database_url, "people"))
    assert "relax" not in column_names(database_url, "programs")
    assert run_sql(database_url, "SELECT email FROM people ORDER BY email") == [
        ("ada@example.com",),
        ("bob@example.com",),
    ]
    # Rebuilding ``people`` with foreign keys on would have set these to NULL (ON DELETE SET NULL).
    linked = "SELECT COUNT(*) FROM group_members WHERE person_id IS NOT NULL"
    assert run_sql(database_url, linked) == [(2,)]

    assert upgrade_database(database_url) == head_revision()
    assert schema_differences(database_url, Base.metadata) == []
    with unit_of_work(database_url) as uow:
        ada, coffee = uow.people.get("ada@example.com"), uow.programs.get("coffee")
    assert ada is not None
    assert (ada.wishlist, ada.blocked) == (frozenset(), frozenset())
    assert coffee is not None
    assert coffee.relax == "cooldown"
    assert coffee.weights.wishlist == 9.0  # weights are one JSON column, untouched by the migration
    assert run_sql(database_url, linked) == [(2,)]


PROGRAM_AT_0002 = """
INSERT INTO programs (
    name, kind, cadence, group_size, duration_minutes, cooldown_cycles, meeting_mode, window_days,
    min_notice_hours, buffer_minutes, relax, weights, created_at, updated_at
) VALUES (
    '{name}', 'coffee', 'weekly', 2, 30, 6, 'virtual', 5, 24, 5, 'never', '{{}}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
)
"""


def test_programs_stored_before_0003_count_tentative_as_busy(database_url: str) -> None:
    upgrade_to(database_url, "0002")
    run_sql(database_url, PROGRAM_AT_0002.format(name="before"))

    assert upgrade_database(database_url) == head_revision()
    # A row written without the column by a client that does not know it gets the same default.
    run_sql(database_url, PROGRAM_AT_0002.format(name="after"))

    with unit_of_work(database_url) as uow:
        programs = uow.programs.list()
    assert programs == [Program("after", relax="never"), Program("before", relax="never")]
    assert all(program.tentative_busy for program in programs)
    # A real true in the column (1 on SQLite), not a string that merely reads back as true.
    assert run_sql(database_url, "SELECT COUNT(*) FROM programs WHERE tentative_busy = TRUE") == [(2,)]


def test_downgrading_0003_drops_its_column_and_keeps_everything_else(database_url: str) -> None:
    upgrade_database(database_url)
    with unit_of_work(database_url) as uow:
        uow.programs.save(Program("coffee", relax="never", tentative_busy=False, weights=Weights(wishlist=9.0)))
        uow.commit()

    assert downgrade_database(database_url, "0002") == "0002"

    assert "tentative_busy" not in column_names(database_url, "programs")
    assert run_sql(database_url, "SELECT name, relax FROM programs") == [("coffee", "never")]

    assert upgrade_database(database_url) == head_revision()
    assert schema_differences(database_url, Base.metadata) == []
    with unit_of_work(database_url) as uow:
        coffee = uow.programs.get("coffee")
    assert coffee == Program("coffee", relax="never", weights=Weights(wishlist=9.0))  # back to the default


def test_people_stored_before_0004_keep_their_offices_lunch_hours(database_url: str) -> None:
    upgrade_to(database_url, "0003")
    run_sql(database_url, PERSON_AT_0001)

    assert upgrade_database(database_url) == head_revision()

    with unit_of_work(database_url) as uow:
        ada = uow.people.get("ada@example.com")
        assert ada is not None
        assert ada.lunch is None
        uow.people.save(replace(ada, lunch=(time(12, 15), time(13, 45))))
        uow.commit()
    with unit_of_work(database_url) as uow:
        again = uow.people.get("ada@example.com")
    assert again == replace(ada, lunch=(time(12, 15), time(13, 45)))


def test_downgrading_0004_drops_its_columns_and_keeps_everything_else(database_url: str) -> None:
    upgrade_database(database_url)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    lunch = (time(12, 30), time(13, 30))
    with unit_of_work(database_url) as uow:
        for email in ("ada@example.com", "bob@example.com"):
            uow.people.save(Person(email, email[:3], "Engines", office="London", lunch=lunch))
        cycle = uow.cycles.add(Cycle("lunch", Interval(start, start + timedelta(days=5)), seed=1))
        assert cycle.id is not None
        uow.cycles.add_meetings(cycle.id, [Meeting(Group(("ada@example.com", "bob@example.com"), 1.0), None)])
        uow.commit()

    assert downgrade_database(database_url, "0003") == "0003"

    assert {"lunch_start", "lunch_end"}.isdisjoint(column_names(database_url, "people"))
    assert run_sql(database_url, "SELECT email, office FROM people ORDER BY email") == [
        ("ada@example.com", "London"),
        ("bob@example.com", "London"),
    ]
    # Rebuilding ``people`` with foreign keys on would have set these to NULL (ON DELETE SET NULL).
    linked = "SELECT COUNT(*) FROM group_members WHERE person_id IS NOT NULL"
    assert run_sql(database_url, linked) == [(2,)]

    assert upgrade_database(database_url) == head_revision()
    assert schema_differences(database_url, Base.metadata) == []
    with unit_of_work(database_url) as uow:
        ada = uow.people.get("ada@example.com")
    assert ada == Person("ada@example.com", "ada", "Engines", office="London")  # back on the office's hours
    assert run_sql(database_url, linked) == [(2,)]


def test_check_schema_complains_on_an_empty_database(database_url: str) -> None:
    expected = f"database at revision none (empty database), code needs {head_revision()}: run `coffeechat init`"
    with pytest.raises(StorageError, match=re.escape(expected)):
        check_schema(database_url)


def test_check_schema_accepts_a_database_at_head(migrated_url: str) -> None:
    check_schema(migrated_url)


def test_check_schema_names_a_revision_this_code_does_not_know(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    finally:
        engine.dispose()

    with pytest.raises(StorageError, match=r"revision f00dcafe, which this code does not know") as caught:
        check_schema(migrated_url)
    assert caught.value.exit_code == 5


def test_migrating_leaves_the_application_logging_alone(database_url: str) -> None:
    app_logger = logging.getLogger("coffeechat.test.migrations")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    upgrade_database(database_url)

    assert not app_logger.disabled  # what logging.config.fileConfig does to existing loggers
    assert root.handlers == handlers
    assert root.level == level


def test_migration_0007_keeps_calendar_gaps_and_its_downgrade_drops_only_them(database_url: str) -> None:
    upgrade_database(database_url)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    with unit_of_work(database_url) as uow:
        cycle = uow.cycles.add(Cycle("coffee", Interval(start, start + timedelta(days=5)), seed=1))
        assert cycle.id is not None
        uow.cycles.add_calendar_gaps(cycle.id, {"ada@example.com": "mailbox not found"})
        uow.commit()

    assert downgrade_database(database_url, "0006") == "0006"
    assert "calendar_gaps" not in table_names(database_url)
    assert run_sql(database_url, "SELECT program FROM cycles") == [("coffee",)]

    upgrade_database(database_url)
    assert "calendar_gaps" in table_names(database_url)
