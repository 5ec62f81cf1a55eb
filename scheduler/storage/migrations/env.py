"""Alembic environment of Coffee Chat.

Normally ``scheduler.storage.migrate`` runs the migrations and hands over its own connection through
``config.attributes["connection"]``. For writing a new revision, the ``alembic`` command line works too,
with the development ``alembic.ini`` next to this file and the database given as ``-x url=…``::

    alembic -c scheduler/storage/migrations/alembic.ini -x url=sqlite:///dev.db revision --autogenerate -m "…"

``logging.config.fileConfig`` is deliberately never called: it would replace the application's logging
setup (and disable its loggers) whenever the schema is upgraded.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from scheduler.storage.orm import Base
from scheduler.storage.uow import create_engine_for

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The database URL of a command-line run: ``-x url=…`` first, else ``sqlalchemy.url`` of the ini file."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the database as: alembic -x url=sqlite:///path.db …")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Write the migration SQL instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a new one to the command line's URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(_url())
    try:
        with engine.begin() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
