"""The service layer: the use cases the CLI and the web site call.

Each function takes its collaborators (a unit-of-work factory, a calendar provider, a mailer, a clock) as
arguments, so the same code runs in tests with fakes and in production with real adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.accounts import purge_expired
from scheduler.availability import fetch_busy_isolated, read_person_busy
from scheduler.cycle import (
    CyclePlan,
    PlanSettings,
    Progress,
    booked_intervals,
    default_seed,
    is_due,
    meeting_key_prefix,
    next_window,
    plan_cycle,
    plan_meeting_change,
    save_plan,
)
from scheduler.errors import CoffeeChatError, InputError, NotFoundError
from scheduler.model import Busy, Cycle, Effect, Interval, Meeting, Person, Program, as_local, require_utc
from scheduler.outbox import DeliveryReport, Performer, RetryPolicy, deliver_due
from scheduler.pairing import PairHistory
from scheduler.people_csv import parse_people_csv
from scheduler.ports import CalendarProvider, Clock, UnitOfWork
from scheduler.report import count_mixed
from scheduler.slots import edge_of_day, hours_conflict, with_reported_hours

UowFactory = Callable[[], UnitOfWork]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """What an import of people did: how many were created or updated, and each bad row's error."""

    created: int
    updated: int
    errors: tuple[InputError, ...]


def import_people(uow_factory: UowFactory, text: str, *, source: str, clock: Clock) -> ImportReport:
    """Create or update people from CSV ``text`` (see ``scheduler.people_csv`` for the columns).

    Good rows are saved in one transaction; bad rows are reported with their line numbers and change nothing.
    Re-importing updates people by email and never duplicates them.
    """
    people, errors = parse_people_csv(text, source=source, now=clock.now())
    created = updated = 0
    with uow_factory() as uow:
        for person in people:
            existing = uow.people.get(person.email)
            if existing is not None and existing.verified_at is not None and person.verified_at is not None:
                # Keep the original confirmation time: a re-import is not a new confirmation.
                person = replace(person, verified_at=existing.verified_at)
            if uow.people.save(person):
                created += 1
            else:
                updated += 1
        uow.commit()
    return ImportReport(created=created, updated=updated, errors=tuple(errors))


@dataclass(frozen=True)
class CycleOutcome:
    """The result of ``run_cycle``: the plan made (None when the window already had a cycle), and the stored
    cycle (None for a dry run)."""

    program: Program
    plan: CyclePlan | None
    cycle: Cycle | None
    already_planned: bool = False


def run_cycle(
    uow_factory: UowFactory,
    provider: CalendarProvider,
    clock: Clock,
    program: Program,
    settings: PlanSettings,
    *,
    dry_run: bool = False,
    seed: int | None = None,
    progress: Progress | None = None,
) -> CycleOutcome:
    """Plan the program's next cycle and store it with its outbox effects (unless ``dry_run``).

    A window that already has a cycle is never planned twice: the outcome says ``already_planned``.
    Calendars are read outside any transaction, since that can take a while.
    """
    now = clock.now()
    window = next_window(program, now)
    with uow_factory() as uow:
        existing = uow.cycles.find(program.name, window.start)
        if existing is not None:
            return CycleOutcome(program, None, existing, already_planned=True)
        people = uow.people.list()
        history = PairHistory(
            recent=frozenset(uow.history.pairs_in_recent_cycles(program.name, program.cooldown_cycles)),
            last_met=uow.history.last_met(),
            **_last_cycle_memory(uow, program, {p.email: p for p in people}),
        )
        booked = booked_intervals(uow, window)
    plan = plan_cycle(program, people, provider, now=now, window=window, history=history,
                      seed=default_seed(program, window) if seed is None else seed, booked=booked,
                      offices=settings.offices, progress=progress)
    if dry_run:
        return CycleOutcome(program, plan, None)
    with uow_factory() as uow:
        if uow.cycles.find(program.name, window.start) is not None:
            # Another run stored this window while we were reading calendars: theirs stands.
            return CycleOutcome(program, None, uow.cycles.find(program.name, window.start), already_planned=True)
        uow.programs.save(program)
        cycle = save_plan(uow, plan, settings)
        uow.commit()
    return CycleOutcome(program, plan, cycle)


def _last_cycle_memory(uow: UnitOfWork, program: Program,
                       people: Mapping[str, Person]) -> dict[str, frozenset[str]]:
    """From the program's latest cycle, read once: who was in a trio or unmatched (``left_over``: not again
    this time, if avoidable) and who had the early or late end of the day (``edge_of_day``)."""
    cycles = uow.cycles.list(program.name)
    if not cycles or cycles[0].id is None:
        return {"left_over": frozenset(), "edge_of_day": frozenset()}
    left_over = {u.email for u in uow.cycles.unmatched(cycles[0].id)}
    edges = set()
    for meeting in uow.cycles.meetings(cycles[0].id):
        if len(meeting.group.members) > program.group_size:
            left_over.update(meeting.group.members)
        members = [people[e] for e in meeting.group.members if e in people]
        if meeting.slot is not None and (who := edge_of_day(meeting.slot, members)):
            edges.add(who)
    return {"left_over": frozenset(left_over), "edge_of_day": frozenset(edges)}


@dataclass(frozen=True)
class ProgramFailure:
    """A program that ``tick`` could not plan this time: its name and what went wrong, in plain words."""

    program: str
    reason: str


@dataclass(frozen=True)
class TickReport:
    """What one ``tick`` did: the cycles it planned, the programs it could not plan, and what the delivery
    pass did."""

    cycles: tuple[CycleOutcome, ...] = ()
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    purged: int = 0  # expired sign-in sessions and used-link records removed
    failures: tuple[ProgramFailure, ...] = ()


def tick(
    uow_factory: UowFactory,
    provider: CalendarProvider,
    clock: Clock,
    programs: Sequence[Program],
    settings: PlanSettings,
    performers: dict[str, Performer],
    policy: RetryPolicy,
    *,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> TickReport:
    """Do whatever is due: plan each program whose cadence has come round, deliver due effects, and forget
    expired sign-in sessions and used links.

    Each program is planned on its own: one that fails is logged with its traceback and reported in
    ``TickReport.failures``, and the other programs are planned and delivery runs all the same (emails of
    earlier cycles must not wait for a program that cannot be planned). Safe to run every few minutes: a
    planned window is never planned again and delivery is idempotent.
    """
    outcomes: list[CycleOutcome] = []
    failures: list[ProgramFailure] = []
    for program in programs:
        try:
            with uow_factory() as uow:
                cycles = uow.cycles.list(program.name)
            if is_due(program, cycles[0] if cycles else None, clock.now()):
                outcomes.append(run_cycle(uow_factory, provider, clock, program, settings, progress=progress))
        except Exception as exc:  # the boundary of one program: the others and delivery go on
            logger.exception("tick: program %r could not be planned", program.name)
            failures.append(ProgramFailure(program.name, _failure_reason(exc)))
    delivery = deliver_due(uow_factory, performers, clock, policy, batch_size=batch_size, progress=progress)
    return TickReport(cycles=tuple(outcomes), delivery=delivery, purged=purge_expired(uow_factory, clock),
                      failures=tuple(failures))


def _failure_reason(exc: Exception) -> str:
    """What went wrong, for the operator: our own errors say it themselves; anything else is named by type."""
    if isinstance(exc, CoffeeChatError):
        return str(exc)
    return f"an unexpected error ({type(exc).__name__}: {exc}); the traceback is in the log"


@dataclass(frozen=True)
class ProgramOverview:
    """Public figures about a program's latest cycle: no names, nothing personal."""

    program: Program
    cycles: int
    latest_week: str | None = None
    groups: int = 0
    people_placed: int = 0
    cross_department_share: float | None = None
    with_slot_share: float | None = None


def program_overview(uow_factory: UowFactory, programs: Sequence[Program]) -> list[ProgramOverview]:
    """For each program, how many cycles ran and what its latest one looked like."""
    overviews = []
    with uow_factory() as uow:
        people = {p.email: p for p in uow.people.list()}
        for program in programs:
            cycles = uow.cycles.list(program.name)
            if not cycles or cycles[0].id is None:
                overviews.append(ProgramOverview(program, len(cycles)))
                continue
            meetings = uow.cycles.meetings(cycles[0].id)
            groups = len(meetings)
            cross = count_mixed((m.group for m in meetings), people, "department")
            with_slot = sum(1 for m in meetings if m.slot is not None)
            overviews.append(ProgramOverview(
                program, len(cycles), cycles[0].window.start.date().isoformat(), groups,
                sum(len(m.group.members) for m in meetings),
                cross / groups if groups else None, with_slot / groups if groups else None))
    return overviews


def stored_person_busy(uow_factory: UowFactory, provider: CalendarProvider, email: str, window: Interval) -> Busy:
    """A stored person's busy and tentative time over ``window``, read through their own calendar source just
    as a cycle reads it ("why was I marked busy?").

    Raises ``NotFoundError`` when nobody with ``email`` is stored, ``CalendarError`` when their calendar cannot
    be read (see ``availability.read_person_busy``).
    """
    with uow_factory() as uow:
        person = uow.people.get(email)
    if person is None:
        raise NotFoundError(f"nobody with email {email.strip().lower()!r} is stored (see `coffeechat import-people`)")
    return read_person_busy(provider, person, window)


@dataclass(frozen=True)
class MeetingChange:
    """What ``cancel_meeting`` or ``reschedule_meeting`` did: the meeting as now stored, how many effects of
    earlier generations it superseded, and the new effects it planned. A checked reschedule also says what it
    could not check (``warnings``: calendars that could not be read) and which conflicts ``force`` overrode."""

    meeting: Meeting
    superseded: int
    planned: tuple[Effect, ...]
    warnings: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()


class SlotConflict(InputError):
    """A meeting cannot move to ``slot``: ``conflicts`` names each member's clash (busy in their calendar,
    another Coffee Chat meeting, outside their working hours or on their office's holiday); ``warnings`` what
    could not be checked."""

    def __init__(self, meeting_id: int, slot: Interval, conflicts: Sequence[str],
                 warnings: Sequence[str] = ()) -> None:
        self.meeting_id = meeting_id
        self.slot = slot
        self.conflicts = tuple(conflicts)
        self.warnings = tuple(warnings)
        super().__init__(f"meeting {meeting_id} cannot move to {slot.start:%a %Y-%m-%d %H:%M} UTC: "
                         + "; ".join(self.conflicts))


@dataclass(frozen=True)
class SlotCheck:
    """What stands in the way of a meeting's new time (``conflicts``) and what could not be checked
    (``warnings``), each a sentence naming the member."""

    conflicts: tuple[str, ...]
    warnings: tuple[str, ...]


def cancel_meeting(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int,
                   reason: str = "") -> MeetingChange:
    """Call a meeting off: mark it ``cancelled`` with a raised SEQUENCE, supersede its pending effects
    (announcements not yet sent, the reminder, the feedback request, provider events) and plan the
    cancellation (emails with ``METHOD:CANCEL``, or the provider's cancel), all in one transaction.

    Raises ``NotFoundError`` for an unknown meeting, ``InputError`` for one already cancelled.
    """
    return _change_meeting(uow_factory, clock, settings, meeting_id, new_slot=None, reason=" ".join(reason.split()))


def reschedule_meeting(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int,
                       new_slot: Interval, *, provider: CalendarProvider | None = None,
                       force: bool = False) -> MeetingChange:
    """Move a meeting to ``new_slot``: raise its SEQUENCE, supersede its pending effects of earlier
    generations, and plan the updated invite (a reschedule notice per member with ``METHOD:REQUEST``, or the
    provider's update), a new reminder and a new feedback request, all in one transaction.

    With a ``provider``, the new time is first checked for every member as a cycle would see it (see
    ``check_new_time``): a conflict raises ``SlotConflict`` naming it, unless ``force``, when the meeting moves
    anyway and the change lists what was overridden. Without one the caller has already chosen a free time
    (``matches.ask_for_another_time`` does) and nothing is read.

    Raises ``NotFoundError`` for an unknown meeting, ``InputError`` for a cancelled one, a slot that has
    already begun, or one of another length than the program's meetings.
    """
    if provider is None:
        return _change_meeting(uow_factory, clock, settings, meeting_id, new_slot=new_slot, reason="")
    check = check_new_time(uow_factory, provider, clock, settings, meeting_id, new_slot)
    if check.conflicts and not force:
        raise SlotConflict(meeting_id, new_slot, check.conflicts, check.warnings)
    change = _change_meeting(uow_factory, clock, settings, meeting_id, new_slot=new_slot, reason="")
    return replace(change, warnings=check.warnings, overridden=check.conflicts)


# How far around a new time calendars are read: enough to cover each member's whole local day (up to 14 hours
# from UTC, 25 hours long), so busy time is described over that day, not cut at the edges of the slot.
CHECK_MARGIN = timedelta(days=2)


def check_new_time(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock, settings: PlanSettings,
                   meeting_id: int, new_slot: Interval) -> SlotCheck:
    """Whether meeting ``meeting_id`` can move to ``new_slot`` for each member, judged as a cycle judges a slot:
    busy time in their calendar (read through ``provider``, tentative time too when the program counts it as
    busy), other meetings Coffee Chat has booked for them, and their working hours (lunch hours for a lunch
    program; working hours the calendar reports replace the profile's) on their own clock, on a day their
    office is open. The buffer a cycle keeps around other meetings is not asked for: back to back is not a
    clash. A calendar that cannot be read is a warning, never a conflict, as it is in a cycle.

    Raises what ``reschedule_meeting`` raises for a meeting that cannot move at all, before reading anything.
    """
    now = clock.now()
    with uow_factory() as uow:
        meeting, program = _changeable(uow, meeting_id)
        _check_new_slot(new_slot, program, now, meeting_id)
        stored = {email: uow.people.get(email) for email in meeting.group.members}
        window = Interval(new_slot.start - CHECK_MARGIN, new_slot.end + CHECK_MARGIN)
        booked = booked_intervals(uow, window)
    # The meeting's own slot is in ``booked`` once per member; it is what moves, so it is no clash.
    if meeting.slot is not None:
        for email in meeting.group.members:
            if meeting.slot in booked.get(email, []):
                booked[email].remove(meeting.slot)
    members = [person for person in stored.values() if person is not None]
    warnings = [f"{email} is no longer stored: not checked" for email, person in stored.items() if person is None]
    # Calendars are read outside any transaction: that can take a while.
    answers = fetch_busy_isolated(provider, members, window)
    conflicts: list[str] = []
    for person in members:
        busy = answers[person.email]  # the boundary answers for everyone asked
        person = with_reported_hours(person, busy)
        outside = hours_conflict(new_slot, person, settings.offices, lunch=program.kind == "lunch")
        if outside is not None:
            conflicts.append(outside)
        if busy.error is not None:
            warnings.append(f"{person.email}'s calendar could not be read ({busy.error}): their busy time is not "
                            "checked")
        elif not busy.known:
            warnings.append(f"{person.email} has no calendar: checked against working hours alone")
        spans = [(span, "busy") for span in busy.busy]
        if program.tentative_busy:
            spans += [(span, "tentatively busy") for span in busy.tentative]
        conflicts += [f"{person.email} is {what} {_span_text(span, new_slot, person.timezone)} in their calendar"
                      for span, what in sorted(spans) if span.overlaps(new_slot)]
        conflicts += [f"{person.email} has another Coffee Chat meeting {_span_text(span, new_slot, person.timezone)}"
                      for span in sorted(booked.get(person.email, ())) if span.overlaps(new_slot)]
    return SlotCheck(tuple(conflicts), tuple(warnings))


def _span_text(span: Interval, slot: Interval, zone: str) -> str:
    """``span`` on the wall clock of ``zone`` over the local day(s) of ``slot``: ``10:00–10:30 Europe/London``,
    ``until 10:30 …`` or ``from 15:00 …`` for time that began or goes on past those days, ``all day (…)``.
    Only those days are described, since the calendar was read a little around the slot, not to the span's
    real ends."""
    first, last = as_local(slot.start, zone).date(), as_local(slot.end, zone).date()
    day_start = datetime.combine(first, time(0), ZoneInfo(zone)).astimezone(UTC)
    day_end = datetime.combine(last + timedelta(days=1), time(0), ZoneInfo(zone)).astimezone(UTC)
    shape = "%H:%M" if first == last else "%a %H:%M"
    start = f"{as_local(max(span.start, day_start), zone):{shape}}"
    end = f"{as_local(min(span.end, day_end), zone):{shape}}"
    if span.start < day_start and span.end > day_end:
        return f"all day ({zone})"
    if span.start < day_start:
        return f"until {end} {zone}"
    if span.end > day_end:
        return f"from {start} {zone}"
    return f"{start}–{end} {zone}"


def _change_meeting(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int, *,
                    new_slot: Interval | None, reason: str) -> MeetingChange:
    now = clock.now()
    with uow_factory() as uow:
        meeting, program = _changeable(uow, meeting_id)
        if new_slot is None:
            changed = replace(meeting, state="cancelled", sequence=meeting.sequence + 1)
        else:
            _check_new_slot(new_slot, program, now, meeting_id)
            changed = replace(meeting, slot=new_slot, sequence=meeting.sequence + 1)
        members = [uow.people.get(email) or Person(email=email, name=email, team="")
                   for email in meeting.group.members]
        uow.cycles.update_meeting(changed)
        superseded = uow.outbox.supersede(
            meeting_key_prefix(meeting.cycle_id, meeting.id),
            f"superseded: meeting {'cancelled' if new_slot is None else 'rescheduled'} (sequence "
            f"{changed.sequence})")
        effects = plan_meeting_change(changed, members, program, settings, now, previous=meeting.slot,
                                      reason=reason)
        for effect in effects:
            uow.outbox.add(effect)
        uow.commit()
    return MeetingChange(changed, superseded, tuple(effects))


def _changeable(uow: UnitOfWork, meeting_id: int) -> tuple[Meeting, Program]:
    """The meeting and its program, when it can still change; ``NotFoundError`` or ``InputError`` otherwise."""
    meeting = uow.cycles.meeting(meeting_id)
    if meeting is None:
        raise NotFoundError(f"no meeting with id {meeting_id}")
    if meeting.state == "cancelled":
        raise InputError(f"meeting {meeting_id} is cancelled: it cannot change any more")
    cycle = uow.cycles.get(meeting.cycle_id) if meeting.cycle_id is not None else None
    if cycle is None:
        raise NotFoundError(f"meeting {meeting_id} belongs to no stored cycle")
    program = uow.programs.get(cycle.program)
    if program is None:
        raise NotFoundError(f"program {cycle.program!r} of meeting {meeting_id} is not stored")
    return meeting, program


def _check_new_slot(slot: Interval, program: Program, now: datetime, meeting_id: int) -> None:
    if slot.start <= require_utc(now):
        raise InputError(f"meeting {meeting_id} cannot move to {slot.start.isoformat()}: that time has begun")
    if slot.duration != program.duration:
        raise InputError(f"meeting {meeting_id} lasts {program.duration_minutes} minutes; the new slot lasts "
                         f"{int(slot.duration.total_seconds() // 60)}")


def slot_starting(uow_factory: UowFactory, meeting_id: int, start: datetime) -> Interval:
    """The slot of meeting ``meeting_id`` moved to ``start``: as long as its program's meetings. Raises
    ``NotFoundError`` for an unknown meeting (or one whose program is not stored)."""
    with uow_factory() as uow:
        meeting = uow.cycles.meeting(meeting_id)
        cycle = uow.cycles.get(meeting.cycle_id) if meeting is not None and meeting.cycle_id is not None else None
        program = uow.programs.get(cycle.program) if cycle is not None else None
    if program is None:
        raise NotFoundError(f"no meeting with id {meeting_id}")
    start = require_utc(start, "start")
    return Interval(start, start + program.duration)


def list_effects(uow_factory: UowFactory, *, state: str | None = None, cycle_id: int | None = None) -> list[Effect]:
    """Outbox effects, oldest first, optionally in one state and/or of one cycle."""
    with uow_factory() as uow:
        return uow.outbox.list(cycle_id=cycle_id, state=state)


def requeue_effect(uow_factory: UowFactory, clock: Clock, key: str) -> None:
    """Give a dead effect another round of attempts, due now. ``NotFoundError`` for an unknown key,
    ``StorageError`` for an effect that is not dead."""
    with uow_factory() as uow:
        uow.outbox.requeue(key, clock.now())
        uow.commit()
