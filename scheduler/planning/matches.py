"""The match page's use cases: see a match, accept or decline it, ask for another time, say whether it happened.

Pure of Flask: the web views (``web/matches.py``) parse, call one function here and render. The emailed buttons
are signed links (``scheduler.planning.links``); without a site key (``[web] secret_key_env`` unset) no links
are signed and emails point at the plain ``/matches/<id>`` page, which needs a sign-in.

- **Answers.** Accepting or declining is stored per member and meeting (``uow.matches``); a decline that leaves
  fewer than two members who have not declined cancels the meeting (``meetings.cancel_meeting``), so the others
  are told. "Did we meet?" goes to ``uow.feedback`` with an optional 1–5 rating and a comment.
- **Another time.** The next common slot of every member after now (the program's notice, working hours, lunch
  hours and buffers, the engine's ``FreeTimeIndex``) over their calendars read now and Coffee Chat's own other
  meetings; the meeting then moves (``meetings.reschedule_meeting``), which sends the updated invites.
"""


from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from scheduler.errors import CalendarError, InputError, NotFoundError, ProviderUnavailable
from scheduler.model import (
    RSVP_ANSWERS,
    Busy,
    FeedbackAnswer,
    Interval,
    Meeting,
    Person,
    Program,
    Rsvp,
    merge_intervals,
    require_utc,
)
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    from scheduler.planning.cycle import PlanSettings
    from scheduler.planning.meetings import MeetingChange
    from scheduler.ports import CalendarProvider, Clock, UnitOfWork

# How far ahead "ask for another time" looks when the program's own window is shorter.
MIN_SEARCH_DAYS = 7
MAX_COMMENT = 1000
SEARCH_STEP = timedelta(minutes=15)



class CalendarsUnreadable(CalendarError):
    """Another time cannot be looked for now: some member's calendar cannot be read (``names`` says whose)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"the calendar of {', '.join(self.names)} cannot be read just now; try again later, or "
                         "agree on a time between you")


class NoCommonSlot(InputError):
    """The members share no free time in the days searched."""


@dataclass(frozen=True)
class MatchPage:
    """What the match page shows one member: the meeting, its program, everyone in it, their answers, and the
    viewer's own feedback. ``now`` decides which buttons are offered."""

    meeting: Meeting
    program: Program | None
    viewer: Person
    members: tuple[Person, ...]
    now: datetime
    rsvps: Mapping[str, str] = field(default_factory=dict)
    feedback: FeedbackAnswer | None = None

    @property
    def meeting_id(self) -> int:
        """The stored meeting's id."""
        return _stored(self.meeting)

    @property
    def partners(self) -> tuple[Person, ...]:
        """Everyone in the meeting but the viewer."""
        return tuple(person for person in self.members if person.email != self.viewer.email)

    @property
    def cancelled(self) -> bool:
        """True once the meeting is called off."""
        return self.meeting.state == "cancelled"

    @property
    def started(self) -> bool:
        """True once the meeting's time has begun (never for a meeting without a time)."""
        slot = self.meeting.slot
        return slot is not None and slot.start <= self.now

    @property
    def my_answer(self) -> str | None:
        """The viewer's ``accepted`` / ``declined``, or None."""
        return self.rsvps.get(self.viewer.email)

    @property
    def can_respond(self) -> bool:
        """Accept, decline and asking for another time are offered until the meeting begins."""
        return not self.cancelled and not self.started

    @property
    def can_give_feedback(self) -> bool:
        """"Did we meet?" is asked once the meeting has begun (or any time, for a meeting without a time)."""
        return not self.cancelled and (self.started or self.meeting.slot is None)


def _stored(meeting: Meeting) -> int:
    if meeting.id is None:
        raise ValueError("a meeting without an id is not stored")
    return meeting.id


def _load(uow: UnitOfWork, meeting_id: int, email: str) -> tuple[Meeting, Program | None, tuple[Person, ...]]:
    """The meeting, its program and members; ``NotFoundError`` alike for a meeting that does not exist and one
    ``email`` is not in (so a stranger learns nothing about which ids exist)."""
    meeting = uow.cycles.meeting(meeting_id)
    if meeting is None or email not in meeting.group.members:
        raise NotFoundError(f"no match {meeting_id} of yours")
    cycle = uow.cycles.get(meeting.cycle_id) if meeting.cycle_id is not None else None
    program = uow.programs.get(cycle.program) if cycle is not None else None
    members = tuple(uow.people.get(member) or Person(email=member, name=member, team="")
                    for member in meeting.group.members)
    return meeting, program, members


def load_match(uow_factory: UowFactory, meeting_id: int, email: str, now: datetime) -> MatchPage:
    """The match page of meeting ``meeting_id`` for its member ``email``. Raises ``NotFoundError`` when there is
    no such meeting, ``email`` is not in it, or the viewer's profile is gone. Changes nothing."""
    with uow_factory() as uow:
        meeting, program, members = _load(uow, meeting_id, email)
        viewer = uow.people.get(email)
        if viewer is None:
            raise NotFoundError(f"no match {meeting_id} of yours")
        rsvps = {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting_id)}
        mine = [answer for answer in uow.feedback.answers(meeting_id) if answer.email == email]
    return MatchPage(meeting=meeting, program=program, viewer=viewer, members=members, now=require_utc(now),
                     rsvps=rsvps, feedback=mine[0] if mine else None)


@dataclass(frozen=True)
class Response:
    """What ``respond`` did: the answer stored; whether the meeting is now called off (the last decline, this one
    or another at the same moment); and the cancellation when this decline made it."""

    answer: str
    called_off: bool = False
    cancelled: MeetingChange | None = None


def respond(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int, email: str,
            answer: str) -> Response:
    """Store ``email``'s ``accepted`` or ``declined`` for the meeting (a later answer replaces an earlier one).

    A decline that leaves fewer than two members who have not declined cancels the meeting, so the others get
    the cancellation (and the ``METHOD:CANCEL`` invite); with more left it stands. Raises ``NotFoundError`` as
    ``load_match`` does, and ``InputError`` for an unknown answer, a cancelled meeting or one that has begun.
    """
    if answer not in RSVP_ANSWERS:
        raise InputError(f"{answer!r} is not an answer ({', '.join(RSVP_ANSWERS)})", where="answer")
    from scheduler.planning.meetings import cancel_meeting

    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, _, members = _load(uow, meeting_id, email)
        _check_open(meeting, now)
        uow.matches.set_rsvp(Rsvp(meeting_id, email, answer, now))
        answers = {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting_id)}
        uow.commit()
    if answer == "accepted":
        return Response(answer)
    still_in = [member for member in meeting.group.members if answers.get(member) != "declined"]
    if len(still_in) >= 2:
        return Response(answer)
    name = next((person.name for person in members if person.email == email), email)
    try:
        change = cancel_meeting(uow_factory, clock, settings, meeting_id, reason=f"{name} cannot make it")
    except InputError:
        # Every member declined at once and another decline cancelled it first: the partners are told already.
        return Response(answer, called_off=True)
    return Response(answer, called_off=True, cancelled=change)


def _check_open(meeting: Meeting, now: datetime) -> None:
    if meeting.state == "cancelled":
        raise InputError("this meeting was cancelled: it cannot change any more", where="match")
    if meeting.slot is not None and meeting.slot.start <= now:
        raise InputError("this meeting has already begun", where="match")


def find_next_slot(provider: CalendarProvider, members: Sequence[Person], program: Program,
                   settings: PlanSettings, now: datetime, *, booked: Mapping[str, Sequence[Interval]]
                   ) -> Interval:
    """The earliest slot after ``now`` (with the program's notice) that every member has free: inside their
    working hours (lunch hours for a lunch program), clear of their calendars read now and of ``booked``
    (Coffee Chat's own meetings, the one being moved included), with the program's buffers.

    Raises ``CalendarsUnreadable`` when a calendar cannot be read now (a guess on working hours alone would
    move a meeting onto someone's appointments), ``NoCommonSlot`` when there is no common time within the days
    searched.
    """
    from scheduler.availability.slots import FreeTimeIndex, SlotRules

    start = _floor_step(require_utc(now))
    days = max(program.window_days, MIN_SEARCH_DAYS)
    window = Interval(start, start + timedelta(days=days))
    try:
        answers = provider.fetch_busy(members, window)
    except ProviderUnavailable:
        raise CalendarsUnreadable([person.name for person in members]) from None
    unreadable = [person.name for person in members
                  if (answers.get(person.email) or Busy(error="no answer")).error is not None]
    if unreadable:
        raise CalendarsUnreadable(unreadable)
    index = FreeTimeIndex(window, SlotRules.for_program(program, now, settings.offices))
    for person in members:
        busy = answers[person.email]
        spans = list(busy.busy) + list(booked.get(person.email, ()))
        if program.tentative_busy:
            spans += busy.tentative
        index.add(person, replace(busy, busy=merge_intervals(spans)))
    starts = index.common_starts(person.email for person in members)
    if not starts:
        raise NoCommonSlot(f"you have no common free time in the next {days} days; agree on a time between you",
                           where="another time")
    begin = index.step_start((starts & -starts).bit_length() - 1)  # the lowest set bit: the earliest start
    return Interval(begin, begin + program.duration)


def _floor_step(moment: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % SEARCH_STEP


def ask_for_another_time(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock,
                         settings: PlanSettings, meeting_id: int, email: str) -> MeetingChange:
    """Move the meeting to the next common slot of all its members (see ``find_next_slot``) and send everyone
    the updated invite; earlier accept/decline answers are forgotten, since they were about the old time.

    Raises ``NotFoundError`` as ``load_match`` does; ``InputError`` for a cancelled or begun meeting or one whose
    program is gone; ``CalendarsUnreadable`` or ``NoCommonSlot`` when no time can be found now.
    """
    from scheduler.planning.cycle import booked_intervals
    from scheduler.planning.meetings import reschedule_meeting

    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, program, members = _load(uow, meeting_id, email)
        _check_open(meeting, now)
        if program is None:
            raise InputError("the program of this meeting no longer exists", where="match")
        start = _floor_step(now)
        booked = booked_intervals(uow, Interval(start, start + timedelta(days=max(program.window_days,
                                                                                  MIN_SEARCH_DAYS))))
    # Calendars are read outside any transaction: that can take a while.
    slot = find_next_slot(provider, members, program, settings, now, booked=booked)
    change = reschedule_meeting(uow_factory, clock, settings, meeting_id, slot)
    with uow_factory() as uow:
        uow.matches.clear_rsvps(meeting_id)
        uow.commit()
    return change


def check_comment(text: str) -> str:
    """The comment stripped; ``InputError`` (where ``comment``) when too long or holding control characters
    other than line breaks and tabs."""
    comment = text.strip().replace("\r\n", "\n")
    if len(comment) > MAX_COMMENT:
        raise InputError(f"keep it under {MAX_COMMENT} characters", where="comment")
    if any(unicodedata.category(c) in {"Cc", "Cs"} and c not in "\n\t" for c in comment):
        raise InputError("remove the special characters", where="comment")
    return comment


def record_feedback(uow_factory: UowFactory, clock: Clock, meeting_id: int, email: str, *, met: bool,
                    rating: int | None = None, comment: str = "") -> FeedbackAnswer:
    """Store ``email``'s answer to "did we meet?" (a later answer replaces an earlier one) and return it.

    Raises ``NotFoundError`` as ``load_match`` does; ``InputError`` for a rating outside 1–5, a bad comment
    (see ``check_comment``), a cancelled meeting or one that has not begun yet.
    """
    if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
        raise InputError("choose a rating from 1 to 5, or none", where="rating")
    comment = check_comment(comment)
    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, _, _ = _load(uow, meeting_id, email)
        if meeting.state == "cancelled":
            raise InputError("this meeting was cancelled", where="match")
        if meeting.slot is not None and meeting.slot.start > now:
            raise InputError("this meeting has not happened yet: tell us afterwards", where="match")
        uow.feedback.add(meeting_id, email, met, comment, rating=rating)
        uow.commit()
    return FeedbackAnswer(meeting_id, email, met, comment, rating, now)
