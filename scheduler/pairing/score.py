"""The pairing score, written once: a table of terms.

A pair's score is ``BASE_SCORE`` plus, for each term of ``TERMS`` in order, the term's weight (a field of
``scheduler.model.Weights``) times the term's value for the pair. Every use of the score reads this table:

- ``score_pair``: one pair of ``Person`` at a time, with the reasons people are shown (the engine);
- ``ScoreTerm.vector_value``: many pairs at once with numpy (``scan.PairScanner``), the same arithmetic, so
  each vectorised score is the very float ``score_pair`` returns;
- ``ScoreTerm.bounded`` and ``ScoreTerm.upper_bound``: how the LP (``lp.StructuralOptions``) bounds the term
  over classes of alike people;
- ``ScoreTerm.largest``: the term's largest value over everyone a person could meet (``Reach``), for the
  bound's best partner from structure (``bound.structural_best_scores``).

Adding a weight: a field in ``Weights`` and one ``ScoreTerm`` here (``tests/unit/test_score_table.py`` checks
that every weight has a term and that the four uses agree).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Person, Program, Weights
from scheduler.pairing.rules import PairHistory

BASE_SCORE = 1.0
# Shared interests count up to this many, and a seniority gap up to this many levels: past that a pair is
# not more interesting.
SHARED_INTERESTS_COUNTED = 3
LEVEL_GAP_COUNTED = 3
# Met pairs win back the never-met weight over this many days.
NEVER_MET_RECOVERY_DAYS = 365
# Common free time counts up to this many hours.
COMMON_HOURS_COUNTED = 5


@dataclass(frozen=True)
class PairEdge:
    """An allowed pair's score and, when asked for, the reasons behind it, most telling first."""

    score: float
    reasons: tuple[str, ...]


def seniority_level(person: Person, levels: Sequence[str] = ()) -> int | None:
    """The person's seniority as a number (for the seniority mix): its place in ``levels`` (the program's
    ``seniority_levels``, lowest first, compared without case: "staff", "senior", "director" are 0, 1, 2), else
    the number it is written as ("3"), else None (the mix leaves them out; ``unknown_levels`` finds them)."""
    text = person.seniority.strip()
    if levels:
        folded = text.casefold()
        for rank, name in enumerate(levels):
            if name.strip().casefold() == folded:
                return rank
    return int(text) if text.isdigit() else None


def unknown_levels(people: Iterable[Person], levels: Sequence[str] = ()) -> Counter[str]:
    """The seniorities given that are neither a number nor one of ``levels``, with how many people have each:
    what the seniority mix cannot compare, so a plan can say so instead of ignoring them silently."""
    return Counter(person.seniority.strip() for person in people
                   if person.seniority.strip() and seniority_level(person, levels) is None)


def level_name(level: int, levels: Sequence[str]) -> str:
    """How a reason calls seniority ``level``: its name in ``levels`` when it has one, else the number."""
    return levels[level] if 0 <= level < len(levels) else str(level)


def first_name(person: Person) -> str:
    """What a reason calls a person: their first name, or their email without one."""
    return person.name.split()[0] if person.name.split() else person.email


def wish_reason(wisher: Person, other: Person) -> str | None:
    """Why ``wisher``'s wishlist wants ``other``, in words, or None."""
    if other.email in wisher.wishlist:
        return f"{first_name(wisher)} asked to meet {other.name}"
    if other.team and f"team:{other.team}" in wisher.wishlist:
        return f"{first_name(wisher)} asked to meet someone in {other.team}"
    if other.department and f"department:{other.department}" in wisher.wishlist:
        return f"{first_name(wisher)} asked to meet someone in {other.department}"
    return None


def wished(a: Person, b: Person) -> str | None:
    """The reason either person's wishlist wants the other (``a``'s first), or None."""
    if not (a.wishlist or b.wishlist):  # most people wish for nobody: no need to look
        return None
    return wish_reason(a, b) or wish_reason(b, a)


class PairContext(NamedTuple):
    """What a term's pair value may read besides the two people (a tuple: built once per scored pair)."""

    history: PairHistory
    today: date
    free_time: FreeTimeIndex | None
    weights: Weights
    # The program's named seniority levels, lowest first (``Program.seniority_levels``).
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PeopleColumns:
    """Per-person attributes as integer arrays for the vectorised terms: ids (-1 for a blank department,
    office or manager), levels (``has_level`` says which are real) and time zones. The rows are people
    (``scan.PairScanner``) or classes of alike people (``lp.StructuralOptions``, which has no managers)."""

    department: NDArray[np.int64]
    office: NDArray[np.int64]
    level: NDArray[np.int64]
    has_level: NDArray[np.bool_]
    zone: NDArray[np.int64]
    manager: NDArray[np.int64] | None = None


class Side:
    """One side of many pairs: the ``columns`` of the people at positions ``at`` (any shape that broadcasts
    against the other side), each attribute taken on first use."""

    def __init__(self, columns: PeopleColumns, at: NDArray[np.int64]) -> None:
        self.columns = columns
        self.at = at

    @cached_property
    def department(self) -> NDArray[np.int64]:
        return self.columns.department[self.at]

    @cached_property
    def office(self) -> NDArray[np.int64]:
        return self.columns.office[self.at]

    @cached_property
    def level(self) -> NDArray[np.int64]:
        return self.columns.level[self.at]

    @cached_property
    def has_level(self) -> NDArray[np.bool_]:
        return self.columns.has_level[self.at]

    @cached_property
    def zone(self) -> NDArray[np.int64]:
        return self.columns.zone[self.at]

    @cached_property
    def manager(self) -> NDArray[np.int64]:
        if self.columns.manager is None:
            raise ValueError("these columns have no managers: the term must be bounded, not evaluated")
        return self.columns.manager[self.at]


@dataclass(frozen=True)
class PairArrays:
    """What belongs to pairs rather than to people, for the vectorised terms, in the pairs' shape (or a
    scalar that broadcasts): the never-met factor (1 for never met, less for a pair that met), whether a wish
    applies, how many interests they share, and with calendars their common free hours and the share of
    their working days that overlaps. None: not known to this caller (a term needing it fails loudly)."""

    never_met: NDArray[np.float64] | float | None = None
    wished: NDArray[np.bool_] | bool | None = None
    shared: NDArray[np.int64] | int | None = None
    hours: NDArray[np.float64] | None = None
    overlap: NDArray[np.float64] | None = None


def _given(value: Any, name: str) -> Any:
    if value is None:
        raise ValueError(f"the vectorised score needs {name} for these pairs")
    return value


class Bounded(enum.Enum):
    """How the LP's classes of alike people (``lp.StructuralOptions``) bound a term over a pair of classes."""

    # The term depends only on attributes that make a class (department, office, level, working time): exact.
    BY_CLASS = "by class"
    # Shared interests: exact per pair of interest sets.
    BY_INTEREST_SET = "by interest set"
    # At most what the two classes' pooled calendars share.
    BY_COMMON_TIME = "by common time"
    # Its largest value (history only lowers never-met; shared managers are not part of a class).
    BY_LARGEST = "by largest value"
    # It depends on the pair: the pairs it applies to are listed and scored exactly.
    LISTED = "listed"


@dataclass(frozen=True)
class Reach:
    """What the people one person could meet at all (their meeting-mode pools) look like, as the bound from
    structure needs it: whether someone of another department is among them, someone of another office
    virtually, how many of the person's interests someone else shares, the largest seniority gap (0 for a
    person without a level), the person's own free hours (a pair's common time is at most that), the best
    working-day overlap with another time zone (0: none), and whether a wish may apply (the person has a
    wishlist or is wished for)."""

    other_department: bool
    other_office: bool
    shareable_interests: int
    level_gap: int
    own_hours: float
    zone_overlap: float
    wished: bool


@dataclass(frozen=True)
class ScoreTerm:
    """One soft rule of the score: ``weight`` (a ``Weights`` field) times its value.

    ``pair_value`` is the value for two people; ``reason`` what people are told (None: nothing to say);
    ``vector_value`` the value for many pairs at once (two ``Side``s and their ``PairArrays``), the same
    arithmetic as ``pair_value``; ``largest`` the largest value over a person's ``Reach``; ``most`` the largest
    value any pair can have; ``bounded`` how the LP's classes bound it; ``needs_free_time``: the term counts
    only with calendars."""

    weight: str
    pair_value: Callable[[Person, Person, PairContext], float]
    reason: Callable[[Person, Person, PairContext], str | None]
    vector_value: Callable[[Side, Side, PairArrays], Any]
    largest: Callable[[Reach], float]
    most: float
    bounded: Bounded
    needs_free_time: bool = False

    def weight_in(self, weights: Weights) -> float:
        """This term's weight in ``weights``."""
        value: float = getattr(weights, self.weight)
        return value

    def upper_bound(self, weights: Weights) -> float:
        """The most this term adds to any pair's score (never below 0: a bound may always leave it out)."""
        return max(0.0, self.weight_in(weights) * self.most)


def _last_met(a: Person, b: Person, context: PairContext) -> date | None:
    last_met = context.history.last_met
    return last_met.get(frozenset((a.email, b.email))) if last_met else None


def _never_met(a: Person, b: Person, context: PairContext) -> float:
    last = _last_met(a, b, context)
    # Pairs who met long ago are nearly as welcome as new ones: the weight recovers over a year.
    return 1.0 if last is None else min(1.0, (context.today - last).days / NEVER_MET_RECOVERY_DAYS)


def _never_met_reason(a: Person, b: Person, context: PairContext) -> str:
    last = _last_met(a, b, context)
    return "never met" if last is None else f"last met on {last.isoformat()}"


def _shared(a: Person, b: Person) -> frozenset[str]:
    return a.interests & b.interests if a.interests and b.interests else frozenset()


def _level_gap(a: Person, b: Person, levels: Sequence[str]) -> int:
    level_a, level_b = seniority_level(a, levels), seniority_level(b, levels)
    return abs(level_a - level_b) if level_a is not None and level_b is not None else 0


def _seniority_reason(a: Person, b: Person, context: PairContext) -> str | None:
    level_a, level_b = seniority_level(a, context.levels), seniority_level(b, context.levels)
    if not context.weights.seniority_mix or level_a is None or level_b is None or level_a == level_b:
        return None
    low, high = (level_name(level, context.levels) for level in sorted((level_a, level_b)))
    return f"seniority mix: {low} and {high}" if context.levels else f"seniority mix: levels {low} and {high}"


def _common_hours(a: Person, b: Person, context: PairContext) -> float:
    hours: float = _given(context.free_time, "a free-time index").common_hours((a.email, b.email))
    return hours


def _common_hours_reason(a: Person, b: Person, context: PairContext) -> str:
    hours = _common_hours(a, b, context)
    if hours == 1:
        return "one hour of common free time this cycle"
    return f"{hours:g} hours of common free time this cycle"


def _zone_overlap(a: Person, b: Person, context: PairContext) -> float:
    if a.timezone == b.timezone:
        return 0.0
    overlap: float = _given(context.free_time, "a free-time index").working_overlap(a.email, b.email)
    return overlap


def _zone_overlap_reason(a: Person, b: Person, context: PairContext) -> str | None:
    if a.timezone == b.timezone:
        return None
    return f"working days overlap {round(_zone_overlap(a, b, context) * 100)}% ({a.timezone} and {b.timezone})"


def _differ(x: NDArray[np.int64], y: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Both named (not -1) and different."""
    return (x >= 0) & (y >= 0) & (x != y)


def _department_reason(a: Person, b: Person, _: PairContext) -> str | None:
    if a.department and b.department and a.department != b.department:
        return f"different departments: {a.department} and {b.department}"
    return f"different teams: {a.team} and {b.team}" if a.team != b.team else None


def _seniority_vector(a: Side, b: Side, _: PairArrays) -> Any:
    gap = np.abs(a.level - b.level)
    return np.minimum(LEVEL_GAP_COUNTED, gap) * (a.has_level & b.has_level & (gap != 0))


def _shared_vector(_a: Side, _b: Side, pair: PairArrays) -> Any:
    shared = _given(pair.shared, "shared interests")
    return np.minimum(SHARED_INTERESTS_COUNTED, shared) * (shared > 0)


DIFFERENT_DEPARTMENT = ScoreTerm(
    weight="different_department",
    pair_value=lambda a, b, _: float(bool(a.department and b.department and a.department != b.department)),
    reason=_department_reason,
    vector_value=lambda a, b, _: _differ(a.department, b.department),
    largest=lambda reach: float(reach.other_department),
    most=1.0,
    bounded=Bounded.BY_CLASS,
)
DIFFERENT_OFFICE = ScoreTerm(
    weight="different_office",
    pair_value=lambda a, b, _: float(bool(a.office and b.office and a.office != b.office)),
    reason=lambda a, b, _: (f"different offices: {a.office} and {b.office}"
                            if a.office and b.office and a.office != b.office else None),
    vector_value=lambda a, b, _: _differ(a.office, b.office),
    # Another office is only met virtually: an in-person pool is one office.
    largest=lambda reach: float(reach.other_office),
    most=1.0,
    bounded=Bounded.BY_CLASS,
)
NEVER_MET = ScoreTerm(
    weight="never_met",
    pair_value=_never_met,
    reason=_never_met_reason,
    vector_value=lambda _a, _b, pair: _given(pair.never_met, "the never-met factor"),
    largest=lambda _: 1.0,
    most=1.0,
    bounded=Bounded.BY_LARGEST,
)
WISHLIST = ScoreTerm(
    weight="wishlist",
    pair_value=lambda a, b, _: 1.0 if wished(a, b) else 0.0,
    reason=lambda a, b, _: wished(a, b),
    vector_value=lambda _a, _b, pair: _given(pair.wished, "the wishes"),
    largest=lambda reach: float(reach.wished),
    most=1.0,
    bounded=Bounded.LISTED,
)
SHARED_INTEREST = ScoreTerm(
    weight="shared_interest",
    pair_value=lambda a, b, _: min(SHARED_INTERESTS_COUNTED, len(_shared(a, b))),
    reason=lambda a, b, _: f"both into {', '.join(sorted(shared))}" if (shared := _shared(a, b)) else None,
    vector_value=_shared_vector,
    largest=lambda reach: min(SHARED_INTERESTS_COUNTED, reach.shareable_interests),
    most=SHARED_INTERESTS_COUNTED,
    bounded=Bounded.BY_INTEREST_SET,
)
NO_SHARED_MANAGER = ScoreTerm(
    weight="no_shared_manager",
    pair_value=lambda a, b, _: 0.0 if a.manager and a.manager == b.manager else 1.0,
    reason=lambda _a, _b, _: None,
    vector_value=lambda a, b, _: ~((a.manager >= 0) & (a.manager == b.manager)),
    largest=lambda _: 1.0,
    most=1.0,
    bounded=Bounded.BY_LARGEST,
)
SENIORITY_MIX = ScoreTerm(
    weight="seniority_mix",
    pair_value=lambda a, b, context: min(LEVEL_GAP_COUNTED, _level_gap(a, b, context.levels)),
    reason=_seniority_reason,
    vector_value=_seniority_vector,
    largest=lambda reach: min(LEVEL_GAP_COUNTED, reach.level_gap),
    most=LEVEL_GAP_COUNTED,
    bounded=Bounded.BY_CLASS,
)
COMMON_SLOTS = ScoreTerm(
    weight="common_slots",
    pair_value=lambda a, b, context: min(1.0, _common_hours(a, b, context) / COMMON_HOURS_COUNTED),
    reason=_common_hours_reason,
    vector_value=lambda _a, _b, pair: np.minimum(1.0, _given(pair.hours, "common hours") / COMMON_HOURS_COUNTED),
    largest=lambda reach: min(1.0, reach.own_hours / COMMON_HOURS_COUNTED),
    most=1.0,
    bounded=Bounded.BY_COMMON_TIME,
    needs_free_time=True,
)
TIMEZONE_OVERLAP = ScoreTerm(
    weight="timezone_overlap",
    pair_value=_zone_overlap,
    reason=_zone_overlap_reason,
    vector_value=lambda a, b, pair: _given(pair.overlap, "working-day overlaps") * (a.zone != b.zone),
    largest=lambda reach: reach.zone_overlap,
    most=1.0,
    bounded=Bounded.BY_CLASS,
    needs_free_time=True,
)

# The order of the terms is the order of the float additions, and of the reasons.
TERMS: tuple[ScoreTerm, ...] = (
    DIFFERENT_DEPARTMENT,
    DIFFERENT_OFFICE,
    NEVER_MET,
    WISHLIST,
    SHARED_INTEREST,
    NO_SHARED_MANAGER,
    SENIORITY_MIX,
    COMMON_SLOTS,
    TIMEZONE_OVERLAP,
)
_WITHOUT_CALENDARS = tuple(term for term in TERMS if not term.needs_free_time)

if sorted(term.weight for term in TERMS) != sorted(field.name for field in fields(Weights)):
    raise RuntimeError("every field of Weights needs exactly one ScoreTerm in scheduler.pairing.score.TERMS")


def terms_for(calendars: bool) -> tuple[ScoreTerm, ...]:
    """The terms that count with (``calendars``) or without a free-time index, in order."""
    return TERMS if calendars else _WITHOUT_CALENDARS


def weighted_terms(weights: Weights, calendars: bool) -> list[tuple[ScoreTerm, float]]:
    """The terms that count, each with its weight, leaving out those of weight 0 (they add 0.0, which changes
    no float, so leaving them out changes no score and saves their work)."""
    return [(term, weight) for term in terms_for(calendars) if (weight := term.weight_in(weights))]


def score_pair(a: Person, b: Person, program: Program, history: PairHistory, today: date,
               free_time: FreeTimeIndex | None, *, explain: bool = True) -> PairEdge:
    """The soft-rule score of an allowed pair (hard rules are ``rules.hard_rule``'s) and, when ``explain``,
    the reasons behind it, most telling first: ``BASE_SCORE`` plus each term's weight times its value."""
    weights = program.weights
    context = PairContext(history, today, free_time, weights, program.seniority_levels)
    terms = TERMS if free_time is not None else _WITHOUT_CALENDARS
    score = BASE_SCORE
    for term in terms:
        weight = getattr(weights, term.weight)
        if weight:  # a weight of 0 adds 0.0: skipping it changes no float
            score += weight * term.pair_value(a, b, context)
    if not explain:
        return PairEdge(score, ())
    reasons = tuple(reason for term in terms if (reason := term.reason(a, b, context)) is not None)
    return PairEdge(score, reasons)
