"""The admin's changes to a stored cycle before anyone has heard of it: take a person out of their group, or swap
two people (between two groups, or a grouped person with someone left out).

Each change is one transaction, as a plan is: the meetings' members (and their SEQUENCE, raised), the cycle's
pairing history, its list of who was left out, and the outbox: the changed meetings' pending effects are
superseded and their announcements planned again (``planning.cycle.announcement_effects``), the people newly
left out get the notice a cycle sends (``planning.cycle.unmatched_effect``) and the notices of people now placed
are superseded. A group left with one person is cancelled and that person is left out, with the reason.

Nothing changes once the cycle's delivery has begun (an email or event sent or tried, see
``cycle_page.delivery_started``): people would get a second, different announcement. The pairing engine's hard
rules hold (``pairing.rules.hard_rule``, with the cooldown and once-per-window memory), and an incoming person's
working hours must hold the meeting's time. Pure of Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import combinations

from scheduler.admin.cycle_page import delivery_started
from scheduler.availability.slots import hours_conflict
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Cycle, CycleState, Effect, Meeting, Person, Program, Unmatched, normalize_email
from scheduler.pairing.rules import PairHistory, hard_rule
from scheduler.planning.cycle import (
    PlanSettings,
    announcement_effects,
    meeting_key_prefix,
    pairs_grouped_in_window,
    slot_reason,
    unmatched_effect,
    unmatched_key,
)
from scheduler.planning.meetings import store_regrouped
from scheduler.planning.repair import ORGANISER_REMOVED
from scheduler.ports import Clock, UnitOfWork, UowFactory

# One text, the one the re-pairing after a decline recognises such a person by.
REMOVED = ORGANISER_REMOVED
LEFT_ALONE = ("your partner is not taking part in this cycle after all, and nobody else was free to join you; "
              "you stay in for the next one")
REGROUPED = "an organiser put this group together"


class ChangeRefused(InputError):
    """The cycle cannot change this way; the message says why in plain words (the hard rule by name)."""


@dataclass(frozen=True)
class CycleChange:
    """What a change did: a sentence for the admin, the meetings as now stored, and the outbox figures."""

    summary: str
    meetings: tuple[Meeting, ...]
    superseded: int
    planned: int


@dataclass
class _Draft:
    """The cycle being changed inside one transaction."""

    uow: UnitOfWork
    cycle: Cycle
    program: Program
    meetings: dict[int, Meeting]
    unmatched: dict[str, str]
    effects: list[Effect]
    changed: dict[int, Meeting] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # newly left out: email -> reason
    placed: set[str] = field(default_factory=set)  # left out before, in a group now

    @property
    def cycle_id(self) -> int:
        return _stored(self.cycle.id)

    def group_of(self, email: str) -> Meeting | None:
        """The standing meeting ``email`` is a member of, if any."""
        return next((m for m in self.meetings.values() if m.state != "cancelled" and email in m.group.members),
                    None)

    def person(self, email: str) -> Person:
        person = self.uow.people.get(email)
        if person is None:
            raise ChangeRefused(f"{email} is no longer stored: they cannot join a group", where="person")
        return person


def remove_member(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, cycle_id: int,
                  email: str) -> CycleChange:
    """Take ``email`` out of their group in cycle ``cycle_id``; they are left out with a reason (and told so).
    A group left with one person is cancelled and that person is left out too.

    Raises ``NotFoundError`` for an unknown cycle, ``InputError`` for someone not in a group of it, and
    ``ChangeRefused`` once the cycle's delivery has begun.
    """
    email = _address(email, "person")
    now = clock.now()
    with uow_factory() as uow:
        draft = _open(uow, cycle_id, now)
        meeting = draft.group_of(email)
        if meeting is None:
            raise InputError(_not_grouped(draft, email), where="person")
        name = _name(uow, email)
        rest = tuple(member for member in meeting.group.members if member != email)
        _leave_out(draft, email, REMOVED)
        if len(rest) >= 2:
            _regroup(draft, meeting, rest, [])
            summary = f"{name} is out of group {meeting.id}; the others get a new announcement."
        else:
            _cancel(draft, meeting)
            for alone in rest:
                _leave_out(draft, alone, LEFT_ALONE)
            summary = (f"{name} is out of group {meeting.id}, which is cancelled: "
                       f"{', '.join(_name(uow, alone) for alone in rest)} is left out this cycle.")
        return _commit(draft, settings, now, summary)


def swap_members(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, cycle_id: int, first: str,
                 second: str) -> CycleChange:
    """Swap ``first`` and ``second`` in cycle ``cycle_id``: each takes the other's place in their group, or, when
    one was left out, they take the grouped one's place and the other is left out instead.

    Raises ``NotFoundError`` for an unknown cycle; ``InputError`` for someone not in the cycle, the same person
    twice, two people of one group or two people left out; ``ChangeRefused`` when a hard rule forbids a new pair
    (the rule named), an incoming person cannot take part or has the meeting's time outside their hours, or
    the cycle's delivery has begun.
    """
    first, second = _address(first, "first"), _address(second, "second")
    if first == second:
        raise InputError("choose two different people", where="second")
    now = clock.now()
    with uow_factory() as uow:
        draft = _open(uow, cycle_id, now)
        one, other = draft.group_of(first), draft.group_of(second)
        for email, meeting, where in ((first, one, "first"), (second, other, "second")):
            if meeting is None and email not in draft.unmatched:
                raise InputError(f"{email} is not in this cycle", where=where)
        if one is None and other is None:
            raise InputError("both are left out: choose at least one person who is in a group", where="second")
        if one is not None and one is other:
            raise InputError("they are in the same group already", where="second")
        history = _history(draft)
        names = f"{_name(uow, first)} and {_name(uow, second)}"
        if one is not None and other is not None:
            _check_joins(draft, history, settings, second, one, leaving=first)
            _check_joins(draft, history, settings, first, other, leaving=second)
            _regroup(draft, one, _replaced(one, first, second), [second])
            _regroup(draft, other, _replaced(other, second, first), [first])
            summary = f"{names} swapped groups ({one.id} and {other.id}); both groups get a new announcement."
        else:
            grouped, outside = (first, second) if one is not None else (second, first)
            meeting = one if one is not None else other
            if meeting is None:  # pragma: no cover - refused above: at least one of them is in a group
                raise InputError("choose at least one person who is in a group", where="second")
            _check_joins(draft, history, settings, outside, meeting, leaving=grouped)
            _regroup(draft, meeting, _replaced(meeting, grouped, outside), [outside])
            draft.placed.add(outside)
            _leave_out(draft, grouped, REMOVED)
            summary = (f"{_name(uow, outside)} takes {_name(uow, grouped)}'s place in group {meeting.id}, which gets "
                       f"a new announcement; {_name(uow, grouped)} is left out this cycle.")
        return _commit(draft, settings, now, summary)


def _address(text: str, where: str) -> str:
    try:
        return normalize_email(text)
    except ValueError:
        raise InputError(f"{text.strip()[:80]!r} is not an email address", where=where) from None


def _open(uow: UnitOfWork, cycle_id: int, now: datetime) -> _Draft:
    cycle = uow.cycles.get(cycle_id)
    if cycle is None:
        raise NotFoundError(f"no cycle with id {cycle_id}")
    program = uow.programs.get(cycle.program)
    if program is None:
        raise ChangeRefused(f"the program {cycle.program!r} of this cycle is not stored any more", where="cycle")
    effects = uow.outbox.list(cycle_id=cycle_id)
    _refuse_if_started(effects)
    meetings = {m.id: m for m in uow.cycles.meetings(cycle_id) if m.id is not None}
    unmatched = {u.email: u.reason for u in uow.cycles.unmatched(cycle_id)}
    return _Draft(uow, cycle, program, meetings, unmatched, effects)


def _refuse_if_started(effects: Iterable[Effect]) -> None:
    started = delivery_started(effects)
    if started:
        raise ChangeRefused(f"delivery of this cycle has begun ({started} of its emails or events sent or tried): "
                            "its groups can no longer change", where="cycle")


def _not_grouped(draft: _Draft, email: str) -> str:
    if email in draft.unmatched:
        return f"{email} is not in a group of this cycle: they are left out already"
    return f"{email} is not in this cycle"


def _name(uow: UnitOfWork, email: str) -> str:
    person = uow.people.get(email)
    return person.name if person is not None else email


def _replaced(meeting: Meeting, leaving: str, joining: str) -> tuple[str, ...]:
    """The members of ``meeting`` with ``joining`` in the place of ``leaving``."""
    return tuple(joining if member == leaving else member for member in meeting.group.members)


def _history(draft: _Draft) -> PairHistory:
    """What the engine remembered when it planned this cycle: the pairs inside the cooldown (this cycle counts
    among the newest, hence one more) and the pairs other programs group in the same window."""
    uow, program = draft.uow, draft.program
    recent = frozenset(uow.history.pairs_in_recent_cycles(program.name, program.cooldown_cycles + 1))
    apart: frozenset[frozenset[str]] = frozenset()
    if program.once_per_window:
        own = {frozenset(pair) for m in draft.meetings.values() for pair in combinations(m.group.members, 2)}
        apart = frozenset(pairs_grouped_in_window(uow, draft.cycle.window) - own)
    return PairHistory(recent=recent, apart=apart)


def _check_joins(draft: _Draft, history: PairHistory, settings: PlanSettings, joining: str, meeting: Meeting, *,
                 leaving: str) -> None:
    """``ChangeRefused`` unless ``joining`` may take ``leaving``'s place in ``meeting``."""
    person = draft.person(joining)
    why_not = person.ineligibility(draft.program, draft.cycle.window.start.date())
    if why_not is not None:
        raise ChangeRefused(f"{person.name} cannot take part in this cycle: {why_not}", where="person")
    for email in meeting.group.members:
        if email in (leaving, joining):
            continue
        other = draft.uow.people.get(email)
        if other is None:
            continue
        rule = hard_rule(person, other, draft.program, history, None)
        if rule is not None:
            raise ChangeRefused(f"{person.name} and {other.name} cannot be grouped: {rule}", where="person")
    if meeting.slot is not None:
        clash = hours_conflict(meeting.slot, person, settings.offices, lunch=draft.program.kind == "lunch")
        if clash is not None:
            raise ChangeRefused(f"{person.name} cannot join group {meeting.id} at its time: {clash}", where="person")


def _regroup(draft: _Draft, meeting: Meeting, members: Sequence[str], joined: Sequence[str]) -> None:
    """Give ``meeting`` these members (a new generation); people who joined lose their place among the left
    out."""
    reasons: tuple[str, ...] = (REGROUPED,)
    if meeting.slot is not None:
        people = [draft.uow.people.get(email) for email in members]
        reasons += (slot_reason([p for p in people if p is not None], meeting.slot),)
    changed = replace(meeting, group=replace(meeting.group, members=tuple(members), reasons=reasons),
                      sequence=meeting.sequence + 1)
    _store(draft, changed)
    for email in joined:
        draft.unmatched.pop(email, None)
        draft.left_out.pop(email, None)


def _cancel(draft: _Draft, meeting: Meeting) -> None:
    _store(draft, replace(meeting, state="cancelled", sequence=meeting.sequence + 1))


def _stored(value: int | None) -> int:
    if value is None:  # pragma: no cover - the repositories hand out stored cycles and meetings only
        raise NotFoundError("a cycle or meeting that is not stored cannot change")
    return value


def _store(draft: _Draft, changed: Meeting) -> None:
    meeting_id = _stored(changed.id)
    store_regrouped(draft.uow, draft.cycle, draft.meetings[meeting_id], changed)
    draft.uow.matches.clear_rsvps(meeting_id)
    draft.meetings[meeting_id] = changed
    draft.changed[meeting_id] = changed


def _leave_out(draft: _Draft, email: str, reason: str) -> None:
    draft.unmatched[email] = reason
    draft.left_out[email] = reason
    draft.placed.discard(email)


def _commit(draft: _Draft, settings: PlanSettings, now: datetime, summary: str) -> CycleChange:
    """Write the unmatched list and the outbox, check once more that no relay began meanwhile, and commit."""
    uow = draft.uow
    uow.cycles.set_unmatched(draft.cycle_id, [Unmatched(e, r) for e, r in sorted(draft.unmatched.items())])
    superseded = 0
    planned: list[Effect] = []
    for meeting in draft.changed.values():
        superseded += uow.outbox.supersede(meeting_key_prefix(draft.cycle_id, meeting.id),
                                           f"superseded: an organiser changed the group (sequence {meeting.sequence})")
        if meeting.state != "cancelled":
            members = [uow.people.get(e) or Person(email=e, name=e, team="") for e in meeting.group.members]
            planned += announcement_effects(meeting, members, draft.program, settings, now)
    for email in sorted(draft.placed):
        for key in _notice_keys(draft.effects, draft.cycle_id, email):
            superseded += uow.outbox.supersede_key(key, "superseded: an organiser put them in a group")
    for email, reason in sorted(draft.left_out.items()):
        person = uow.people.get(email)
        if person is not None:  # someone deleted meanwhile is told nothing
            key = _next_notice_key(draft.effects, draft.cycle_id, email)
            planned.append(unmatched_effect(key, draft.cycle, person, reason, draft.program, settings))
    for effect in planned:
        uow.outbox.add(effect)
    if planned and draft.cycle.state != CycleState.PLANNED:
        uow.cycles.set_state(draft.cycle_id, CycleState.PLANNED)
    # A relay may have claimed one of the cycle's effects since the first look: then nothing changes after all.
    _refuse_if_started(uow.outbox.list(cycle_id=draft.cycle_id))
    uow.commit()
    return CycleChange(summary, tuple(draft.changed.values()), superseded, len(planned))


def _notice_keys(effects: Iterable[Effect], cycle_id: int, email: str) -> list[str]:
    """The keys of every notice planned to tell ``email`` they were left out of the cycle."""
    base = unmatched_key(cycle_id, email)
    return [e.key for e in effects if e.key == base or e.key.startswith(f"{base}/change-")]


def _next_notice_key(effects: Iterable[Effect], cycle_id: int, email: str) -> str:
    """A key for a new notice to ``email``: the cycle's own the first time, then one per change, so a person
    left out, placed and left out again is told again."""
    used = _notice_keys(effects, cycle_id, email)
    base = unmatched_key(cycle_id, email)
    return base if not used else f"{base}/change-{len(used)}"
