"""The pairing engine: who meets whom this cycle, and why.

1. Hard rules remove pairs that must never be proposed: same team, met within the cooldown, on a block list,
   in person across offices or with someone virtual-only, no common free slot.
2. Soft rules weight the rest, and every weight that applies leaves a human reason behind.
3. Candidates never come from all n² pairs of a large organisation. Up to ``tuning.lp_from`` people, every pair
   is scored (pair by pair in Python for tiny groups, at once with numpy above ``tuning.scan_from``: ``scan``,
   the score's table of terms like ``score.score_pair``), each person keeps their best partners, and a
   maximum-cardinality, maximum-weight matching (rustworkx) chooses the pairs.
4. From ``tuning.lp_from`` people on, the LP chooses them (``lp``): it starts from everyone's best partners
   inside small random blocks, then column generation adds everyone's best partners at the LP's prices,
   found exactly inside fresh random blocks and from classes of alike people over the whole organisation,
   until a round gains little; an exact sparse assignment (OR-Tools) solves each round, and the best
   fractional matching is rounded to pairs. Above 1.5 × ``tuning.lp_block`` people it runs on random blocks of
   ``tuning.lp_block``, side by side in ``tuning.workers`` forked processes. People left over (an odd cycle of
   the LP leaves one out) get a second chance among themselves, then by re-matching the pairs around them.
   Which of these runs is ``tuning.choose_strategy``'s choice, by the count of people.
5. With an odd count, the odd person is chosen first (not someone who was left over last cycle, when that
   can be avoided) and joins the trio where they fit best. Whoever still has nobody is paired under relaxed
   rules when the program allows it (cooldown first, then team), and otherwise told why.
6. Programs of groups of 3 or 4 (lunch groups) are grouped greedily and improved by member swaps instead of
   matched: see ``PairingEngine._run_groups``. A group scores the sum of its pairs' scores.

Deterministic for a seed and a tuning (``tuning.PairingTuning``, passed in): the seed orders people, draws blocks
and samples, and breaks ties.
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import rustworkx

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Group, Person, Program, Unmatched
from scheduler.pairing.lp import price_by_columns, round_to_pairs
from scheduler.pairing.rules import (
    RELAXABLE,
    PairHistory,
    core_group_sizes,
    group_sizes,
    hard_rule,
    may_relax,
)
from scheduler.pairing.scan import CHUNK_CELLS, PairScanner
from scheduler.pairing.score import PairEdge, first_name, score_pair
from scheduler.pairing.tuning import PairingTuning, Strategy, choose_strategy

# What a forked worker hands back: pairs, people left over, and the candidate pairs it found.
_Outcome = tuple[list[list[int]], list[int], list[tuple[int, int]]]

@dataclass(frozen=True)
class PairingResult:
    """The groups chosen, who was left out and why, and notes about rules that could not all be met."""

    groups: tuple[Group, ...]
    unmatched: tuple[Unmatched, ...]
    notes: tuple[str, ...] = ()
    # The tuning the plan was made with (with the seed, what replays it); not part of what the plan is.
    tuning: PairingTuning = field(default_factory=PairingTuning, compare=False)


def pair_people(
    people: Sequence[Person],
    program: Program,
    *,
    history: PairHistory,
    today: date,
    seed: int,
    free_time: FreeTimeIndex | None = None,
    tuning: PairingTuning | None = None,
) -> PairingResult:
    """Group eligible ``people`` for one cycle of ``program``.

    ``free_time``, when given, applies the "no common slot" hard rule and the common-time and time-zone
    weights; people must all be in it. ``tuning`` steers the strategy (default: ``PairingTuning()``, the
    measured defaults). Raises nothing for awkward inputs (nobody, one person, one team): they come back as
    ``unmatched`` with a reason, and ``notes`` say which rules had to give way.
    """
    engine = PairingEngine(people, program, history, today, seed, free_time, tuning or PairingTuning())
    return engine.run()


class PairingEngine:
    """One run of the engine: the people in seeded order, their candidates, and the groups being built.

    ``pair_people`` is the way in; the class is public so that tests can drive one step on a state they set up
    (``rematch_around``)."""

    def __init__(self, people: Sequence[Person], program: Program, history: PairHistory, today: date,
                 seed: int, free_time: FreeTimeIndex | None, tuning: PairingTuning | None = None) -> None:
        self.tuning = tuning or PairingTuning()
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
        """The plan: pairs (one trio for an odd count) or groups of the program's size."""
        if self.program.group_size > 2:
            return self._run_groups()
        everyone = list(range(len(self.order)))
        odd_one = self._choose_odd_one(everyone) if len(everyone) % 2 else None
        to_match = [i for i in everyone if i != odd_one]

        strategy = choose_strategy(len(to_match), self.tuning)
        if strategy in (Strategy.LP, Strategy.LP_BLOCKS):
            groups, leftovers = self._match_by_lp(to_match, blocks=strategy is Strategy.LP_BLOCKS)
        else:
            groups, leftovers = self._match(to_match)
        if len(leftovers) > 1:  # a second chance among themselves, then by re-matching the pairs around them
            pairs, leftovers = self._match(leftovers)
            groups.extend(pairs)
        if len(leftovers) > 1:
            groups, leftovers = self.rematch_around(groups, leftovers)
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
            tuning=self.tuning,
        )

    def _lp_outcome(self, members: list[int],
                    seed: int) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
        """The LP on ``members`` (``lp.price_by_columns``, its random blocks drawn from ``seed``):
        everyone's best partners at the LP's prices join the candidates until the LP is settled, and the best
        fractional matching is rounded (``round_to_pairs``). The pairs, who is left, and the candidate
        pairs."""
        scanner = PairScanner([self.order[i] for i in members], self.program, self.history, self.today,
                              self.free_time)
        priced = price_by_columns(scanner, certify=False, seed=seed, columns=self.tuning.columns)
        kept = [(members[a], members[b]) for a, b in zip(priced.first.tolist(), priced.second.tolist(), strict=True)]
        chosen = [[members[a], members[b]] for a, b in round_to_pairs(priced)]
        matched = {person for pair in chosen for person in pair}
        return chosen, [i for i in members if i not in matched], kept

    def _in_forked_workers(self, worker: Callable[..., _Outcome], arguments: list[tuple[Any, ...]],
                           jobs: int) -> list[_Outcome]:
        """``worker(*args)`` for each of ``arguments`` in up to ``tuning.workers`` processes forked from this one.
        Each worker is handed this engine (its people, history and calendars) when it starts: a forked process
        inherits it without pickling, and this process sets no global, so engines in two threads do not mix."""
        context = multiprocessing.get_context("fork")
        with context.Pool(min(self.tuning.workers, jobs), initializer=_adopt_engine, initargs=(self,)) as pool:
            return pool.starmap(worker, arguments)

    def _remember_candidates(self, kept: Sequence[tuple[int, int]]) -> None:
        """Add pairs found elsewhere (a forked worker, the LP) to everyone's candidates, for trios and swaps."""
        for a, b in kept:
            self.candidates[a].append(b)
            self.candidates[b].append(a)

    def _match_by_lp(self, members: list[int], *, blocks: bool) -> tuple[list[list[int]], list[int]]:
        """The pairs of ``members`` chosen by the LP (``_lp_outcome``) and who is left without one; the LP's
        candidates join everyone's. With ``blocks`` (``Strategy.LP_BLOCKS``), block by block: random blocks of
        about ``tuning.lp_block`` people (each wishlist circle inside one), side by side in ``tuning.workers``
        forked processes (each block's seed is drawn here: the same plan either way)."""
        parts = self._blocks(members, self.tuning.lp_block) if blocks else [members]
        arguments = [(block, self.rng.randrange(2**63)) for block in parts]
        if self.tuning.workers > 1 and len(parts) > 1 and "fork" in multiprocessing.get_all_start_methods():
            outcomes = self._in_forked_workers(_lp_block_in_worker, arguments, len(parts))
        else:
            outcomes = [self._lp_outcome(block, seed) for block, seed in arguments]
        chosen: list[list[int]] = []
        leftovers: list[int] = []
        for new_pairs, left, kept in outcomes:
            chosen.extend(new_pairs)
            leftovers.extend(left)
            self._remember_candidates(kept)
        return chosen, leftovers

    def rematch_around(self, pairs: list[list[int]], leftovers: list[int]) -> tuple[list[list[int]], list[int]]:
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

    def _blocks(self, members: list[int], block_size: int | None = None) -> list[list[int]]:
        """Random blocks of about ``block_size`` (default ``tuning.group_block``; whole groups), each wishlist
        circle kept inside one block."""
        if block_size is None:
            block_size = self.tuning.group_block
        if len(members) <= block_size * 1.5:
            return [members]
        circles = _wishlist_circles(members, self.order, self.index, self.tuning.wishlist_group_cap)
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
        coarse = choose_strategy(len(members), self.tuning, lp=False) is Strategy.SCANNED
        for a, b in required:
            edge = self._edge(a, b, relax)
            if edge is not None and (a, b) not in kept:
                kept[(a, b)] = (round(edge.score * self.tuning.match_scale) if coarse
                                else round(edge.score * self.tuning.score_scale) + self._jitter((a, b)))
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
        ``self.candidates``. As ``choose_strategy`` says: blocks of more than ``tuning.scan_from`` people are
        scored whole (``_scanned_edges``; with ``coarse``, weights in steps of 1/``tuning.match_scale``); smaller
        ones pair by pair, every pair or sampled."""
        strategy = choose_strategy(len(members), self.tuning, lp=False)
        if strategy is Strategy.SCANNED:
            return self._scanned_edges(members, relax, coarse)
        graph_edges: dict[tuple[int, int], int] = {}
        seen: set[tuple[int, int]] = set()
        exact = strategy is Strategy.EVERY_PAIR
        for i, others in self._candidate_streams(members, exact=exact):
            valid = tried = 0
            for other in others:
                key = _key(i, other)
                if key in seen:
                    continue
                seen.add(key)
                tried += 1
                edge = self._edge(key[0], key[1], relax)
                if edge is not None:
                    graph_edges[key] = round(edge.score * self.tuning.score_scale) + self._jitter(key)
                    valid += 1
                # Sampling goes on past refused partners (other zones, modes, teams) until enough are allowed.
                if not exact and (valid >= self.tuning.samples_per_person
                                  or tried >= self.tuning.max_tries_per_person):
                    break
        kept = {key: graph_edges[key] for key in _keep_best(graph_edges, self.tuning.candidates_per_person)}
        for a, b in sorted(kept):
            self.candidates[a].append(b)
            self.candidates[b].append(a)
        return kept

    def _scanner(self, relax: str | None) -> PairScanner:
        """The vectorised scorer of everyone under the relaxation ``relax``, built on first use."""
        scanner = self.scanners.get(relax)
        if scanner is None:
            scanner = self.scanners[relax] = PairScanner(self.order, self.program, self.history, self.today,
                                                         self.free_time, relax=relax)
        return scanner

    def _scanned_edges(self, members: list[int], relax: str | None, coarse: bool) -> dict[tuple[int, int], int]:
        """``_candidate_edges`` by scoring every pair of ``members`` at once (``scan``): each
        person's ``tuning.scan_candidates`` best partners exactly, by the same integer weights (score and
        jitter)."""
        scanner = self._scanner(relax)
        cols = np.array(members, dtype=np.int64)
        keep = min(self.tuning.scan_candidates, len(members) - 1)
        kept: dict[tuple[int, int], int] = {}
        random_columns = np.random.default_rng(self.rng.randrange(2**63))
        chunk = max(1, CHUNK_CELLS // len(members))
        for start in range(0, len(members), chunk):
            rows = cols[start:start + chunk]
            scores = scanner.scores(rows, cols)
            allowed = np.isfinite(scores)
            low, high = np.minimum(rows[:, None], cols[None, :]), np.maximum(rows[:, None], cols[None, :])
            jitter = ((low * 2654435761) ^ (high * 40503) ^ self.salt) % self.tuning.tie_jitter
            weights = np.where(allowed, np.round(np.where(allowed, scores, 0.0) * self.tuning.score_scale),
                               -np.inf) + jitter
            best = np.argpartition(-weights, keep - 1, axis=1)[:, :keep] if keep < len(members) else \
                np.tile(np.arange(len(members)), (len(rows), 1))
            # A few random allowed partners too: when everyone's best partners are the same few people, a
            # graph of favourites alone has no room for everyone to get a partner.
            random_partners = self.tuning.scan_random_partners
            draws = random_columns.integers(0, len(members), size=(len(rows), 2 * random_partners))
            for x, row in enumerate(rows.tolist()):
                extra = [j for j in draws[x].tolist() if weights[x, j] != -np.inf][:random_partners]
                for j in best[x].tolist() + extra:
                    weight = weights[x, j]
                    if weight != -np.inf:
                        other = members[j]
                        value = round(float(scores[x, j]) * self.tuning.match_scale) if coarse else int(weight)
                        kept[(row, other) if row < other else (other, row)] = value
        for a, b in sorted(kept):
            self.candidates[a].append(b)
            self.candidates[b].append(a)
        return kept

    def _jitter(self, key: tuple[int, int]) -> int:
        """A seeded tie-breaker for one pair: the same in every pass, far below any real score difference."""
        return ((key[0] * 2654435761) ^ (key[1] * 40503) ^ self.salt) % self.tuning.tie_jitter

    def _candidate_streams(self, members: list[int], *, exact: bool) -> Iterator[tuple[int, Iterator[int]]]:
        """For each person, the partners to try, best-looking first: everyone (once per pair) among few
        people; otherwise wished-for people, then people sharing an interest in the best buckets, then the
        buckets (department, office, time zone) that suit them, best tier first, in random order. ``exact``:
        everyone (``Strategy.EVERY_PAIR``)."""
        if exact:
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
            yield from self._sample(i, interest_pools[interest], self.tuning.samples_per_interest)
        # Best buckets first, interleaved with anyone at all: if everyone's favourite buckets are the same few
        # people, a graph of favourites alone has no room for everyone to get a partner.
        preferred = (other for pool in tiers for other in self._sample(i, pool, len(pool)))
        anyone = self._sample(i, everyone, len(everyone))
        for batch in itertools.zip_longest(*[preferred] * self.tuning.preferred_per_random, anyone):
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

    def _edge(self, a: int, b: int, relax: str | None = None, *, explain: bool = False) -> PairEdge | None:
        """The scored edge between two people, or None when a hard rule (not relaxed) forbids it. Reasons
        are written only when ``explain`` is set: formatting them for every candidate would cost more than
        scoring."""
        first, second = self.order[a], self.order[b]
        refusal = hard_rule(first, second, self.program, self.history, self.free_time)
        if refusal is not None and not may_relax(refusal, relax):
            return None
        edge = score_pair(first, second, self.program, self.history, self.today, self.free_time, explain=explain)
        if refusal is not None and explain:
            edge = PairEdge(edge.score, (*edge.reasons, f"{refusal}: paired anyway because nobody else was free"))
        return edge

    def _groups_to_join(self, person: int, groups: Sequence[Sequence[int]], group_of: Mapping[int, int]) -> set[int]:
        """The groups a leftover ``person`` is tried in: every group of a small cycle; otherwise those of their
        candidates, and a random handful more when they have few (not every group: that was quadratic when many
        people had no partner at all)."""
        if len(groups) <= self.tuning.exhaustive_limit:
            return set(range(len(groups)))
        options = {group_of[c] for c in self.candidates.get(person, ()) if c in group_of}
        if len(options) < self.tuning.trio_options:
            options |= set(self.rng.sample(range(len(groups)), self.tuning.trio_options))
        return options

    def _attach_to_trios(self, leftovers: list[int], groups: list[list[int]],
                         relax: str | None = None) -> list[int]:
        """Put each leftover person into the pair where they fit best; return who is still left."""
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        still_left = []
        for i in leftovers:
            options = self._groups_to_join(i, groups, group_of)
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
            if needs_fresh_host and self._swap_for_fresh_host(i, groups, sorted(options)[:self.tuning.swap_search],
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
                    if len(free) > self.tuning.trio_options:
                        free = sorted(self.rng.sample(free, self.tuning.trio_options))
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
        weight = None if edge is None else round(edge.score * self.tuning.score_scale) + self._jitter(key)
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
        Sizes never change. Passes repeat until one finds nothing (at most ``tuning.swap_passes``)."""
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        # What each person adds to their group now; refreshed for the two groups of every swap.
        contribution: dict[int, int] = {}
        for members in groups:
            self._refresh_contributions(members, contribution, relax)
        for _ in range(self.tuning.swap_passes):
            improved = False
            for g in range(len(groups)):
                for u in list(groups[g]):
                    if group_of.get(u) != g:
                        continue
                    for c in neighbours.get(u, [])[:self.tuning.swap_neighbours]:
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
            options = self._groups_to_join(i, groups, group_of)
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
            for g in options[:self.tuning.swap_search]:
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
            if len(groups) > self.tuning.exhaustive_limit:  # the groups of i's candidates and a random handful
                known = {group_of[c] for c in self.candidates.get(i, ()) if c in group_of}
                options = sorted(known | set(self.rng.sample(range(len(groups)), self.tuning.trio_options)))
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
                if key not in self.relaxed and hard_rule(self.order[a], self.order[b], self.program,
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
                prefix = "" if len(people) == 2 else f"{first_name(people[x])} & {first_name(people[y])}: "
                reasons.extend(prefix + reason for reason in edge.reasons)
        return Group(tuple(p.email for p in people), round(score, 3), tuple(reasons))

    def _explain(self, i: int) -> str:
        """Why nobody could be paired with this person, in words they understand."""
        others = [j for j in range(len(self.order)) if j != i]
        if not others:
            return "you were the only person taking part this cycle"
        limit = self.tuning.explain_sample
        sample = others if len(others) <= limit else self.rng.sample(others, limit)
        refusals: Counter[str] = Counter()
        for j in sample:
            refusal = hard_rule(self.order[i], self.order[j], self.program, self.history, self.free_time)
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


# In a forked worker process only: the engine it runs the LP of blocks for, handed over by ``_adopt_engine`` when
# the worker starts (see PairingEngine._in_forked_workers). The process that forks never sets it.
_WORKER_ENGINE: PairingEngine | None = None


def _adopt_engine(engine: PairingEngine) -> None:
    """In a forked worker, as it starts: remember the engine its jobs are for."""
    global _WORKER_ENGINE
    _WORKER_ENGINE = engine


def _lp_block_in_worker(block: list[int], seed: int) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
    """In a forked worker: the LP of one block (see PairingEngine._match_by_lp)."""
    engine = _WORKER_ENGINE
    if engine is None:
        raise RuntimeError("no engine: LP blocks are matched in workers forked by PairingEngine._match_by_lp")
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


def _wishlist_circles(members: list[int], order: Sequence[Person], index: Mapping[str, int],
                      cap: int) -> list[list[int]]:
    """People joined by wishlist entries naming a person, in circles of at most ``cap``."""
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
            if a != b and size[a] + size[b] <= cap:
                parent[b] = a
                size[a] += size[b]
    circles: dict[int, list[int]] = defaultdict(list)
    for i in members:
        circles[root(i)].append(i)
    return list(circles.values())


_REFUSAL_WORDS = {
    "blocked": "{n} are on a block list with you",
    "meeting already this window": "{n} already meet you in another program in this window",
    "same team": "{n} are in your own team",
    "met recently": "you met {n} within the last {cooldown} cycles",
    "in-person and virtual-only": "{n} want a different meeting mode (in person vs. virtual)",
    "in person, different offices": "{n} work in another office and this meeting is in person",
    "no common free time": "{n} have no free time in common with you this cycle",
}
