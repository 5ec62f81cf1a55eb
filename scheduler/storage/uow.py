"""Engines, sessions and the SQLAlchemy unit of work.

Nothing here runs at import time: the caller (``bootstrap``) creates one engine per process with
``create_engine_for``, one session factory with ``make_session_factory``, and a ``SqlAlchemyUnitOfWork`` per
transaction.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from scheduler.errors import StorageError
from scheduler.ports import (
    AccountRepository,
    CycleRepository,
    EngagementRepository,
    FeedbackRepository,
    HistoryRepository,
    IntroductionRepository,
    LeaderSuggestionRepository,
    MatchRepository,
    OutboxRepository,
    PeopleRepository,
    ProgramChangeRepository,
    ProgramChoiceRepository,
    ProgramRepository,
    ReportRepository,
    ThanksRepository,
    UnitOfWork,
)
from scheduler.storage.accounts import SqlAlchemyAccountRepository
from scheduler.storage.audiences import SqlAlchemyProgramChoiceRepository
from scheduler.storage.engagement import SqlAlchemyEngagementRepository
from scheduler.storage.introductions import SqlAlchemyIntroductionRepository
from scheduler.storage.leaders import SqlAlchemyLeaderSuggestionRepository
from scheduler.storage.matches import RatedFeedbackRepository, SqlAlchemyMatchRepository
from scheduler.storage.reports import SqlAlchemyReportRepository
from scheduler.storage.repositories import (
    SqlAlchemyCycleRepository,
    SqlAlchemyHistoryRepository,
    SqlAlchemyOutboxRepository,
    SqlAlchemyPeopleRepository,
    SqlAlchemyProgramChangeRepository,
    SqlAlchemyProgramRepository,
)
from scheduler.storage.thanks import SqlAlchemyThanksRepository

# How long a SQLite writer waits for another one (the web site and a delivery worker share the file) before
# giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 15_000


def masked_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***``, fit for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def unreachable(url: str | URL, exc: OperationalError) -> StorageError:
    """The ``StorageError`` for a database that refused or failed a connection (password masked)."""
    reason = " ".join(str(exc.orig).split())  # drivers spread their messages over several indented lines
    return StorageError(f"cannot use the database at {masked_url(url)}: {reason}")


def create_engine_for(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, set up the way Coffee Chat needs it.

    SQLite gets foreign keys switched on (they are off by default) and a busy timeout; PostgreSQL gets
    ``pool_pre_ping`` so a connection dropped by the server or a proxy is replaced instead of failing a
    request. A plain ``postgresql://`` URL uses the psycopg 3 driver. No connection is opened here.

    Raises ``StorageError`` for a malformed URL or a database other than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The text may hold a password and cannot be parsed to mask it, so it is not repeated.
        raise StorageError("malformed database URL: expected sqlite:///path or postgresql://…") from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = create_engine(parsed)
            event.listen(engine, "connect", _configure_sqlite_connection)
            return engine
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")  # the only driver we depend on
            return create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StorageError(f"no database driver for {masked_url(parsed)}: {exc}") from exc
    raise StorageError(
        f"unsupported database {backend!r} in {masked_url(parsed)}: Coffee Chat runs on SQLite and PostgreSQL"
    )


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    """Switch on what SQLite leaves off, on every new connection (these settings are per connection)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS:d}")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``.

    ``expire_on_commit`` is off: repositories hand out dataclasses, never rows, so there is nothing to
    refresh after a commit, and expiring would only cost queries.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


class SqlAlchemyUnitOfWork:
    """One database transaction with its repositories (``ports.UnitOfWork``).

    Use it as a context manager; everything is rolled back on exit unless ``commit`` was called. Entering
    opens the connection, so an unreachable database is reported right there as a ``StorageError`` naming
    the URL; an ``OperationalError`` (lost connection, locked SQLite file) escaping the block becomes one too.
    The repositories exist only inside the block.
    """

    people: PeopleRepository
    programs: ProgramRepository
    program_changes: ProgramChangeRepository
    program_choices: ProgramChoiceRepository
    cycles: CycleRepository
    history: HistoryRepository
    feedback: FeedbackRepository
    outbox: OutboxRepository
    accounts: AccountRepository
    reports: ReportRepository
    matches: MatchRepository
    engagement: EngagementRepository
    introductions: IntroductionRepository
    thanks: ThanksRepository
    leader_suggestions: LeaderSuggestionRepository
    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> Self:
        """Start the transaction and create the repositories."""
        session = self._session_factory()
        try:
            session.connection()
        except OperationalError as exc:
            session.close()
            raise unreachable(_session_url(session), exc) from exc
        self.session = session
        self.people = SqlAlchemyPeopleRepository(session)
        self.programs = SqlAlchemyProgramRepository(session)
        self.program_changes = SqlAlchemyProgramChangeRepository(session)
        self.program_choices = SqlAlchemyProgramChoiceRepository(session)
        self.cycles = SqlAlchemyCycleRepository(session)
        self.history = SqlAlchemyHistoryRepository(session)
        self.feedback = RatedFeedbackRepository(session)
        self.outbox = SqlAlchemyOutboxRepository(session)
        self.accounts = SqlAlchemyAccountRepository(session)
        self.reports = SqlAlchemyReportRepository(session)
        self.matches = SqlAlchemyMatchRepository(session)
        self.engagement = SqlAlchemyEngagementRepository(session)
        self.introductions = SqlAlchemyIntroductionRepository(session)
        self.thanks = SqlAlchemyThanksRepository(session)
        self.leader_suggestions = SqlAlchemyLeaderSuggestionRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the connection."""
        url = _session_url(self.session)
        try:
            self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, OperationalError):
            raise unreachable(url, exc) from exc

    def commit(self) -> None:
        """Make everything done in this unit permanent."""
        self.session.commit()

    def rollback(self) -> None:
        """Discard everything done in this unit since the last commit."""
        self.session.rollback()


def _session_url(session: Session) -> URL:
    return session.get_bind().engine.url


if TYPE_CHECKING:
    # Let mypy prove the unit of work (and so each repository) satisfies the port, without a runtime cost.
    def _conforms_to_port(session_factory: sessionmaker[Session]) -> UnitOfWork:
        return SqlAlchemyUnitOfWork(session_factory)
