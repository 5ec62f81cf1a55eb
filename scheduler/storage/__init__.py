"""Storage: SQLAlchemy models, repositories, the unit of work and Alembic migrations.

The only package allowed to import SQLAlchemy. What the rest of the application uses:

- ``uow.create_engine_for(url)``, ``uow.make_session_factory(engine)``, ``uow.SqlAlchemyUnitOfWork(factory)``
- ``migrate.upgrade_database(url)``, ``migrate.check_schema(url)``, ``migrate.current_revision(url)``,
  ``migrate.head_revision()``

Nothing is imported here, so importing ``scheduler.storage`` costs nothing until one of those is needed.
"""
