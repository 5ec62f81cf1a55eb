"""The admin's analytics: who meets whom across departments, and how each cycle's meetings went.

Computed from plain facts (``CycleFact``, ``MeetingFact``, ... in ``scheduler.model``) that
``UnitOfWork.reports`` reads (see ``ReportRepository`` in ``scheduler.ports``); drawing them is the web's
business.
"""


from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from scheduler.model import CycleFact, MeetingFact, PairFact, ThanksCount
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    pass


NO_DEPARTMENT = "(no department)"




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
    # Per program, how many thank-you notes its meetings produced (and how many were shared with a manager):
    # counts only, since no note's text is stored.
    thanks: tuple[ThanksCount, ...] = ()


def analytics(uow_factory: UowFactory, *, last_cycles: int = 26) -> Analytics:
    """The heatmap over every stored meeting, the rates of the latest ``last_cycles`` cycles, and each program's
    count of thank-you notes."""
    with uow_factory() as uow:
        cycles = uow.reports.cycles()
        meetings = uow.reports.meetings()
        pairs = uow.reports.pairs()
        thanks = uow.reports.thanks_counts()
    rates = cycle_rates(cycles, meetings, pairs)
    return Analytics(department_heatmap(meetings), tuple(rates[-last_cycles:]), tuple(thanks))
