"""Self-healing cycles: after a decline, the cycle mends itself instead of waiting for the next round.

- **A pair called off.** The partner left alone (the *orphan*) is re-paired within the same cycle with someone
  else who is free: the partner another decline of this cycle left alone (and not re-paired yet), or someone the
  cycle left out for want of a partner or of time. Calendars are read now, outside any transaction, through the
  availability boundary (``fetch_busy_isolated``: a broken calendar keeps its owner out of the search, nobody
  else); Coffee Chat's own meetings, the program's notice and working, lunch or dinner hours count as in a cycle
  (a ``FreeTimeIndex`` over what is left of the cycle's window). The engine's hard rules hold (``hard_rule``,
  with the cooldown and once-per-window memory) and the best candidate is the one the score prefers
  (``score_pair``). ``find_partner`` finds them; ``cancel_and_repair`` writes, in one transaction like a plan,
  the old meeting's cancellation (telling the orphan they are re-paired), the new meeting in the same cycle
  with its announcements, reminder, request and invite, its video link, the pairing history and the corrected
  list of who was left out (a person placed now loses their pending "left out" notice). With nobody free, the
  orphan is told plainly that nobody else is free this cycle and they stay in for the next.
- **A trio that loses one.** The decliner leaves the group and the others go on (``leave_group``): the meeting
  is regrouped, its history corrected, its pending effects superseded and planned again: the announcements
  when nobody has heard of it yet, otherwise the updated invite with the new attendee list and a raised
  SEQUENCE.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import combinations

from scheduler.availability.calendars import fetch_busy_isolated
from scheduler.availability.slots import STEP, FreeTimeIndex, SlotRules
from scheduler.delivery.emails import format_slot
from scheduler.errors import InputError, NotFoundError
from scheduler.model import (
    Busy,
    Cycle,
    CycleState,
    Group,
    Interval,
    Meeting,
    Person,
    Program,
    Unmatched,
    merge_intervals,
    require_utc,
)
from scheduler.pairing.rules import PairHistory, hard_rule
from scheduler.pairing.score import first_name, score_pair
from scheduler.planning.cycle import (
    VIDEO_CALL,
    PlanSettings,
    announcement_effects,
    booked_intervals,
    meeting_key_prefix,
    meeting_location,
    pairs_grouped_in_window,
    plan_meeting_change,
    slot_reason,
    unmatched_key,
    video_links,
)
from scheduler.planning.meetings import MeetingChange, cancel_in, store_regrouped
from scheduler.ports import CalendarProvider, UnitOfWork, UowFactory

logger = logging.getLogger(__name__)

# What the cancellation tells the partner left alone, in place of "we will pair you again in the next round".
REPAIRED_STEP = ("We have paired you with {name} instead: {why}. Your new invitation comes in a separate email.")
NOBODY_FREE_STEP = ("Nobody else is free to meet you before this cycle ends, so you stay in the program for the "
                    "next round.")
# The reason of someone an organiser took out of a cycle (``scheduler.admin.cycle_changes`` records it): they stay
# out, since they were not left out for want of a partner or time.
ORGANISER_REMOVED = "an organiser took you out of this cycle's groups; you stay in for the next one"


@dataclass(frozen=True)
class RepairProposal:
    """Whom ``orphan`` could meet instead (``partner``), when, and why, as ``find_partner`` found it."""

    orphan: str
    partner: str
    slot: Interval
    score: float
    reasons: tuple[str, ...]
    # The partner was left alone by another decline (True) or left out of the cycle (False).
    partner_orphaned: bool


@dataclass(frozen=True)
class RepairOutcome:
    """What ``cancel_and_repair`` did: the old meeting's cancellation and the new meeting (None: nobody free)."""

    cancelled: MeetingChange
    meeting: Meeting | None = None


@dataclass(frozen=True)
class _Candidate:
    person: Person
    orphaned: bool
    old_slot: Interval | None


def find_partner(uow_factory: UowFactory, provider: CalendarProvider, settings: PlanSettings, meeting_id: int,
                 orphan_email: str, now: datetime) -> RepairProposal | None:
    """Who may meet ``orphan_email`` instead, now that meeting ``meeting_id`` (theirs) is called off: the best
    scored candidate free at a common slot before the cycle's window ends (the orphan's old time when the
    candidate is free then), or None when nobody is. Changes nothing.

    The orphan's own calendar must be read (a guess on working hours would book them over their appointments):
    when it cannot be, nobody is looked for and the skip is logged. A candidate whose calendar cannot be read is
    left out of the search, the others are not.
    """
    now = require_utc(now)
    with uow_factory() as uow:
        meeting = uow.cycles.meeting(meeting_id)
        cycle = uow.cycles.get(meeting.cycle_id) if meeting is not None and meeting.cycle_id is not None else None
        program = uow.programs.get(cycle.program) if cycle is not None else None
        orphan = uow.people.get(orphan_email)
        if meeting is None or cycle is None or cycle.id is None or program is None or orphan is None:
            return None
        window = _search_window(cycle, program, now)
        if window is None:
            return None
        choices = uow.program_choices.of_program(program.name)
        if orphan.ineligibility(program, cycle.window.start.date(), joined=choices.get(orphan.email)) is not None:
            return None
        candidates = [candidate for candidate in _candidates(uow, cycle, meeting, orphan_email)
                      if candidate.person.ineligibility(program, cycle.window.start.date(),
                                                        joined=choices.get(candidate.person.email)) is None]
        if not candidates:
            return None
        history = cycle_history(uow, cycle, program, now)
        booked = booked_intervals(uow, window)
    # The old meeting is still booked for the orphan until the cancellation is written: its time is free again.
    if meeting.slot is not None and meeting.slot in booked.get(orphan.email, []):
        booked[orphan.email].remove(meeting.slot)
    # Calendars are read outside any transaction: that can take a while.
    answers = fetch_busy_isolated(provider, [orphan, *(c.person for c in candidates)], window)
    if answers[orphan.email].error is not None:
        logger.warning("re-pairing %s after meeting %d was called off is skipped: their calendar could not be "
                       "read (%s)", orphan.email, meeting_id, answers[orphan.email].error)
        return None
    index = FreeTimeIndex(window, SlotRules.for_program(program, now, settings.offices))
    _index(index, orphan, answers[orphan.email], booked, program)
    best: tuple[float, str, _Candidate] | None = None
    for candidate in candidates:
        busy = answers[candidate.person.email]
        if busy.error is not None:
            continue  # their calendar is theirs: they sit this search out
        _index(index, candidate.person, busy, booked, program)
        if hard_rule(orphan, candidate.person, program, history, index) is not None:
            continue
        score = score_pair(orphan, candidate.person, program, history, now.date(), index, explain=False).score
        # The highest score wins; equal scores go to the first address, so the choice can be replayed.
        if best is None or (-score, candidate.person.email) < (-best[0], best[1]):
            best = (score, candidate.person.email, candidate)
    if best is None:
        return None
    score, _, chosen = best
    members = [orphan, chosen.person]
    slot = _same_time(index, members, (meeting.slot, chosen.old_slot)) or index.choose_slot(members)
    if slot is None:  # pragma: no cover - hard_rule refused pairs with no common free time
        return None
    edge = score_pair(orphan, chosen.person, program, history, now.date(), index)
    return RepairProposal(orphan.email, chosen.person.email, slot, score,
                          (_repair_reason(orphan, chosen, slot, meeting.slot), *edge.reasons),
                          chosen.orphaned)


def cycle_history(uow: UnitOfWork, cycle: Cycle, program: Program, now: datetime) -> PairHistory:
    """What the engine remembered when it planned ``cycle``, as ``run_cycle`` builds it: the pairs inside the
    cooldown (this cycle, stored now, counts among the newest: hence one more), when each pair last met, and
    the pairs other programs group in an overlapping window (``apart``, unless the program opts out)."""
    recent = frozenset(uow.history.pairs_in_recent_cycles(program.name, program.cooldown_cycles + 1))
    apart: frozenset[frozenset[str]] = frozenset()
    if program.once_per_window and cycle.id is not None:
        own = {frozenset(pair) for m in uow.cycles.meetings(cycle.id) for pair in combinations(m.group.members, 2)}
        apart = frozenset(pairs_grouped_in_window(uow, cycle.window) - own)
    return PairHistory(recent=recent, last_met=uow.history.last_met(now), apart=apart)


def _search_window(cycle: Cycle, program: Program, now: datetime) -> Interval | None:
    """From now (on a step boundary) to the end of the cycle's window, or None when no meeting fits any more."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    start = max(cycle.window.start, now - (now - epoch) % STEP)
    if cycle.window.end - start < program.duration:
        return None
    return Interval(start, cycle.window.end)


def _candidates(uow: UnitOfWork, cycle: Cycle, meeting: Meeting, orphan: str) -> list[_Candidate]:
    """Who is free to meet ``orphan`` in ``cycle``: the partners other declines left alone, not re-paired yet,
    and the people left out for want of a partner or of time; never anyone of ``meeting`` itself."""
    if cycle.id is None:
        raise NotFoundError("a cycle that is not stored has no candidates")
    meetings = uow.cycles.meetings(cycle.id)
    placed = {email for m in meetings if m.state != "cancelled" for email in m.group.members}
    excluded = placed | set(meeting.group.members) | {orphan}
    found: dict[str, _Candidate] = {}
    for other in meetings:
        if other.state != "cancelled" or other.id == meeting.id or other.id is None:
            continue
        declined = {rsvp.email for rsvp in uow.matches.rsvps(other.id) if rsvp.answer == "declined"}
        if not declined:
            continue  # called off for another reason (someone left): not a decline's partner
        for email in other.group.members:
            if email not in declined and email not in excluded and (person := uow.people.get(email)):
                found[email] = _Candidate(person, True, other.slot)
    for left_out in uow.cycles.unmatched(cycle.id):
        if left_out.email in excluded or left_out.reason == ORGANISER_REMOVED:
            continue
        if left_out.email not in found and (person := uow.people.get(left_out.email)):
            found[left_out.email] = _Candidate(person, False, None)
    return [found[email] for email in sorted(found)]


def _index(index: FreeTimeIndex, person: Person, busy: Busy, booked: Mapping[str, Sequence[Interval]],
           program: Program) -> None:
    spans = [*busy.busy, *booked.get(person.email, ())]
    if program.tentative_busy:
        spans += busy.tentative
    index.add(person, replace(busy, busy=merge_intervals(spans)))


def _same_time(index: FreeTimeIndex, members: Sequence[Person],
               slots: Sequence[Interval | None]) -> Interval | None:
    """The first of ``slots`` (the old times) still a common free start of ``members``, if any: meeting at the
    time they had kept is what people expect."""
    starts = index.common_starts(person.email for person in members)
    for slot in slots:
        if slot is None or not index.window.start <= slot.start < index.window.end:
            continue
        step = int((slot.start - index.window.start) / STEP)
        if (slot.start - index.window.start) % STEP == timedelta(0) and starts >> step & 1:
            return slot
    return None


def _repair_reason(orphan: Person, chosen: _Candidate, slot: Interval, old_slot: Interval | None) -> str:
    """Why these two meet now, in words both understand."""
    whose = (f"{first_name(orphan)}'s and {first_name(chosen.person)}'s partners could not make it"
             if chosen.orphaned else f"{first_name(orphan)}'s partner could not make it")
    if slot == old_slot:
        return f"{whose}; {first_name(chosen.person)} is free at the same time"
    return f"{whose}; {slot_reason([orphan, chosen.person], slot)}"


def cancel_and_repair(uow_factory: UowFactory, settings: PlanSettings, meeting_id: int, now: datetime, *,
                      reason: str, proposal: RepairProposal | None, tell_nobody_free: bool) -> RepairOutcome:
    """Call meeting ``meeting_id`` off and, with a ``proposal``, re-pair its orphan at once, in one transaction:
    the cancellation (telling the orphan whom they meet instead, or with ``tell_nobody_free`` that nobody else is
    free this cycle), the new meeting in the same cycle with its announcements, invite and video link, the
    pairing history of the new pair, and the list of who was left out without the person placed now (their
    pending notice superseded). A proposal whose partner has been placed meanwhile is dropped: the orphan is
    then told nobody else is free.

    Raises what ``cancel_meeting`` raises (``InputError`` for a meeting cancelled meanwhile).
    """
    now = require_utc(now)
    with uow_factory() as uow:
        meeting = uow.cycles.meeting(meeting_id)
        cycle = uow.cycles.get(meeting.cycle_id) if meeting is not None and meeting.cycle_id is not None else None
        program = uow.programs.get(cycle.program) if cycle is not None else None
        if proposal is not None and (meeting is None or cycle is None or program is None
                                     or not _still_free(uow, cycle, proposal)):
            proposal = None
        partner = uow.people.get(proposal.partner) if proposal is not None else None
        if proposal is not None and partner is None:
            proposal = None
        steps: dict[str, str] = {}
        if proposal is not None and partner is not None:
            orphan = uow.people.get(proposal.orphan)
            when = format_slot(proposal.slot, orphan.timezone if orphan is not None else "UTC")
            why = (f"{first_name(partner)} is free at the same time"
                   if meeting is not None and proposal.slot == meeting.slot else f"you are both free {when}")
            steps[proposal.orphan] = REPAIRED_STEP.format(name=partner.name, why=why)
        elif tell_nobody_free and meeting is not None:
            rsvps = {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting_id)}
            steps = {email: NOBODY_FREE_STEP for email in meeting.group.members if rsvps.get(email) != "declined"}
        cancelled = cancel_in(uow, settings, meeting_id, now, reason=reason, next_steps=steps)
        new_meeting = None
        if proposal is not None and cycle is not None and program is not None:
            new_meeting = _add_repaired(uow, cycle, program, settings, proposal, now, meeting)
        uow.commit()
    return RepairOutcome(cancelled, new_meeting)


def _still_free(uow: UnitOfWork, cycle: Cycle, proposal: RepairProposal) -> bool:
    """Whether the proposal's partner is still free in the cycle: in no standing meeting of it, and still left
    out (or left alone by a decline)."""
    if cycle.id is None:
        return False
    if any(proposal.partner in m.group.members for m in uow.cycles.meetings(cycle.id) if m.state != "cancelled"):
        return False
    return proposal.partner_orphaned or any(left.email == proposal.partner
                                            for left in uow.cycles.unmatched(cycle.id))


def _video_link_like(old: Meeting | None, meeting: Meeting) -> dict[int, str]:
    """The video link of the orphan's old meeting made over for ``meeting`` (its UID in place of the old one),
    when both are virtual: the program's ``video_link`` lives in the configuration, not with the stored
    program, so the link the cycle gave is the one to follow."""
    if old is None or old.id is None or meeting.id is None or meeting.location != VIDEO_CALL:
        return {}
    if not old.location.startswith(("https://", "http://")):
        return {}
    return {meeting.id: old.location.replace(old.uid, meeting.uid)}


def _add_repaired(uow: UnitOfWork, cycle: Cycle, program: Program, settings: PlanSettings,
                  proposal: RepairProposal, now: datetime, old: Meeting | None) -> Meeting:
    """Store the re-paired meeting with everything a plan stores for one (see ``cancel_and_repair``)."""
    if cycle.id is None:
        raise NotFoundError("a cycle that is not stored cannot gain a meeting")
    members = [uow.people.get(email) for email in (proposal.orphan, proposal.partner)]
    people = [person for person in members if person is not None]
    group = Group((proposal.orphan, proposal.partner), proposal.score, proposal.reasons)
    [meeting] = uow.cycles.add_meetings(cycle.id, [Meeting(group, proposal.slot,
                                                           location=meeting_location(people, program))])
    links = video_links([meeting], program) or _video_link_like(old, meeting)
    if links:  # a video link may name the meeting's UID, known only now that the meeting is stored
        uow.cycles.set_locations(links)
        meeting = replace(meeting, location=links[meeting.id]) if meeting.id in links else meeting
    # The day a cycle records its pairs on (``save_plan``): its window's first.
    uow.history.record(cycle.id, program.name, cycle.window.start.date(), [group])
    left_out = uow.cycles.unmatched(cycle.id)
    if any(left.email == proposal.partner for left in left_out):
        uow.cycles.set_unmatched(cycle.id, [Unmatched(left.email, left.reason) for left in left_out
                                            if left.email != proposal.partner])
        notice = unmatched_key(cycle.id, proposal.partner)
        uow.outbox.supersede_key(notice, "superseded: re-paired after a decline")
        uow.outbox.supersede(f"{notice}/change-", "superseded: re-paired after a decline")
    for effect in announcement_effects(meeting, people, program, settings, now):
        uow.outbox.add(effect)
    if cycle.state != CycleState.PLANNED:  # a delivered cycle has something to deliver again
        uow.cycles.set_state(cycle.id, CycleState.PLANNED)
    return meeting


def leave_group(uow_factory: UowFactory, settings: PlanSettings, meeting_id: int, email: str,
                now: datetime) -> MeetingChange:
    """Take ``email``, who declined, out of meeting ``meeting_id``, which goes on with the others (at least two)
    in one transaction: the meeting regrouped with a raised SEQUENCE, its pairing history corrected, its pending
    effects superseded, and the others told: the announcement again when nobody has heard of the meeting yet,
    else the updated invite with the new attendee list ("Ben cannot make it").

    Raises ``NotFoundError`` for an unknown meeting, ``InputError`` for a cancelled one or when fewer than two
    would be left.
    """
    now = require_utc(now)
    with uow_factory() as uow:
        meeting = uow.cycles.meeting(meeting_id)
        cycle = uow.cycles.get(meeting.cycle_id) if meeting is not None and meeting.cycle_id is not None else None
        program = uow.programs.get(cycle.program) if cycle is not None else None
        if meeting is None or cycle is None or program is None:
            raise NotFoundError(f"no meeting with id {meeting_id}")
        if meeting.state == "cancelled":
            raise InputError(f"meeting {meeting_id} is cancelled: it cannot change any more", where="match")
        rest = tuple(member for member in meeting.group.members if member != email)
        if len(rest) < 2 or len(rest) == len(meeting.group.members):
            raise InputError("the meeting would not go on with two or more people", where="match")
        leaving = uow.people.get(email)
        name = leaving.name if leaving is not None else email
        people = [person for m in rest if (person := uow.people.get(m)) is not None]
        why = f"{name} cannot make it"
        reasons = (f"{why}; the others meet as planned",
                   *((slot_reason(people, meeting.slot),) if meeting.slot is not None else ()))
        changed = replace(meeting, group=replace(meeting.group, members=rest, reasons=reasons),
                          sequence=meeting.sequence + 1)
        told = _anyone_told(uow, meeting)
        store_regrouped(uow, cycle, meeting, changed)
        uow.matches.forget_rsvp(meeting_id, email)
        superseded = uow.outbox.supersede(meeting_key_prefix(cycle.id, meeting_id),
                                          f"superseded: {why} (sequence {changed.sequence})")
        effects = (plan_meeting_change(changed, people, program, settings, now, reason=why) if told
                   else announcement_effects(changed, people, program, settings, now))
        for effect in effects:
            uow.outbox.add(effect)
        if cycle.id is not None and cycle.state != CycleState.PLANNED:
            uow.cycles.set_state(cycle.id, CycleState.PLANNED)
        uow.commit()
    return MeetingChange(changed, superseded, tuple(effects))


def _anyone_told(uow: UnitOfWork, meeting: Meeting) -> bool:
    """Whether an announcement, updated invite or provider event of ``meeting`` has been sent or tried (so its
    members know of it)."""
    return any(any(f"/{kind}/" in effect.key for kind in ("announce", "reschedule", "event"))
               and (effect.state in ("done", "in_flight", "dead") or effect.attempts > 0)
               for effect in uow.outbox.with_prefix(meeting_key_prefix(meeting.cycle_id, meeting.id)))
