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

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from scheduler.errors import CalendarError, CoffeeChatError, InputError, NotFoundError, ProviderUnavailable
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
from scheduler.pairing.starters import conversation_starters
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    from scheduler.planning.cycle import PlanSettings
    from scheduler.planning.meetings import MeetingChange
    from scheduler.planning.repair import RepairProposal
    from scheduler.ports import CalendarProvider, Clock, UnitOfWork

logger = logging.getLogger(__name__)

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
    # The viewer declined and may still take it back: the meeting is ahead and nothing the decline set in
    # motion has been sent (see ``undo_decline``).
    undo_open: bool = False

    @property
    def meeting_id(self) -> int:
        """The stored meeting's id."""
        return _stored(self.meeting)

    @property
    def partners(self) -> tuple[Person, ...]:
        """Everyone in the meeting but the viewer."""
        return tuple(person for person in self.members if person.email != self.viewer.email)

    @property
    def starters(self) -> tuple[str, ...]:
        """A few conversation starters for the viewer, from what the members share and where they differ."""
        viewer = self.viewer if self.viewer.email in {person.email for person in self.members} else None
        return conversation_starters(self.members, viewer)

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
    def can_undo_decline(self) -> bool:
        """"Undo" is offered after the viewer's decline while nothing it caused has been sent."""
        return self.undo_open and not self.started

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
        undo_open = rsvps.get(email) == "declined" and _undo_refusal(uow, meeting, rsvps, email, now) is None
    return MatchPage(meeting=meeting, program=program, viewer=viewer, members=members, now=require_utc(now),
                     rsvps=rsvps, feedback=mine[0] if mine else None, undo_open=undo_open)


@dataclass(frozen=True)
class Response:
    """What ``respond`` did: the answer stored; whether the meeting is now called off (the last decline, this one
    or another at the same moment); and the cancellation when this decline made it."""

    answer: str
    called_off: bool = False
    cancelled: MeetingChange | None = None
    # With self-healing (a calendar provider given): the partner's new meeting in the same cycle, when someone
    # else was free; whether nobody was; and whether the decliner left a group that goes on without them.
    repaired: Meeting | None = None
    nobody_free: bool = False
    left_group: bool = False


def respond(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int, email: str,
            answer: str, *, provider: CalendarProvider | None = None) -> Response:
    """Store ``email``'s ``accepted`` or ``declined`` for the meeting (a later answer replaces an earlier one).

    A decline that leaves fewer than two members who have not declined cancels the meeting, so the others get
    the cancellation (and the ``METHOD:CANCEL`` invite); with more left it stands. Raises ``NotFoundError`` as
    ``load_match`` does, and ``InputError`` for an unknown answer, a cancelled meeting or one that has begun.

    With a calendar ``provider`` the cycle heals itself (``scheduler.planning.repair``): the partner a decline
    leaves alone is re-paired within the cycle with someone else who is free, in the same transaction as the
    cancellation (or told plainly that nobody else is free this cycle); a decliner in a group that goes on (a
    trio) leaves it, and the others get the updated invite. The decline is stored first, so nothing of the
    re-pair (a calendar that cannot be read, say) can make it fail: the re-pair is then skipped and logged.
    """
    if answer not in RSVP_ANSWERS:
        raise InputError(f"{answer!r} is not an answer ({', '.join(RSVP_ANSWERS)})", where="answer")
    from scheduler.planning.meetings import cancel_meeting
    from scheduler.planning.repair import cancel_and_repair, leave_group

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
        if provider is None:
            return Response(answer)
        try:
            leave_group(uow_factory, settings, meeting_id, email, now)
        except InputError:  # changed meanwhile (cancelled, or someone else left first): it stands as it is
            return Response(answer)
        return Response(answer, left_group=True)
    name = next((person.name for person in members if person.email == email), email)
    reason = f"{name} cannot make it"
    try:
        if provider is None:
            change = cancel_meeting(uow_factory, clock, settings, meeting_id, reason=reason)
            return Response(answer, called_off=True, cancelled=change)
        proposal = _partner_for(uow_factory, provider, settings, meeting_id, still_in, now)
        outcome = cancel_and_repair(uow_factory, settings, meeting_id, now, reason=reason, proposal=proposal,
                                    tell_nobody_free=True)
    except InputError:
        # Every member declined at once and another decline cancelled it first: the partners are told already.
        return Response(answer, called_off=True)
    return Response(answer, called_off=True, cancelled=outcome.cancelled, repaired=outcome.meeting,
                    nobody_free=outcome.meeting is None)


def _partner_for(uow_factory: UowFactory, provider: CalendarProvider, settings: PlanSettings, meeting_id: int,
                 still_in: Sequence[str], now: datetime) -> RepairProposal | None:
    """Whom the one member left could meet instead (``repair.find_partner``), or None. A failure of ours while
    looking (calendar failures never get here: the availability boundary keeps them) skips the re-pair: the
    decline stands, and the log has it once, with its traceback."""
    from scheduler.planning.repair import find_partner

    if len(still_in) != 1:
        return None
    try:
        return find_partner(uow_factory, provider, settings, meeting_id, still_in[0], now)
    except CoffeeChatError:
        logger.exception("re-pairing %s after meeting %d was called off is skipped", still_in[0], meeting_id)
        return None


def undo_decline(uow_factory: UowFactory, clock: Clock, meeting_id: int, email: str) -> Meeting:
    """Take back ``email``'s decline while nothing it set in motion has been sent: the answer is forgotten, and
    a meeting the decline called off stands again (``meetings.reinstate_meeting``: its unsent cancellation is
    withdrawn, the reminders and requests it superseded are queued again). One transaction.

    Raises ``NotFoundError`` as ``load_match`` does, and ``InputError`` when there is no decline to take back,
    the meeting has begun, the others cannot make it either, or the cancellation has gone out.
    """
    from scheduler.planning.meetings import reinstate_meeting

    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, _, _ = _load(uow, meeting_id, email)
        rsvps = {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting_id)}
        refusal = ("you have not declined this meeting" if rsvps.get(email) != "declined"
                   else _undo_refusal(uow, meeting, rsvps, email, now))
        if refusal is not None:
            raise InputError(refusal, where="match")
        uow.matches.forget_rsvp(meeting_id, email)
        if meeting.state == "cancelled":
            meeting = reinstate_meeting(uow, meeting)
        uow.commit()
    return meeting


def _undo_refusal(uow: UnitOfWork, meeting: Meeting, rsvps: Mapping[str, str], email: str,
                  now: datetime) -> str | None:
    """Why ``email``'s decline can no longer be taken back, or None when it can."""
    from scheduler.planning.meetings import cancellation_unsent

    if meeting.slot is not None and meeting.slot.start <= now:
        return "this meeting has already begun"
    if meeting.state != "cancelled":
        return None
    if len([m for m in meeting.group.members if rsvps.get(m) != "declined"]) >= 2:
        # Enough members had not declined: the meeting was called off for another reason (someone left).
        return "this meeting was called off for another reason, so it stays cancelled"
    still_in = [m for m in meeting.group.members if m == email or rsvps.get(m) != "declined"]
    if len(still_in) < 2:
        return "the others cannot make it either, so the meeting stays cancelled"
    if _partner_repaired(uow, meeting, still_in, email):
        return "your partner has been paired with someone else, so the meeting stays cancelled"
    if not cancellation_unsent(uow, meeting):
        return "the cancellation has already gone out, so it cannot be taken back; ask for another time instead"
    return None


def _partner_repaired(uow: UnitOfWork, meeting: Meeting, still_in: Sequence[str], email: str) -> bool:
    """Whether a partner of the called-off ``meeting`` has a new meeting in the same cycle (re-paired)."""
    if meeting.cycle_id is None:
        return False
    partners = {member for member in still_in if member != email}
    return any(partners & set(other.group.members) for other in uow.cycles.meetings(meeting.cycle_id)
               if other.state != "cancelled" and other.id != meeting.id)


def _check_open(meeting: Meeting, now: datetime) -> None:
    if meeting.state == "cancelled":
        raise InputError("this meeting was cancelled: it cannot change any more", where="match")
    if meeting.slot is not None and meeting.slot.start <= now:
        raise InputError("this meeting has already begun", where="match")


def find_next_slot(provider: CalendarProvider, members: Sequence[Person], program: Program,
                   settings: PlanSettings, now: datetime, *, booked: Mapping[str, Sequence[Interval]],
                   after: datetime | None = None) -> Interval:
    """The earliest slot after ``now`` (with the program's notice; and from ``after`` on, when given) that
    every member has free: inside their
    working hours (lunch hours for a lunch program, dinner hours for a dinner program), clear of their
    calendars read now and of ``booked``
    (Coffee Chat's own meetings, the one being moved included), with the program's buffers.

    Raises ``CalendarsUnreadable`` when a calendar cannot be read now (a guess on working hours alone would
    move a meeting onto someone's appointments), ``NoCommonSlot`` when there is no common time within the days
    searched.
    """
    from scheduler.availability.slots import FreeTimeIndex, SlotRules

    start = _floor_step(max(require_utc(now), require_utc(after)) if after is not None else require_utc(now))
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


def propose_another_time(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock,
                         settings: PlanSettings, meeting_id: int, email: str) -> Interval:
    """The time "ask for another time" offers ``email``: the next common slot of every member (see
    ``find_next_slot``) after the meeting's current time, never before it (the others planned around that
    time; a meeting without one looks from now). Changes nothing: ``move_meeting`` moves it once confirmed.

    Raises ``NotFoundError`` as ``load_match`` does; ``InputError`` for a cancelled or begun meeting or one whose
    program is gone; ``CalendarsUnreadable`` or ``NoCommonSlot`` when no time can be found now.
    """
    from scheduler.planning.cycle import booked_intervals

    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, program, members = _load(uow, meeting_id, email)
        _check_open(meeting, now)
        if program is None:
            raise InputError("the program of this meeting no longer exists", where="match")
        after = meeting.slot.end if meeting.slot is not None else now
        start = _floor_step(max(now, after))
        booked = booked_intervals(uow, Interval(start, start + timedelta(days=max(program.window_days,
                                                                                  MIN_SEARCH_DAYS))))
    # Calendars are read outside any transaction: that can take a while.
    return find_next_slot(provider, members, program, settings, now, booked=booked, after=after)


def move_meeting(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock, settings: PlanSettings,
                 meeting_id: int, email: str, start: datetime) -> MeetingChange:
    """Move the meeting to ``start``, the time ``propose_another_time`` offered and ``email`` confirmed, and
    send everyone the updated invite; earlier accept/decline answers are forgotten, since they were about the
    old time. The time is checked again for every member as a cycle would (calendars may have changed since it
    was offered: ``meetings.reschedule_meeting`` with the provider), and it must come after the current one.

    Raises what ``propose_another_time`` raises, ``InputError`` for a time before the meeting's current one,
    and ``SlotConflict`` when the time is no longer free for someone.
    """
    from scheduler.planning.meetings import reschedule_meeting, slot_starting

    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, _, _ = _load(uow, meeting_id, email)
        _check_open(meeting, now)
    slot = slot_starting(uow_factory, meeting_id, require_utc(start, "start"))
    if meeting.slot is not None and slot.start < meeting.slot.end:
        raise InputError("another time comes after the current one: the others planned around it", where="start")
    change = reschedule_meeting(uow_factory, clock, settings, meeting_id, slot, provider=provider)
    with uow_factory() as uow:
        uow.matches.clear_rsvps(meeting_id)
        uow.commit()
    return change


def ask_for_another_time(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock,
                         settings: PlanSettings, meeting_id: int, email: str) -> MeetingChange:
    """Propose the next common time (``propose_another_time``) and move the meeting there at once
    (``move_meeting``): what the site does in two steps, with a confirmation between them."""
    slot = propose_another_time(uow_factory, provider, clock, settings, meeting_id, email)
    return move_meeting(uow_factory, provider, clock, settings, meeting_id, email, slot.start)


def check_comment(text: str, *, limit: int = MAX_COMMENT, where: str = "comment") -> str:
    """The comment stripped; ``InputError`` (at ``where``) when longer than ``limit`` characters or holding
    control characters other than line breaks and tabs."""
    comment = text.strip().replace("\r\n", "\n")
    if len(comment) > limit:
        raise InputError(f"keep it under {limit} characters", where=where)
    if any(unicodedata.category(c) in {"Cc", "Cs"} and c not in "\n\t" for c in comment):
        raise InputError("remove the special characters", where=where)
    return comment


def record_feedback(uow_factory: UowFactory, clock: Clock, meeting_id: int, email: str, *, met: bool,
                    rating: int | None = None, comment: str = "", share_comment: bool = False) -> FeedbackAnswer:
    """Store ``email``'s answer to "did we meet?" (a later answer replaces an earlier one) and return it. The
    comment stays private unless ``share_comment``: only then may the organisers read it (the admin's ratings).

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
        uow.feedback.add(meeting_id, email, met, comment, rating=rating, share_comment=share_comment)
        uow.commit()
    return FeedbackAnswer(meeting_id, email, met, comment, rating, now, comment_shared=share_comment)
