"""Shortcuts to the pairing bound that only the tests use (moved out of ``scheduler.pairing.bound``, where nothing
called them): the bound's value alone, the halves cover, and everyone's best partner score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Person, Program
from scheduler.pairing.bound import BoundLimits, certified_bound, cover_bound, score_every_pair, structural_best_scores
from scheduler.pairing.rules import PairHistory


def upper_bound(people: Sequence[Person], program: Program, history: PairHistory, today: date,
                free_time: FreeTimeIndex | None = None, *, trios: int | None = None,
                limits: BoundLimits | None = None) -> float:
    """The value of ``certified_bound`` (no LP limit, no plan)."""
    return certified_bound(people, program, history, today, free_time, trios=trios, limits=limits).value


def halves_bound(best: Iterable[float], group_size: int = 2, trios: int = 0) -> float:
    """The grouping bound for the cover y_v = max(0, best_v) / 2 (``best`` as from ``best_partner_scores``)."""
    return cover_bound([max(0.0, value) / 2 for value in best], group_size, trios)


def best_partner_scores(people: Sequence[Person], program: Program, history: PairHistory, today: date,
                        free_time: FreeTimeIndex | None = None) -> list[float]:
    """For each person (in order), an upper bound on the score of their best allowed partner; ``-inf`` for
    someone nobody may meet. Exact (every pair scored) up to the bound's exact-scan limit, else from structure."""
    if len(people) <= BoundLimits().exact_scan_limit:
        return score_every_pair(people, program, history, today, free_time, keep_edges=False).best
    return structural_best_scores(people, program, free_time)[0]
