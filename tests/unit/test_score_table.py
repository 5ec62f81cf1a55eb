"""The score's table of terms (scheduler/pairing/score.py) and its four uses agree on random small organisations:
the pair-by-pair score (``score_pair``) is the vectorised one (``PairScanner``, both ways it scores), and no
allowed pair scores above the bounds the LP (``StructuralOptions``: its classes, and each person's best option)
and the certified bound (``structural_best_scores``, the per-term bounds) take from the same table."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.model import Busy, Interval, Person, Program, Weights, WorkingHours
from scheduler.pairing.bound import structural_best_scores
from scheduler.pairing.lp import StructuralOptions
from scheduler.pairing.rules import PairHistory, hard_rule, last_relaxation, may_relax
from scheduler.pairing.scan import PairScanner
from scheduler.pairing.score import BASE_SCORE, TERMS, WISHLIST, score_pair, wished

TODAY = date(2026, 11, 22)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
TOLERANCE = 1e-9

Organisation = tuple[list[Person], Program, PairHistory, FreeTimeIndex | None]


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    """Up to 14 people with random departments, offices, zones, modes, levels, managers, interests, wishes and
    blocks; random weights (some 0, some negative); random history; calendars or not."""
    size = draw(st.integers(2, 14))
    emails = [f"p{i}@example.com" for i in range(size)]
    teams = [f"t{i}" for i in range(draw(st.integers(1, 5)))]
    departments = ["", "Sales", "Design", "Engineering"]
    wishes = st.sampled_from([*emails, *(f"team:{t}" for t in teams), "department:Sales", "department:Design",
                              "team:nobody"])
    people = []
    for email in emails:
        people.append(Person(
            email=email, name=f"{email[:-12].upper()} Example", team=draw(st.sampled_from(teams)),
            department=draw(st.sampled_from(departments)), office=draw(st.sampled_from(["", "London", "Berlin"])),
            timezone=draw(st.sampled_from(ZONES)), mode=draw(st.sampled_from(["either", "virtual", "in_person"])),
            seniority=draw(st.sampled_from(["", "1", "2", "5", "9", "lead", "Staff", "director", "intern"])),
            manager=draw(st.sampled_from(["", emails[0], emails[-1]])),
            interests=draw(st.frozensets(st.sampled_from(["jazz", "chess", "film", "running", "go"]), max_size=4)),
            wishlist=draw(st.frozensets(wishes, max_size=2)),
            blocked=draw(st.frozensets(st.sampled_from(emails), max_size=1)),
            working_hours=draw(st.sampled_from([WorkingHours(), WorkingHours(frozenset({0, 1, 2}))])),
        ))
    weight = st.one_of(st.just(0.0), st.floats(-2.0, 6.0, allow_nan=False).map(lambda w: round(w, 3)))
    weights = Weights(**{f.name: draw(weight) for f in fields(Weights)})
    # Named levels (issue 15) or none: "intern" is never named, so some people always lack a level.
    levels = draw(st.sampled_from([(), ("staff", "lead", "director"), ("lead", "staff")]))
    program = Program("coffee", weights=weights, meeting_mode=draw(st.sampled_from(["virtual", "either"])),
                      relax=draw(st.sampled_from(["never", "cooldown", "cooldown_then_team"])),
                      seniority_levels=levels)
    pairs = draw(st.lists(st.tuples(st.sampled_from(emails), st.sampled_from(emails)).filter(lambda p: p[0] != p[1])
                          .map(frozenset), max_size=size))
    recent = frozenset(pair for pair in pairs if draw(st.booleans()))
    last_met = {pair: TODAY - timedelta(days=draw(st.integers(1, 800))) for pair in pairs}
    # Pairs another program groups this window (issue 15): kept apart whatever the relaxation.
    apart = frozenset(pair for pair in pairs if draw(st.booleans()))
    history = PairHistory(recent=recent, last_met=last_met, apart=apart)
    index = None
    if draw(st.booleans()):
        index = FreeTimeIndex(WINDOW, SlotRules(duration=timedelta(minutes=30)))
        for person in people:
            busy = tuple(Interval(start, start + timedelta(hours=draw(st.integers(1, 30))))
                         for start in (MONDAY + timedelta(hours=draw(st.integers(0, 119)))
                                       for _ in range(draw(st.integers(0, 4)))))
            index.add(person, Busy(busy=busy))
    return people, program, history, index


def allowed(a: Person, b: Person, program: Program, history: PairHistory, index: FreeTimeIndex | None) -> bool:
    """Whether the engine may pair them at all (relaxations included), as the bounds must cover."""
    refusal = hard_rule(a, b, program, history, index)
    return refusal is None or may_relax(refusal, last_relaxation(program))


def test_every_weight_has_exactly_one_term() -> None:
    assert sorted(term.weight for term in TERMS) == sorted(f.name for f in fields(Weights))


@settings(max_examples=50, deadline=None)
@given(organisations())
def test_the_pair_by_pair_score_is_the_vectorised_score(organisation: Organisation) -> None:
    people, program, history, index = organisation
    scanner = PairScanner(people, program, history, TODAY, index, relax=last_relaxation(program))
    n = len(people)
    grid = scanner.scores(np.arange(n))
    first, second = (side.ravel() for side in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    pairwise = scanner.pair_scores(first, second).reshape(n, n)
    for i, a in enumerate(people):
        for j, b in enumerate(people):
            if i == j or not allowed(a, b, program, history, index):
                assert grid[i, j] == -np.inf, (i, j)
                assert pairwise[i, j] == -np.inf, (i, j)
                continue
            score = score_pair(a, b, program, history, TODAY, index, explain=False).score
            assert abs(grid[i, j] - score) <= TOLERANCE, (i, j, grid[i, j], score)
            assert abs(pairwise[i, j] - score) <= TOLERANCE, (i, j, pairwise[i, j], score)
            # Reasons do not change the score.
            assert score_pair(a, b, program, history, TODAY, index).score == score


@settings(max_examples=50, deadline=None)
@given(organisations())
def test_no_allowed_pair_scores_above_the_bounds_taken_from_the_table(organisation: Organisation) -> None:
    people, program, history, index = organisation
    weights = program.weights
    wish_weight = weights.wishlist
    per_term = BASE_SCORE + sum(term.upper_bound(weights) for term in TERMS
                                if index is not None or not term.needs_free_time)
    scanner = PairScanner(people, program, history, TODAY, index, relax=last_relaxation(program))
    options = StructuralOptions(scanner)
    best_option, _ = options.best(np.zeros(len(people)))
    structural, structural_without_wish = structural_best_scores(people, program, index)
    for i, a in enumerate(people):
        for j, b in enumerate(people):
            if i == j or not allowed(a, b, program, history, index):
                continue
            score = score_pair(a, b, program, history, TODAY, index, explain=False).score
            without_wish = score - wish_weight if wished(a, b) else score
            assert score <= per_term + TOLERANCE, (i, j, score, per_term)
            # The LP's classes: every term but wishes by base class and interest set, wishes at most the bonus.
            by_class = (options.base_score[options.base[i], options.base[j]]
                        + options.interest_score[options.interest_set[i], options.interest_set[j]])
            assert without_wish <= by_class + TOLERANCE, (i, j, without_wish, by_class)
            assert score <= by_class + WISHLIST.upper_bound(weights) + TOLERANCE, (i, j, score, by_class)
            # The LP's best option at zero prices, and the bound's best partner from structure.
            assert score <= best_option[i] + TOLERANCE, (i, j, score, best_option[i])
            assert score <= structural[i] + TOLERANCE, (i, j, score, structural[i])
            assert without_wish <= structural_without_wish[i] + TOLERANCE, (i, j, without_wish)
