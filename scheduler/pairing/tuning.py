"""The pairing engine's tuning: every number that steers its strategy, as frozen values passed in.

``PairingTuning`` is the engine's (``pair_people(..., tuning=PairingTuning())``), ``ColumnGeneration`` the LP's
column generation (shared by the engine and the bound), ``BoundLimits`` the certified bound's own limits. The
defaults are the measured ones, documented field by field; tests and benchmarks pass other values instead of
changing module globals. ``choose_strategy`` is the one place that picks a strategy by the count of people.

Constants that do not steer the strategy stay where they are used: ``scan.CHUNK_CELLS`` and
``lp.CLASS_CHUNK`` (memory per numpy call, no effect on results) and the integer scales of the solvers.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnGeneration:
    """Column generation of the LP (``lp.price_by_columns``)."""

    # At most this many rounds, and how many of each person's best-looking partners by structure join the
    # candidates per round.
    rounds: int = 30
    per_round: int = 3
    # How many of each person's best partners at the prices inside random blocks of ``block`` people (exact
    # scores), in the first round and in each later one (10,000 people: blocks of 150 to 700 ended within 0.1%
    # of each other, smaller ones faster; 10 then 3 as good as 10 every round, in 20% less time).
    first_block_columns: int = 10
    block_columns: int = 3
    block: int = 250
    # Candidate pairs that fall this far (in score) below what their people make at the prices are dropped (a
    # smaller graph solves faster; 10,000 people: 0.3 as good as 1.0 in 10% less time).
    prune_below: float = 0.3
    # Certifying (the bound): stop once within this share of the candidate graph's own optimum, which no bound
    # can pass.
    settled_gap: float = 1e-4
    # Without a bound to certify (the engine), the rounds stop once one gains less than this share (10,000
    # people: four rounds, the last adding 0.05%; stopping at 2e-4 took three rounds more for 0.03% more score).
    engine_settled: float = 2e-3
    # In each person's best class by structure, this many of the cheapest members are scored exactly.
    exact_members: int = 4


@dataclass(frozen=True)
class PairingTuning:
    """What steers the pairing engine (``engine.pair_people``); the defaults are what it runs with.

    Measured with bench/pairing.py on a 2-core machine unless said otherwise."""

    # rustworkx needs integer weights: scores are scaled by this and rounded.
    score_scale: int = 1000
    # The seeded jitter that breaks ties is far below any real difference in score (one weight is >= 0.1).
    tie_jitter: int = 20
    # Each person keeps this many best candidates in the matching graph (matching-facts.md: k >= 10 kept a
    # perfect matching and 99.9% of the optimum).
    candidates_per_person: int = 40
    # How many allowed partners a person samples before the matching, trying at most ``max_tries_per_person``
    # (the rest are refused by hard rules: teams, zones without common time, modes), and how many of the best
    # buckets' people sharing each of their interests are tried first.
    samples_per_person: int = 32
    max_tries_per_person: int = 120
    samples_per_interest: int = 16
    # Sampling takes this many partners from the best buckets for each one drawn from anyone at all.
    preferred_per_random: int = 1
    # Blocks of more people than this find candidates by scoring every pair of the block at once with numpy
    # (``scan``): exact, where sampling would guess.
    scan_from: int = 64
    # From ``lp_from`` people on, the LP chooses the pairs; below, one matching of every pair's candidates is
    # as good (300 and 700 people: the same share of the optimum) and needs no LP. 10,000 people: the LP
    # 99.87-99.91% of the certified bound in 2.3-2.4 s, against 98.9% in 8-13 s for rounds of rustworkx
    # blocks; 1,000 people: 99.96% of the optimum in 0.17 s, against 99.44% in 0.21 s for one rustworkx
    # matching.
    lp_from: int = 300
    # Above 1.5 × ``lp_block`` people the LP runs block by block, two blocks side by side: its rounds grow
    # faster than the organisation (100,000 people at once took 65 s, 99.60% of the bound; in blocks of
    # 25,000 24 s, 99.62%).
    lp_block: int = 25_000
    # LP blocks are solved in this many forked processes side by side (1: one after another, in this process).
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    # Each person's this many best partners (exact, where sampling needed 40 guesses) plus this many random
    # allowed ones. At 1,000 people: 10 best partners reached 98.3% of the optimum, 20 99.2%, 30 99.4%, 40
    # 99.7%, the matching slowing down with every one.
    scan_candidates: int = 30
    scan_random_partners: int = 3
    # The matching of scanned blocks weighs scores in steps of 1/``match_scale``: blossom matching slows down
    # with many distinct weights (three times slower at 1/1000 with jitter than at 1/50, for 0.01% more score).
    match_scale: int = 50
    # Up to this many people every pair is tried as a candidate (exact, and cheap enough); up to this many
    # groups, a leftover person is tried in every group.
    exhaustive_limit: int = 700
    # Groups of 3 or 4 are formed in blocks of about this size (every block still holds a share of every
    # department and office).
    group_block: int = 1000
    # Wishlist pairs are kept in one block; a cap stops one popular person from pulling in a whole company.
    wishlist_group_cap: int = 24
    # A leftover person is tried in at least this many groups when looking for the best trio.
    trio_options: int = 200
    # Looking for a swap that gives a trio two hosts who were not left over last cycle: this many groups.
    swap_search: int = 60
    # Groups of 3 or 4: passes of member swaps between groups, each trying this many of a member's best
    # candidates.
    swap_passes: int = 3
    swap_neighbours: int = 6
    # Explaining why someone is unmatched looks at up to this many others.
    explain_sample: int = 3000
    # The LP's column generation.
    columns: ColumnGeneration = field(default_factory=ColumnGeneration)


@dataclass(frozen=True)
class BoundLimits:
    """What steers the certified bound (``bound.certified_bound``); the defaults are what it runs with."""

    # Up to this many people every pair is scored in Python (about 2 million pairs: seconds).
    exact_scan_limit: int = 2000
    # Up to this many people the bound is the optimum (a matching on every allowed pair: about 5 s at 1,000).
    matching_limit: int = 1000
    # Pairs from ``matching_limit`` up to this many people: also the LP dual checked on every pair by the
    # vectorised scan (minutes at 10,000 on a busy 2-core machine, where the structural LP dual takes seconds
    # and is as tight).
    scan_limit: int = 3000
    # The auction sets prices on each person's this many best partners; its last round's ε, as a share of the
    # heaviest score, and how fast ε shrinks between rounds; at most this many rounds of column generation,
    # this many new columns per person and round, stopping once a round lowers the bound by less than this.
    lp_candidates: int = 24
    auction_final_epsilon: float = 1e-4
    auction_scaling: int = 5
    lp_rounds: int = 10
    lp_columns: int = 6
    lp_settled: float = 2e-5
    # Up to this many eligible people the bound of a plan (``planning.instance.solve_instance``) is the LP dual
    # (3 s at 10,000 people, about a minute at 100,000); above, unless asked for the tight bound, the
    # structural covers (instant, a few percent looser), so what-if planning stays quick.
    quick_lp_limit: int = 20_000
    # The structural LP dual's column generation.
    columns: ColumnGeneration = field(default_factory=ColumnGeneration)


class Strategy(enum.Enum):
    """How the engine finds the pairs of a set of people (``choose_strategy``)."""

    # Every pair is scored one by one and tried as a candidate, then one matching.
    EVERY_PAIR = "every pair"
    # Each person samples partners (wishes, shared interests, suitable buckets), then one matching.
    SAMPLED = "sampled"
    # Every pair scored at once with numpy, each person keeping their best partners, then one matching.
    SCANNED = "scanned"
    # The LP by column generation on everyone at once.
    LP = "LP"
    # The LP on random blocks of ``lp_block`` people, side by side in ``workers`` processes.
    LP_BLOCKS = "LP blocks"


def choose_strategy(count: int, tuning: PairingTuning, *, lp: bool = True) -> Strategy:
    """The strategy for matching ``count`` people under ``tuning``; with ``lp`` False (a second chance for
    people left over, a block of groups of 3 or 4), one of those that end in one matching.

    The thresholds are measured (see the fields of ``PairingTuning``): the LP from ``lp_from`` people (as good
    as one matching below it, better and faster above), in blocks above 1.5 × ``lp_block`` (its rounds grow
    faster than the organisation); below it, the numpy scan above ``scan_from`` people (exact where sampling
    guesses), every pair in Python up to ``exhaustive_limit`` people, sampling beyond (reached only when
    ``scan_from`` is set above ``exhaustive_limit``)."""
    if lp and count >= tuning.lp_from:
        return Strategy.LP_BLOCKS if count > tuning.lp_block * 1.5 else Strategy.LP
    if count > tuning.scan_from:
        return Strategy.SCANNED
    return Strategy.EVERY_PAIR if count <= tuning.exhaustive_limit else Strategy.SAMPLED
