"""The match page's use cases: see a match, accept or decline it, ask for another time, say whether it happened.

Pure of Flask: the web views (``web/matches.py``) parse, call one function here and render.

- **Signed links.** Emails carry one link per action (``accept``, ``decline``, ``reschedule`` in the
  announcement; ``met`` and ``not-met`` in the "did you meet?" request), each a token signed with the site's
  secret key (itsdangerous, HMAC-SHA256) under a salt of its own, so a token made for one action is refused for
  any other. Inside: the meeting id, the recipient's address and when the link expires (a week after the
  meeting ends; for a meeting without a time, a while after the email was planned). The token holds no random
  nonce and no issue time, so a link is the same for a given key and meeting: emails built at plan time stay
  reproducible (and their snapshots stable). A link only opens a page; the page's button (a POST with a CSRF
  token) does the action, because mail scanners follow links.
- **Without a key** (``[web] secret_key_env`` unset) no links are signed: emails point at the plain
  ``/matches/<id>`` page, which needs a sign-in.
- **Answers.** Accepting or declining is stored per member and meeting (``uow.matches``); a decline that leaves
  fewer than two members who have not declined cancels the meeting (``services.cancel_meeting``), so the others
  are told. "Did we meet?" goes to ``uow.feedback`` with an optional 1–5 rating and a comment.
- **Another time.** The next common slot of every member after now (the program's notice, working hours, lunch
  hours and buffers, the engine's ``FreeTimeIndex``) over their calendars read now and Coffee Chat's own other
  meetings; the meeting then moves (``services.reschedule_meeting``), which sends the updated invites.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from itsdangerous import BadSignature, URLSafeSerializer

from scheduler.errors import CalendarError, InputError, NotFoundError, ProviderUnavailable
from scheduler.model import Busy, FeedbackAnswer, Interval, Meeting, Person, Program, Rsvp, merge_intervals, require_utc

if TYPE_CHECKING:
    from scheduler.cycle import PlanSettings
    from scheduler.ports import CalendarProvider, Clock, UnitOfWork
    from scheduler.services import MeetingChange

ACCEPT = "accept"
DECLINE = "decline"
RESCHEDULE = "reschedule"
MET = "met"
NOT_MET = "not-met"
ACTIONS = (ACCEPT, DECLINE, RESCHEDULE, MET, NOT_MET)
ANNOUNCEMENT_ACTIONS = (ACCEPT, DECLINE, RESCHEDULE)
# A meeting without a time has nothing to accept yet: its announcement offers to find a time, or to decline.
UNSCHEDULED_ACTIONS = (RESCHEDULE, DECLINE)
FEEDBACK_ACTIONS = (MET, NOT_MET)
ANSWERS = ("accepted", "declined")
# A link works until a week after its meeting ends: long enough to answer "did you meet?" after a holiday.
LINK_GRACE = timedelta(days=7)
# A meeting without a time: its links work this long after the email was planned (about a cycle), plus grace.
UNSCHEDULED_LIFETIME = timedelta(days=14)
# How far ahead "ask for another time" looks when the program's own window is shorter.
MIN_SEARCH_DAYS = 7
MAX_COMMENT = 1000
SEARCH_STEP = timedelta(minutes=15)

UowFactory = Callable[[], "UnitOfWork"]


class MatchLinkError(InputError):
    """A match link that cannot be used: ``reason`` is ``invalid`` (tampered, cut short, made for another
    action), ``expired``, ``other-meeting`` (made for another match) or ``unavailable`` (the match or the
    person is gone). The message is fit to show to the person who clicked it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "This link is not valid. Copy the whole link from the email, or sign in to see your match.",
        "expired": "This link has expired. Sign in to see your matches.",
        "other-meeting": "This link belongs to another match. Open the link from the email again, or sign in.",
        "unavailable": "This match is no longer available to you.",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES[reason], where="link")


class CalendarsUnreadable(CalendarError):
    """Another time cannot be looked for now: some member's calendar cannot be read (``names`` says whose)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"the calendar of {', '.join(self.names)} cannot be read just now; try again later, or "
                         "agree on a time between you")


class NoCommonSlot(InputError):
    """The members share no free time in the days searched."""


class MatchLinks:
    """Makes and reads the signed links of match emails, one salt per action.

    ``url`` is deterministic: the same key, meeting, recipient and action always give the same link.
    """

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("match links need a secret key")
        self._serializers = {
            action: URLSafeSerializer(secret_key, salt=f"coffeechat.match.{action}",
                                      signer_kwargs={"digest_method": hashlib.sha256})
            for action in ACTIONS
        }

    @staticmethod
    def expiry(meeting: Meeting, issued_at: datetime) -> datetime:
        """When links for ``meeting`` made at ``issued_at`` stop working: a week after its end (or, without a
        time, ``UNSCHEDULED_LIFETIME`` plus that week after ``issued_at``)."""
        end = meeting.slot.end if meeting.slot is not None else require_utc(issued_at) + UNSCHEDULED_LIFETIME
        return end + LINK_GRACE

    def token(self, meeting: Meeting, email: str, action: str, issued_at: datetime) -> str:
        """The signed token for ``email`` to do ``action`` on ``meeting``; ``ValueError`` for an unknown action or
        a meeting that is not stored."""
        if action not in self._serializers:
            raise ValueError(f"{action!r} is not a match action ({', '.join(ACTIONS)})")
        if meeting.id is None:
            raise ValueError("links are made only for stored meetings")
        expires = int(self.expiry(meeting, issued_at).timestamp())
        token: str = self._serializers[action].dumps({"m": meeting.id, "e": email, "x": expires})
        return token

    def url(self, base_url: str, meeting: Meeting, email: str, action: str, issued_at: datetime) -> str:
        """``<base_url>/matches/<id>/<action>/<token>``: the page that asks to confirm ``action``."""
        token = self.token(meeting, email, action, issued_at)
        return f"{base_url.rstrip('/')}/matches/{meeting.id}/{action}/{token}"

    def urls(self, base_url: str, meeting: Meeting, email: str, actions: Sequence[str],
             issued_at: datetime) -> dict[str, str]:
        """``{action: url}`` for each of ``actions``."""
        return {action: self.url(base_url, meeting, email, action, issued_at) for action in actions}

    def load(self, action: str, token: str, meeting_id: int, now: datetime) -> str:
        """The address a valid ``token`` for ``action`` on meeting ``meeting_id`` was made for; ``MatchLinkError``
        ``invalid``, ``other-meeting`` or ``expired`` otherwise."""
        if action not in self._serializers or len(token) > 1024:
            raise MatchLinkError("invalid")
        try:
            payload: Any = self._serializers[action].loads(token)
        except BadSignature:
            raise MatchLinkError("invalid") from None
        if not isinstance(payload, dict):
            raise MatchLinkError("invalid")
        meeting, email, expires = payload.get("m"), payload.get("e"), payload.get("x")
        if not (isinstance(meeting, int) and isinstance(email, str) and isinstance(expires, int)):
            raise MatchLinkError("invalid")
        if meeting != meeting_id:
            raise MatchLinkError("other-meeting")
        if require_utc(now).timestamp() >= expires:
            raise MatchLinkError("expired")
        return email


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
    if answer not in ANSWERS:
        raise InputError(f"{answer!r} is not an answer ({', '.join(ANSWERS)})", where="answer")
    from scheduler.services import cancel_meeting

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
    from scheduler.slots import FreeTimeIndex, SlotRules

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
    from scheduler.cycle import booked_intervals
    from scheduler.services import reschedule_meeting

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
