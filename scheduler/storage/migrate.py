"""Schema migrations: bring a database to the revision this code needs, or say that it is not there.

The Alembic configuration is built here rather than read from an ``alembic.ini``, so an installed Coffee
Chat migrates its database with nothing but the URL. Alembic's logging configuration is never installed
(``env.py`` does not call ``fileConfig``): its messages go through the application's own logging setup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from scheduler.errors import StorageError
from scheduler.storage.uow import create_engine_for, masked_url, unreachable

MIGRATIONS_DIRECTORY = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` pointing at the migrations inside this package.

    With ``connection``, ``env.py`` runs the migrations on it (inside the caller's transaction) instead of
    opening its own.
    """
    config = Config()
    # ConfigParser interpolates "%": escape it in case the installation path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _transaction(url: str) -> Iterator[Connection]:
    """A connection to ``url`` in a transaction committed on success; connection failures become
    ``StorageError`` and the engine is disposed of afterwards (no pooled connection is left open)."""
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            yield connection
    except OperationalError as exc:
        raise unreachable(url, exc) from exc
    finally:
        engine.dispose()


def upgrade_database(url: str) -> str:
    """Upgrade the database at ``url`` to the newest revision (creating every table in an empty one).

    Returns the revision the database is at afterwards. Upgrading a database already at head does nothing.
    """
    with _transaction(url) as connection:
        command.upgrade(alembic_config(connection), "head")
        revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None:  # pragma: no cover - only if the migrations directory were empty
        raise StorageError(f"upgrading the database at {masked_url(url)} left it without a revision")
    return revision


def downgrade_database(url: str, revision: str = "base") -> str | None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"``: drop every table Coffee Chat made).

    Returns the revision afterwards, ``None`` at base. Destroys data: meant for development and tests.
    """
    with _transaction(url) as connection:
        command.downgrade(alembic_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()


def current_revision(url: str) -> str | None:
    """The revision of the database at ``url``; ``None`` when it has never been migrated (e.g. empty)."""
    with _transaction(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision of the schema: the one this code needs."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - only if the migrations directory were empty
        raise StorageError(f"no migrations found in {MIGRATIONS_DIRECTORY}")
    return head


def check_schema(url: str) -> None:
    """Raise ``StorageError`` unless the database at ``url`` is at the revision this code needs.

    Run it when a process starts, before any unit of work, so an outdated database fails with the fix in
    the message instead of with "no such table" in the middle of a cycle.
    """
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        raise StorageError(
            f"database at revision {current}, which this code does not know (written by a newer release?); "
            f"code needs {head}"
        )
    shown = current if current is not None else "none (empty database)"
    raise StorageError(f"database at revision {shown}, code needs {head}: run `coffeechat init`")
