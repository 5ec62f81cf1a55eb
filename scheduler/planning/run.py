"""Run one program's cycle: read what the stored history says, plan the next window, store the plan with its
outbox effects; and the public figures of each program's latest cycle.

Each function takes its collaborators (a unit-of-work factory, a calendar provider, a clock) as arguments, so
the same code runs in tests with fakes and in production with real adapters.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.availability.slots import edge_of_day
from scheduler.model import Cycle, Person, Program
from scheduler.pairing.rules import PairHistory
from scheduler.planning.cycle import (
    CyclePlan,
    PlanSettings,
    Progress,
    booked_intervals,
    default_seed,
    next_window,
    pairs_grouped_in_window,
    plan_cycle,
    save_plan,
)
from scheduler.planning.introductions import plan_introductions
from scheduler.planning.nonresponders import check_silence, plan_silence
from scheduler.planning.report import count_mixed
from scheduler.ports import CalendarProvider, Clock, UnitOfWork, UowFactory


@dataclass(frozen=True)
class CycleOutcome:
    """The result of ``run_cycle``: the plan made (None when the window already had a cycle), and the stored
    cycle (None for a dry run, or when nobody was eligible: ``nobody_eligible``)."""

    program: Program
    plan: CyclePlan | None
    cycle: Cycle | None
    already_planned: bool = False
    # Nobody took part (no group, nobody told why they were left out): nothing is stored, so the window stays
    # open for the people who join before it begins.
    nobody_eligible: bool = False


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

    A window that already has a cycle is never planned twice: the outcome says ``already_planned``. A plan with
    nobody in it (no group and nobody left out: an empty database, or nobody eligible yet) is not stored, so it
    does not use the window up: the outcome says ``nobody_eligible``. Calendars are read outside any
    transaction, since that can take a while.
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
            last_met=uow.history.last_met(now),
            apart=pairs_grouped_in_window(uow, window) if program.once_per_window else frozenset(),
            **_last_cycle_memory(uow, program, {p.email: p for p in people}),
        )
        booked = booked_intervals(uow, window)
        # People silent for too long sit this cycle out (asked "still in?", or paused): nobody is grouped with them.
        silence = check_silence(uow, people, program, window, settings.silence, now)
        people = silence.keep(people)
        choices = uow.program_choices.of_program(program.name)
        suggestions = uow.leader_suggestions.all() if program.kind == "leader" else {}
    plan = plan_cycle(program, people, provider, now=now, window=window, history=history,
                      seed=default_seed(program, window) if seed is None else seed, booked=booked,
                      offices=settings.offices, progress=progress, choices=choices, suggestions=suggestions)
    plan = silence.annotate(plan)
    if dry_run:
        return CycleOutcome(program, plan, None)
    if not plan.meetings and not plan.unmatched and not silence.to_tell:
        return CycleOutcome(program, plan, None, nobody_eligible=True)
    with uow_factory() as uow:
        if uow.cycles.find(program.name, window.start) is not None:
            # Another run stored this window while we were reading calendars: theirs stands.
            return CycleOutcome(program, None, uow.cycles.find(program.name, window.start), already_planned=True)
        uow.programs.save(program)
        cycle = save_plan(uow, plan, settings)
        plan_silence(uow, silence, cycle, settings)
        # Wishes to meet someone never met ask a connector who met both (one request per wish, ever).
        plan_introductions(uow, now, settings)
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
