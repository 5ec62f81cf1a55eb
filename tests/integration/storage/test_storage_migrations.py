"""Migrations: from an empty database to head and back, the schema they build, and the schema check."""

from __future__ import annotations

import logging
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, Text, inspect, text

from scheduler.errors import StorageError
from scheduler.storage.migrate import (
    check_schema,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from scheduler.storage.orm import Base
from scheduler.storage.uow import create_engine_for


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
