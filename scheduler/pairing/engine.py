"""The pairing engine: who meets whom this cycle, and why.

1. Hard rules remove pairs that must never be proposed: same team, met within the cooldown, on a block list,
   in person across offices or with someone virtual-only, no common free slot.
2. Soft rules weight the rest, and every weight that applies leaves a human reason behind.
3. Candidates never come from all n² pairs of a large organisation. Up to LP_FROM people, every pair is
   scored (pair by pair in Python for tiny groups, at once with numpy above SCAN_FROM: ``pairing_scan``, the
   same arithmetic as ``_score``), each person keeps their best partners, and a maximum-cardinality,
   maximum-weight matching (rustworkx) chooses the pairs.
4. From LP_FROM people on, the LP chooses them (``pairing_dual``): it starts from everyone's best partners
   inside small random blocks, then column generation adds everyone's best partners at the LP's prices,
   found exactly inside fresh random blocks and from classes of alike people over the whole organisation,
   until a round gains little; an exact sparse assignment (OR-Tools) solves each round, and the best
   fractional matching is rounded to pairs. Above 1.5 × LP_BLOCK people it runs on random blocks of
   LP_BLOCK, side by side in WORKERS forked processes. People left over (an odd cycle of the LP leaves one
   out) get a second chance among themselves, then by re-matching the pairs around them.
5. With an odd count, the odd person is chosen first (not someone who was left over last cycle, when that
   can be avoided) and joins the trio where they fit best. Whoever still has nobody is paired under relaxed
   rules when the program allows it (cooldown first, then team), and otherwise told why.
6. Programs of groups of 3 or 4 (lunch groups) are grouped greedily and improved by member swaps instead of
   matched: see ``_Engine._run_groups``. A group scores the sum of its pairs' scores.

Deterministic for a seed: the seed orders people, draws blocks and samples, and breaks ties.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import rustworkx

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Group, Person, Program, Unmatched

if TYPE_CHECKING:
    from scheduler.pairing.scan import PairScanner

# rustworkx needs integer weights: scores are scaled by this and rounded.
SCORE_SCALE = 1000
# The seeded jitter that breaks ties is far below any real difference in score (one weight is >= 0.1).
TIE_JITTER = 20
BASE_SCORE = 1.0
# Each person keeps this many best candidates in the matching graph (matching-facts.md: k >= 10 kept a
# perfect matching and 99.9% of the optimum).
CANDIDATES_PER_PERSON = 40
# How many allowed partners a person samples before the matching, trying at most MAX_TRIES_PER_PERSON (the
# rest are refused by hard rules: teams, zones without common time, modes), and how many of the best
# buckets' people sharing each of their interests are tried first.
SAMPLES_PER_PERSON = 32
MAX_TRIES_PER_PERSON = 120
SAMPLES_PER_INTEREST = 16
# Sampling takes this many partners from the best buckets for each one drawn from anyone at all.
PREFERRED_PER_RANDOM = 1
# Blocks of more people than this find candidates by scoring every pair of the block at once with numpy
# (pairing_scan): exact, where sampling would guess.
SCAN_FROM = 64
# From LP_FROM people on, the LP chooses the pairs (``_match_by_lp``); below, one matching of every pair's
# candidates is as good (300 and 700 people: the same share of the optimum) and needs no LP. Measured with
# bench/pairing.py on a 2-core machine, 10,000 people: the LP 99.87-99.91% of the certified bound in 2.3-2.4 s,
# against 98.9% in 8-13 s for rounds of rustworkx blocks; 1,000 people: 99.96% of the optimum in 0.17 s,
# against 99.44% in 0.21 s for one rustworkx matching.
LP_FROM = 300
# Above 1.5 × LP_BLOCK people the LP runs block by block, two blocks side by side: its rounds grow faster
# than the organisation (100,000 people at once took 65 s, 99.60% of the bound; in blocks of 25,000 24 s,
# 99.62%).
LP_BLOCK = 25_000
# LP blocks are solved in this many forked processes side by side (1: one after another, in this process).
WORKERS = min(2, os.cpu_count() or 1)
# Each person's this many best partners (exact, where sampling needed 40 guesses) plus this many random
# allowed ones. At 1,000 people: 10 best partners reached 98.3% of the optimum, 20 99.2%, 30 99.4%, 40 99.7%,
# the matching slowing down with every one.
SCAN_CANDIDATES = 30
SCAN_RANDOM_PARTNERS = 3
# The matching of scanned blocks weighs scores in steps of 1/MATCH_SCALE: blossom matching slows down with
# many distinct weights (three times slower at 1/1000 with jitter than at 1/50, for 0.01% more score).
MATCH_SCALE = 50
# Up to this many people, every pair is scored: exact, and cheap enough.
EXACT_LIMIT = 700
# Groups of 3 or 4 are formed in blocks of about this size (every block still holds a share of every
# department and office).
BLOCK_SIZE = 1000
# Wishlist pairs are kept in one block; a cap stops one popular person from pulling in a whole company.
WISHLIST_GROUP_CAP = 24
# A leftover person is tried in at least this many groups when looking for the best trio.
TRIO_OPTIONS = 200
# Looking for a swap that gives a trio two hosts who were not left over last cycle: this many groups.
SWAP_SEARCH = 60
# Groups of 3 or 4: passes of member swaps between groups, each trying this many of a member's best
# candidates.
SWAP_PASSES = 3
SWAP_NEIGHBOURS = 6
# Explaining why someone is unmatched looks at up to this many others.
EXPLAIN_SAMPLE = 3000

# What a forked worker hands back: pairs, people left over, and the candidate pairs it found.
_Outcome = tuple[list[list[int]], list[int], list[tuple[int, int]]]

RELAXABLE = {"cooldown": ("met recently",), "cooldown_then_team": ("met recently", "same team")}


@dataclass(frozen=True)
class PairHistory:
    """What the engine remembers: pairs inside the cooldown, when each pair last met, and who was in a trio
    or left unmatched in the previous cycle (so it does not happen to them twice running)."""

    recent: frozenset[frozenset[str]] = frozenset()
    last_met: Mapping[frozenset[str], date] = field(default_factory=dict)
    left_over: frozenset[str] = frozenset()
    # Who had the early or late end of the day in a cross-zone meeting last cycle (slot choice rotates it).
    edge_of_day: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PairingResult:
    """The groups chosen, who was left out and why, and notes about rules that could not all be met."""

    groups: tuple[Group, ...]
    unmatched: tuple[Unmatched, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Edge:
    score: float
    reasons: tuple[str, ...]


def pair_people(
    people: Sequence[Person],
    program: Program,
    *,
    history: PairHistory,
    today: date,
    seed: int,
    free_time: FreeTimeIndex | None = None,
) -> PairingResult:
    """Group eligible ``people`` for one cycle of ``program``.

    ``free_time``, when given, applies the "no common slot" hard rule and the common-time and time-zone
    weights; people must all be in it. Raises nothing for awkward inputs (nobody, one person, one team):
    they come back as ``unmatched`` with a reason, and ``notes`` say which rules had to give way.
    """
    engine = _Engine(people, program, history, today, seed, free_time)
    return engine.run()


class _Engine:
    """One run of the engine: the people in seeded order, their candidates, and the groups being built."""

    def __init__(self, people: Sequence[Person], program: Program, history: PairHistory, today: date,
                 seed: int, free_time: FreeTimeIndex | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - replayable choices, not cryptography
        self.order = sorted(people, key=lambda p: p.email)
        self.rng.shuffle(self.order)
        self.salt = self.rng.randrange(2**31)
        self.program = program
        self.history = history
        self.today = today
        self.free_time = free_time
        self.index = {person.email: i for i, person in enumerate(self.order)}
        self.candidates: dict[int, list[int]] = defaultdict(list)
        self.relaxed: dict[tuple[int, int], str] = {}
        self.scanners: dict[str | None, PairScanner] = {}
        # Groups of 3 or 4: pair weights looked up so far (None: forbidden), per relaxation step.
        self.group_weights: dict[str | None, dict[tuple[int, int], int | None]] = defaultdict(dict)

    # -- the run --------------------------------------------------------------------------------------

    def run(self) -> PairingResult:
        if self.program.group_size > 2:
            return self._run_groups()
        everyone = list(range(len(self.order)))
        odd_one = self._choose_odd_one(everyone) if len(everyone) % 2 else None
        to_match = [i for i in everyone if i != odd_one]

        if len(to_match) >= LP_FROM:
            groups, leftovers = self._match_by_lp(to_match)
        else:
            groups, leftovers = self._match(to_match)
        if len(leftovers) > 1:  # a second chance among themselves, then by re-matching the pairs around them
            pairs, leftovers = self._match(leftovers)
            groups.extend(pairs)
        if len(leftovers) > 1:
            groups, leftovers = self._rematch_around(groups, leftovers)
        if odd_one is not None:
            leftovers.append(odd_one)

        leftovers = self._attach_to_trios(leftovers, groups)
        notes: list[str] = []
        for relaxed_rule in RELAXABLE.get(self.program.relax, ()):
            if len(leftovers) < 1:
                break
            before = len(leftovers)
            pairs, leftovers = self._match(leftovers, relax=relaxed_rule)
            groups.extend(pairs)
            leftovers = self._attach_to_trios(leftovers, groups, relax=relaxed_rule)
            if len(leftovers) < before:
                notes.append(f"rule relaxed for {before - len(leftovers)} people: {relaxed_rule} "
                             "(nobody else could meet them)")

        return self._result(groups, leftovers, notes)

    def _result(self, groups: list[list[int]], leftovers: list[int], notes: list[str]) -> PairingResult:
        unmatched = [Unmatched(self.order[i].email, self._explain(i)) for i in leftovers]
        if unmatched:
            notes.append(f"{len(unmatched)} of {len(self.order)} people could not be placed; each is told why")
        result_groups = [self._make_group(members) for members in groups]
        return PairingResult(
            groups=tuple(sorted(result_groups, key=lambda g: g.members)),
            unmatched=tuple(sorted(unmatched, key=lambda u: u.email)),
            notes=tuple(notes),
        )

    def _lp_outcome(self, members: list[int],
                    seed: int) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
        """The LP on ``members`` (``pairing_dual.price_by_columns``, its random blocks drawn from ``seed``):
        everyone's best partners at the LP's prices join the candidates until the LP is settled, and the best
        fractional matching is rounded (``round_to_pairs``). The pairs, who is left, and the candidate
        pairs."""
        # Imported here: pairing_dual and pairing_scan import this module.
        from scheduler.pairing.lp import price_by_columns, round_to_pairs
        from scheduler.pairing.scan import PairScanner

        scanner = PairScanner([self.order[i] for i in members], self.program, self.history, self.today,
                              self.free_time)
        priced = price_by_columns(scanner, certify=False, seed=seed)
        kept = [(members[a], members[b]) for a, b in zip(priced.first.tolist(), priced.second.tolist(), strict=True)]
        chosen = [[members[a], members[b]] for a, b in round_to_pairs(priced)]
        matched = {person for pair in chosen for person in pair}
        return chosen, [i for i in members if i not in matched], kept

    def _in_forked_workers(self, worker: Callable[..., _Outcome], arguments: list[tuple[Any, ...]],
                           jobs: int) -> list[_Outcome]:
        """``worker(*args)`` for each of ``arguments`` in up to WORKERS processes forked from this one, which
        find this engine (its people, history and calendars) in ``_FORKED_ENGINE`` without pickling it."""
        global _FORKED_ENGINE
        _FORKED_ENGINE = self
        try:
            with multiprocessing.get_context("fork").Pool(min(WORKERS, jobs)) as pool:
                return pool.starmap(worker, arguments)
        finally:
            _FORKED_ENGINE = None

    def _remember_candidates(self, kept: Sequence[tuple[int, int]]) -> None:
        """Add pairs found elsewhere (a forked worker, the LP) to everyone's candidates, for trios and swaps."""
        for a, b in kept:
            self.candidates[a].append(b)
            self.candidates[b].append(a)

    def _match_by_lp(self, members: list[int]) -> tuple[list[list[int]], list[int]]:
        """The pairs of ``members`` chosen by the LP (``_lp_outcome``) and who is left without one; the LP's
        candidates join everyone's. Above 1.5 × LP_BLOCK people, block by block: random blocks of about
        LP_BLOCK people (each wishlist circle inside one), side by side in WORKERS forked processes (each
        block's seed is drawn here: the same plan either way)."""
        blocks = self._blocks(members, LP_BLOCK)
        arguments = [(block, self.rng.randrange(2**63)) for block in blocks]
        if WORKERS > 1 and len(blocks) > 1 and "fork" in multiprocessing.get_all_start_methods():
            outcomes = self._in_forked_workers(_lp_block_in_worker, arguments, len(blocks))
        else:
            outcomes = [self._lp_outcome(block, seed) for block, seed in arguments]
        chosen: list[list[int]] = []
        leftovers: list[int] = []
        for new_pairs, left, kept in outcomes:
            chosen.extend(new_pairs)
            leftovers.extend(left)
            self._remember_candidates(kept)
        return chosen, leftovers

    def _rematch_around(self, pairs: list[list[int]], leftovers: list[int]) -> tuple[list[list[int]], list[int]]:
        """Partners for people still left over (an odd cycle of the LP leaves one out, a block's matching may
        strand someone): the pairs that hold any of their candidates are matched again together with them, by
        maximum cardinality then weight, those pairs staying candidates, so nobody placed loses a partner and
        each path that alternates through them (x - a = b - y) frees a place. The pairs and who is left."""
        pair_of = {person: p for p, pair in enumerate(pairs) for person in pair}
        around = sorted({pair_of[c] for i in leftovers for c in self.candidates.get(i, ()) if c in pair_of})
        if not around:
            return pairs, leftovers
        block = [*leftovers, *(person for p in around for person in pairs[p])]
        required = [(min(pairs[p]), max(pairs[p])) for p in around]
        rematched, left = self._match(block, required=required)
        if len(left) >= len(leftovers):
            return pairs, leftovers  # nobody more placed: keep the pairs as they were
        untouched = set(range(len(pairs))) - set(around)
        return [pairs[p] for p in sorted(untouched)] + rematched, left

    def _choose_odd_one(self, everyone: list[int]) -> int:
        """The person who will join a trio: not someone left over last cycle, when anyone else can be."""
        for i in everyone:  # seeded order, so the choice rotates between cycles
            if self.order[i].email not in self.history.left_over:
                return i
        return everyone[0]

    def _blocks(self, members: list[int], block_size: int = BLOCK_SIZE) -> list[list[int]]:
        """Random blocks of about ``block_size`` (whole groups), each wishlist circle kept inside one block."""
        if len(members) <= block_size * 1.5:
            return [members]
        circles = _wishlist_circles(members, self.order, self.index)
        self.rng.shuffle(circles)
        flat = [i for circle in circles for i in circle]
        count = max(1, round(len(flat) / block_size))
        size = -(-len(flat) // count)
        size += -size % self.program.group_size  # whole groups in every block but the last
        return [flat[start:start + size] for start in range(0, len(flat), size)]

    # -- candidates and matching ------------------------------------------------------------------------

    def _match(self, members: list[int], relax: str | None = None,
               required: Sequence[tuple[int, int]] = ()) -> tuple[list[list[int]], list[int]]:
        """Pairs among ``members`` (max cardinality, then max weight) and those left without a partner.
        ``required`` pairs (allowed ones, as (low, high)) are candidates whatever their rank."""
        if len(members) < 2:
            return [], list(members)
        kept = self._candidate_edges(members, relax, coarse=True)
        coarse = len(members) > SCAN_FROM
        for a, b in required:
            edge = self._edge(a, b, relax)
            if edge is not None and (a, b) not in kept:
                kept[(a, b)] = (round(edge.score * MATCH_SCALE) if coarse
                                else round(edge.score * SCORE_SCALE) + self._jitter((a, b)))
        position = {person: n for n, person in enumerate(members)}
        graph = rustworkx.PyGraph()
        graph.add_nodes_from(members)
        for (a, b) in sorted(kept):
            graph.add_edge(position[a], position[b], kept[(a, b)])
        matching = rustworkx.max_weight_matching(graph, max_cardinality=True, weight_fn=lambda w: w)
        # rustworkx returns a set: sort it, so the plan does not depend on hash order.
        pairs = sorted(sorted((members[x], members[y])) for x, y in matching)
        if relax is not None:
            for a, b in pairs:
                self.relaxed[_key(a, b)] = relax
        matched = {i for pair in pairs for i in pair}
        return pairs, [i for i in members if i not in matched]

    def _candidate_edges(self, members: list[int], relax: str | None,
                         coarse: bool = False) -> dict[tuple[int, int], int]:
        """The candidate graph among ``members``: everyone's best allowed partners, as integer weights (score
        scaled, plus the seeded tie-breaking jitter). Everyone's kept partners are also remembered in
        ``self.candidates``. Blocks of more than SCAN_FROM people are scored whole (``_scanned_edges``; with
        ``coarse``, weights in steps of 1/MATCH_SCALE); smaller ones pair by pair."""
        if len(members) > SCAN_FROM:
            return self._scanned_edges(members, relax, coarse)
        graph_edges: dict[tuple[int, int], int] = {}
        seen: set[tuple[int, int]] = set()
        exact = len(members) <= EXACT_LIMIT
        for i, others in self._candidate_streams(members):
            valid = tried = 0
            for other in others:
                key = _key(i, other)
                if key in seen:
                    continue
                seen.add(key)
                tried += 1
                edge = self._edge(key[0], key[1], relax)
                if edge is not None:
                    graph_edges[key] = round(edge.score * SCORE_SCALE) + self._jitter(key)
                    valid += 1
                # Sampling goes on past refused partners (other zones, modes, teams) until enough are allowed.
                if not exact and (valid >= SAMPLES_PER_PERSON or tried >= MAX_TRIES_PER_PERSON):
                    break
        kept = {key: graph_edges[key] for key in _keep_best(graph_edges, CANDIDATES_PER_PERSON)}
        for a, b in sorted(kept):
            self.candidates[a].append(b)
            self.candidates[b].append(a)
        return kept

    def _scanner(self, relax: str | None) -> PairScanner:
        """The vectorised scorer of everyone under the relaxation ``relax``, built on first use."""
        # Imported here: pairing_scan imports this module.
        from scheduler.pairing.scan import PairScanner

        scanner = self.scanners.get(relax)
        if scanner is None:
            scanner = self.scanners[relax] = PairScanner(self.order, self.program, self.history, self.today,
                                                         self.free_time, relax=relax)
        return scanner

    def _scanned_edges(self, members: list[int], relax: str | None, coarse: bool) -> dict[tuple[int, int], int]:
        """``_candidate_edges`` by scoring every pair of ``members`` at once (``pairing_scan``): each
        person's SCAN_CANDIDATES best partners exactly, by the same integer weights (score and jitter)."""
        # Imported here: pairing_scan imports this module.
        from scheduler.pairing.scan import CHUNK_CELLS

        scanner = self._scanner(relax)
        cols = np.array(members, dtype=np.int64)
        keep = min(SCAN_CANDIDATES, len(members) - 1)
        kept: dict[tuple[int, int], int] = {}
        random_columns = np.random.default_rng(self.rng.randrange(2**63))
        chunk = max(1, CHUNK_CELLS // len(members))
        for start in range(0, len(members), chunk):
            rows = cols[start:start + chunk]
            scores = scanner.scores(rows, cols)
            allowed = np.isfinite(scores)
            low, high = np.minimum(rows[:, None], cols[None, :]), np.maximum(rows[:, None], cols[None, :])
            jitter = ((low * 2654435761) ^ (high * 40503) ^ self.salt) % TIE_JITTER
            weights = np.where(allowed, np.round(np.where(allowed, scores, 0.0) * SCORE_SCALE), -np.inf) + jitter
            best = np.argpartition(-weights, keep - 1, axis=1)[:, :keep] if keep < len(members) else \
                np.tile(np.arange(len(members)), (len(rows), 1))
            # A few random allowed partners too: when everyone's best partners are the same few people, a
            # graph of favourites alone has no room for everyone to get a partner.
            draws = random_columns.integers(0, len(members), size=(len(rows), 2 * SCAN_RANDOM_PARTNERS))
            for x, row in enumerate(rows.tolist()):
                extra = [j for j in draws[x].tolist() if weights[x, j] != -np.inf][:SCAN_RANDOM_PARTNERS]
                for j in best[x].tolist() + extra:
                    weight = weights[x, j]
                    if weight != -np.inf:
                        other = members[j]
                        value = round(float(scores[x, j]) * MATCH_SCALE) if coarse else int(weight)
                        kept[(row, other) if row < other else (other, row)] = value
        for a, b in sorted(kept):
            self.candidates[a].append(b)
            self.candidates[b].append(a)
        return kept

    def _jitter(self, key: tuple[int, int]) -> int:
        """A seeded tie-breaker for one pair: the same in every pass, far below any real score difference."""
        return ((key[0] * 2654435761) ^ (key[1] * 40503) ^ self.salt) % TIE_JITTER

    def _candidate_streams(self, members: list[int]) -> Iterator[tuple[int, Iterator[int]]]:
        """For each person, the partners to try, best-looking first: everyone (once per pair) among few
        people; otherwise wished-for people, then people sharing an interest in the best buckets, then the
        buckets (department, office, time zone) that suit them, best tier first, in random order."""
        if len(members) <= EXACT_LIMIT:
            for x, a in enumerate(members):
                yield a, iter(members[x + 1:])
            return
        buckets: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for i in members:
            person = self.order[i]
            buckets[(person.department, person.office, person.timezone)].append(i)
        in_block = set(members)
        everyone = list(members)
        self.rng.shuffle(everyone)
        tiers: dict[tuple[str, str, str], list[list[int]]] = {}
        interest_pools: dict[str, list[int]] = {}
        for i in members:
            person = self.order[i]
            home = (person.department, person.office, person.timezone)
            if home not in tiers:  # everyone in a bucket sees the other buckets alike
                tiers[home] = self._tiers(home, buckets)
            for interest in sorted(person.interests):  # sorted: string hashes vary per process
                if interest not in interest_pools:
                    interest_pools[interest] = [j for j in everyone if interest in self.order[j].interests]
            yield i, self._stream(i, person, in_block, tiers[home], interest_pools, everyone)

    def _stream(self, i: int, person: Person, in_block: set[int], tiers: list[list[int]],
                interest_pools: Mapping[str, list[int]], everyone: list[int]) -> Iterator[int]:
        for wish in sorted(person.wishlist):
            wished = self.index.get(wish)
            if wished is not None and wished in in_block and wished != i:
                yield wished
        # Shared interests are invisible at bucket level: look for them directly.
        for interest in sorted(person.interests):
            yield from self._sample(i, interest_pools[interest], SAMPLES_PER_INTEREST)
        # Best buckets first, interleaved with anyone at all: if everyone's favourite buckets are the same few
        # people, a graph of favourites alone has no room for everyone to get a partner.
        preferred = (other for pool in tiers for other in self._sample(i, pool, len(pool)))
        anyone = self._sample(i, everyone, len(everyone))
        for batch in itertools.zip_longest(*[preferred] * PREFERRED_PER_RANDOM, anyone):
            yield from (other for other in batch if other is not None)

    def _tiers(self, home: tuple[str, str, str],
               buckets: Mapping[tuple[str, str, str], list[int]]) -> list[list[int]]:
        """The members of the buckets (department, office, time zone), pooled by how well they suit someone
        in ``home`` (best first) and shuffled, so a run of a pool is a random mix of all its buckets. With
        calendars in play, zones whose working days barely overlap come last."""
        weights = self.program.weights
        by_score: dict[float, list[int]] = defaultdict(list)
        for bucket, pool in buckets.items():
            score = (weights.different_department * (bucket[0] != home[0])
                     + weights.different_office * (bucket[1] != home[1]))
            if self.free_time is not None and bucket[2] != home[2]:
                overlap = _zone_overlap(home[2], bucket[2], self.free_time.window.start)
                score = score + weights.timezone_overlap * overlap if overlap > 0 else -1.0
            by_score[round(score, 6)].extend(pool)
        pools = [by_score[score] for score in sorted(by_score, reverse=True)]
        for pool in pools:
            self.rng.shuffle(pool)
        return pools

    def _sample(self, i: int, pool: Sequence[int], count: int) -> Iterator[int]:
        """Up to ``count`` members of ``pool`` other than ``i``, consecutive from a random start (pools are
        shuffled once, so that is a random sample)."""
        if not pool:
            return
        start = self.rng.randrange(len(pool))
        for step in range(min(count, len(pool))):
            other = pool[(start + step) % len(pool)]
            if other != i:
                yield other

    def _edge(self, a: int, b: int, relax: str | None = None, *, explain: bool = False) -> _Edge | None:
        """The scored edge between two people, or None when a hard rule (not relaxed) forbids it. Reasons
        are written only when ``explain`` is set: formatting them for every candidate would cost more than
        scoring."""
        first, second = self.order[a], self.order[b]
        refusal = _hard_rule(first, second, self.program, self.history, self.free_time)
        if refusal is not None and not _may_relax(refusal, relax):
            return None
        edge = _score(first, second, self.program, self.history, self.today, self.free_time, explain=explain)
        if refusal is not None and explain:
            edge = _Edge(edge.score, (*edge.reasons, f"{refusal}: paired anyway because nobody else was free"))
        return edge

    def _attach_to_trios(self, leftovers: list[int], groups: list[list[int]],
                         relax: str | None = None) -> list[int]:
        """Put each leftover person into the pair where they fit best; return who is still left."""
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        still_left = []
        for i in leftovers:
            options = {group_of[c] for c in self.candidates.get(i, ()) if c in group_of}
            if len(groups) <= EXACT_LIMIT:
                options = set(range(len(groups)))
            elif len(options) < TRIO_OPTIONS:
                # Few known partners: look at a random handful of groups too, not at every group (that was
                # quadratic when many people had no partner at all).
                options |= set(self.rng.sample(range(len(groups)), TRIO_OPTIONS))
            best: tuple[bool, float, int] | None = None
            for g in sorted(options):
                members = groups[g]
                if len(members) != 2:
                    continue  # at most one extra person per group: a trio, never a crowd
                edges = [self._edge(i, m, relax) for m in members]
                if all(edge is not None for edge in edges):
                    # Prefer a pair where nobody was in a trio or left out last cycle, then the best fit.
                    fresh = not any(self.order[m].email in self.history.left_over for m in members)
                    option = (fresh, sum(edge.score for edge in edges if edge is not None), g)
                    if best is None or option[:2] > best[:2]:
                        best = option
            needs_fresh_host = (best is None or not best[0]) and bool(self.history.left_over)
            if needs_fresh_host and self._swap_for_fresh_host(i, groups, sorted(options)[:SWAP_SEARCH],
                                                              group_of, relax):
                continue
            if best is None:
                still_left.append(i)
            else:
                chosen = best[2]
                groups[chosen].append(i)
                group_of[i] = chosen
                if relax is not None:
                    for m in groups[chosen][:-1]:
                        self.relaxed[_key(i, m)] = relax
        return still_left

    def _swap_for_fresh_host(self, i: int, groups: list[list[int]], options: list[int],
                             group_of: dict[int, int], relax: str | None) -> bool:
        """Swap partners between two pairs so that ``i`` joins two people who were not left over last cycle;
        True when done. Used only when no such pair exists as matched."""
        fresh = [g for g in options if len(groups[g]) == 2]
        best: tuple[float, int, int, int, int] | None = None
        for n, g1 in enumerate(fresh):
            for g2 in fresh[n + 1:]:
                for x in groups[g1]:
                    for y in groups[g2]:
                        if {self.order[x].email, self.order[y].email} & self.history.left_over:
                            continue
                        o1 = next(m for m in groups[g1] if m != x)
                        o2 = next(m for m in groups[g2] if m != y)
                        edges = [self._edge(a, b, relax) for a, b in ((i, x), (i, y), (x, y), (o1, o2))]
                        if any(edge is None for edge in edges):
                            continue
                        gain = sum(edge.score for edge in edges if edge is not None)
                        if best is None or gain > best[0]:
                            best = (gain, g1, g2, x, y)
        if best is None:
            return False
        _, g1, g2, x, y = best
        o1 = next(m for m in groups[g1] if m != x)
        o2 = next(m for m in groups[g2] if m != y)
        groups[g1], groups[g2] = [x, y, i], [o1, o2]
        group_of.update({x: g1, y: g1, i: g1, o1: g2, o2: g2})
        if relax is not None:
            for a, b in ((i, x), (i, y), (x, y), (o1, o2)):
                self.relaxed[_key(a, b)] = relax
        return True

    # -- groups of 3 or 4 -------------------------------------------------------------------------------

    def _run_groups(self) -> PairingResult:
        """Groups of the program's size k (3 or 4): a group scores the sum of its pair scores, and every pair
        inside a group is allowed (and, with calendars, the whole group shares a free slot).

        The sizes come from ``group_sizes``. The people who make a group one bigger than k are chosen first
        (not someone who was in a bigger group or left out last cycle, when avoidable), like the odd person of
        pairs. The rest are grouped block by block: greedily, least flexible people first, each group growing
        by the candidate who adds most to it, then improved by swapping members between groups while that
        raises the total. People left over get a second chance across blocks, then join the group where they
        add most (groups short of k first, then full ones), then the program's relaxations, as for pairs.
        """
        k = self.program.group_size
        everyone = list(range(len(self.order)))
        sizes = group_sizes(len(everyone), k)
        extras = self._choose_extras(everyone, sum(1 for size in sizes if size > k))
        core = [i for i in everyone if i not in extras]

        groups: list[list[int]] = []
        leftovers: list[int] = []
        for block in self._blocks(core):
            formed, left = self._form_groups(block)
            groups.extend(formed)
            leftovers.extend(left)
        if len(leftovers) > 1:  # a second chance across blocks
            formed, leftovers = self._form_groups(leftovers)
            groups.extend(formed)
        leftovers = self._attach_to_groups([*sorted(extras), *leftovers], groups)
        if len(leftovers) > 1:  # extras no group could take may still meet each other
            formed, leftovers = self._form_groups(leftovers)
            groups.extend(formed)
        notes: list[str] = []
        for relaxed_rule in RELAXABLE.get(self.program.relax, ()):
            if not leftovers:
                break
            before = len(leftovers)
            formed, leftovers = self._form_groups(leftovers, relax=relaxed_rule)
            groups.extend(formed)
            leftovers = self._attach_to_groups(leftovers, groups, relax=relaxed_rule)
            relaxed_people = {i for pair, rule in self.relaxed.items() if rule == relaxed_rule for i in pair}
            if len(leftovers) < before and relaxed_people:
                notes.append(f"rule relaxed for {len(relaxed_people)} people: {relaxed_rule} "
                             "(nobody else could meet them)")
        return self._result(groups, leftovers, notes)

    def _choose_extras(self, everyone: list[int], count: int) -> set[int]:
        """The ``count`` people who will make a group one bigger than the program's size: in seeded order,
        people who were not in a bigger group or left out last cycle first."""
        fresh = [i for i in everyone if self.order[i].email not in self.history.left_over]
        again = [i for i in everyone if self.order[i].email in self.history.left_over]
        return set((fresh + again)[:count])

    def _form_groups(self, members: list[int], relax: str | None = None) -> tuple[list[list[int]], list[int]]:
        """Groups among ``members`` in the sizes of ``core_group_sizes``, and the people left without one."""
        if len(members) < 2:
            return [], list(members)
        kept = self._candidate_edges(members, relax)
        weights = self.group_weights[relax]
        weights.update(kept)
        neighbours: dict[int, list[int]] = defaultdict(list)
        for (a, b) in sorted(kept, key=lambda key: (-kept[key], key)):
            neighbours[a].append(b)
            neighbours[b].append(a)
        position = {person: n for n, person in enumerate(members)}
        # Least flexible first: someone with few allowed partners grows a group while they still have them.
        seeds = sorted(members, key=lambda i: (len(neighbours[i]), position[i]))
        plan = core_group_sizes(len(members), self.program.group_size)
        unassigned = set(members)
        groups: list[list[int]] = []
        leftovers: list[int] = []
        for seed in seeds:
            if seed not in unassigned:
                continue
            if not plan:
                break
            target = plan.pop(0)
            unassigned.discard(seed)
            group = [seed]
            while len(group) < target:
                pool = sorted({c for m in group for c in neighbours[m] if c in unassigned})
                best = self._best_addition(group, pool, relax)
                if best is None and unassigned:
                    # Late in a block everyone's candidates may be taken: look at who is still free.
                    free = sorted(unassigned)
                    if len(free) > TRIO_OPTIONS:
                        free = sorted(self.rng.sample(free, TRIO_OPTIONS))
                    best = self._best_addition(group, free, relax)
                if best is None:
                    break
                group.append(best)
                unassigned.discard(best)
            if len(group) == 1:  # never a group of one: the size goes back for someone else
                plan.insert(0, target)
                leftovers.append(seed)
            else:
                groups.append(group)
        leftovers.extend(i for i in seeds if i in unassigned)
        self._improve_groups(groups, neighbours, relax)
        if relax is not None:
            self._mark_relaxed(groups, relax)
        return groups, sorted(leftovers, key=lambda i: position[i])

    def _group_weight(self, a: int, b: int, relax: str | None) -> int | None:
        """The integer weight of a pair as in the candidate graph (None when forbidden), remembered."""
        key = (a, b) if a < b else (b, a)
        weights = self.group_weights[relax]
        if key in weights:
            return weights[key]
        edge = self._edge(key[0], key[1], relax)
        weight = None if edge is None else round(edge.score * SCORE_SCALE) + self._jitter(key)
        weights[key] = weight
        return weight

    def _gain(self, person: int, group: Sequence[int], relax: str | None, *, check_time: bool = True) -> int | None:
        """What ``person`` adds to ``group`` (the sum of their pair weights), or None if any pair is forbidden
        or (``check_time``, with calendars) the group would share no free slot."""
        total = 0
        weights = self.group_weights[relax]
        for member in group:
            key = (person, member) if person < member else (member, person)
            weight = weights[key] if key in weights else self._group_weight(person, member, relax)
            if weight is None:
                return None
            total += weight
        if check_time and not self._share_time([*group, person]):
            return None
        return total

    def _share_time(self, group: Sequence[int]) -> bool:
        """Whether a group can meet at all: pairs are checked by the hard rules, bigger groups here."""
        if self.free_time is None or len(group) < 3:
            return True
        return self.free_time.common_starts(self.order[i].email for i in group) != 0

    def _best_addition(self, group: list[int], pool: Sequence[int], relax: str | None) -> int | None:
        """The person in ``pool`` who adds most to ``group`` (first in ``pool`` on a tie), or None."""
        best: tuple[int, int] | None = None
        for candidate in pool:
            gain = self._gain(candidate, group, relax)
            if gain is not None and (best is None or gain > best[0]):
                best = (gain, candidate)
        return None if best is None else best[1]

    def _improve_groups(self, groups: list[list[int]], neighbours: Mapping[int, list[int]],
                        relax: str | None) -> None:
        """Swap members between groups while that raises the total: for each member u and each of u's best
        candidates c in another group, c takes the place of another member x of u's group and x takes c's.
        Sizes never change. Passes repeat until one finds nothing (at most SWAP_PASSES)."""
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        # What each person adds to their group now; refreshed for the two groups of every swap.
        contribution: dict[int, int] = {}
        for members in groups:
            self._refresh_contributions(members, contribution, relax)
        for _ in range(SWAP_PASSES):
            improved = False
            for g in range(len(groups)):
                for u in list(groups[g]):
                    if group_of.get(u) != g:
                        continue
                    for c in neighbours.get(u, [])[:SWAP_NEIGHBOURS]:
                        h = group_of.get(c)
                        if h is None or h == g:
                            continue
                        if self._try_swap(groups, group_of, (g, h), (u, c), contribution, relax):
                            improved = True
                            break
            if not improved:
                break

    def _refresh_contributions(self, members: Sequence[int], contribution: dict[int, int],
                               relax: str | None) -> None:
        for person in members:
            contribution[person] = sum(self._group_weight(person, m, relax) or 0 for m in members if m != person)

    def _try_swap(self, groups: list[list[int]], group_of: dict[int, int], pair: tuple[int, int],
                  people: tuple[int, int], contribution: dict[int, int], relax: str | None) -> bool:
        """Swap c (of group h) with the member x != u of group g that gains most, if anything is gained."""
        (g, h), (u, c) = pair, people
        rest_h = [m for m in groups[h] if m != c]
        old_c = contribution[c]
        best: tuple[int, int] | None = None
        for x in groups[g]:
            if x == u:
                continue
            gain_c = self._gain(c, [m for m in groups[g] if m != x], relax, check_time=False)
            if gain_c is None:
                continue
            gain_x = self._gain(x, rest_h, relax, check_time=False)
            if gain_x is None:
                continue
            delta = gain_c + gain_x - contribution[x] - old_c
            if delta > 0 and (best is None or delta > best[0]):
                best = (delta, x)
        if best is None:
            return False
        x = best[1]
        new_g = [c if m == x else m for m in groups[g]]
        new_h = [x if m == c else m for m in groups[h]]
        if not (self._share_time(new_g) and self._share_time(new_h)):
            return False
        groups[g], groups[h] = new_g, new_h
        group_of[c], group_of[x] = g, h
        self._refresh_contributions(new_g, contribution, relax)
        self._refresh_contributions(new_h, contribution, relax)
        return True

    def _attach_to_groups(self, leftovers: list[int], groups: list[list[int]],
                          relax: str | None = None) -> list[int]:
        """Each leftover person joins the group where they add most, groups short of the program's size first,
        then full ones (never past one over); return who is still left."""
        k = self.program.group_size
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        still_left = []
        for i in leftovers:
            options = {group_of[c] for c in self.candidates.get(i, ()) if c in group_of}
            if len(groups) <= EXACT_LIMIT:
                options = set(range(len(groups)))
            elif len(options) < TRIO_OPTIONS:
                options |= set(self.rng.sample(range(len(groups)), TRIO_OPTIONS))
            best: tuple[bool, int, int, int] | None = None
            for g in sorted(options):
                if len(groups[g]) > k:
                    continue
                gain = self._gain(i, groups[g], relax)
                if gain is None:
                    continue
                again = sum(1 for m in groups[g] if self.order[m].email in self.history.left_over)
                option = (len(groups[g]) < k, -again, gain, -g)
                if best is None or option > best:
                    best = option
            if best is None:
                still_left.append(i)
                continue
            chosen = -best[3]
            groups[chosen].append(i)
            group_of[i] = chosen
            if relax is not None:
                self._mark_relaxed([groups[chosen]], relax)
            elif self.history.left_over:
                self._move_hosts_out(chosen, i, groups, group_of, sorted(options))
        return self._pull_into_new_groups(still_left, groups, group_of, relax)

    def _move_hosts_out(self, chosen: int, joined: int, groups: list[list[int]], group_of: dict[int, int],
                        options: list[int]) -> None:
        """Nobody in a bigger group two cycles running when avoidable: swap each member of ``groups[chosen]``
        (now one over the size) who was in a bigger group or left out last cycle with someone of a group of
        the program's size who was not, where every rule still holds; the best-scoring such swap."""
        k = self.program.group_size
        for member in list(groups[chosen]):
            if member == joined or self.order[member].email not in self.history.left_over:
                continue
            rest = [m for m in groups[chosen] if m != member]
            best: tuple[int, int, int] | None = None
            for g in options[:SWAP_SEARCH]:
                if g == chosen or len(groups[g]) != k:
                    continue
                for other in groups[g]:
                    if self.order[other].email in self.history.left_over:
                        continue
                    gain_in = self._gain(other, rest, None)
                    gain_out = self._gain(member, [m for m in groups[g] if m != other], None)
                    if gain_in is not None and gain_out is not None and (best is None or gain_in + gain_out > best[0]):
                        best = (gain_in + gain_out, g, other)
            if best is not None:
                _, g, other = best
                groups[chosen][groups[chosen].index(member)] = other
                groups[g][groups[g].index(other)] = member
                group_of[other], group_of[member] = chosen, g

    def _pull_into_new_groups(self, leftovers: list[int], groups: list[list[int]], group_of: dict[int, int],
                              relax: str | None) -> list[int]:
        """Nobody dropped when avoidable: someone no group can take starts a group of one under the size
        (never fewer than two) with people pulled from groups that stay at least that big without them."""
        smallest = max(2, self.program.group_size - 1)
        still_left = []
        for i in leftovers:
            options: Sequence[int] = range(len(groups))
            if len(groups) > EXACT_LIMIT:  # the groups of i's candidates and a random handful
                known = {group_of[c] for c in self.candidates.get(i, ()) if c in group_of}
                options = sorted(known | set(self.rng.sample(range(len(groups)), TRIO_OPTIONS)))
            pulled: list[int] = []
            sources: set[int] = set()
            while len(pulled) + 1 < smallest:
                best: tuple[int, int] | None = None
                for g in options:
                    if g in sources or len(groups[g]) <= smallest:
                        continue
                    for other in groups[g]:
                        gain = self._gain(other, [i, *pulled], relax)
                        if gain is None:
                            continue
                        # What the pull costs the group it leaves.
                        loss = self._gain(other, [m for m in groups[g] if m != other], relax) or 0
                        if best is None or gain - loss > best[0]:
                            best = (gain - loss, other)
                if best is None:
                    break
                pulled.append(best[1])
                sources.add(group_of[best[1]])
            if len(pulled) + 1 < smallest:
                still_left.append(i)
                continue
            for other in pulled:
                groups[group_of[other]].remove(other)
                group_of[other] = len(groups)
            group_of[i] = len(groups)
            groups.append([i, *pulled])
            if relax is not None:
                self._mark_relaxed([groups[-1]], relax)
        return still_left

    def _mark_relaxed(self, groups: Sequence[Sequence[int]], relax: str) -> None:
        """Remember which relaxation let the pairs of these groups meet, for their reasons (the first one
        that did: pairs that needed none are not marked)."""
        for group in groups:
            for a, b in itertools.combinations(group, 2):
                key = _key(a, b)
                if key not in self.relaxed and _hard_rule(self.order[a], self.order[b], self.program,
                                                          self.history, self.free_time) is not None:
                    self.relaxed[key] = relax

    # -- results ----------------------------------------------------------------------------------------

    def _make_group(self, members: list[int]) -> Group:
        people = sorted((self.order[i] for i in members), key=lambda p: p.email)
        score = 0.0
        reasons: list[str] = []
        for x in range(len(people)):
            for y in range(x + 1, len(people)):
                a, b = self.index[people[x].email], self.index[people[y].email]
                edge = self._edge(a, b, self.relaxed.get(_key(a, b)), explain=True)
                if edge is None:  # cannot happen: every grouped pair was allowed when it was grouped
                    raise RuntimeError(f"grouped a forbidden pair: {people[x].email}, {people[y].email}")
                score += edge.score
                prefix = "" if len(people) == 2 else f"{_first_name(people[x])} & {_first_name(people[y])}: "
                reasons.extend(prefix + reason for reason in edge.reasons)
        return Group(tuple(p.email for p in people), round(score, 3), tuple(reasons))

    def _explain(self, i: int) -> str:
        """Why nobody could be paired with this person, in words they understand."""
        others = [j for j in range(len(self.order)) if j != i]
        if not others:
            return "you were the only person taking part this cycle"
        sample = others if len(others) <= EXPLAIN_SAMPLE else self.rng.sample(others, EXPLAIN_SAMPLE)
        refusals: Counter[str] = Counter()
        for j in sample:
            refusal = _hard_rule(self.order[i], self.order[j], self.program, self.history, self.free_time)
            if refusal is not None:
                refusals[refusal] += 1
        scale = len(others) / len(sample)
        allowed = len(sample) - sum(refusals.values())
        if allowed > 0:
            return (f"the {_about(allowed * scale, scale)} people you could have met were all in full groups "
                    "this cycle; you stay in for the next one")
        parts = [
            _REFUSAL_WORDS[rule].format(n=_about(count * scale, scale), cooldown=self.program.cooldown_cycles)
            for rule, count in refusals.most_common()
        ]
        return f"nobody could be paired with you: of {len(others)} other people, " + "; ".join(parts)


# The engine a forked worker runs the LP of blocks for (set only while a pool runs; see _Engine._match_by_lp).
_FORKED_ENGINE: _Engine | None = None


def _lp_block_in_worker(block: list[int], seed: int) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
    """In a forked worker: the LP of one block (see _Engine._match_by_lp)."""
    engine = _FORKED_ENGINE
    if engine is None:
        raise RuntimeError("no engine: LP blocks are matched in workers forked by _Engine._match_by_lp")
    return engine._lp_outcome(block, seed)


def _zone_overlap(zone_a: str, zone_b: str, moment: datetime) -> float:
    """Share of a 09:00-17:00 day that two zones have in common at ``moment`` (0 to 1): a cheap estimate to
    rank buckets; the exact overlap of each pair comes from the free-time index."""
    offset_a = moment.astimezone(ZoneInfo(zone_a)).utcoffset() or timedelta(0)
    offset_b = moment.astimezone(ZoneInfo(zone_b)).utcoffset() or timedelta(0)
    apart = abs((offset_a - offset_b).total_seconds()) / 3600
    return max(0.0, 8 - apart) / 8


def _key(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def _about(value: float, scale: float) -> str:
    return str(round(value)) if scale == 1 else f"about {round(value)}"


def _first_name(person: Person) -> str:
    return person.name.split()[0] if person.name.split() else person.email


def _may_relax(refusal: str, relax: str | None) -> bool:
    """Whether the hard rule named ``refusal`` gives way under the relaxation step ``relax``."""
    if relax is None:
        return False
    steps = RELAXABLE["cooldown_then_team"]
    return refusal in steps[: steps.index(relax) + 1]


def _keep_best(weights: Mapping[tuple[int, int], int], k: int) -> set[tuple[int, int]]:
    """The union of everyone's ``k`` heaviest edges. The matching's cost grows fast with edges, and a top-k
    graph keeps near-optimal plans (see shared/reference/matching-facts.md)."""
    per_person: dict[int, list[tuple[int, tuple[int, int]]]] = defaultdict(list)
    for key, weight in weights.items():
        per_person[key[0]].append((weight, key))
        per_person[key[1]].append((weight, key))
    kept: set[tuple[int, int]] = set()
    for candidates in per_person.values():
        candidates.sort(reverse=True)
        kept.update(key for _, key in candidates[:k])
    return kept


def _wishlist_circles(members: list[int], order: Sequence[Person], index: Mapping[str, int]) -> list[list[int]]:
    """People joined by wishlist entries naming a person, in circles of at most WISHLIST_GROUP_CAP."""
    parent = {i: i for i in members}
    size = dict.fromkeys(members, 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in members:
        for wish in sorted(order[i].wishlist):
            j = index.get(wish)
            if j is None or j not in parent:
                continue
            a, b = root(i), root(j)
            if a != b and size[a] + size[b] <= WISHLIST_GROUP_CAP:
                parent[b] = a
                size[a] += size[b]
    circles: dict[int, list[int]] = defaultdict(list)
    for i in members:
        circles[root(i)].append(i)
    return list(circles.values())


def group_sizes(count: int, size: int) -> list[int]:
    """The sizes of the groups ``count`` people make in a program of groups of ``size``, biggest first.

    Whole groups of ``size`` where the count divides; otherwise as few groups off the size as possible, one
    bigger (size + 1) or one smaller (size - 1, never a group of one), smaller on a tie (a group of 3 finds a
    common slot more easily than one of 5). Pairs: a trio for an odd count. Fewer people than ``size``
    make one smaller group (two or more), nobody dropped: 7 by 4 → [4, 3]; 5 by 3 → [3, 2]; 2 by 4 → [2].
    """
    if count < 2:
        return []
    if count <= size:
        return [count]
    whole, rest = divmod(count, size)
    if rest == 0:
        return [size] * whole
    options: list[tuple[int, int, list[int]]] = []
    if whole >= rest:  # ``rest`` groups take one more
        options.append((rest, 1, [size + 1] * rest + [size] * (whole - rest)))
    short = size - rest
    if size - 1 >= 2 and whole + 1 >= short:  # ``short`` groups have one fewer
        options.append((short, 0, [size] * (whole + 1 - short) + [size - 1] * short))
    return min(options)[2]


def core_group_sizes(count: int, size: int) -> list[int]:
    """``group_sizes`` without the groups that are one bigger: the sizes to form before extra people join."""
    return [min(part, size) for part in group_sizes(count, size)] if count > size else group_sizes(count, size)


def meeting_modes(members: Sequence[Person], program: Program) -> set[str]:
    """The ways (``in_person``, ``virtual``) this group can meet: what the program and every member accept,
    and in person only when everyone works in the same office."""
    modes = _accepted(program.meeting_mode)
    for person in members:
        modes &= _accepted(person.mode)
    if len({person.office for person in members}) > 1:
        modes.discard("in_person")
    return modes


def _accepted(mode: str) -> set[str]:
    return set(_ACCEPTED[mode])


_ACCEPTED = {
    "either": frozenset({"in_person", "virtual"}),
    "in_person": frozenset({"in_person"}),
    "virtual": frozenset({"virtual"}),
}


def _hard_rule(a: Person, b: Person, program: Program, history: PairHistory,
               free_time: FreeTimeIndex | None) -> str | None:
    """The name of the hard rule that forbids this pair, or None when they may meet."""
    if b.email in a.blocked or a.email in b.blocked:
        return "blocked"
    modes = _ACCEPTED[program.meeting_mode] & _ACCEPTED[a.mode] & _ACCEPTED[b.mode]
    if not modes:
        return "in-person and virtual-only"
    if "virtual" not in modes and a.office != b.office:
        return "in person, different offices"
    if free_time is not None and not free_time.common_starts((a.email, b.email)):
        return "no common free time"
    if a.team == b.team:
        return "same team"
    if frozenset((a.email, b.email)) in history.recent:
        return "met recently"
    return None


def _score(a: Person, b: Person, program: Program, history: PairHistory, today: date,
           free_time: FreeTimeIndex | None, *, explain: bool = True) -> _Edge:
    """The soft-rule score of an allowed pair and, when ``explain``, the reasons behind it, most telling
    first."""
    weights = program.weights
    score = BASE_SCORE
    reasons: list[str] = []
    if a.department and b.department and a.department != b.department:
        score += weights.different_department
        if explain:
            reasons.append(f"different departments: {a.department} and {b.department}")
    elif explain and a.team != b.team:
        reasons.append(f"different teams: {a.team} and {b.team}")
    if a.office and b.office and a.office != b.office:
        score += weights.different_office
        if explain:
            reasons.append(f"different offices: {a.office} and {b.office}")
    last = history.last_met.get(frozenset((a.email, b.email))) if history.last_met else None
    if last is None:
        score += weights.never_met
        if explain:
            reasons.append("never met")
    else:
        # Pairs who met long ago are nearly as welcome as new ones; the weight recovers over a year.
        score += weights.never_met * min(1.0, (today - last).days / 365)
        if explain:
            reasons.append(f"last met on {last.isoformat()}")
    wish = (a.wishlist or b.wishlist) and (_wish_reason(a, b) or _wish_reason(b, a))
    if wish:
        score += weights.wishlist
        if explain:
            reasons.append(wish)
    shared = a.interests & b.interests if a.interests and b.interests else None
    if shared:
        score += weights.shared_interest * min(3, len(shared))
        if explain:
            reasons.append(f"both into {', '.join(sorted(shared))}")
    if not (a.manager and a.manager == b.manager):
        score += weights.no_shared_manager
    level_a, level_b = (_level(a), _level(b)) if weights.seniority_mix else (None, None)
    if level_a is not None and level_b is not None and level_a != level_b:
        score += weights.seniority_mix * min(3, abs(level_a - level_b))
        if explain:
            reasons.append(f"seniority mix: levels {min(level_a, level_b)} and {max(level_a, level_b)}")
    if free_time is not None:
        hours = free_time.common_hours((a.email, b.email))
        score += weights.common_slots * min(1.0, hours / 5)
        if explain:
            reasons.append(f"{hours:g} hours of common free time this cycle" if hours != 1
                           else "one hour of common free time this cycle")
        if a.timezone != b.timezone:
            overlap = free_time.working_overlap(a.email, b.email)
            score += weights.timezone_overlap * overlap
            if explain:
                reasons.append(f"working days overlap {round(overlap * 100)}% ({a.timezone} and {b.timezone})")
    return _Edge(score, tuple(reasons))


def _wish_reason(wisher: Person, other: Person) -> str | None:
    """Why ``wisher``'s wishlist wants ``other``, in words, or None."""
    if other.email in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet {other.name}"
    if other.team and f"team:{other.team}" in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet someone in {other.team}"
    if other.department and f"department:{other.department}" in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet someone in {other.department}"
    return None


def _level(person: Person) -> int | None:
    return int(person.seniority) if person.seniority.isdigit() else None


_REFUSAL_WORDS = {
    "blocked": "{n} are on a block list with you",
    "same team": "{n} are in your own team",
    "met recently": "you met {n} within the last {cooldown} cycles",
    "in-person and virtual-only": "{n} want a different meeting mode (in person vs. virtual)",
    "in person, different offices": "{n} work in another office and this meeting is in person",
    "no common free time": "{n} have no free time in common with you this cycle",
}
