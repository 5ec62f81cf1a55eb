"""Everyone's best option at given prices, over the full allowed graph, without scoring n² pairs.

The LP dual bound of ``bound`` needs, for each person v and prices p, a number m_v no allowed partner
can beat: m_v ≥ max over every allowed u of (w(u, v) - p_u). Scanning every pair gives it exactly but costs
n² (hours at 100,000 people); ``StructuralOptions.best`` gives an upper bound, which keeps the bound certified.

The engine's score is a sum of terms (the table ``score.TERMS``), and each term either depends only on a few
attributes of the two people or can only be raised by forgetting the pair; each term's ``bounded`` says which
of these it is, and ``_base_scores`` and the interest sets read the table:

- department, office, working-time class (time zone and hours: the time-zone overlap), meeting modes,
  office for in-person meetings, level (for the seniority mix): a person's *base class*; the terms between
  two base classes are computed once per pair of classes (``_base_scores``), with the meeting-mode rule, the
  in-person office rule and "no common time" (no member of one class shares a start with any member of the
  other) applied there;
- shared interests: by *interest set*, once per pair of sets;
- never met (history only lowers it), no shared manager, common free time (at most what the two base classes
  share): their largest possible value;
- same team, met within the cooldown, block lists: forgotten, which also covers the engine's relaxed rules;
- the wishlist bonus depends on the pair: the pairs it may apply to are listed (a named person either way, a
  wished team's members) and scored exactly (``PairScanner.pair_scores``); a wished department is a
  base-class attribute, so a wish for it raises that department's classes by the bonus for who wished it,
  and the classes of who wished it for the department's members.

People with the same base class and interest set form a *class*; a person's best option in a class is its
member of lowest price. So m_v is a maximum over classes, computed per base class and per interest set (a
few hundred base classes times a few thousand interest sets at 100,000 people), not per pair of people.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python.linear_sum_assignment import SimpleLinearSumAssignment

from scheduler.availability.slots import STEP
from scheduler.pairing.rules import VIRTUAL_BIT
from scheduler.pairing.scan import PairScanner
from scheduler.pairing.score import (
    BASE_SCORE,
    TERMS,
    WISHLIST,
    Bounded,
    PairArrays,
    PeopleColumns,
    Side,
    weighted_terms,
)
from scheduler.pairing.tuning import ColumnGeneration

# Scores become integers for the assignment solver in steps of 1/SCALE.
SCALE = 1000
# Classes handled per numpy call when combining base classes and interest sets (memory: this × base classes).
CLASS_CHUNK = 4096
# Column generation's tuning is ``tuning.ColumnGeneration``.


@dataclass(frozen=True)
class Priced:
    """What column generation ends with: the candidate pairs (first[i], second[i]) and their scores, the
    certified bound, and the final assignment: ``takes[v]`` is the person whose right copy v's left copy
    took in the doubled assignment problem of ``bound`` (-1: v's "alone" object)."""

    first: NDArray[np.int64]
    second: NDArray[np.int64]
    weight: NDArray[np.float64]
    bound: float
    takes: NDArray[np.int64]


def price_by_columns(scanner: PairScanner, start: Sequence[tuple[int, int]] = (), *, certify: bool = True,
                     seed: int = 0, columns: ColumnGeneration | None = None) -> Priced:
    """The LP dual of ``bound`` at the optimal prices of a candidate graph, certified over every
    allowed pair of ``scanner`` by ``StructuralOptions``, and the candidate graph's best fractional matching.

    Column generation: the candidate graph starts with the pairs ``start`` (by positions, such as the
    engine's plan) and grows each round by everyone's best-looking partners at the current prices: the
    cheapest members of their best class and whoever structure names as their best option (over the whole
    organisation), and their best partners in random blocks, scored exactly (``block_columns``, blocks drawn
    from ``seed``: structure alone misses partners when classes mix the allowed with the forbidden, such as
    a class of many teammates or of people without common free time). The assignment problem is solved on it
    exactly (``assignment_prices``); its prices are certified; until no partner is new, the bound is within
    ``columns.settled_gap`` of the candidate graph's own optimum (no bound can go below that), or
    ``columns.rounds`` rounds (``columns``: default ``ColumnGeneration()``).

    Without ``certify`` (the engine, which wants the matching), no bound is computed (inf) and the
    rounds stop once the candidate graph's optimum gains less than ``columns.engine_settled`` in a round."""
    tuning = columns or ColumnGeneration()
    n = scanner.size
    options = StructuralOptions(scanner, tuning.exact_members)
    graph = _CandidateGraph(scanner, tuning.prune_below)
    if len(start):
        pairs = np.asarray(start, dtype=np.int64).reshape(-1, 2)
        graph.add(pairs[:, 0], pairs[:, 1])
    right, alone = np.zeros(n), np.zeros(n)
    takes = np.full(n, -1, dtype=np.int64)
    bound = math.inf
    matched = 0.0
    everyone = np.arange(n)
    rng = np.random.default_rng(seed)
    for _ in range(tuning.rounds):
        picks = options.best_partners(right, tuning.per_round)
        _, named = options.best(right)
        per_person = tuning.block_columns if matched else tuning.first_block_columns
        in_blocks = block_columns(scanner, right, per_person, tuning.block, rng)
        added = graph.add(np.concatenate([np.repeat(everyone, picks.shape[1] + 1), in_blocks[:, 0]]),
                          np.concatenate([np.column_stack([picks, named]).ravel(), in_blocks[:, 1]]))
        if not added:
            break
        previous = matched
        right, alone, takes, matched = assignment_prices(n, graph.first, graph.second, graph.weight)
        graph.prune(right, alone)
        if not certify:
            if matched <= previous * (1 + tuning.engine_settled):
                break
            continue
        value, _ = options.best(right)
        dual = (math.fsum(np.maximum(value, -alone).tolist()) + math.fsum(np.maximum(-right, -alone).tolist())
                + math.fsum(right.tolist()) + math.fsum(alone.tolist()))
        # A hair of slack for the different order of float additions.
        bound = min(bound, dual / 2 * (1 + 1e-12))
        if bound <= matched * (1 + tuning.settled_gap):
            break
    return Priced(graph.first, graph.second, graph.weight, bound, takes)


def block_columns(scanner: PairScanner, prices: NDArray[np.float64], per_person: int, block_size: int,
                  rng: np.random.Generator) -> NDArray[np.int64]:
    """Each person's ``per_person`` best allowed partners at ``prices`` (score minus the partner's price)
    inside random blocks of about ``block_size`` people drawn from ``rng``, as rows (a, b) of positions:
    every pair of a block is scored at once, block_size² cells, never n²."""
    n = scanner.size
    pairs = [np.zeros((0, 2), dtype=np.int64)]
    for block in np.array_split(rng.permutation(n), max(1, round(n / block_size))):
        top = scanner.top_partners(per_person, block, prices)
        found = top.index >= 0
        pairs.append(np.column_stack([np.repeat(block, per_person)[found.ravel()], block[top.index[found]]]))
    return np.concatenate(pairs)


class _CandidateGraph:
    """The pairs column generation has found so far, each once as (low, high) with its exact score; pairs that
    fall more than ``prune_below`` short at the prices are dropped (``prune``)."""

    def __init__(self, scanner: PairScanner, prune_below: float) -> None:
        self.scanner = scanner
        self.prune_below = prune_below
        self.keys = np.zeros(0, dtype=np.int64)
        self.weight = np.zeros(0)

    @property
    def first(self) -> NDArray[np.int64]:
        return self.keys // self.scanner.size

    @property
    def second(self) -> NDArray[np.int64]:
        return self.keys % self.scanner.size

    def prune(self, right: NDArray[np.float64], alone: NDArray[np.float64]) -> None:
        """Forget the pairs that fall short by more than ``prune_below`` of what both people make at the prices
        ``right`` and ``alone`` (a bigger graph only slows the assignment; a pair worth it again comes back
        as a column). Pairs the optimal assignment uses fall short by nothing."""
        first, second = self.first, self.second
        profit = _profits(self.scanner.size, first, second, self.weight, right, alone)
        short = np.maximum(self.weight - right[second] - profit[first], self.weight - right[first] - profit[second])
        keep = short >= -self.prune_below
        self.keys, self.weight = self.keys[keep], self.weight[keep]

    def add(self, first: NDArray[np.int64], second: NDArray[np.int64]) -> int:
        """Add the allowed pairs (first[i], second[i]) worth something (-1 and self-pairs are skipped); how
        many were new."""
        keep = (first >= 0) & (second >= 0) & (first != second)
        first, second = first[keep], second[keep]
        weight = self.scanner.pair_scores(first, second)
        keep = np.isfinite(weight) & (weight > 0)  # a matching never gains from a pair worth nothing
        first, second, weight = first[keep], second[keep], weight[keep]
        keys = np.minimum(first, second) * self.scanner.size + np.maximum(first, second)
        merged, at = np.unique(np.concatenate([self.keys, keys]), return_index=True)
        added = len(merged) - len(self.keys)
        self.keys, self.weight = merged, np.concatenate([self.weight, weight])[at]
        return added


def _profits(n: int, first: NDArray[np.int64], second: NDArray[np.int64], weight: NDArray[np.float64],
             right: NDArray[np.float64], alone: NDArray[np.float64]) -> NDArray[np.float64]:
    """What each person's left copy makes at the prices: its best option, a partner's right copy or alone."""
    profit = -alone.copy()
    np.maximum.at(profit, first, weight - right[second])
    np.maximum.at(profit, second, weight - right[first])
    return profit


def assignment_prices(n: int, first: NDArray[np.int64], second: NDArray[np.int64],
                weight: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64],
                                                      float]:
    """Optimal prices of the assignment problem of ``bound``'s docstring on the pairs (first,
    second): for the objects R (each person) and A ("alone"), and who each person's left copy takes (as
    ``Priced.takes``). Solved exactly on scores in steps of 1/SCALE (OR-Tools' cost-scaling assignment,
    four to eight times faster here than scipy's sparse Jonker-Volgenant), then priced by longest paths
    (Bellman-Ford) along the constraints that every bidder's object is its best: p_j >= p_σ(i) + a_ij -
    a_iσ(i). Any prices give a certified bound; these are (up to rounding) the LP optimum of the candidate
    graph. Also returns that optimum: half the assignment's value, the best fractional matching of the
    candidate graph (in steps of 1/SCALE)."""
    value = np.round(weight * SCALE).astype(np.int64)
    people = np.arange(n)
    # Bidders: L_v (0 .. n-1), then the fillers F_u (n .. 2n-1); objects: R_u (0 .. n-1), then A_v.
    bidder = np.concatenate([first, second, people, people + n, people + n])
    thing = np.concatenate([second, first, people + n, people, people + n])
    worth = np.concatenate([value, value, np.zeros(3 * n, dtype=np.int64)])
    solver = SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(bidder, thing, -worth)  # the solver minimises: the cost is minus the value
    status = solver.solve()
    if status != solver.OPTIMAL:  # the fillers make every problem feasible; costs are far from overflowing
        raise RuntimeError(f"the assignment solver failed: {status}")
    owner_of = np.fromiter((solver.right_mate(i) for i in range(2 * n)), dtype=np.int64, count=2 * n)
    assigned = np.zeros(2 * n, dtype=np.int64)
    chosen = owner_of[bidder] == thing
    assigned[bidder[chosen]] = worth[chosen]
    # Longest paths, a round at a time: each object's price is the largest over its bidders of the price of
    # what the bidder holds plus what it would gain; the constraints sorted by object once, so a round is
    # one reduceat (every object has a bidder: its filler or its own left copy).
    by_thing = np.argsort(thing, kind="stable")
    source, gap = owner_of[bidder][by_thing], (worth - assigned[bidder])[by_thing]
    starts = np.flatnonzero(np.r_[True, np.diff(thing[by_thing]) != 0])
    objects = thing[by_thing][starts]
    prices = np.zeros(2 * n, dtype=np.int64)
    for _ in range(4 * n + 1):  # an optimal assignment has no positive cycle: at most 2n rounds settle it
        raised = np.maximum(prices[objects], np.maximum.reduceat(prices[source] + gap, starts))
        if np.array_equal(raised, prices[objects]):
            break
        prices[objects] = raised
    takes = np.where(owner_of[:n] < n, owner_of[:n], -1)
    return prices[:n] / SCALE, prices[n:] / SCALE, takes, float(assigned[:n].sum()) / SCALE / 2


_NO_COLUMNS = PeopleColumns(department=np.zeros(0, dtype=np.int64), office=np.zeros(0, dtype=np.int64),
                            level=np.zeros(0, dtype=np.int64), has_level=np.zeros(0, dtype=bool),
                            zone=np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class _Best:
    """For each class A: the best and second-best value over classes of a partner, and the best's class."""

    first: NDArray[np.float64]
    second: NDArray[np.float64]
    where: NDArray[np.int64]


@dataclass(frozen=True)
class _Cheapest:
    """Some people sorted by class, then price: ``order[first_of[c] + j]`` is the j-th cheapest of class c
    (for j < count[c]); ``low`` and ``next_low`` the two lowest prices of each class (inf: nobody)."""

    order: NDArray[np.int64]
    first_of: NDArray[np.int64]
    count: NDArray[np.int64]
    low: NDArray[np.float64]
    next_low: NDArray[np.float64]


class StructuralOptions:
    """Everyone's best option at given prices, from base classes and interest sets (module docstring); in each
    person's best class the ``exact_members`` cheapest are scored exactly (``best``)."""

    def __init__(self, scanner: PairScanner, exact_members: int = ColumnGeneration.exact_members) -> None:
        self.scanner = scanner
        self.exact_members = exact_members
        weights = scanner.weights
        self.wish_bonus = WISHLIST.upper_bound(weights)
        n = scanner.size
        level = scanner.level if weights.seniority_mix else np.zeros(n, dtype=np.int64)
        has_level = scanner.has_level if weights.seniority_mix else np.zeros(n, dtype=bool)
        work = scanner.work_class if scanner.starts is not None else np.zeros(n, dtype=np.int64)
        attributes = np.stack([scanner.department, scanner.office_named, scanner.office_raw, work, scanner.modes,
                               level, has_level.astype(np.int64)], axis=1)
        self.base_rows, self.base = np.unique(attributes, axis=0, return_inverse=True)
        self.base = self.base.ravel()
        interest_rows, self.interest_set = np.unique(scanner.interests, axis=0, return_inverse=True)
        self.interest_set = self.interest_set.ravel()
        shared = (interest_rows @ interest_rows.T).astype(np.int64)
        # Terms bounded by interest set read only what the sets share, not the people's columns.
        nobody = Side(_NO_COLUMNS, np.zeros(0, dtype=np.int64))
        self.interest_score: NDArray[np.float64] = np.zeros(shared.shape, dtype=np.float64)
        for term in TERMS:
            if term.bounded is Bounded.BY_INTEREST_SET:
                self.interest_score = self.interest_score + term.weight_in(weights) * term.vector_value(
                    nobody, nobody, PairArrays(shared=shared))
        self.base_score = self._base_scores()
        # Classes: (base class, interest set) pairs that have members.
        keys = self.base * len(interest_rows) + self.interest_set
        class_keys, self.klass = np.unique(keys, return_inverse=True)
        self.klass = self.klass.ravel()
        self.class_base = class_keys // len(interest_rows)
        self.class_set = class_keys % len(interest_rows)
        self.classes_of_base = [np.flatnonzero(self.class_base == b) for b in range(len(self.base_rows))]
        self._wishes()

    def _base_scores(self) -> NDArray[np.float64]:
        """Upper bounds on every term but interests and wishes, per pair of base classes (-inf: forbidden):
        each term of the score's table as its ``bounded`` says, added in the table's order."""
        scanner = self.scanner
        rows = self.base_rows
        dept, office, office_raw, work, modes, level, has_level = (rows[:, c] for c in range(7))
        a, b = np.arange(len(rows))[:, None], np.arange(len(rows))[None, :]
        common = modes[a] & modes[b]
        forbidden = (common == 0) | (((common & VIRTUAL_BIT) == 0) & (office_raw[a] != office_raw[b]))
        hours = overlap = None
        zone = np.zeros(len(rows), dtype=np.int64)
        if scanner.starts is not None:
            starts = np.zeros((len(rows), scanner.starts.shape[1]), dtype=np.uint64)
            np.bitwise_or.at(starts, self.base, scanner.starts)
            steps = np.bitwise_count(starts[:, None, :] & starts[None, :, :]).sum(axis=2)
            forbidden |= steps == 0
            hours = steps * STEP.total_seconds() / 3600
            zone = scanner.zone[_representatives(self.base)]
            overlap = scanner.overlap[work[a], work[b]]
        classes = PeopleColumns(department=dept, office=office, level=level, has_level=has_level == 1, zone=zone)
        side_a, side_b = Side(classes, a), Side(classes, b)
        pair = PairArrays(hours=hours, overlap=overlap)
        terms = weighted_terms(scanner.weights, calendars=scanner.starts is not None)
        # The terms bounded by their largest value are added together where the first of them comes, as one
        # constant: that keeps the order of float additions this bound has always had.
        largest = 0.0
        for term, _ in terms:
            if term.bounded is Bounded.BY_LARGEST:
                largest += term.upper_bound(scanner.weights)
        score = np.full((len(rows), len(rows)), BASE_SCORE)
        added_largest = False
        for term, weight in terms:
            if term.bounded is Bounded.BY_CLASS:
                score += weight * term.vector_value(side_a, side_b, pair)
            elif term.bounded is Bounded.BY_COMMON_TIME:
                score += max(0.0, weight) * term.vector_value(side_a, side_b, pair)
            elif term.bounded is Bounded.BY_LARGEST and not added_largest:
                score += largest
                added_largest = True
            elif term.bounded not in (Bounded.BY_LARGEST, Bounded.BY_INTEREST_SET, Bounded.LISTED):
                raise ValueError(f"no class bound for the term {term.weight} ({term.bounded})")
        score[forbidden] = -np.inf
        return score

    def _wishes(self) -> None:
        """The pairs the wishlist bonus may apply to, listed (a wished department aside: see best_outside)."""
        scanner = self.scanner
        first: list[int] = []
        second: list[int] = []
        for v, others in scanner.wish_people.items():
            for u in others:
                first += [v, u]
                second += [u, v]
        members_of_team: dict[int, NDArray[np.int64]] = {}
        for v, teams in scanner.wish_teams.items():
            for team in teams:
                if team not in members_of_team:
                    members_of_team[team] = np.flatnonzero(scanner.team == team)
                members = members_of_team[team].tolist()
                first += [v] * len(members) + members
                second += members + [v] * len(members)
        pairs = np.unique(np.array([first, second], dtype=np.int64).reshape(2, -1), axis=1)
        pairs = pairs[:, pairs[0] != pairs[1]]
        self.wish_first, self.wish_second = pairs[0], pairs[1]
        self.wish_score = scanner.pair_scores(self.wish_first, self.wish_second)
        self.department_wishes = [(v, department) for v, departments in sorted(scanner.wish_departments.items())
                                  for department in departments]

    def best(self, prices: NDArray[np.float64],
             mate: NDArray[np.int64] | None = None) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """For each person v, an upper bound on max (w(u, v) - prices[u]) over every allowed u other than v and
        v's partner ``mate[v]`` (-inf when there is nobody), and the u that reaches it as far as structure
        tells (-1 when it does not say).

        In v's best class by structure, the ``exact_members`` cheapest members are scored exactly (a teammate, a
        recent partner or someone with no common free time is then seen for what they are) and the rest
        bounded by the next price; every other class counts by its structural value."""
        everyone = np.ones(self.scanner.size, dtype=bool)
        cheapest = self._cheapest(prices, everyone)
        best = self._best_over_classes(cheapest.low, np.full(len(self.class_base), np.inf),
                                       np.arange(len(self.class_base)))
        mine = self.klass
        chosen = best.where[mine]
        people = np.arange(self.scanner.size)
        value = best.second[mine]  # every other class
        person = np.full(self.scanner.size, -1, dtype=np.int64)
        structural = best.first[mine] + cheapest.low[chosen]  # v's score bound with anyone of the class
        for j in range(self.exact_members + 1):
            has = np.isfinite(best.first[mine]) & (cheapest.count[chosen] > j)
            member = np.full(self.scanner.size, -1, dtype=np.int64)
            member[has] = cheapest.order[cheapest.first_of[chosen[has]] + j]
            if j == self.exact_members:  # the rest of the class, no cheaper than this one
                offer = np.where(has, structural - prices[np.maximum(member, 0)], -np.inf)
                _raise(value, person, people, offer, np.full(self.scanner.size, -1, dtype=np.int64))
                break
            valid = has & (member != people) & (mate != member if mate is not None else True)
            offer = np.full(self.scanner.size, -np.inf)
            offer[valid] = self.scanner.pair_scores(people[valid], member[valid]) - prices[member[valid]]
            _raise(value, person, people, offer, member)
        self._add_wishes(value, person, prices, mate, cheapest.order[cheapest.first_of], cheapest.low)
        return value, person

    def best_partners(self, prices: NDArray[np.float64], count: int) -> NDArray[np.int64]:
        """For each person, the ``count`` partners who look best at ``prices`` by structure: the cheapest
        members of their best class (-1 pads): the columns that column generation tries next."""
        cheapest = self._cheapest(prices, np.ones(self.scanner.size, dtype=bool))
        best = self._best_over_classes(cheapest.low, cheapest.next_low, np.arange(len(self.class_base)))
        chosen = best.where[self.klass]
        found = np.isfinite(best.first[self.klass])
        picks = np.full((self.scanner.size, count), -1, dtype=np.int64)
        for j in range(count):
            has = found & (cheapest.count[chosen] > j)
            picks[has, j] = cheapest.order[cheapest.first_of[chosen[has]] + j]
        return picks

    def _cheapest(self, prices: NDArray[np.float64], among: NDArray[np.bool_]) -> _Cheapest:
        """The people marked ``among``, by class and price (see ``_Cheapest``)."""
        people = np.flatnonzero(among)
        order = people[np.lexsort((prices[people], self.klass[people]))]
        klass_sorted = self.klass[order]
        classes = np.arange(len(self.class_base))
        first_of = np.searchsorted(klass_sorted, classes)
        count = np.searchsorted(klass_sorted, classes, side="right") - first_of
        padded = np.append(order, -1)  # a class without anyone points past the end
        low = np.where(count > 0, prices[padded[np.minimum(first_of, len(order))]], np.inf)
        next_low = np.where(count > 1, prices[padded[np.minimum(first_of + 1, len(order))]], np.inf)
        return _Cheapest(padded, first_of, count, low, next_low)

    def _best_over_classes(self, low: NDArray[np.float64], next_low: NDArray[np.float64],
                           targets: NDArray[np.int64]) -> _Best:
        """For each class A of ``targets`` (as v's class): the best and second-best of base_score +
        interest_score - low over the classes (a class's next price counts for second place), and the best's
        class. Classes with no price (low = inf) are nobody."""
        sets = self.interest_score.shape[0]
        bases = len(self.base_rows)
        top = np.full((bases, sets), -np.inf)
        top_class = np.zeros((bases, sets), dtype=np.int64)
        runner_up = np.full((bases, sets), -np.inf)
        for b, every in enumerate(self.classes_of_base):
            classes = every[np.isfinite(low[every])]
            if not len(classes):
                continue
            value = self.interest_score[:, self.class_set[classes]] - low[classes][None, :]
            at = np.argmax(value, axis=1)
            top[b] = value[np.arange(sets), at]
            top_class[b] = classes[at]
            if len(classes) > 1:
                value[np.arange(sets), at] = -np.inf
                runner_up[b] = value.max(axis=1)
            runner_up[b] = np.maximum(runner_up[b], top[b] + low[top_class[b]] - next_low[top_class[b]])
        count = len(targets)
        first = np.full(len(self.class_base), -np.inf)
        second = np.full(len(self.class_base), -np.inf)
        where = np.zeros(len(self.class_base), dtype=np.int64)
        for start in range(0, count, CLASS_CHUNK):
            a = targets[start:start + CLASS_CHUNK]
            own_set = self.class_set[a]
            total = self.base_score[self.class_base[a]] + top[:, own_set].T
            at = np.argmax(total, axis=1)
            rows = np.arange(len(a))
            first[a] = total[rows, at]
            where[a] = top_class[at, own_set]
            total[rows, at] = -np.inf
            second[a] = np.maximum(total.max(axis=1),
                                   self.base_score[self.class_base[a], at] + runner_up[at, own_set])
        return _Best(first, second, where)

    def _add_wishes(self, value: NDArray[np.float64], person: NDArray[np.int64], prices: NDArray[np.float64],
                    mate: NDArray[np.int64] | None, low_person: NDArray[np.int64], low: NDArray[np.float64]) -> None:
        """Raise ``value`` (and say who, in ``person``) where the wishlist bonus may apply: listed pairs
        exactly; for who wished a department, its classes; for the department's members, the classes of who
        wished it."""
        first, second = self.wish_first, self.wish_second
        keep = np.ones(len(first), dtype=bool) if mate is None else second != mate[first]
        gain = self.wish_score[keep] - prices[second[keep]]
        order = np.lexsort((-gain, first[keep]))
        leaders = order[np.r_[True, first[keep][order][1:] != first[keep][order][:-1]]] if len(order) else order
        _raise(value, person, first[keep][leaders], gain[leaders], second[keep][leaders])
        department = self.base_rows[self.class_base, 0]
        for v, wished in self.department_wishes:
            classes = np.flatnonzero((department == wished) & np.isfinite(low))
            if len(classes):
                gains = (self.base_score[self.base[v], self.class_base[classes]]
                         + self.interest_score[self.interest_set[v], self.class_set[classes]]
                         + self.wish_bonus - low[classes])
                at = int(np.argmax(gains))
                _raise(value, person, np.array([v]), gains[at:at + 1], low_person[classes[at:at + 1]])
        for wished in sorted({d for _, d in self.department_wishes}):
            wishers = np.zeros(self.scanner.size, dtype=bool)
            wishers[[v for v, d in self.department_wishes if d == wished]] = True
            cheapest = self._cheapest(prices, wishers)
            members = np.flatnonzero(self.scanner.department == wished)
            best = self._best_over_classes(cheapest.low, cheapest.next_low, np.unique(self.klass[members]))
            _raise(value, person, members, best.first[self.klass[members]] + self.wish_bonus,
                   cheapest.order[cheapest.first_of[best.where[self.klass[members]]]])


def _raise(value: NDArray[np.float64], person: NDArray[np.int64], who: NDArray[np.int64],
           offer: NDArray[np.float64], by: NDArray[np.int64]) -> None:
    """value[who] = max(value[who], offer), person[who] = by where the offer is higher (``who`` distinct)."""
    better = offer > value[who]
    value[who[better]] = offer[better]
    person[who[better]] = by[better]


def _representatives(groups: NDArray[np.int64]) -> NDArray[np.int64]:
    """The first member of each group 0 .. max(groups)."""
    return np.unique(groups, return_index=True)[1]


def round_to_pairs(priced: Priced) -> list[tuple[int, int]]:
    """A matching from the final assignment of ``priced``: v's left copy taking u's right copy is an edge
    {v, u}; every person has at most two such edges, so they form paths and cycles (two people taking each
    other: a pair). Each path or cycle keeps its heaviest matching (a cycle cannot keep both edges at its
    first person, so the better of the two paths without one of them). Loses nothing on pairs and even
    cycles; an odd cycle leaves one person out."""
    takes = priced.takes
    weight_of = {(a, b): w for a, b, w in zip(priced.first.tolist(), priced.second.tolist(),
                                               priced.weight.tolist(), strict=True)}
    neighbours: dict[int, list[int]] = {}
    for v, u in enumerate(takes.tolist()):
        if u >= 0 and u != v:
            for a, b in ((v, u), (u, v)):
                if b not in neighbours.setdefault(a, []):
                    neighbours[a].append(b)
    pairs: list[tuple[int, int]] = []
    seen: set[int] = set()
    ends = sorted(v for v, around in neighbours.items() if len(around) == 1)
    for start in ends + sorted(neighbours):  # paths from their ends first, then what is left: cycles
        if start in seen:
            continue
        walk = _walk(start, neighbours, seen)
        weights = [weight_of[(min(a, b), max(a, b))] for a, b in itertools.pairwise(walk)]
        closes = len(walk) > 2 and walk[0] in neighbours[walk[-1]]
        if closes:
            weights.append(weight_of[(min(walk[0], walk[-1]), max(walk[0], walk[-1]))])
            options = [_best_on_path(walk, weights[:-1]), _best_on_path(walk[1:] + walk[:1], weights[1:])]
            chosen = max(options, key=lambda option: sum(w for _, _, w in option))
        else:
            chosen = _best_on_path(walk, weights)
        pairs.extend((a, b) for a, b, _ in chosen)
    return sorted((min(a, b), max(a, b)) for a, b in pairs)


def _walk(start: int, neighbours: dict[int, list[int]], seen: set[int]) -> list[int]:
    """The people of ``start``'s path or cycle in order, from ``start`` (an end, for a path)."""
    walk = [start]
    seen.add(start)
    while True:
        step = next((b for b in neighbours[walk[-1]] if b not in seen), None)
        if step is None:
            return walk
        walk.append(step)
        seen.add(step)


def _best_on_path(nodes: list[int], weights: list[float]) -> list[tuple[int, int, float]]:
    """The heaviest matching of a path (nodes[i] joined to nodes[i + 1] by weights[i]), by dynamic
    programming."""
    best = [0.0] * (len(nodes) + 1)  # best[i]: the first i nodes
    for i in range(2, len(nodes) + 1):
        best[i] = max(best[i - 1], best[i - 2] + weights[i - 2])
    chosen = []
    i = len(nodes)
    while i >= 2:
        if best[i] == best[i - 1]:
            i -= 1
        else:
            chosen.append((nodes[i - 2], nodes[i - 1], weights[i - 2]))
            i -= 2
    return chosen
