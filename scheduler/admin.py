"""The admin's services and figures: participants, cycle previews, deliveries, programs and analytics.

Pure of Flask: the admin pages (``web/admin.py``) parse a form, call one function here and render the answer.
The analytics are computed here from plain facts (``CycleFact``, ``MeetingFact``, ... in ``scheduler.model``)
that ``UnitOfWork.reports`` reads (see ``ReportRepository`` in ``scheduler.ports``); drawing them is the web's
business.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import combinations
from typing import TYPE_CHECKING

from scheduler.errors import InputError, NotFoundError
from scheduler.model import CycleFact, Effect, MeetingFact, PairFact, Person, Program
from scheduler.report import PlanSummary, count_mixed, summarize

if TYPE_CHECKING:
    from scheduler.cycle import PlanSettings
    from scheduler.ports import CalendarProvider, Clock, UnitOfWork

UowFactory = Callable[[], "UnitOfWork"]
MAX_QUERY = 200
NO_DEPARTMENT = "(no department)"


# --- participants ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    """A person as the admin's list shows them: the profile and whether their account is disabled."""

    person: Person
    disabled: bool


def search_participants(uow_factory: UowFactory, query: str, *, limit: int = 200) -> tuple[list[Participant], int]:
    """People whose name, email, team or department contains ``query`` (case-insensitive; every word must match
    somewhere), sorted by email; at most ``limit`` of them, and how many matched in all."""
    words = query.casefold().split()[:20]
    with uow_factory() as uow:
        found = [person for person in uow.people.list()
                 if all(word in _haystack(person) for word in words)]
        shown = [Participant(person, _is_disabled(uow, person.email)) for person in found[:limit]]
    return shown, len(found)


def _haystack(person: Person) -> str:
    return " ".join((person.name, person.email, person.team, person.department)).casefold()


def _is_disabled(uow: UnitOfWork, email: str) -> bool:
    account = uow.accounts.get(email)
    return account is not None and account.disabled


def pause_participant(uow_factory: UowFactory, email: str, until: date | None) -> Person:
    """Pause the person until ``until`` (they are left out of cycles starting before it), or resume them with
    ``None``; return the stored person. ``NotFoundError`` when nobody has the address."""
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise NotFoundError(f"nobody has the address {email}")
        person = replace(person, paused_until=until)
        uow.people.save(person)
        uow.commit()
    return person


def parse_pause_date(text: str, today: date) -> date | None:
    """The date of the pause form: empty resumes (``None``), else an ISO date after ``today``; ``InputError``
    naming the field otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        until = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text[:20]!r} is not a date like 2026-12-31", where="pause until") from None
    if until <= today:
        raise InputError(f"{until.isoformat()} has passed: choose a later date, or leave it empty to resume",
                         where="pause until")
    return until


# --- cycle preview --------------------------------------------------------------------------------------------


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
    from scheduler.cycle import next_window
    from scheduler.services import run_cycle

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


# --- deliveries -----------------------------------------------------------------------------------------------


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


# --- programs -------------------------------------------------------------------------------------------------


def program_settings(program: Program) -> list[tuple[str, str]]:
    """The program's rules as (name, value) rows, in the config file's spelling; weights apart."""
    return [(f.name, _spell(getattr(program, f.name))) for f in dataclasses.fields(program)
            if f.name not in ("name", "weights")]


def program_weights(program: Program) -> list[tuple[str, str]]:
    """The program's soft-rule weights as (name, value) rows."""
    return [(f.name, _spell(getattr(program.weights, f.name))) for f in dataclasses.fields(program.weights)]


def _spell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- analytics ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heatmap:
    """Meetings between departments: ``counts[(a, b)]`` for a ≤ b, and whether they come from feedback ("we
    met") or from the plan (no feedback yet)."""

    departments: tuple[str, ...]
    counts: Mapping[tuple[str, str], int]
    source: str  # "feedback" or "planned"

    def count(self, a: str, b: str) -> int:
        """Meetings between departments ``a`` and ``b`` (in either order)."""
        return self.counts.get((a, b) if a <= b else (b, a), 0)

    @property
    def peak(self) -> int:
        """The largest count (0 when empty)."""
        return max(self.counts.values(), default=0)


@dataclass(frozen=True)
class CycleRates:
    """One cycle's participation (people placed of those in the cycle) and "we met" rate (meetings someone said
    took place, of the meetings anyone answered for), and how many new cross-team connections it made."""

    cycle_id: int
    label: str
    placed: int
    in_cycle: int
    answered: int
    met: int
    new_connections: int

    @property
    def participation(self) -> float | None:
        """Share of the cycle's people placed in a group."""
        return self.placed / self.in_cycle if self.in_cycle else None

    @property
    def met_rate(self) -> float | None:
        """Share of answered meetings that took place."""
        return self.met / self.answered if self.answered else None


def department_heatmap(meetings: Iterable[MeetingFact]) -> Heatmap:
    """Department × department counts of meetings held: those someone said took place when any feedback exists,
    else every meeting planned and not cancelled. A group of three counts once for each pair in it."""
    live = [m for m in meetings if m.state != "cancelled"]
    with_feedback = any(m.answers for m in live)
    chosen = [m for m in live if m.met] if with_feedback else live
    counts: Counter[tuple[str, str]] = Counter()
    for meeting in chosen:
        names = [d or NO_DEPARTMENT for d in meeting.departments]
        for a, b in combinations(names, 2):
            counts[(a, b) if a <= b else (b, a)] += 1
    departments = tuple(sorted({d for pair in counts for d in pair}))
    return Heatmap(departments, dict(counts), "feedback" if with_feedback else "planned")


def cycle_rates(cycles: Sequence[CycleFact], meetings: Iterable[MeetingFact],
                pairs: Iterable[PairFact]) -> list[CycleRates]:
    """Participation, "we met" rate and new cross-team connections of each cycle, oldest first.

    A connection is new when the two people were never grouped in an earlier cycle (of any program); it is
    cross-team unless both teams are known and equal."""
    ordered = sorted(cycles, key=lambda c: (c.window_start, c.id))
    by_cycle: dict[int, list[MeetingFact]] = defaultdict(list)
    teams: dict[str, str] = {}
    for meeting in meetings:
        by_cycle[meeting.cycle_id].append(meeting)
        teams.update((e, t) for e, t in zip(meeting.members, meeting.teams, strict=True) if t)
    pairs_by_cycle: dict[int, set[frozenset[str]]] = defaultdict(set)
    for pair in pairs:
        pairs_by_cycle[pair.cycle_id].add(frozenset((pair.person_a, pair.person_b)))
    seen: set[frozenset[str]] = set()
    rows = []
    for cycle in ordered:
        live = [m for m in by_cycle[cycle.id] if m.state != "cancelled"]
        placed = sum(len(m.members) for m in live)
        fresh = pairs_by_cycle[cycle.id] - seen
        seen |= pairs_by_cycle[cycle.id]
        cross = sum(1 for pair in fresh if _cross_team(pair, teams))
        rows.append(CycleRates(
            cycle_id=cycle.id,
            label=f"{cycle.program} {cycle.window_start.date().isoformat()}",
            placed=placed,
            in_cycle=placed + cycle.unmatched,
            answered=sum(1 for m in live if m.answers),
            met=sum(1 for m in live if m.met),
            new_connections=cross,
        ))
    return rows


def _cross_team(pair: frozenset[str], teams: Mapping[str, str]) -> bool:
    names = {teams.get(email, "") for email in pair}
    # A person who is gone has no team any more: count the pair, since pairing never groups teammates unless
    # a program relaxes that rule.
    return len(names) > 1 or "" in names


@dataclass(frozen=True)
class Analytics:
    """Everything the analytics page draws."""

    heatmap: Heatmap
    cycles: tuple[CycleRates, ...]


def analytics(uow_factory: UowFactory, *, last_cycles: int = 26) -> Analytics:
    """The heatmap over every stored meeting, and the rates of the latest ``last_cycles`` cycles."""
    with uow_factory() as uow:
        cycles = uow.reports.cycles()
        meetings = uow.reports.meetings()
        pairs = uow.reports.pairs()
    rates = cycle_rates(cycles, meetings, pairs)
    return Analytics(department_heatmap(meetings), tuple(rates[-last_cycles:]))
