"""The certified upper bound: never below the best grouping, found by brute force on small instances."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.model import Busy, Interval, Person, Program, Weights
from scheduler.pairing.bound import cover_bound, score_every_pair, structural_best_scores
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import RELAXABLE, PairHistory, hard_rule, may_relax
from scheduler.pairing.score import score_pair
from scheduler.pairing.tuning import BoundLimits
from tests.pairing_bounds import best_partner_scores, halves_bound, upper_bound

TODAY = date(2026, 11, 22)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")


# --- instances ----------------------------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn, max_people: int = 8) -> tuple[list[Person], Program, PairHistory,
                                                              FreeTimeIndex | None]:
    """Small organisations with every feature the score reads, a program, history and maybe free time."""
    size = draw(st.integers(0, max_people))
    emails = [f"p{i}@example.com" for i in range(size)]
    people = []
    for email in emails:
        people.append(Person(
            email=email, name=email.split("@")[0],
            team=draw(st.sampled_from("ABCD")),
            department=draw(st.sampled_from(["", "Eng", "Sales", "Ops"])),
            office=draw(st.sampled_from(["", "London", "Berlin"])),
            timezone=draw(st.sampled_from(ZONES)),
            mode=draw(st.sampled_from(["either", "either", "virtual", "in_person"])),
            interests=frozenset(draw(st.lists(st.sampled_from(["jazz", "chess", "books", "film"]), max_size=4))),
            seniority=draw(st.sampled_from(["", "1", "3", "6", "lead"])),
            manager=draw(st.sampled_from(["", "boss@example.com", "chief@example.com"])),
            wishlist=frozenset(draw(st.lists(st.sampled_from(
                [*emails, "team:A", "team:B", "department:Sales", "department:Eng"]), max_size=2))),
            blocked=frozenset(draw(st.lists(st.sampled_from(emails), max_size=1))),
            verified_at=MONDAY,
        ))
    weight = st.sampled_from([0.0, 0.5, 1.0, 3.0, -1.0])
    program = Program(
        "test",
        meeting_mode=draw(st.sampled_from(["virtual", "either", "in_person"])),
        relax=draw(st.sampled_from(["never", "cooldown", "cooldown_then_team"])),
        weights=Weights(different_department=draw(weight), different_office=draw(weight),
                        never_met=draw(weight), shared_interest=draw(weight), common_slots=draw(weight),
                        timezone_overlap=draw(weight), wishlist=draw(weight), no_shared_manager=draw(weight),
                        seniority_mix=draw(weight)),
    )
    pairs = [frozenset((a, b)) for i, a in enumerate(emails) for b in emails[i + 1:]]
    met = draw(st.lists(st.sampled_from(pairs), max_size=4)) if pairs else []
    recent = draw(st.lists(st.sampled_from(met), max_size=2)) if met else []
    last_met = {pair: TODAY - timedelta(days=draw(st.integers(7, 800))) for pair in met}
    history = PairHistory(recent=frozenset(recent), last_met=last_met)
    free_time = None
    if draw(st.booleans()):
        window = Interval(MONDAY, MONDAY + timedelta(days=2))
        free_time = FreeTimeIndex(window, SlotRules(duration=timedelta(minutes=30)))
        for person in people:
            start = MONDAY + timedelta(hours=draw(st.integers(0, 40)))
            busy = Interval(start, start + timedelta(hours=draw(st.integers(1, 30))))
            free_time.add(person, Busy(busy=(busy,)) if draw(st.booleans()) else Busy(known=False))
    return people, program, history, free_time


def allowed_scores(people: Sequence[Person], program: Program, history: PairHistory,
                   free_time: FreeTimeIndex | None) -> dict[tuple[int, int], float]:
    """Every pair the engine may group (hard rules, less what the program relaxes), with its score."""
    relax = RELAXABLE[program.relax][-1] if program.relax in RELAXABLE else None
    scores = {}
    for i, a in enumerate(people):
        for j in range(i + 1, len(people)):
            refusal = hard_rule(a, people[j], program, history, free_time)
            if refusal is None or may_relax(refusal, relax):
                scores[(i, j)] = score_pair(a, people[j], program, history, TODAY, free_time).score
    return scores


def best_grouping(size: int, scores: dict[tuple[int, int], float], trios: int) -> float:
    """The best total over every grouping into pairs and at most ``trios`` trios, anyone left out."""

    def best(remaining: tuple[int, ...], trios_left: int) -> float:
        if len(remaining) < 2:
            return 0.0
        first, rest = remaining[0], remaining[1:]
        value = best(rest, trios_left)  # first left out
        for x, second in enumerate(rest):
            pair = scores.get((first, second))
            if pair is None:
                continue
            others = rest[:x] + rest[x + 1:]
            value = max(value, pair + best(others, trios_left))
            if trios_left:
                for y, third in enumerate(others):
                    if third < second:
                        continue
                    edges = [scores.get((first, third)), scores.get((second, third))]
                    if None in edges:
                        continue
                    trio = pair + sum(e for e in edges if e is not None)
                    value = max(value, trio + best(others[:y] + others[y + 1:], trios_left - 1))
        return value

    return best(tuple(range(size)), trios)


# --- the bound holds --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2))
def test_the_bound_is_never_below_the_best_grouping(instance: tuple, trios: int) -> None:
    people, program, history, free_time = instance
    scores = allowed_scores(people, program, history, free_time)

    optimum = best_grouping(len(people), scores, trios)

    assert upper_bound(people, program, history, TODAY, free_time, trios=trios) >= optimum - 1e-9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2))
def test_the_structural_bound_holds_too(instance: tuple, trios: int) -> None:
    people, program, history, free_time = instance
    optimum = best_grouping(len(people), allowed_scores(people, program, history, free_time), trios)
    # As for a large organisation: no pair is scored.
    bound = upper_bound(people, program, history, TODAY, free_time, trios=trios,
                        limits=BoundLimits(exact_scan_limit=0))
    assert bound >= optimum - 1e-9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_structure_bounds_every_persons_best_partner_from_above(instance: tuple) -> None:
    people, program, history, free_time = instance
    scores = allowed_scores(people, program, history, free_time)
    exact = best_partner_scores(people, program, history, TODAY, free_time)
    for i in range(len(people)):
        assert exact[i] == max((s for pair, s in scores.items() if i in pair), default=-math.inf)

    exact_without_wish = score_every_pair(people, program, history, TODAY, free_time,
                                          keep_edges=False).best_without_wish

    structural, without_wish = structural_best_scores(people, program, free_time)

    assert all(s >= e - 1e-9 for s, e in zip(structural, exact, strict=True))
    assert all(s >= e - 1e-9 for s, e in zip(without_wish, exact_without_wish, strict=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_people=7))
def test_the_engine_never_beats_the_bound_of_its_own_shape(instance: tuple) -> None:
    people, program, history, free_time = instance
    result = pair_people(people, program, history=history, today=TODAY, seed=3, free_time=free_time)
    trios = sum(1 for group in result.groups if len(group.members) == 3)
    total = sum(group.score for group in result.groups)

    bound = upper_bound(people, program, history, TODAY, free_time, trios=trios)

    assert total <= bound + 1e-3 * len(result.groups)  # group scores are rounded to 3 places


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_at_small_sizes_the_bound_is_the_optimum(instance: tuple) -> None:
    people, program, history, free_time = instance
    scores = allowed_scores(people, program, history, free_time)
    optimum = best_grouping(len(people), scores, 0)

    bound = upper_bound(people, program, history, TODAY, free_time, trios=0)

    # Scores are rounded up to thousandths for the matching: at most 0.001 per pair above the optimum.
    assert optimum - 1e-9 <= bound <= optimum + 1e-3 * (len(people) // 2) + 1e-9


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2))
def test_halves_are_the_sum_of_halves_and_never_better_than_the_bound(instance: tuple, trios: int) -> None:
    people, program, history, free_time = instance
    best = best_partner_scores(people, program, history, TODAY, free_time)
    halves = sorted((max(0.0, b) / 2 for b in best), reverse=True)

    assert halves_bound(best) == pytest.approx(sum(halves))
    assert halves_bound(best, 2, trios) == pytest.approx(sum(halves) + sum(halves[: 3 * trios]))
    assert upper_bound(people, program, history, TODAY, free_time, trios=trios) <= \
        halves_bound(best, 2, trios) + 1e-9


# --- the arithmetic -----------------------------------------------------------------------------------------


def test_a_trio_uses_its_members_twice() -> None:
    # Three people who all score 10 together: a trio scores 30, while y = 5 each sums to 15.
    assert cover_bound([5.0, 5.0, 5.0], group_size=2, trios=0) == 15.0
    assert cover_bound([5.0, 5.0, 5.0], group_size=2, trios=1) == 30.0
    # Groups of four: every member in three edges, one extra member in a group of five.
    assert cover_bound([1.0] * 5, group_size=4, trios=1) == 3 * 5 + 5


def test_the_default_allows_one_trio_for_an_odd_count() -> None:
    people = [Person(email=f"p{i}@example.com", name=f"P {i}", team=f"t{i}", verified_at=MONDAY)
              for i in range(3)]
    program = Program("test")
    # Everyone scores the same with everyone: the trio's three pairs are the best grouping.
    pair = score_pair(people[0], people[1], program, PairHistory(), TODAY, None).score
    assert upper_bound(people, program, PairHistory(), TODAY) >= 3 * pair
    assert upper_bound(people[:2], program, PairHistory(), TODAY) == pytest.approx(pair, abs=1e-3)


def test_nobody_and_one_person_are_bounded_by_zero() -> None:
    program = Program("test")
    assert upper_bound([], program, PairHistory(), TODAY) == 0.0
    alone = Person(email="a@example.com", name="A", team="t", verified_at=MONDAY)
    assert upper_bound([alone], program, PairHistory(), TODAY) == 0.0


def test_a_team_of_more_than_half_bounds_by_the_others_alone() -> None:
    people = [Person(email=f"p{i}@example.com", name=f"P {i}", team="big" if i < 6 else f"t{i}",
                     department="Eng" if i % 2 else "Sales", verified_at=MONDAY) for i in range(10)]
    program = Program("test", relax="cooldown")
    best, _ = structural_best_scores(people, program)
    bound = upper_bound(people, program, PairHistory(), TODAY, trios=0, limits=BoundLimits(exact_scan_limit=0))
    # Only four pairs can exist (each needs someone from outside the big team): not five.
    assert bound == pytest.approx(sum(best[6:]))
    assert bound < halves_bound(best)
    relaxed = Program("test", relax="cooldown_then_team")  # teammates may meet as a last resort
    assert upper_bound(people, relaxed, PairHistory(), TODAY, trios=0) >= bound
