"""Changing a planned meeting: call it off, or move it to a new time checked the way a cycle checks a slot.

Either change raises the meeting's SEQUENCE, supersedes its pending effects and plans the new ones (the
cancellation or the updated invites) in one transaction.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

from scheduler.availability.calendars import fetch_busy_isolated
from scheduler.availability.slots import hours_conflict, with_reported_hours
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Cycle, Effect, Interval, Meeting, Person, Program, as_local, require_utc
from scheduler.planning.cycle import (
    PlanSettings,
    booked_intervals,
    generation_prefix,
    meeting_key_prefix,
    plan_meeting_change,
)
from scheduler.ports import CalendarProvider, Clock, UnitOfWork, UowFactory


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
    program, their office's dinner hours for a dinner program; working hours the calendar reports replace the
    profile's) on their own clock, on a day their
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
        outside = hours_conflict(new_slot, person, settings.offices, lunch=program.kind == "lunch",
                                 dinner=program.kind == "dinner")
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
        change = _change_in(uow, settings, meeting_id, now, new_slot=new_slot, reason=reason)
        uow.commit()
    return change


def cancel_in(uow: UnitOfWork, settings: PlanSettings, meeting_id: int, now: datetime, *, reason: str = "",
              next_steps: Mapping[str, str] | None = None) -> MeetingChange:
    """``cancel_meeting`` in the caller's unit of work (the caller commits), so a cancellation can share one
    transaction with what follows from it (a re-pair after a decline); ``next_steps`` tells members by email
    what happens to them now (see ``plan_meeting_change``). Raises what ``cancel_meeting`` raises."""
    return _change_in(uow, settings, meeting_id, now, new_slot=None, reason=" ".join(reason.split()),
                      next_steps=next_steps)


def _change_in(uow: UnitOfWork, settings: PlanSettings, meeting_id: int, now: datetime, *,
               new_slot: Interval | None, reason: str,
               next_steps: Mapping[str, str] | None = None) -> MeetingChange:
    meeting, program = _changeable(uow, meeting_id)
    if new_slot is None:
        changed = replace(meeting, state="cancelled", sequence=meeting.sequence + 1)
    else:
        _check_new_slot(new_slot, program, now, meeting_id)
        changed = replace(meeting, slot=new_slot, sequence=meeting.sequence + 1)
    members = [uow.people.get(email) or Person(email=email, name=email, team="")
               for email in meeting.group.members]
    uow.cycles.update_meeting(changed)
    superseded = uow.outbox.supersede(meeting_key_prefix(meeting.cycle_id, meeting.id),
                                      superseded_because(changed))
    effects = plan_meeting_change(changed, members, program, settings, now, previous=meeting.slot,
                                  reason=reason, next_steps=next_steps)
    for effect in effects:
        uow.outbox.add(effect)
    return MeetingChange(changed, superseded, tuple(effects))


def store_regrouped(uow: UnitOfWork, cycle: Cycle, before: Meeting, changed: Meeting) -> None:
    """Store ``changed``, meeting ``before`` with other members (or cancelled), in the caller's unit of work, and
    correct the cycle's pairing history to match: pairs no longer grouped are forgotten, new ones recorded on
    the day a cycle records its pairs (its window's first, as ``save_plan`` does). The caller supersedes and
    plans the meeting's effects."""
    if cycle.id is None:
        raise NotFoundError("a cycle that is not stored cannot change")
    uow.cycles.regroup_meeting(changed)
    old_pairs = {frozenset(pair) for pair in combinations(before.group.members, 2)}
    new_pairs = set() if changed.state == "cancelled" else {
        frozenset(pair) for pair in combinations(changed.group.members, 2)}
    uow.history.forget(cycle.id, old_pairs - new_pairs)
    if new_pairs - old_pairs:
        uow.history.record(cycle.id, cycle.program, cycle.window.start.date(), [changed.group])


def superseded_because(changed: Meeting) -> str:
    """What the earlier effects of a meeting changed to ``changed`` record as the reason they were superseded:
    the record a taken-back cancellation finds them by (``reinstate_meeting``)."""
    what = "cancelled" if changed.state == "cancelled" else "rescheduled"
    return f"superseded: meeting {what} (sequence {changed.sequence})"


def cancellation_unsent(uow: UnitOfWork, meeting: Meeting) -> bool:
    """Whether ``meeting`` is cancelled and nothing of its cancellation has been sent or tried yet: every effect
    of its latest generation is still pending, never attempted, so no member has heard of it."""
    if meeting.state != "cancelled":
        return False
    effects = uow.outbox.with_prefix(generation_prefix(meeting.cycle_id, meeting.id, meeting.sequence))
    return bool(effects) and all(effect.state == "pending" and effect.attempts == 0 for effect in effects)


def reinstate_meeting(uow: UnitOfWork, meeting: Meeting) -> Meeting:
    """Take back the cancellation of ``meeting`` in the caller's unit of work, as if it had not happened: its
    cancellation (still unsent) is withdrawn, the effects it superseded (unsent announcements, the reminder, the
    "did you meet?" request, the provider's event) are pending again, and the meeting is ``proposed``.

    Raises
    ``InputError`` when the meeting is not cancelled or part of the cancellation has been sent or tried (the
    caller must not commit then). The caller commits.
    """
    if not cancellation_unsent(uow, meeting):
        raise InputError("the cancellation has already been sent, so it cannot be taken back; ask for another "
                         "time with your partners instead", where="match")
    generation = generation_prefix(meeting.cycle_id, meeting.id, meeting.sequence)
    expected = len(uow.outbox.with_prefix(generation))
    if uow.outbox.withdraw(generation, "superseded: cancellation taken back") != expected:
        # A relay claimed part of it between the check and now: it may be on its way.
        raise InputError("the cancellation is being sent just now, so it cannot be taken back", where="match")
    uow.outbox.restore(meeting_key_prefix(meeting.cycle_id, meeting.id), superseded_because(meeting))
    # The SEQUENCE rises once more (it only ever rises, so a concurrent change loses the race cleanly); the
    # invites already sent carry a lower one, and the next change's outranks them all.
    reinstated = replace(meeting, state="proposed", sequence=meeting.sequence + 1)
    uow.cycles.update_meeting(reinstated)
    return reinstated


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
