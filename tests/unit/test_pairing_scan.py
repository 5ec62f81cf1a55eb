"""The vectorised scan gives the engine's own scores and hard rules for every pair, its best-partner lists are
right, the engine keeps every rule when it uses them, and the LP bound built on it holds."""

import itertools
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import rustworkx
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.model import Busy, Interval, Person, Program, Weights, WorkingHours
from scheduler.pairing.bound import certified_bound, lp_matching_bound
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import RELAXABLE, PairHistory, hard_rule, may_relax
from scheduler.pairing.scan import PairScanner
from scheduler.pairing.score import score_pair
from scheduler.pairing.tuning import BoundLimits, PairingTuning
from tests.pairing_bounds import halves_bound

TODAY = date(2026, 11, 22)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
INTERESTS = ("jazz", "chess", "film", "running")


def organisation(seed: int, size: int, *, calendars: bool) -> tuple[list[Person], PairHistory, FreeTimeIndex | None]:
    """A random organisation with every feature the score looks at, history and (optionally) calendars."""
    rng = random.Random(seed)
    people = []
    for i in range(size):
        email = f"p{i}@example.com"
        people.append(Person(
            email=email, name=f"P{i} Example", team=f"t{rng.randrange(max(2, size // 3))}",
            department=rng.choice(["", "Sales", "Design", "Engineering"]), office=rng.choice(["", "London", "Berlin"]),
            timezone=rng.choice(ZONES), mode=rng.choice(["either", "either", "virtual", "in_person"]),
            seniority=rng.choice(["", "1", "3", "6", "lead"]), manager=rng.choice(["", "", "p0@example.com"]),
            interests=frozenset(rng.sample(INTERESTS, rng.randrange(3))),
            working_hours=rng.choice([WorkingHours(), WorkingHours(frozenset({0, 1, 2}))]),
            verified_at=None,
        ))
    emails = [p.email for p in people]
    wished = [rng.choice(emails), "team:t1", "department:Sales", "team:nobody", "department:"]
    people = [replace(p, wishlist=frozenset(rng.sample(wished, rng.randrange(2))),
                      blocked=frozenset({rng.choice(emails)} if rng.random() < 0.1 else set()))
              for p in people]
    pairs = [frozenset(rng.sample(emails, 2)) for _ in range(size)]
    recent = frozenset(pairs[: size // 2])
    last_met = {pair: TODAY - timedelta(days=rng.randrange(7, 700)) for pair in pairs}
    history = PairHistory(recent=recent, last_met=last_met)
    index = None
    if calendars:
        index = FreeTimeIndex(WINDOW, SlotRules(duration=timedelta(minutes=rng.choice([30, 45]))))
        for person in people:
            starts = [MONDAY + timedelta(days=rng.randrange(5), hours=rng.randrange(24)) for _ in range(5)]
            blocks = tuple(Interval(start, start + timedelta(hours=rng.randrange(1, 30))) for start in starts)
            index.add(person, Busy(busy=blocks))
    return people, history, index


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(2, 30), calendars=st.booleans(),
       relax=st.sampled_from([None, "met recently", "same team"]), seniority=st.sampled_from([0.0, 0.7]),
       meeting_mode=st.sampled_from(["virtual", "either", "in_person"]))
def test_the_scan_gives_the_engines_score_and_rules_for_every_pair(
        seed: int, size: int, calendars: bool, relax: str | None, seniority: float, meeting_mode: str) -> None:
    people, history, index = organisation(seed, size, calendars=calendars)
    program = Program("coffee", meeting_mode=meeting_mode, weights=Weights(seniority_mix=seniority))
    scanner = PairScanner(people, program, history, TODAY, index, relax=relax)
    scores = scanner.scores(np.arange(size))
    for i, j in itertools.product(range(size), repeat=2):
        a, b = people[i], people[j]
        refusal = hard_rule(a, b, program, history, index)
        if i == j or (refusal is not None and not may_relax(refusal, relax)):
            assert scores[i, j] == -np.inf, (i, j, refusal)
        else:  # the very same float, not an approximation
            assert scores[i, j] == score_pair(a, b, program, history, TODAY, index, explain=False).score, (i, j)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(2, 30), relax=st.sampled_from([None, "met recently"]),
       data=st.data())
def test_the_scores_of_any_rows_against_any_columns_are_the_full_tables_cells(
        seed: int, size: int, relax: str | None, data: st.DataObject) -> None:
    """History, blocks and wishes (of people, teams and departments) land on the right cells whatever
    people the rows and columns hold and in whatever order."""
    people, history, index = organisation(seed, size, calendars=False)
    scanner = PairScanner(people, Program("coffee"), history, TODAY, index, relax=relax)
    full = scanner.scores(np.arange(size))
    rows = np.array(data.draw(st.lists(st.integers(0, size - 1), max_size=size)), dtype=np.int64)
    cols = np.array(data.draw(st.lists(st.integers(0, size - 1), unique=True, max_size=size)), dtype=np.int64)
    assert np.array_equal(scanner.scores(rows, cols), full[np.ix_(rows, cols)])


@pytest.mark.parametrize("calendars", [False, True])
def test_best_partner_lists_hold_the_best_and_nothing_outside_beats_them(calendars: bool) -> None:
    people, history, index = organisation(7, 60, calendars=calendars)
    scanner = PairScanner(people, Program("coffee"), history, TODAY, index)
    scores = scanner.scores(np.arange(len(people)))
    top = scanner.top_partners(5)
    members = np.arange(0, 60, 2)
    within = scanner.top_partners(4, members)
    for v in range(len(people)):
        row = np.sort(scores[v][np.isfinite(scores[v])])[::-1]
        listed = top.score[v][np.isfinite(top.score[v])]
        assert list(listed) == list(row[:5])
        assert top.rest[v] == (row[5] if len(row) > 5 else -np.inf)
        for u, score in zip(top.index[v], top.score[v], strict=True):
            if u >= 0:
                assert scores[v, u] == score
    for x, v in enumerate(members):
        row = np.sort(scores[v][members][np.isfinite(scores[v][members])])[::-1]
        assert list(within.score[x][np.isfinite(within.score[x])]) == list(row[:4])


def test_the_engine_keeps_every_rule_with_scanned_candidates() -> None:
    scanned = PairingTuning(scan_from=0)
    for seed in range(6):
        people, history, index = organisation(seed, 41, calendars=seed % 2 == 0)
        program = Program("coffee", relax="never")
        result = pair_people(people, program, history=history, today=TODAY, seed=seed, free_time=index,
                             tuning=scanned)
        placed = [e for g in result.groups for e in g.members]
        assert sorted(placed + [u.email for u in result.unmatched]) == sorted(p.email for p in people)
        by_email = {p.email: p for p in people}
        for g in result.groups:
            for x, y in itertools.combinations(g.members, 2):
                assert hard_rule(by_email[x], by_email[y], program, history, index) is None


def optimum(people: list[Person], program: Program, history: PairHistory, index: FreeTimeIndex | None) -> float:
    """The best matching over every allowed pair (relaxations included), by rustworkx on exact weights."""
    relax = RELAXABLE[program.relax][-1] if program.relax in RELAXABLE else None
    scores = PairScanner(people, program, history, TODAY, index, relax=relax).scores(np.arange(len(people)))
    graph = rustworkx.PyGraph()
    graph.add_nodes_from(range(len(people)))
    for i, j in itertools.combinations(range(len(people)), 2):
        if np.isfinite(scores[i, j]) and scores[i, j] > 0:
            graph.add_edge(i, j, round(scores[i, j] * 10**6))
    matching = rustworkx.max_weight_matching(graph, weight_fn=lambda weight: weight)
    return sum(scores[min(a, b), max(a, b)] for a, b in matching)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(2, 40), calendars=st.booleans(),
       relax=st.sampled_from(["never", "cooldown", "cooldown_then_team"]), candidates=st.integers(1, 6))
def test_the_lp_bound_is_never_below_the_optimum(seed: int, size: int, calendars: bool, relax: str,
                                                 candidates: int) -> None:
    """Few candidates make poor prices, but the bound stays an upper bound: every pair is checked."""
    people, history, index = organisation(seed, size, calendars=calendars)
    program = Program("coffee", relax=relax)
    scanner = PairScanner(people, program, history, TODAY, index,
                          relax=RELAXABLE[relax][-1] if relax in RELAXABLE else None)
    bound, best = lp_matching_bound(scanner, candidates)
    best_possible = optimum(people, program, history, index)
    assert bound >= best_possible - 1e-9
    assert bound <= halves_bound(best) + 1e-6 or bound <= best_possible * 1.2


def test_the_lp_bound_is_tight_on_a_mid_sized_organisation() -> None:
    people, history, index = organisation(11, 240, calendars=True)
    program = Program("coffee")
    scanner = PairScanner(people, program, history, TODAY, index, relax="met recently")
    bound, best = lp_matching_bound(scanner)
    best_possible = optimum(people, program, history, index)
    assert best_possible <= bound <= best_possible * 1.01  # within 1% of the optimum (a small, sparse graph)
    assert bound < halves_bound(best)


def test_above_a_thousand_people_the_bound_is_the_lp_dual() -> None:
    limits = BoundLimits(matching_limit=50)
    people, history, index = organisation(3, 120, calendars=False)
    program = Program("coffee")
    certificate = certified_bound(people, program, history, TODAY, index, limits=limits)
    assert certificate.method.startswith("LP dual")
    result = pair_people(people, program, history=history, today=TODAY, seed=1, free_time=index)
    trios = sum(1 for g in result.groups if len(g.members) > 2)
    assert sum(g.score for g in result.groups) <= certified_bound(people, program, history, TODAY, index,
                                                                  trios=trios, limits=limits).value
