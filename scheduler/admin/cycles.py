"""The admin's cycles: preview the next one as a dry run, the calendars the latest could not read, and how its
deliveries stand.
"""


from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import TYPE_CHECKING

from scheduler.model import Effect, Program
from scheduler.planning.report import PlanSummary, count_mixed, summarize
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    from scheduler.planning.cycle import PlanSettings
    from scheduler.ports import CalendarProvider, Clock






@dataclass(frozen=True)
class CyclePreview:
    """What a cycle would do, from a dry run: nothing is stored.

    ``recent_pairs`` counts pairs of eligible people grouped within the program's cooldown; ``repeats_avoided``
    how many of them the plan keeps apart, ``repeats`` how many it puts together again. ``gap`` is the solver's
    optimality gap when the plan reports one.
    """

    program: Program
    window_start: datetime
    already_planned: bool
    summary: PlanSummary | None = None
    signed_up: int = 0
    eligible: int = 0
    placed: int = 0
    groups: int = 0
    cross_department: int = 0
    cross_office: int = 0
    with_slot: int = 0
    recent_pairs: int = 0
    repeats: int = 0
    unmatched: tuple[tuple[str, str], ...] = ()
    ineligible: tuple[tuple[str, int], ...] = ()
    calendar_problems: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    gap: float | None = None

    @property
    def repeats_avoided(self) -> int:
        """Recent pairs the plan keeps apart."""
        return self.recent_pairs - self.repeats


def share(part: int, whole: int) -> str:
    """``part/whole (NN%)``, or ``0/0`` for nothing."""
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "0/0"


def preview_cycle(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock, program: Program,
                  settings: PlanSettings) -> CyclePreview:
    """Plan the program's next cycle as a dry run (calendars are read, nothing is stored or sent) and sum it up
    the way the admin decides whether to run it."""
    from scheduler.planning.cycle import next_window
    from scheduler.planning.run import run_cycle

    outcome = run_cycle(uow_factory, provider, clock, program, settings, dry_run=True)
    plan = outcome.plan
    if plan is None:
        window = outcome.cycle.window.start if outcome.cycle else next_window(program, clock.now()).start
        return CyclePreview(program, window, already_planned=True)
    with uow_factory() as uow:
        recent = uow.history.pairs_in_recent_cycles(program.name, program.cooldown_cycles)
    recent = {pair for pair in recent if pair <= plan.people.keys()}
    planned = {frozenset(pair) for m in plan.meetings for pair in combinations(m.group.members, 2)}
    gap = getattr(plan, "gap", None)
    return CyclePreview(
        program=program,
        window_start=plan.window.start,
        already_planned=False,
        summary=summarize(plan),
        signed_up=len(plan.people) + len(plan.ineligible),
        eligible=len(plan.people),
        placed=sum(len(m.group.members) for m in plan.meetings),
        groups=len(plan.meetings),
        cross_department=count_mixed((m.group for m in plan.meetings), plan.people, "department"),
        cross_office=count_mixed((m.group for m in plan.meetings), plan.people, "office"),
        with_slot=sum(1 for m in plan.meetings if m.slot is not None),
        recent_pairs=len(recent),
        repeats=len(recent & planned),
        unmatched=tuple((u.email, u.reason) for u in plan.unmatched),
        ineligible=tuple(Counter(plan.ineligible.values()).most_common()),
        calendar_problems=tuple(sorted(plan.calendar_problems.items())),
        notes=plan.notes,
        gap=float(gap) if isinstance(gap, int | float) else None,
    )


@dataclass(frozen=True)
class CalendarGaps:
    """The people a program's latest stored cycle planned without calendar data, and why, in plain words."""

    program: str
    cycle_id: int
    window_start: datetime
    gaps: tuple[tuple[str, str], ...]


def latest_calendar_gaps(uow_factory: UowFactory, programs: Sequence[Program]) -> list[CalendarGaps]:
    """For each program whose latest cycle had calendars it could not read, who and why (email order), so an
    admin can help those people fix their calendar before the next cycle."""
    found = []
    with uow_factory() as uow:
        for program in programs:
            cycles = uow.cycles.list(program.name)
            if not cycles or cycles[0].id is None:
                continue
            gaps = uow.cycles.calendar_gaps(cycles[0].id)
            if gaps:
                found.append(CalendarGaps(program.name, cycles[0].id, cycles[0].window.start,
                                          tuple(sorted(gaps.items()))))
    return found




@dataclass(frozen=True)
class CycleDeliveries:
    """How a cycle's outbox effects stand: effects by state."""

    cycle_id: int | None
    label: str
    states: Mapping[str, int]

    @property
    def total(self) -> int:
        """All the cycle's effects."""
        return sum(self.states.values())


def delivery_overview(uow_factory: UowFactory) -> tuple[list[CycleDeliveries], list[Effect]]:
    """Effects by state for each cycle (newest cycle first; effects of no cycle last), and the dead effects
    with their errors, oldest first."""
    with uow_factory() as uow:
        counts = uow.reports.effect_counts()
        cycles = {cycle.id: cycle for cycle in uow.cycles.list()}
        dead = uow.outbox.list(state="dead")
    by_cycle: dict[int | None, dict[str, int]] = defaultdict(dict)
    for row in counts:
        by_cycle[row.cycle_id][row.state] = row.count

    def label(cycle_id: int | None) -> str:
        cycle = cycles.get(cycle_id) if cycle_id is not None else None
        if cycle is None:
            return "no cycle" if cycle_id is None else f"cycle {cycle_id}"
        return f"{cycle.program}, week of {cycle.window.start.date().isoformat()} (cycle {cycle_id})"

    rows = [CycleDeliveries(cycle_id, label(cycle_id), states) for cycle_id, states in by_cycle.items()]
    rows.sort(key=lambda row: (row.cycle_id is None, -(row.cycle_id or 0)))
    return rows, dead
