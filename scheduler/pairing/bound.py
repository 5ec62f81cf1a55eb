"""A certified upper bound on the total score of any grouping the pairing engine could make.

The engine's result is judged against this bound: ``gap = 1 - total / bound`` says how far from the optimum
it can at most be. A bound is only worth printing when it is *certified*, so every step below is an
inequality that holds for every allowed pair, not an estimate. "Allowed" pairs are those no hard rule
forbids, plus those the program's ``relax`` setting lets the engine use as a last resort (recent pairs, then
teammates): the bound covers every grouping the engine may return.

**The dual vertex cover.** Give each person v a number y_v ≥ 0 such that y_u + y_v ≥ w(u, v), the score,
for every allowed pair. Then:

- a pair scores w(u, v) ≤ y_u + y_v;
- a trio {a, b, c} scores w(a, b) + w(a, c) + w(b, c) ≤ (y_a + y_b) + (y_a + y_c) + (y_b + y_c)
  = 2 (y_a + y_b + y_c): every member sits in two of its three edges, so a trio uses its members' y twice;
- in general a group of g members has every member in g - 1 of its edges: it scores ≤ (g - 1) Σ y.

So a grouping into groups of ``group_size`` g plus at most T groups of g + 1 (the engine's trios: one extra
person joins a pair) scores at most (g - 1) Σ_v y_v + the sum of the (g + 1)·T largest y_v: everyone grouped
contributes (g - 1) y_v, members of a bigger group y_v once more, and nobody is in two groups. People left
out contribute nothing, which y ≥ 0 covers. Three covers are used, and the smallest total is the bound:

1. y_v = best_v / 2, where best_v ≥ the score of v's best allowed partner. It is a cover because
   w(u, v) ≤ best_u and w(u, v) ≤ best_v, so y_u + y_v ≥ w(u, v).
2. y_v = best'_v / 2 + wishlist weight if v has a wishlist, where best'_v leaves the wishlist bonus out. The
   bonus is paid when either person asked for the other, and then the one who asked carries it whole. This
   is much smaller when many people are asked for (a whole department by one person's wish) and few ask.
3. y_v = 0 for the members of the biggest team and best_v for everyone else, when the program never lets
   teammates meet: every allowed pair has a member outside that team, whose best_v alone covers it. This is
   the one that counts when a team holds more than half of everyone (a bound of halves would promise them
   partners who do not exist).

best_v is exact for up to ``BoundLimits.exact_scan_limit`` people (every pair scored with the engine's own
``rules.hard_rule`` and ``score.score_pair``). Above that it is bounded from structure, without touching the n²
pairs: each term of the score is maximised on its own over the people v could meet at all (by meeting mode and
office), so the sum of those maxima is at least the score of v's best real partner.

**Groups of 3 or 4 (exact scan).** A group G scores Σ_{pairs in G} w = ½ Σ_{v ∈ G} Σ_{u ∈ G∖v} w(u, v): every
pair is counted once from each end. Member v's inner sum has |G| - 1 terms, each the score of one of v's
allowed partners, so it is at most top_{|G|-1}(v), the sum of v's |G| - 1 largest partner scores (clamped at
0, padded with 0 when v has fewer partners). Groups have at most g + 1 members and top sums grow with the
count, so a grouping with T groups of g + 1 scores at most ½ Σ_v top_{g-1}(v) + ½ × the sum of the (g + 1)·T
largest g-th best scores (a member of a bigger group adds one partner more). Smaller groups (g - 1, the
engine's remainders) and people left out only lower the left side. This needs every person's g best
scores, so it is used up to ``BoundLimits.exact_scan_limit`` people; above that the cover bounds (g - 1) Σ y
hold for any g.

**The LP dual on the full graph (pairs, above ``BoundLimits.matching_limit`` people).** Any grouping into
pairs plus T trios scores at most M, the best matching of every allowed pair, plus twice the T largest best_v
(as below). To bound M, build a square assignment problem: bidders L_v (each person) and F_u (a filler per
person); objects R_u (each person again) and A_v ("alone", one per person); L_v values R_u at w(u, v) for
every allowed pair and A_v at 0, F_u values R_u and A_u at 0. A matching gives a perfect assignment worth
twice its score: for a pair (u, v), L_u takes R_v, L_v takes R_u, F_u takes A_u and F_v takes A_v; an
unmatched x has L_x take A_x and F_x take R_x. By weak duality of the assignment problem, for *any* prices
p (on R) and q (on A),

    2 M ≤ Σ_v max(max over every allowed partner u of v of (w(u, v) - p_u), -q_v)
          + Σ_u max(-p_u, -q_u) + Σ_u p_u + Σ_v q_v,

each bidder taking at most what its best object is worth at those prices. Good prices come from an auction
(ε-scaling, Bertsekas) on each person's ``BoundLimits.lp_candidates`` best partners; the first maximum is then
taken over **every** allowed pair by the exact vectorised scan (``scan``, the engine's own arithmetic), so the
certificate covers the full graph whatever the prices. The partners worth most at the prices join the
candidates and the auction goes on (column generation) until the bound settles. The value is the fractional
matching LP's at best, which on these organisations lies within a few hundredths of a percent of the
optimum (at 1,000 people: 0.02%).

That scan of every pair is n² work: it is used up to ``BoundLimits.scan_limit`` people. At any size, the same dual is
certified without it (``structural_lp_bound``): each person's best option at the prices,
max over u of (w(u, v) - p_u), is bounded from above by structure (``lp``: the score's terms by
classes of people, the pair-specific ones by their largest value or listed exactly), which keeps every
inequality above. The prices are the exact optimum of the assignment problem on a candidate graph grown by
column generation (each round adds everyone's best-looking partners at the current prices), solved by
OR-Tools' sparse assignment and priced by longest paths. At 10,000 people it settled 0.01% above the
candidate graph's own fractional optimum, itself a lower bound of the LP's.

**The optimum itself.** Up to ``BoundLimits.matching_limit`` people and for pairs (group_size 2), every allowed pair is
scored anyway, so the bound is the true optimum: a maximum-weight matching (rustworkx, on weights rounded
*up* to integers, so rounding can only raise it) plus, for T trios, twice the T largest best_v. A trio's
heaviest edge together with the pairs is a matching (≤ the optimum); its two other edges both touch the
third member c, so each weighs at most best_c, and each trio has its own third member.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import rustworkx

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Person, Program
from scheduler.pairing.lp import price_by_columns
from scheduler.pairing.rules import (
    RELAXABLE,
    PairHistory,
    accepted_modes,
    group_sizes,
    hard_rule,
    last_relaxation,
    may_relax,
)
from scheduler.pairing.scan import CHUNK_CELLS, PairScanner
from scheduler.pairing.score import BASE_SCORE, WISHLIST, Reach, score_pair, seniority_level, weighted_terms, wished
from scheduler.pairing.tuning import BoundLimits, ColumnGeneration

# Scores become integers for rustworkx at this scale, rounded up.
SCALE = 1000


@dataclass(frozen=True)
class Bound:
    """A certified upper bound and, in words, which argument gave it (for the stats of a result)."""

    value: float
    method: str


def certified_bound(
    people: Sequence[Person],
    program: Program,
    history: PairHistory,
    today: date,
    free_time: FreeTimeIndex | None = None,
    *,
    trios: int | None = None,
    lp_limit: int | None = None,
    plan: Sequence[tuple[int, int]] = (),
    limits: BoundLimits | None = None,
) -> Bound:
    """A certified upper bound on the total score of any grouping of ``people`` for one cycle of ``program``,
    with the name of the argument that gave the smallest value (see the module docstring).

    ``people`` are the eligible people (as given to ``pair_people``); ``free_time``, as given to the engine,
    adds its hard rule and weights. ``trios`` is how many groups may have one member more than the program's
    group size: by default as many as ``rules.group_sizes`` plans (1 for an odd count of pairs); pass the
    number of such groups of a result to bound groupings of that result's shape. ``lp_limit`` (default: no
    limit) caps the count of people for the LP duals (seconds at 10,000 people, minutes at 100,000);
    ``plan``, pairs of positions in ``people`` (such as the engine's), gives the structural one a start.
    ``limits`` (default ``BoundLimits()``) choose the arguments by the count of people."""
    limits = limits or BoundLimits()
    size = program.group_size
    if trios is None:
        trios = sum(1 for part in group_sizes(len(people), size) if part > size)
    if len(people) < 2:
        return Bound(0.0, "nobody to group")
    wish_weight = max(0.0, program.weights.wishlist)
    wishers = [bool(person.wishlist) for person in people]
    lp_allowed = size == 2 and limits.matching_limit < len(people) <= (math.inf if lp_limit is None else lp_limit)
    use_lp = lp_allowed and len(people) <= limits.scan_limit
    if len(people) <= limits.exact_scan_limit and not use_lp:
        scan = score_every_pair(people, program, history, today, free_time,
                                keep_edges=len(people) <= limits.matching_limit and size == 2,
                                keep_top=size if size > 2 else 0)
        best, best_without_wish = scan.best, scan.best_without_wish
        where = "every allowed pair scored"
    else:
        scan = None
        best, best_without_wish = structural_best_scores(people, program, free_time)
        where = "best partners bounded from structure"
    bounds = [
        Bound(cover_bound([max(0.0, b) / 2 for b in best], size, trios), f"dual vertex cover ({where})"),
        Bound(cover_bound([max(0.0, b) / 2 + wish_weight * wisher
                           for b, wisher in zip(best_without_wish, wishers, strict=True)], size, trios),
              f"dual vertex cover, wishes carried by who asked ({where})"),
    ]
    if "same team" not in RELAXABLE.get(program.relax, ()):
        biggest = Counter(person.team for person in people).most_common(1)[0][0]
        bounds.append(Bound(cover_bound([0.0 if person.team == biggest else max(0.0, b)
                                         for person, b in zip(people, best, strict=True)], size, trios),
                            f"dual vertex cover, biggest team at zero ({where})"))
    if use_lp:
        relax = last_relaxation(program)
        scanner = PairScanner(people, program, history, today, free_time, relax=relax)
        matching, best_scores = lp_matching_bound(scanner, limits=limits)
        thirds = sorted((max(0.0, b) for b in best_scores), reverse=True)[:trios]
        bounds.append(Bound(matching + 2 * math.fsum(thirds),
                            "LP dual of the full allowed graph (auction prices, every pair checked)"))
    if lp_allowed:
        relax = last_relaxation(program)
        scanner = PairScanner(people, program, history, today, free_time, relax=relax)
        thirds = sorted((max(0.0, b) for b in best), reverse=True)[:trios]
        bounds.append(Bound(structural_lp_bound(scanner, plan, limits.columns) + 2 * math.fsum(thirds),
                            "LP dual of the full allowed graph (column generation, options bounded from structure)"))
    if scan is not None and scan.edges is not None and size == 2:
        thirds = sorted((max(0.0, b) for b in best), reverse=True)[:trios]
        bounds.append(Bound(_max_matching(len(people), scan.edges) + 2 * math.fsum(thirds),
                            "the optimum: a maximum-weight matching over every allowed pair"))
    if scan is not None and scan.top is not None:  # first: on a tie, the argument made for groups
        bounds.insert(0, Bound(top_scores_bound(scan.top, size, trios),
                            f"each member's {size - 1} best partner scores, halved (every allowed pair scored)"))
    return min(bounds, key=lambda bound: bound.value)


def lp_matching_bound(scanner: PairScanner, candidates: int | None = None,
                      limits: BoundLimits | None = None) -> tuple[float, list[float]]:
    """An upper bound on the best matching of every allowed pair of ``scanner``'s people, by the LP dual of
    the module docstring, and each person's exact best partner score (-inf for nobody).

    Column generation: the auction prices the candidate graph; a scan of every pair then finds, for each
    person, the partner worth most at those prices; those not yet candidates join, and the auction goes on
    from the same prices, until the scan finds nothing new (or ``limits.lp_rounds`` rounds). The bound is the
    dual of a scan, which covers every pair whatever the prices. ``candidates`` defaults to
    ``limits.lp_candidates`` (``limits``: default ``BoundLimits()``)."""
    limits = limits or BoundLimits()
    k = limits.lp_candidates if candidates is None else candidates
    top = scanner.top_partners(k)
    n = scanner.size
    neighbours: list[dict[int, float]] = [{} for _ in range(n)]

    def add(v: int, u: int, weight: float) -> bool:
        if u < 0 or weight <= 0 or u in neighbours[v]:
            return False  # a matching never gains from a pair that scores nothing
        neighbours[v][u] = weight
        neighbours[u][v] = weight
        return True

    for v in range(n):
        for u, weight in zip(top.index[v].tolist(), top.score[v].tolist(), strict=True):
            add(v, u, weight)
    top_weight = max((max(row.values(), default=0.0) for row in neighbours), default=0.0)
    prices = [0.0] * (2 * n)
    bound = math.inf
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    for _ in range(limits.lp_rounds):
        # Bidders: left copies v (any candidate u's right copy, or their own "alone" object n + v, worth 0),
        # then one filler per person u taking u's right copy or u's "alone" object, both worth 0.
        bidders = [[*row.items(), (n + v, 0.0)] for v, row in enumerate(neighbours)]
        bidders += [[(u, 0.0), (n + u, 0.0)] for u in range(n)]
        prices = _auction(bidders, top_weight, prices, limits)
        right = np.array(prices[:n])
        alone = np.array(prices[n:])
        profit = np.zeros(n)
        added = 0
        for start in range(0, n, chunk):
            rows = np.arange(start, min(n, start + chunk))
            worth = scanner.scores(rows) - right[None, :]
            profit[start:start + len(rows)] = np.maximum(worth.max(axis=1), -alone[rows])
            # The partners worth most at these prices join the candidates (lp_columns per person and round).
            take = min(limits.lp_columns, n - 1)
            columns = np.argpartition(-worth, take, axis=1)[:, :take]
            for x, row in enumerate(rows.tolist()):
                for u in columns[x].tolist():
                    value = worth[x, u]
                    if value > -alone[row] and value + right[u] > 0:
                        added += add(row, u, float(value + right[u]))
        fillers = np.maximum(-right, -alone)
        dual = math.fsum(profit.tolist()) + math.fsum(fillers.tolist()) + math.fsum(prices)
        # A hair of slack for the different order of float additions.
        previous, bound = bound, min(bound, dual / 2 * (1 + 1e-12))
        if not added or bound > previous * (1 - limits.lp_settled):
            break  # nothing new, or the bound has settled
    return bound, top.score[:, 0].tolist()


def structural_lp_bound(scanner: PairScanner, plan: Sequence[tuple[int, int]] = (),
                        columns: ColumnGeneration | None = None) -> float:
    """An upper bound on the best matching of every allowed pair of ``scanner``'s people without scoring
    every pair: the LP dual of the module docstring at the optimal prices of a candidate graph grown by
    column generation from ``plan`` (any matching, by positions), each person's best option over the *full*
    graph bounded from structure (``lp``)."""
    return price_by_columns(scanner, plan, columns=columns).bound


def _auction(bidders: Sequence[Sequence[tuple[int, float]]], top_weight: float,
             start: Sequence[float], limits: BoundLimits) -> list[float]:
    """Object prices of a square assignment problem (every bidder gets exactly one object), by the forward
    auction with ε-scaling (Bertsekas) from the prices ``start``. ``bidders[i]`` lists (object, value)."""
    prices = list(start)
    count = len(prices)
    epsilon = max(top_weight, 1e-9) / (4 if not any(start) else 100)
    final = max(top_weight, 1e-9) * limits.auction_final_epsilon
    while True:
        owner = [-1] * count
        queue = list(range(len(bidders) - 1, -1, -1))
        while queue:
            bidder = queue.pop()
            best = second = -math.inf
            chosen = -1
            for thing, value in bidders[bidder]:
                worth = value - prices[thing]
                if worth > best:
                    second, best, chosen = best, worth, thing
                elif worth > second:
                    second = worth
            if second == -math.inf:  # one option: bid just enough to beat anyone else's claim
                second = best - top_weight
            prices[chosen] += best - second + epsilon
            previous = owner[chosen]
            owner[chosen] = bidder
            if previous >= 0:
                queue.append(previous)
        if epsilon <= final:
            return prices
        epsilon = max(final, epsilon / limits.auction_scaling)


def top_scores_bound(top: Sequence[Sequence[float]], group_size: int, bigger: int) -> float:
    """½ Σ_v top_{g-1}(v) + ½ × the (g + 1)·``bigger`` largest g-th best scores: the bound of any grouping
    into groups of at most ``group_size`` members, ``bigger`` of them one larger. ``top[v]`` holds v's best
    partner scores, largest first (at least ``group_size`` of them, or all v has)."""
    base = []
    extra = []
    for scores in top:
        clamped = [max(0.0, score) for score in scores]
        base.append(math.fsum(clamped[: group_size - 1]))
        extra.append(clamped[group_size - 1] if len(clamped) >= group_size else 0.0)
    largest = sorted(extra, reverse=True)[: (group_size + 1) * bigger]
    return (math.fsum(base) + math.fsum(largest)) / 2


def cover_bound(cover: Sequence[float], group_size: int, trios: int) -> float:
    """(g - 1) Σ y + the (g + 1)·T largest y: the bound of any grouping by a vertex cover ``cover`` ≥ 0."""
    largest = sorted(cover, reverse=True)[: (group_size + 1) * trios]
    return (group_size - 1) * math.fsum(cover) + math.fsum(largest)


@dataclass
class EveryPair:
    """What scoring every allowed pair found (``score_every_pair``): each person's best score, with and without
    the wishlist bonus (-inf: nobody), and when asked for the pairs (i, j, score) and everyone's best scores,
    largest first."""

    best: list[float]
    best_without_wish: list[float]
    edges: list[tuple[int, int, float]] | None
    top: list[list[float]] | None = None


def score_every_pair(people: Sequence[Person], program: Program, history: PairHistory, today: date,
                     free_time: FreeTimeIndex | None, *, keep_edges: bool, keep_top: int = 0) -> EveryPair:
    """Score every allowed pair with the engine's own functions (``rules.hard_rule``, ``score.score_pair``):
    each person's best, with and without the
    wishlist bonus, (``keep_edges``) the pairs themselves and (``keep_top``) everyone's that many best
    scores, largest first."""
    relax = last_relaxation(program)
    wish_weight = program.weights.wishlist
    best = [-math.inf] * len(people)
    without_wish = [-math.inf] * len(people)
    edges: list[tuple[int, int, float]] | None = [] if keep_edges else None
    heaps: list[list[float]] | None = [[] for _ in people] if keep_top else None
    for i, a in enumerate(people):
        for j in range(i + 1, len(people)):
            b = people[j]
            refusal = hard_rule(a, b, program, history, free_time)
            if refusal is not None and not may_relax(refusal, relax):
                continue
            score = score_pair(a, b, program, history, today, free_time, explain=False).score
            plain = score - wish_weight if wished(a, b) else score
            best[i], best[j] = max(best[i], score), max(best[j], score)
            without_wish[i], without_wish[j] = max(without_wish[i], plain), max(without_wish[j], plain)
            if edges is not None:
                edges.append((i, j, score))
            if heaps is not None:
                for heap in (heaps[i], heaps[j]):
                    if len(heap) < keep_top:
                        heapq.heappush(heap, score)
                    elif score > heap[0]:
                        heapq.heapreplace(heap, score)
    top = None if heaps is None else [sorted(heap, reverse=True) for heap in heaps]
    return EveryPair(best, without_wish, edges, top)


def _max_matching(size: int, edges: list[tuple[int, int, float]]) -> float:
    """The weight of a maximum-weight matching, with every weight rounded up (so never below the truth)."""
    graph = rustworkx.PyGraph()
    graph.add_nodes_from(range(size))
    weights = {}
    for i, j, score in edges:
        weight = math.ceil(score * SCALE)
        if weight > 0:  # a matching never gains from a pair that scores nothing
            graph.add_edge(i, j, weight)
            weights[(i, j)] = weight
    matching = rustworkx.max_weight_matching(graph, max_cardinality=False, weight_fn=lambda weight: weight)
    return sum(weights[(min(pair), max(pair))] for pair in matching) / SCALE


@dataclass
class _Pool:
    """What the people someone could meet (one meeting-mode pool) look like, counted by feature."""

    departments: Counter[str] = field(default_factory=Counter)
    offices: Counter[str] = field(default_factory=Counter)
    interests: Counter[str] = field(default_factory=Counter)
    zones: Counter[int] = field(default_factory=Counter)  # working-time classes, see _zone_classes
    levels: Counter[int] = field(default_factory=Counter)
    size: int = 0

    def add(self, person: Person, zone: int, level: int | None) -> None:
        self.size += 1
        if person.department:
            self.departments[person.department] += 1
        if person.office:
            self.offices[person.office] += 1
        self.interests.update(person.interests)
        self.zones[zone] += 1
        if level is not None:
            self.levels[level] += 1


def structural_best_scores(
    people: Sequence[Person],
    program: Program,
    free_time: FreeTimeIndex | None = None,
) -> tuple[list[float], list[float]]:
    """Each person's best partner score bounded from above without scoring pairs, with and without the
    wishlist bonus.

    Every term of the score's table (``score.TERMS``, each term's ``largest``) is maximised separately over
    the people this person could meet at all (their ``Reach``): the virtual pool (anyone who may meet
    virtually, when this person may) and the in-person pool of their own office. Hard rules that depend on the
    pair (team, history, blocks, common time) are ignored, and never met earns its full weight: both can only
    raise the bound.
    """
    terms = weighted_terms(program.weights, calendars=free_time is not None)
    program_modes = accepted_modes(program.meeting_mode)
    zone_of, zone_people = _zone_classes(people)
    modes_of = [program_modes & accepted_modes(person.mode) for person in people]

    levels = [seniority_level(person, program.seniority_levels) for person in people]
    virtual = _Pool()
    in_person: dict[str, _Pool] = {}
    for i, person in enumerate(people):
        if "virtual" in modes_of[i]:
            virtual.add(person, zone_of[i], levels[i])
        if "in_person" in modes_of[i]:
            in_person.setdefault(person.office, _Pool()).add(person, zone_of[i], levels[i])

    wished_emails: set[str] = set()
    wished_teams: set[str] = set()
    wished_departments: set[str] = set()
    for person in people:
        for wish in person.wishlist:
            kind, sep, name = wish.partition(":")
            if sep and kind == "team":
                wished_teams.add(name)
            elif sep and kind == "department":
                wished_departments.add(name)
            else:
                wished_emails.add(wish)

    overlaps: dict[tuple[int, int], float] = {}

    def overlap(index: FreeTimeIndex, a: int, b: int) -> float:
        key = (a, b) if a <= b else (b, a)
        if key not in overlaps:
            overlaps[key] = index.working_overlap(zone_people[key[0]].email, zone_people[key[1]].email)
        return overlaps[key]

    best: list[float] = []
    without_wish: list[float] = []
    for i, person in enumerate(people):
        modes = modes_of[i]
        # (pool, whether this person is in it): "someone else" means a count above their own.
        pools = []
        if "virtual" in modes:
            pools.append(virtual)
        if "in_person" in modes:
            pools.append(in_person[person.office])
        if not any(pool.size > 1 for pool in pools):
            best.append(-math.inf)
            without_wish.append(-math.inf)
            continue
        level = levels[i]
        others = {zone for pool in pools for zone in pool.zones if zone_people[zone].timezone != person.timezone}
        reach = Reach(
            other_department=bool(person.department)
            and any(_has_other(pool.departments, person.department) for pool in pools),
            other_office="virtual" in modes and bool(person.office) and _has_other(virtual.offices, person.office),
            shareable_interests=sum(1 for interest in person.interests
                                    if any(pool.interests[interest] > 1 for pool in pools)),
            level_gap=0 if level is None else max((abs(level - other) for pool in pools for other in pool.levels),
                                                  default=0),
            # A pair's common time is at most one's own.
            own_hours=free_time.common_hours((person.email,)) if free_time is not None else 0.0,
            zone_overlap=max((overlap(free_time, zone_of[i], zone) for zone in others), default=0.0)
            if free_time is not None else 0.0,
            wished=bool(person.wishlist) or person.email in wished_emails or person.team in wished_teams
            or person.department in wished_departments,
        )
        score = score_without_wish = BASE_SCORE
        for term, weight in terms:
            largest = max(0.0, weight * term.largest(reach))
            score += largest
            if term is not WISHLIST:  # the second cover carries the wishlist bonus apart
                score_without_wish += largest
        without_wish.append(score_without_wish)
        best.append(score)
    return best, without_wish


def _has_other(counts: Counter[str], own: str) -> bool:
    """Whether ``counts`` holds a (non-empty) value other than ``own``."""
    return len(counts) > (1 if own in counts else 0)


def _zone_classes(people: Sequence[Person]) -> tuple[list[int], list[Person]]:
    """People with the same time zone and working hours have the same working time: one class each, with a
    representative, so time-zone overlaps are computed per pair of classes rather than per pair of people."""
    classes: dict[tuple[str, object], int] = {}
    representatives: list[Person] = []
    zone_of = []
    for person in people:
        key = (person.timezone, person.working_hours)
        if key not in classes:
            classes[key] = len(representatives)
            representatives.append(person)
        zone_of.append(classes[key])
    return zone_of, representatives
