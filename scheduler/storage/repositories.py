"""SQLAlchemy implementations of the repository ports in ``scheduler.ports``.

Each repository works inside the ``Session`` it is given (the unit of work owns the transaction) and speaks
only in the frozen dataclasses of ``scheduler.model``: rows never leave this module.

Writes that may race with another process (a second relay, a second web worker, a retried cycle) are single
statements whose outcome the database decides: ``INSERT … ON CONFLICT DO NOTHING`` and conditional ``UPDATE``.
Unlike "SELECT, then INSERT", they cannot both succeed, and unlike catching an ``IntegrityError`` they do not
abort the surrounding PostgreSQL transaction.

Reads use ``populate_existing`` so a row changed by one of those statements is never served stale from the
session's identity map.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Select,
    Table,
    Update,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, selectinload

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import (
    CalendarSource,
    Cycle,
    CycleState,
    Effect,
    Group,
    Interval,
    Meeting,
    Person,
    Program,
    ProgramChange,
    Unmatched,
    Weights,
    WorkingHours,
    require_utc,
)
from scheduler.storage.orm import (
    Base,
    CalendarGapRow,
    CycleRow,
    FeedbackRow,
    GroupMemberRow,
    GroupRow,
    MeetingRow,
    OutboxEffectRow,
    PairingHistoryRow,
    PersonRow,
    ProgramChangeRow,
    ProgramRow,
    UnmatchedRow,
    utcnow,
)

_Statement = TypeVar("_Statement", bound=Executable)

# BIGINT is a signed 64-bit integer on both databases.
_SEED_RANGE = range(-(2**63), 2**63)


def dialect_insert(session: Session, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``entity``'s table in the dialect of the session's database, which knows ``ON CONFLICT``.

    A Core INSERT of the table, not an ORM-enabled one of the class: values go by column name, and the ORM's
    bulk bookkeeping, which these single-statement upserts never use, is skipped (it was a fifth of the
    database work of a sign-up in bench/web.py).
    """
    table = cast(Table, entity.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StorageError(f"unsupported database {dialect!r}: Coffee Chat runs on SQLite and PostgreSQL")


def _fresh(statement: _Statement) -> _Statement:
    """``statement`` set to overwrite any copy of its rows already held by the session."""
    return statement.execution_options(populate_existing=True)


def _update(session: Session, statement: Update) -> int:
    """Run an UPDATE; return how many rows it changed.

    The statement runs as plain SQL: the ORM need not mirror it into objects the session holds, since every
    read refreshes those anyway (see the module docstring).
    """
    result = session.execute(statement.execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount


def key_email(email: str) -> str:
    """The stored spelling of an email used as a lookup key (``Person`` normalises the same way)."""
    return email.strip().lower()


class SqlAlchemyPeopleRepository:
    """People, identified by their normalised email (``ports.PeopleRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, email: str) -> Person | None:
        """The person with this email (any case, surrounding spaces ignored), or ``None``."""
        row = self._session.scalars(_fresh(select(PersonRow)).where(PersonRow.email == key_email(email))).first()
        return None if row is None else _to_person(row)

    def save(self, person: Person) -> bool:
        """Insert or update the person by email; True when a new person was created.

        Two concurrent saves of a new address cannot both insert: the loser's INSERT does nothing and it
        updates the winner's row instead.
        """
        values = _person_values(person)
        insert = (
            dialect_insert(self._session, PersonRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(PersonRow.id)
        )
        if self._session.execute(insert).first() is not None:
            return True
        _update(self._session, update(PersonRow).where(PersonRow.email == person.email).values(**values))
        return False

    def list(self) -> list[Person]:
        """Everyone, sorted by email."""
        rows = self._session.scalars(_fresh(select(PersonRow)).order_by(PersonRow.email))
        return [_to_person(row) for row in rows]


def _person_values(person: Person) -> dict[str, Any]:
    # Sets are stored as sorted lists so that equal sets always produce equal JSON.
    return {
        "email": person.email,
        "name": person.name,
        "team": person.team,
        "department": person.department,
        "office": person.office,
        "timezone": person.timezone,
        "work_days": sorted(person.working_hours.days),
        "work_start": person.working_hours.start,
        "work_end": person.working_hours.end,
        "calendar_kind": person.calendar.kind,
        "calendar_location": person.calendar.location,
        "kinds": sorted(person.kinds),
        "mode": person.mode,
        "cadence": person.cadence,
        "interests": sorted(person.interests),
        "seniority": person.seniority,
        "manager": person.manager,
        "role": person.role,
        "wishlist": sorted(person.wishlist),
        "blocked": sorted(person.blocked),
        "paused_until": person.paused_until,
        "opted_out": person.opted_out,
        # Checked here so a naive datetime fails with a plain ValueError, not one wrapped by SQLAlchemy.
        "verified_at": require_utc(person.verified_at, "verified_at") if person.verified_at else None,
        # Both or neither: an empty pair means the office's lunch hours.
        "lunch_start": person.lunch[0] if person.lunch else None,
        "lunch_end": person.lunch[1] if person.lunch else None,
    }


def _to_person(row: PersonRow) -> Person:
    return Person(
        email=row.email,
        name=row.name,
        team=row.team,
        department=row.department,
        office=row.office,
        timezone=row.timezone,
        working_hours=WorkingHours(frozenset(row.work_days), row.work_start, row.work_end),
        calendar=CalendarSource(row.calendar_kind, row.calendar_location),
        kinds=frozenset(row.kinds),
        mode=row.mode,
        cadence=row.cadence,
        interests=frozenset(row.interests),
        seniority=row.seniority,
        manager=row.manager,
        role=row.role,
        wishlist=frozenset(row.wishlist),
        blocked=frozenset(row.blocked),
        paused_until=row.paused_until,
        opted_out=row.opted_out,
        verified_at=row.verified_at,
        lunch=None if row.lunch_start is None or row.lunch_end is None else (row.lunch_start, row.lunch_end),
    )


class SqlAlchemyProgramRepository:
    """Programs, identified by name (``ports.ProgramRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> Program | None:
        """The program with this name, or ``None``."""
        row = self._session.scalars(_fresh(select(ProgramRow)).where(ProgramRow.name == name)).first()
        return None if row is None else _to_program(row)

    def save(self, program: Program) -> None:
        """Insert or update the program by name, in one atomic upsert."""
        values = _program_values(program)
        insert = dialect_insert(self._session, ProgramRow).values(**values)
        changed: dict[str, Any] = {column: insert.excluded[column] for column in values if column != "name"}
        # ON CONFLICT DO UPDATE does not run Python-side ``onupdate`` defaults, so set the stamp here.
        changed["updated_at"] = utcnow()
        self._session.execute(insert.on_conflict_do_update(index_elements=["name"], set_=changed))

    def list(self) -> list[Program]:
        """Every program, sorted by name."""
        rows = self._session.scalars(_fresh(select(ProgramRow)).order_by(ProgramRow.name))
        return [_to_program(row) for row in rows]


def _program_values(program: Program) -> dict[str, Any]:
    return {
        "name": program.name,
        "kind": program.kind,
        "cadence": program.cadence,
        "group_size": program.group_size,
        "duration_minutes": program.duration_minutes,
        "cooldown_cycles": program.cooldown_cycles,
        "meeting_mode": program.meeting_mode,
        "window_days": program.window_days,
        "min_notice_hours": program.min_notice_hours,
        "buffer_minutes": program.buffer_minutes,
        "relax": program.relax,
        "tentative_busy": program.tentative_busy,
        "once_per_window": program.once_per_window,
        "seniority_levels": list(program.seniority_levels),
        "invites": program.invites,
        # Every field of ``Weights`` by its name, so a weight added to the model is stored without a change here.
        "weights": asdict(program.weights),
    }


def _to_program(row: ProgramRow) -> Program:
    # Keys missing from older rows fall back to the defaults of ``Weights``; unknown keys are ignored so a
    # newer row can still be read by an older release.
    known = Weights.__dataclass_fields__
    weights = Weights(**{key: float(value) for key, value in row.weights.items() if key in known})
    return Program(
        name=row.name,
        kind=row.kind,
        cadence=row.cadence,
        group_size=row.group_size,
        duration_minutes=row.duration_minutes,
        cooldown_cycles=row.cooldown_cycles,
        meeting_mode=row.meeting_mode,
        window_days=row.window_days,
        min_notice_hours=row.min_notice_hours,
        buffer_minutes=row.buffer_minutes,
        relax=row.relax,
        tentative_busy=row.tentative_busy,
        once_per_window=row.once_per_window,
        seniority_levels=tuple(row.seniority_levels or ()),
        weights=weights,
        invites=row.invites,
    )


class SqlAlchemyProgramChangeRepository:
    """Admins' changes to programs, one per program name (``ports.ProgramChangeRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def list(self) -> list[ProgramChange]:
        """Every program's changes, sorted by program name."""
        rows = self._session.scalars(_fresh(select(ProgramChangeRow)).order_by(ProgramChangeRow.name))
        return [ProgramChange(row.name, dict(row.changes), row.changed_by, row.changed_at) for row in rows]

    def save(self, change: ProgramChange) -> None:
        """Insert or replace the program's changes, in one atomic upsert (two admins saving at once: the last
        one stands, whole)."""
        values = {"name": change.name, "changes": dict(change.changes), "changed_by": change.changed_by,
                  "changed_at": require_utc(change.changed_at)}
        insert = dialect_insert(self._session, ProgramChangeRow).values(**values)
        self._session.execute(insert.on_conflict_do_update(
            index_elements=["name"], set_={column: insert.excluded[column] for column in values if column != "name"}))

    def delete(self, name: str) -> bool:
        """Forget the program's changes; whether there were any."""
        result = self._session.execute(delete(ProgramChangeRow).where(ProgramChangeRow.name == name))
        return bool(cast("CursorResult[Any]", result).rowcount)


class SqlAlchemyCycleRepository:
    """Cycles with their groups, members, meetings and unmatched people (``ports.CycleRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, cycle: Cycle) -> Cycle:
        """Store a new cycle; return it with ``id`` and ``created_at`` set.

        ``created_at`` is kept when the cycle already has one (a clock-driven caller), else it is now.
        Raises ``StorageError`` when the program already has a cycle for the same window start, and
        ``ValueError`` when the seed does not fit in 64 signed bits.
        """
        if cycle.seed not in _SEED_RANGE:
            raise ValueError(f"cycle seed {cycle.seed} does not fit in a signed 64-bit integer")
        created_at = require_utc(cycle.created_at, "Cycle.created_at") if cycle.created_at else utcnow()
        insert = (
            dialect_insert(self._session, CycleRow)
            .values(
                program=cycle.program,
                window_start=cycle.window.start,
                window_end=cycle.window.end,
                seed=cycle.seed,
                state=CycleState(cycle.state).value,
                created_at=created_at,
            )
            .on_conflict_do_nothing(index_elements=["program", "window_start"])
            .returning(CycleRow.id)
        )
        cycle_id = self._session.execute(insert).scalar()
        if cycle_id is None:
            raise StorageError(
                f"program {cycle.program!r} already has a cycle starting {cycle.window.start.isoformat()}"
            )
        return replace(cycle, id=cycle_id, created_at=created_at)

    def find(self, program: str, window_start: datetime) -> Cycle | None:
        """The program's cycle whose window starts at ``window_start``, or ``None``."""
        statement = _fresh(select(CycleRow)).where(
            CycleRow.program == program, CycleRow.window_start == require_utc(window_start, "window_start")
        )
        row = self._session.scalars(statement).first()
        return None if row is None else _to_cycle(row)

    def get(self, cycle_id: int) -> Cycle | None:
        """The cycle with this id, or ``None``."""
        row = self._session.scalars(_fresh(select(CycleRow)).where(CycleRow.id == cycle_id)).first()
        return None if row is None else _to_cycle(row)

    def set_state(self, cycle_id: int, state: CycleState) -> None:
        """Move a cycle to ``state``; raise ``NotFoundError`` for an unknown cycle."""
        changed = _update(
            self._session,
            update(CycleRow).where(CycleRow.id == cycle_id).values(state=CycleState(state).value),
        )
        if changed == 0:
            raise NotFoundError(f"no cycle with id {cycle_id}")

    def add_meetings(self, cycle_id: int, meetings: Sequence[Meeting]) -> list[Meeting]:
        """Store groups, their members and meetings; return the meetings with ``id`` and ``cycle_id`` set.

        Members are linked to stored people by email when they exist. Raises ``NotFoundError`` for an
        unknown cycle.
        """
        self._require_cycle(cycle_id)
        emails = {email for meeting in meetings for email in meeting.group.members}
        person_ids: dict[str, int] = {}
        if emails:
            found = self._session.execute(select(PersonRow.email, PersonRow.id).where(PersonRow.email.in_(emails)))
            person_ids = {email: person_id for email, person_id in found}
        rows: list[MeetingRow] = []
        for meeting in meetings:
            row = MeetingRow(
                slot_start=meeting.slot.start if meeting.slot else None,
                slot_end=meeting.slot.end if meeting.slot else None,
                location=meeting.location,
                state=meeting.state,
                sequence=meeting.sequence,
            )
            row.group = GroupRow(
                cycle_id=cycle_id,
                score=meeting.group.score,
                reasons=list(meeting.group.reasons),
                members=[
                    GroupMemberRow(position=position, email=email, person_id=person_ids.get(email))
                    for position, email in enumerate(meeting.group.members)
                ],
            )
            rows.append(row)
        self._session.add_all(rows)
        self._session.flush()  # assigns the ids returned below
        return [replace(meeting, id=row.id, cycle_id=cycle_id) for meeting, row in zip(meetings, rows, strict=True)]

    def meetings(self, cycle_id: int) -> list[Meeting]:
        """The cycle's meetings in the order they were added."""
        statement = (
            _fresh(select(MeetingRow))
            .join(MeetingRow.group)
            .where(GroupRow.cycle_id == cycle_id)
            .order_by(MeetingRow.id)
            .options(selectinload(MeetingRow.group).selectinload(GroupRow.members))
        )
        return [_to_meeting(row, cycle_id) for row in self._session.scalars(statement)]

    def meetings_during(self, window: Interval) -> list[Meeting]:
        """The meetings not cancelled whose time overlaps ``window``, of any cycle and program, by id: a meeting
        moved out of its own cycle's week still takes its new time."""
        statement = (
            _fresh(select(MeetingRow, GroupRow.cycle_id))
            .join(MeetingRow.group)
            .where(MeetingRow.state != "cancelled", MeetingRow.slot_start < window.end,
                   MeetingRow.slot_end > window.start)
            .order_by(MeetingRow.id)
            .options(selectinload(MeetingRow.group).selectinload(GroupRow.members))
        )
        return [_to_meeting(row, cycle_id) for row, cycle_id in self._session.execute(statement)]

    def add_unmatched(self, cycle_id: int, unmatched: Sequence[Unmatched]) -> None:
        """Record who was left out of the cycle and why; raise ``NotFoundError`` for an unknown cycle."""
        self._require_cycle(cycle_id)
        self._session.add_all(UnmatchedRow(cycle_id=cycle_id, email=u.email, reason=u.reason) for u in unmatched)
        self._session.flush()

    def unmatched(self, cycle_id: int) -> list[Unmatched]:
        """Who was left out of the cycle and why, sorted by email."""
        rows = self._session.execute(
            select(UnmatchedRow.email, UnmatchedRow.reason)
            .where(UnmatchedRow.cycle_id == cycle_id)
            .order_by(UnmatchedRow.email, UnmatchedRow.id)
        )
        return [Unmatched(email, reason) for email, reason in rows]

    def add_calendar_gaps(self, cycle_id: int, gaps: Mapping[str, str]) -> None:
        """Record who was planned without calendar data (email → reason); ``NotFoundError`` for an unknown
        cycle."""
        self._require_cycle(cycle_id)
        self._session.add_all(CalendarGapRow(cycle_id=cycle_id, email=email, reason=reason)
                              for email, reason in sorted(gaps.items()))
        self._session.flush()

    def calendar_gaps(self, cycle_id: int) -> dict[str, str]:
        """Who the cycle planned without calendar data, and why, by email."""
        rows = self._session.execute(
            select(CalendarGapRow.email, CalendarGapRow.reason)
            .where(CalendarGapRow.cycle_id == cycle_id)
            .order_by(CalendarGapRow.email)
        )
        return {email: reason for email, reason in rows}

    def meeting(self, meeting_id: int) -> Meeting | None:
        """The meeting with this id (with its group and cycle), or ``None``."""
        statement = (
            _fresh(select(MeetingRow))
            .where(MeetingRow.id == meeting_id)
            .options(selectinload(MeetingRow.group).selectinload(GroupRow.members))
        )
        row = self._session.scalars(statement).first()
        return None if row is None else _to_meeting(row, row.group.cycle_id)

    def update_meeting(self, meeting: Meeting) -> None:
        """Store a meeting's slot, location, state and sequence; ``NotFoundError`` for an unknown meeting.

        The sequence may only rise: an update carrying a sequence not above the stored one lost a race with
        another change of the same meeting and raises ``StorageError`` (the caller's transaction then rolls
        back whole, effects included).
        """
        if meeting.id is None:
            raise NotFoundError("a meeting without an id is not stored")
        changed = _update(
            self._session,
            update(MeetingRow)
            .where(MeetingRow.id == meeting.id, MeetingRow.sequence < meeting.sequence)
            .values(slot_start=meeting.slot.start if meeting.slot else None,
                    slot_end=meeting.slot.end if meeting.slot else None,
                    location=meeting.location, state=meeting.state, sequence=meeting.sequence),
        )
        if changed == 0:
            _require(self._session, MeetingRow.id == meeting.id, f"no meeting with id {meeting.id}")
            raise StorageError(f"meeting {meeting.id} changed meanwhile: its sequence is already "
                               f"{meeting.sequence} or more")

    def set_locations(self, locations: Mapping[int, str]) -> None:
        """Give stored meetings (by id) their location in one statement; their sequence stays (a plan fills in
        the video links of the meetings it has just stored, before anyone was told)."""
        if locations:
            self._session.execute(update(MeetingRow), [{"id": meeting_id, "location": location}
                                                       for meeting_id, location in locations.items()])

    def regroup_meeting(self, meeting: Meeting) -> None:
        """Store a meeting whose group changed: its members (in order, linked to stored people by email), the
        group's score and reasons, and what ``update_meeting`` stores, with the same rules (``NotFoundError``,
        ``StorageError`` for a sequence that does not rise)."""
        self.update_meeting(meeting)
        group_id = self._session.scalar(select(MeetingRow.group_id).where(MeetingRow.id == meeting.id))
        _update(self._session, update(GroupRow).where(GroupRow.id == group_id)
                .values(score=meeting.group.score, reasons=list(meeting.group.reasons)))
        self._session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_id == group_id))
        members = meeting.group.members
        found = self._session.execute(select(PersonRow.email, PersonRow.id).where(PersonRow.email.in_(members)))
        person_ids = {email: person_id for email, person_id in found}
        self._session.execute(dialect_insert(self._session, GroupMemberRow).values([
            {"group_id": group_id, "position": position, "email": email, "person_id": person_ids.get(email)}
            for position, email in enumerate(members)]))

    def set_unmatched(self, cycle_id: int, unmatched: Sequence[Unmatched]) -> None:
        """Replace who was left out of the cycle and why; ``NotFoundError`` for an unknown cycle."""
        self._require_cycle(cycle_id)
        self._session.execute(delete(UnmatchedRow).where(UnmatchedRow.cycle_id == cycle_id))
        self.add_unmatched(cycle_id, unmatched)

    def list(self, program: str | None = None) -> list[Cycle]:
        """Cycles, newest window first, optionally of one program."""
        statement = _fresh(select(CycleRow)).order_by(CycleRow.window_start.desc(), CycleRow.id.desc())
        if program is not None:
            statement = statement.where(CycleRow.program == program)
        return [_to_cycle(row) for row in self._session.scalars(statement)]

    def _require_cycle(self, cycle_id: int) -> None:
        # Checked up front: a foreign-key violation would abort a PostgreSQL transaction and only say
        # "IntegrityError".
        _require(self._session, CycleRow.id == cycle_id, f"no cycle with id {cycle_id}")


def _require(session: Session, condition: ColumnElement[bool], message: str) -> None:
    """Raise ``NotFoundError(message)`` unless a row of the condition's table matches."""
    if session.execute(select(1).where(condition).limit(1)).first() is None:
        raise NotFoundError(message)


def _to_cycle(row: CycleRow) -> Cycle:
    return Cycle(
        program=row.program,
        window=Interval(row.window_start, row.window_end),
        seed=row.seed,
        state=CycleState(row.state),
        id=row.id,
        created_at=row.created_at,
    )


def _to_meeting(row: MeetingRow, cycle_id: int) -> Meeting:
    slot = None
    if row.slot_start is not None and row.slot_end is not None:
        slot = Interval(row.slot_start, row.slot_end)
    group = Group(
        members=tuple(member.email for member in row.group.members),
        score=row.group.score,
        reasons=tuple(row.group.reasons),
    )
    return Meeting(
        group=group,
        slot=slot,
        location=row.location,
        state=row.state,
        sequence=row.sequence,
        id=row.id,
        cycle_id=cycle_id,
    )


def _pairs(members: Iterable[str]) -> Iterable[tuple[str, str]]:
    """Every pair of distinct members, each spelled (smaller, larger) as the table requires."""
    return itertools.combinations(sorted(set(members)), 2)


class SqlAlchemyHistoryRepository:
    """Who met whom (``ports.HistoryRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, cycle_id: int, program: str, met_on: date, groups: Sequence[Group]) -> None:
        """Remember every pair inside every group as having met on ``met_on`` in this cycle.

        Recording the same cycle again adds nothing (a re-run after a crash is harmless). Raises
        ``NotFoundError`` for an unknown cycle.
        """
        _require(self._session, CycleRow.id == cycle_id, f"no cycle with id {cycle_id}")
        pairs = {pair for group in groups for pair in _pairs(group.members)}
        if not pairs:
            return
        rows = [
            {"cycle_id": cycle_id, "program": program, "person_a": a, "person_b": b, "met_on": met_on}
            for a, b in sorted(pairs)
        ]
        insert = dialect_insert(self._session, PairingHistoryRow).values(rows)
        self._session.execute(insert.on_conflict_do_nothing(index_elements=["cycle_id", "person_a", "person_b"]))

    def forget(self, cycle_id: int, pairs: Iterable[frozenset[str]]) -> int:
        """Forget that these pairs were grouped in this cycle (an admin regrouped them); how many rows went."""
        spelled = [tuple(sorted(pair)) for pair in pairs if len(pair) == 2]
        if not spelled:
            return 0
        result = self._session.execute(delete(PairingHistoryRow).where(
            PairingHistoryRow.cycle_id == cycle_id,
            or_(*(and_(PairingHistoryRow.person_a == a, PairingHistoryRow.person_b == b) for a, b in spelled))))
        return int(cast("CursorResult[Any]", result).rowcount)

    def pairs_in_recent_cycles(self, program: str, cycles: int) -> set[frozenset[str]]:
        """Pairs grouped in the program's ``cycles`` most recent cycles, by window start, except a pair whose
        meeting in that cycle did not happen by its members' account (see ``_reported_missed``): they have not
        met, so the cooldown does not keep them apart.

        The most recent cycles count even when they recorded no pairs yet: a cooldown of n cycles means n
        rounds of the program, not n rounds that happened to pair someone.
        """
        if cycles <= 0:
            return set()
        recent = (
            select(CycleRow.id)
            .where(CycleRow.program == program)
            .order_by(CycleRow.window_start.desc(), CycleRow.id.desc())
            .limit(cycles)
        ).scalar_subquery()
        grouped = self._session.execute(
            select(PairingHistoryRow.cycle_id, PairingHistoryRow.person_a, PairingHistoryRow.person_b)
            .where(PairingHistoryRow.cycle_id.in_(recent))
        )
        missed = self._session.execute(
            _meeting_pairs(GroupRow.cycle_id).where(GroupRow.cycle_id.in_(recent), _reported_missed())
        )
        kept = {(cycle, a, b) for cycle, a, b in grouped} - {(cycle, a, b) for cycle, a, b in missed}
        return {frozenset((a, b)) for _, a, b in kept}

    def last_met(self, before: datetime) -> dict[frozenset[str], date]:
        """For every pair who met in any program, the day (UTC) of the latest meeting they had before ``before``.

        A meeting counts once it took place: not cancelled, over by ``before``, and not reported missed (a
        member answered "we didn't meet" and none "we met"). A meeting without a time counts once a member said
        "we met", on its cycle's first day. Being grouped is not meeting: a planned meeting still ahead is not
        counted, so reasons never quote a meeting that has not happened.
        """
        moment = require_utc(before, "before")
        said_met = _feedback_exists(met=True)
        held = or_(
            and_(MeetingRow.slot_end <= moment, or_(~_feedback_exists(met=False), said_met)),
            and_(MeetingRow.slot_start.is_(None), said_met),
        )
        when = func.max(func.coalesce(MeetingRow.slot_start, CycleRow.window_start))
        rows = self._session.execute(
            _meeting_pairs(when)
            .join(CycleRow, CycleRow.id == GroupRow.cycle_id)
            .where(MeetingRow.state != "cancelled", held)
            .group_by(_PAIR_FIRST.email, _PAIR_SECOND.email)
        )
        return {frozenset((a, b)): require_utc(latest).date() for latest, a, b in rows}


# Two members of one group: the pairs of a meeting, each spelled (smaller, larger) like the history's rows.
_PAIR_FIRST = aliased(GroupMemberRow)
_PAIR_SECOND = aliased(GroupMemberRow)


def _meeting_pairs(*columns: Any) -> Select[Any]:
    """``SELECT columns…, first.email, second.email`` over every meeting's pairs of members."""
    return (
        select(*columns, _PAIR_FIRST.email, _PAIR_SECOND.email)
        .select_from(MeetingRow)
        .join(GroupRow, GroupRow.id == MeetingRow.group_id)
        .join(_PAIR_FIRST, _PAIR_FIRST.group_id == GroupRow.id)
        .join(_PAIR_SECOND, and_(_PAIR_SECOND.group_id == GroupRow.id, _PAIR_FIRST.email < _PAIR_SECOND.email))
    )


def _feedback_exists(*, met: bool) -> ColumnElement[bool]:
    """Whether a member of the meeting answered "did you meet?" with ``met``."""
    return (
        select(FeedbackRow.id)
        .where(FeedbackRow.meeting_id == MeetingRow.id, FeedbackRow.met.is_(met))
        .exists()
    )


def _reported_missed() -> ColumnElement[bool]:
    """A meeting its members say did not happen: someone answered "we didn't meet" and nobody "we met"."""
    return and_(_feedback_exists(met=False), ~_feedback_exists(met=True))


class SqlAlchemyFeedbackRepository:
    """Answers to "did you meet?" (``ports.FeedbackRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, meeting_id: int, email: str, met: bool, comment: str = "", *, share_comment: bool = False) -> None:
        """Record one person's answer for one meeting; a later answer replaces an earlier one (whether the
        organisers may read its comment too: ``share_comment``, off unless given).

        Raises ``NotFoundError`` for an unknown meeting.
        """
        _require(self._session, MeetingRow.id == meeting_id, f"no meeting with id {meeting_id}")
        insert = dialect_insert(self._session, FeedbackRow).values(
            meeting_id=meeting_id, email=key_email(email), met=met, comment=comment, answered_at=utcnow(),
            comment_shared=share_comment,
        )
        self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["meeting_id", "email"],
                set_={
                    "met": insert.excluded.met,
                    "comment": insert.excluded.comment,
                    "answered_at": insert.excluded.answered_at,
                    "comment_shared": insert.excluded.comment_shared,
                },
            )
        )


class SqlAlchemyOutboxRepository:
    """Side effects waiting to be performed, identified by key (``ports.OutboxRepository``).

    ``pending`` → ``in_flight`` (claimed, with a lease) → ``done``; back to ``pending`` after a transient
    failure; ``dead`` after a permanent one. ``mark_*`` raise ``NotFoundError`` for an unknown key.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, effect: Effect) -> bool:
        """Store ``effect`` as pending; False (and nothing written) when its key already exists.

        Only ``key``, ``kind``, ``payload``, ``cycle_id``, ``next_attempt_at`` and ``stale_at`` are taken from
        ``effect``: a new effect starts with no attempts and no error. Safe when two planners add the same key at
        once.
        """
        next_attempt_at = effect.next_attempt_at
        insert = (
            dialect_insert(self._session, OutboxEffectRow)
            .values(
                key=effect.key,
                kind=effect.kind,
                payload=effect.payload,
                cycle_id=effect.cycle_id,
                state="pending",
                attempts=0,
                next_attempt_at=require_utc(next_attempt_at, "next_attempt_at") if next_attempt_at else None,
                last_error="",
                stale_at=require_utc(effect.stale_at, "stale_at") if effect.stale_at else None,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxEffectRow.id)
        )
        return self._session.execute(insert).first() is not None

    def due(self, now: datetime, limit: int = 100) -> list[Effect]:
        """Pending effects whose ``next_attempt_at`` is empty or not after ``now``, plus in-flight effects
        whose claim expired before ``now``; oldest first, at most ``limit``."""
        statement = (
            _fresh(select(OutboxEffectRow))
            .where(_is_due(require_utc(now, "now")))
            .order_by(OutboxEffectRow.id)
            .limit(limit)
        )
        return [_to_effect(row) for row in self._session.scalars(statement)]

    def claim(self, key: str, now: datetime, lease: timedelta) -> bool:
        """Mark a due effect in flight until ``now + lease`` and count an attempt; False if it is not due.

        A conditional UPDATE: when two relays race, the database lets only one of them change the row. On
        PostgreSQL the row is first locked with ``FOR UPDATE SKIP LOCKED``, so the second relay moves on at once
        rather than waiting for the first to commit; on SQLite (one writer at a time) the second waits, then
        finds the row no longer due.
        """
        now = require_utc(now, "now")
        condition: ColumnElement[bool] = and_(OutboxEffectRow.key == key, _is_due(now))
        if self._session.get_bind().dialect.name == "postgresql":
            # SELECT … FOR UPDATE SKIP LOCKED: a row another relay is claiming right now is skipped at once
            # instead of waited for; the UPDATE below then only touches the row this transaction locked.
            locked = self._session.execute(
                select(OutboxEffectRow.id).where(condition).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if locked is None:
                return False
            condition = and_(OutboxEffectRow.id == locked, _is_due(now))
        claimed = _update(
            self._session,
            update(OutboxEffectRow)
            .where(condition)
            .values(state="in_flight", claimed_until=now + lease, attempts=OutboxEffectRow.attempts + 1),
        )
        return claimed == 1

    def mark_done(self, key: str, now: datetime) -> None:
        """The effect was performed (recorded even when it was superseded meanwhile: it did happen)."""
        self._set(key, state="done", done_at=require_utc(now, "now"), claimed_until=None, superseded_too=True)

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime) -> None:
        """The effect failed transiently; make it due again at ``next_attempt_at``."""
        self._set(
            key,
            state="pending",
            last_error=error,
            next_attempt_at=require_utc(next_attempt_at, "next_attempt_at"),
            claimed_until=None,
        )

    def mark_dead(self, key: str, error: str) -> None:
        """The effect failed for good; park it for an admin."""
        self._set(key, state="dead", last_error=error, claimed_until=None)

    def release(self, key: str, error: str, next_attempt_at: datetime) -> bool:
        """Give back a claimed effect without counting its attempt (the service refused Coffee Chat, not this
        effect): pending again, due at ``next_attempt_at``. False, and nothing changed, for an effect that is no
        longer in flight (superseded meanwhile, which it must stay)."""
        return _update(
            self._session,
            update(OutboxEffectRow)
            .where(OutboxEffectRow.key == key, OutboxEffectRow.state == "in_flight")
            .values(state="pending",
                    attempts=case((OutboxEffectRow.attempts > 0, OutboxEffectRow.attempts - 1), else_=0),
                    last_error=error, next_attempt_at=require_utc(next_attempt_at, "next_attempt_at"),
                    claimed_until=None),
        ) > 0

    def list(self, cycle_id: int | None = None, state: str | None = None) -> list[Effect]:
        """Effects, oldest first, optionally of one cycle and/or in one state."""
        statement = _fresh(select(OutboxEffectRow)).order_by(OutboxEffectRow.id)
        if cycle_id is not None:
            statement = statement.where(OutboxEffectRow.cycle_id == cycle_id)
        if state is not None:
            statement = statement.where(OutboxEffectRow.state == state)
        return [_to_effect(row) for row in self._session.scalars(statement)]

    def supersede_key(self, key: str, reason: str) -> bool:
        """Mark the one pending or in-flight effect ``key`` superseded (``reason`` to ``last_error``); whether it
        was. A key that is another's prefix is safe here, unlike with ``supersede``."""
        return self._supersede(OutboxEffectRow.key == key, reason) > 0

    def supersede(self, key_prefix: str, reason: str) -> int:
        """Mark every pending or in-flight effect whose key starts with ``key_prefix`` superseded, so it is never
        performed (again); return how many. ``reason`` goes to ``last_error``, for the record."""
        return self._supersede(OutboxEffectRow.key.startswith(key_prefix, autoescape=True), reason)

    def with_prefix(self, key_prefix: str) -> Sequence[Effect]:
        """Every effect whose key starts with ``key_prefix``, in any state, oldest first."""
        statement = (_fresh(select(OutboxEffectRow))
                     .where(OutboxEffectRow.key.startswith(key_prefix, autoescape=True))
                     .order_by(OutboxEffectRow.id))
        return [_to_effect(row) for row in self._session.scalars(statement)]

    def withdraw(self, key_prefix: str, reason: str) -> int:
        """Supersede the effects under ``key_prefix`` that are pending and were never attempted (``reason`` to
        ``last_error``); how many. One a relay holds in flight, or has tried, is left alone: it may have reached
        someone. The caller compares the count with what it expected before it commits."""
        return _update(
            self._session,
            update(OutboxEffectRow)
            .where(OutboxEffectRow.key.startswith(key_prefix, autoescape=True), OutboxEffectRow.state == "pending",
                   OutboxEffectRow.attempts == 0)
            .values(state="superseded", last_error=reason, claimed_until=None),
        )

    def restore(self, key_prefix: str, reason: str) -> int:
        """Make the effects under ``key_prefix`` that were superseded for ``reason`` pending again, as they
        were (a change that superseded them was taken back); how many."""
        return _update(
            self._session,
            update(OutboxEffectRow)
            .where(OutboxEffectRow.key.startswith(key_prefix, autoescape=True),
                   OutboxEffectRow.state == "superseded", OutboxEffectRow.last_error == reason)
            .values(state="pending", last_error="", claimed_until=None),
        )

    def mark_stale(self, key: str, reason: str) -> None:
        """Mark the pending or in-flight effect ``key`` superseded because it came too late to mean anything;
        ``reason`` goes to ``last_error``. An effect in any other state is left as it is."""
        self._supersede(OutboxEffectRow.key == key, reason)

    def _supersede(self, which: ColumnElement[bool], reason: str) -> int:
        """Supersede the pending or in-flight effects ``which`` selects; how many."""
        return _update(
            self._session,
            update(OutboxEffectRow)
            .where(which, OutboxEffectRow.state.in_(("pending", "in_flight")))
            .values(state="superseded", last_error=reason, claimed_until=None),
        )

    def requeue(self, key: str, now: datetime) -> None:
        """Make a dead effect pending again, due at ``now``, with its attempts reset (the last error stays until
        the next attempt). Raises ``NotFoundError`` for an unknown key and ``StorageError`` for an effect that
        is not dead."""
        changed = _update(
            self._session,
            update(OutboxEffectRow)
            .where(OutboxEffectRow.key == key, OutboxEffectRow.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=require_utc(now, "now"), claimed_until=None),
        )
        if changed == 0:
            state = self._session.scalar(select(OutboxEffectRow.state).where(OutboxEffectRow.key == key))
            if state is None:
                raise NotFoundError(f"no outbox effect with key {key!r}")
            raise StorageError(f"outbox effect {key!r} is {state}, not dead: only dead effects can be requeued")

    def _set(self, key: str, *, superseded_too: bool = False, **values: Any) -> None:
        statement = update(OutboxEffectRow).where(OutboxEffectRow.key == key)
        if not superseded_too:
            # A relay finishing an effect that was superseded meanwhile must not make it pending (or dead) again.
            statement = statement.where(OutboxEffectRow.state != "superseded")
        if _update(self._session, statement.values(**values)) == 0:
            exists = self._session.scalar(select(OutboxEffectRow.id).where(OutboxEffectRow.key == key))
            if exists is None:
                raise NotFoundError(f"no outbox effect with key {key!r}")


def _is_due(now: datetime) -> ColumnElement[bool]:
    """Whether an effect is due at ``now``: shared by ``due`` and ``claim``, so that what is listed as due is
    exactly what can be claimed."""
    return or_(
        and_(
            OutboxEffectRow.state == "pending",
            or_(OutboxEffectRow.next_attempt_at.is_(None), OutboxEffectRow.next_attempt_at <= now),
        ),
        and_(OutboxEffectRow.state == "in_flight", OutboxEffectRow.claimed_until < now),
    )


def _to_effect(row: OutboxEffectRow) -> Effect:
    return Effect(
        key=row.key,
        kind=row.kind,
        payload=dict(row.payload),
        cycle_id=row.cycle_id,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        done_at=row.done_at,
        stale_at=row.stale_at,
    )
