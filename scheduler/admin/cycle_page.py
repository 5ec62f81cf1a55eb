"""The admin's page of one stored cycle: every group with who is in it, when on each member's own clock, each
member's answers and the meeting's state; who was left out and why; how far delivery has gone; and the cycle's
ratings with the comments their writers chose to share.

Read-only: ``scheduler.admin.cycle_changes`` removes and swaps people. Pure of Flask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.delivery.emails import format_slot
from scheduler.errors import NotFoundError
from scheduler.model import Cycle, Effect, Interval, Person, Program, RatingFact, SharedComment
from scheduler.ports import UowFactory

# Effects in these states were handed to a mail server or calendar provider, or are being: the people of the
# cycle may have heard of their groups.
STARTED_STATES = frozenset({"done", "in_flight", "dead"})


@dataclass(frozen=True)
class MemberView:
    """One member of a group as the admin sees them: who, their meeting time on their own clock, their answer
    to the invitation (``accepted``, ``declined`` or None) and to "did you meet?" (True, False or None)."""

    email: str
    name: str
    department: str
    team: str
    timezone: str
    local_time: str | None
    answer: str | None
    met: bool | None


@dataclass(frozen=True)
class GroupView:
    """One group of the cycle and its meeting."""

    meeting_id: int
    state: str
    slot: Interval | None
    location: str
    members: tuple[MemberView, ...]
    reasons: tuple[str, ...]

    @property
    def cancelled(self) -> bool:
        """True once the meeting is called off."""
        return self.state == "cancelled"


@dataclass(frozen=True)
class LeftOutView:
    """Someone the cycle left out, and why."""

    email: str
    name: str
    department: str
    reason: str


@dataclass(frozen=True)
class CyclePage:
    """Everything the cycle page shows. ``started`` counts the cycle's emails and events already sent or tried:
    once there is one, nobody may be removed or swapped (see ``delivery_started``)."""

    cycle: Cycle
    program: Program | None
    groups: tuple[GroupView, ...]
    left_out: tuple[LeftOutView, ...]
    started: int
    pending: int
    ratings: RatingFact | None
    comments: tuple[SharedComment, ...]

    @property
    def cycle_id(self) -> int:
        """The stored cycle's id."""
        if self.cycle.id is None:
            raise ValueError("a cycle page shows a stored cycle")
        return self.cycle.id

    @property
    def can_change(self) -> bool:
        """Whether the admin may still remove or swap people: nothing of the cycle has gone out yet."""
        return self.started == 0 and self.program is not None

    @property
    def swappable(self) -> tuple[tuple[str, str], ...]:
        """``(email, label)`` of everyone who may be swapped: members of the groups still standing, then the
        people left out."""
        grouped = [(m.email, f"{m.name} (group {g.meeting_id})") for g in self.groups if not g.cancelled
                   for m in g.members]
        return (*grouped, *((p.email, f"{p.name} (left out)") for p in self.left_out))


def delivery_started(effects: Iterable[Effect]) -> int:
    """How many of these effects were sent or tried (done, in flight, dead, or superseded after an attempt):
    each may have told someone of their group."""
    return sum(1 for effect in effects if effect.state in STARTED_STATES or effect.attempts > 0)


def load_cycle_page(uow_factory: UowFactory, cycle_id: int) -> CyclePage:
    """The page of cycle ``cycle_id``; ``NotFoundError`` for a cycle that is not stored. Changes nothing."""
    with uow_factory() as uow:
        cycle = uow.cycles.get(cycle_id)
        if cycle is None:
            raise NotFoundError(f"no cycle with id {cycle_id}")
        program = uow.programs.get(cycle.program)
        meetings = uow.cycles.meetings(cycle_id)
        unmatched = uow.cycles.unmatched(cycle_id)
        emails = {email for meeting in meetings for email in meeting.group.members} | {u.email for u in unmatched}
        people = {email: uow.people.get(email) for email in sorted(emails)}
        answers = {meeting.id: {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting.id)}
                   for meeting in meetings if meeting.id is not None}
        feedback = {meeting.id: {answer.email: answer.met for answer in uow.feedback.answers(meeting.id)}
                    for meeting in meetings if meeting.id is not None}
        effects = uow.outbox.list(cycle_id=cycle_id)
        ratings = next((fact for fact in uow.reports.ratings(cycle.program) if fact.cycle_id == cycle_id), None)
        comments = uow.reports.shared_comments(cycle_id)
    groups = []
    for meeting in meetings:
        if meeting.id is None:  # pragma: no cover - stored meetings have ids
            continue
        members = tuple(
            _member(email, people.get(email), meeting.slot, answers[meeting.id].get(email),
                    feedback[meeting.id].get(email))
            for email in meeting.group.members)
        groups.append(GroupView(meeting.id, meeting.state, meeting.slot, meeting.location, members,
                                meeting.group.reasons))
    left_out = tuple(LeftOutView(u.email, _name(u.email, people.get(u.email)), _department(people.get(u.email)),
                                 u.reason) for u in unmatched)
    return CyclePage(cycle=cycle, program=program, groups=tuple(groups), left_out=left_out,
                     started=delivery_started(effects),
                     pending=sum(1 for effect in effects if effect.state == "pending"),
                     ratings=ratings, comments=tuple(comments))


def _member(email: str, person: Person | None, slot: Interval | None, answer: str | None,
            met: bool | None) -> MemberView:
    zone = person.timezone if person is not None else "UTC"
    return MemberView(email=email, name=_name(email, person), department=_department(person),
                      team=person.team if person is not None else "", timezone=zone,
                      local_time=format_slot(slot, zone) if slot is not None else None, answer=answer, met=met)


def _name(email: str, person: Person | None) -> str:
    return person.name if person is not None else f"{email} (no longer stored)"


def _department(person: Person | None) -> str:
    return person.department if person is not None else ""


@dataclass(frozen=True)
class CycleListing:
    """One stored cycle in the admin's list."""

    id: int
    program: str
    week: str
    state: str
    groups: int


def list_cycles(uow_factory: UowFactory, limit: int = 50) -> list[CycleListing]:
    """The ``limit`` newest stored cycles of every program, newest window first."""
    with uow_factory() as uow:
        cycles = [cycle for cycle in uow.cycles.list() if cycle.id is not None][:limit]
        listings = [CycleListing(cycle.id, cycle.program, cycle.window.start.date().isoformat(), str(cycle.state),
                                 len(uow.cycles.meetings(cycle.id)))
                    for cycle in cycles if cycle.id is not None]
    return listings
