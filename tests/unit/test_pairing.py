import itertools
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.model import Person, Program
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import PairHistory, hard_rule
from scheduler.pairing.score import score_pair

TODAY = date(2026, 11, 22)
COFFEE = Program("coffee")
MakePerson = Callable[..., Person]


def pair(people: list[Person], program: Program = COFFEE, history: PairHistory | None = None, seed: int = 1):
    return pair_people(people, program, history=history or PairHistory(), today=TODAY, seed=seed)


def members_of(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [email for group in result.groups for email in group.members]


def test_nobody_meets_their_own_team(create_person: MakePerson) -> None:
    people = [create_person(team=team) for team in ("a", "a", "b", "b")]
    result = pair(people)
    assert len(result.groups) == 2
    teams = {p.email: p.team for p in people}
    for group in result.groups:
        assert teams[group.members[0]] != teams[group.members[1]]


def test_an_odd_person_joins_a_trio_instead_of_being_dropped(create_person: MakePerson) -> None:
    people = [create_person() for _ in range(5)]
    result = pair(people)
    assert sorted(len(g.members) for g in result.groups) == [2, 3]
    assert sorted(members_of(result)) == sorted(p.email for p in people)
    assert result.unmatched == ()


def test_one_team_only_leaves_everyone_unmatched_with_the_reason(create_person: MakePerson) -> None:
    people = [create_person(team="solo") for _ in range(3)]
    result = pair(people)
    assert result.groups == ()
    assert [u.email for u in result.unmatched] == sorted(p.email for p in people)
    assert "2 are in your own team" in result.unmatched[0].reason


def test_a_single_person_is_told_they_were_alone(create_person: MakePerson) -> None:
    result = pair([create_person()])
    assert result.unmatched[0].reason == "you were the only person taking part this cycle"


def test_cooldown_prevents_a_repeat_pair(create_person: MakePerson) -> None:
    a, b, c, d = (create_person() for _ in range(4))
    history = PairHistory(recent=frozenset({frozenset((a.email, b.email)), frozenset((c.email, d.email))}))
    result = pair([a, b, c, d], history=history)
    groups = {frozenset(g.members) for g in result.groups}
    assert frozenset((a.email, b.email)) not in groups
    assert frozenset((c.email, d.email)) not in groups
    assert len(groups) == 2


def test_in_person_needs_the_same_office(create_person: MakePerson) -> None:
    program = Program("coffee", meeting_mode="in_person")
    people = [create_person(office="London"), create_person(office="Berlin")]
    result = pair(people, program)
    assert result.groups == ()
    assert "another office" in result.unmatched[0].reason


def test_virtual_only_and_in_person_only_never_meet(create_person: MakePerson) -> None:
    program = Program("coffee", meeting_mode="either")
    a, b = create_person(mode="virtual"), create_person(mode="in_person")
    assert hard_rule(a, b, program, PairHistory(), None) == "in-person and virtual-only"


def test_reasons_say_why_in_words(create_person: MakePerson) -> None:
    a = create_person(department="Sales", office="London", interests=frozenset({"jazz", "chess"}))
    b = create_person(department="Engineering", office="Berlin", interests=frozenset({"jazz"}))
    edge = score_pair(a, b, COFFEE, PairHistory(), TODAY, None)
    assert "different departments: Sales and Engineering" in edge.reasons
    assert "different offices: London and Berlin" in edge.reasons
    assert "never met" in edge.reasons
    assert "both into jazz" in edge.reasons


def test_cross_department_partners_are_preferred(create_person: MakePerson) -> None:
    sales = [create_person(department="Sales") for _ in range(2)]
    engineering = [create_person(department="Engineering") for _ in range(2)]
    result = pair(sales + engineering)
    department = {p.email: p.department for p in sales + engineering}
    for group in result.groups:
        assert {department[e] for e in group.members} == {"Sales", "Engineering"}


def test_pairs_met_long_ago_are_less_wanted_than_new_ones(create_person: MakePerson) -> None:
    a, b, c = (create_person() for _ in range(3))
    history = PairHistory(last_met={frozenset((a.email, b.email)): date(2026, 10, 1)})
    met = score_pair(a, b, COFFEE, history, TODAY, None)
    new = score_pair(a, c, COFFEE, history, TODAY, None)
    assert met.score < new.score
    assert "last met on 2026-10-01" in met.reasons


def test_same_seed_same_plan_and_other_seeds_vary(create_person: MakePerson) -> None:
    people = [create_person() for _ in range(12)]
    first = pair(people, seed=7)
    assert pair(list(reversed(people)), seed=7) == first
    assert any(pair(people, seed=seed).groups != first.groups for seed in range(8, 20))


person_strategy = st.builds(
    lambda team, dept, office, mode: (team, dept, office, mode),
    st.integers(0, 5), st.integers(0, 2), st.sampled_from(["London", "Berlin"]),
    st.sampled_from(["either", "either", "virtual", "in_person"]),
)


def build(specs: list[tuple[int, int, str, str]]) -> list[Person]:
    return [Person(email=f"p{i}@example.com", name=f"P {i}", team=f"t{team}", department=f"d{dept}",
                   office=office, mode=mode, verified_at=None)
            for i, (team, dept, office, mode) in enumerate(specs)]


@settings(max_examples=120, deadline=None)
@given(specs=st.lists(person_strategy, max_size=30), seed=st.integers(0, 2**32),
       program_mode=st.sampled_from(["virtual", "either", "in_person"]))
def test_every_plan_keeps_the_hard_rules_and_accounts_for_everyone(
        specs: list[tuple[int, int, str, str]], seed: int, program_mode: str) -> None:
    people = build(specs)
    program = Program("coffee", meeting_mode=program_mode)
    result = pair(people, program, seed=seed)
    placed = members_of(result)
    assert len(placed) == len(set(placed))  # nobody twice
    assert sorted(placed + [u.email for u in result.unmatched]) == sorted(p.email for p in people)
    by_email = {p.email: p for p in people}
    for group in result.groups:
        assert 2 <= len(group.members) <= 3
        for x, y in itertools.combinations(group.members, 2):
            assert hard_rule(by_email[x], by_email[y], program, PairHistory(), None) is None
    for left in result.unmatched:
        assert left.reason


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(person_strategy, min_size=2, max_size=8).filter(lambda s: len(s) % 2 == 0),
       seed=st.integers(0, 2**32))
def test_pairs_are_optimal_on_small_groups(specs: list[tuple[int, int, str, str]], seed: int) -> None:
    """Against brute force: as many pairs as possible, and among those the best total score."""
    people = build(specs)
    result = pair(people, seed=seed)
    if any(len(g.members) > 2 for g in result.groups):
        return  # a trio changes what is compared; covered by the hard-rule property
    by_email = {p.email: p for p in people}

    def edge(x: Person, y: Person) -> float | None:
        if hard_rule(x, y, COFFEE, PairHistory(), None) is not None:
            return None
        return score_pair(x, y, COFFEE, PairHistory(), TODAY, None).score

    def best(rest: list[Person]) -> tuple[int, float]:
        if len(rest) < 2:
            return (0, 0.0)
        first, others = rest[0], rest[1:]
        options = [best(others)]
        for i, other in enumerate(others):
            weight = edge(first, other)
            if weight is not None:
                count, total = best(others[:i] + others[i + 1:])
                options.append((count + 1, total + weight))
        return max(options)

    count, total = best(people)
    got = sum(edge(by_email[g.members[0]], by_email[g.members[1]]) or 0 for g in result.groups)
    assert len(result.groups) == count
    assert got >= total - 0.021 * count  # within the seeded tie-breaking jitter


def test_equal_scores_do_not_crowd_the_candidate_graph(create_person: MakePerson) -> None:
    """Regression: when every pair scores the same, ties must not all favour the same few people (which left
    a quarter of a large organisation in trios or unmatched)."""
    people = [create_person(team=f"team-{i % 25}") for i in range(300)]
    result = pair(people)
    assert result.unmatched == ()
    assert all(len(g.members) == 2 for g in result.groups)


def test_blocked_people_are_never_grouped(create_person: MakePerson) -> None:
    a = create_person()
    b = create_person(blocked=frozenset({a.email}))
    result = pair([a, b])
    assert result.groups == ()
    assert "1 are on a block list with you" in result.unmatched[0].reason


def test_a_wish_makes_the_pair(create_person: MakePerson) -> None:
    people = [create_person() for _ in range(6)]
    wisher = create_person(wishlist=frozenset({"team:team-3"}))
    target = next(p for p in people if p.team == "team-3")
    for seed in range(5):
        result = pair([*people, create_person(), wisher], seed=seed)
        group = next(g for g in result.groups if wisher.email in g.members)
        assert target.email in group.members
        assert f"{wisher.name.split()[0]} asked to meet someone in team-3" in group.reasons


def test_nobody_is_in_a_trio_two_cycles_running_when_avoidable(create_person: MakePerson) -> None:
    people = [create_person() for _ in range(7)]
    for seed in range(10):
        first = pair(people, seed=seed)
        (trio,) = [g for g in first.groups if len(g.members) == 3]
        second = pair(people, history=PairHistory(left_over=frozenset(trio.members)), seed=seed + 100)
        (next_trio,) = [g for g in second.groups if len(g.members) == 3]
        assert not set(next_trio.members) & set(trio.members)


def test_the_cooldown_gives_way_only_when_the_program_allows_it(create_person: MakePerson) -> None:
    a, b = create_person(), create_person()
    history = PairHistory(recent=frozenset({frozenset((a.email, b.email))}))
    strict = pair([a, b], Program("coffee", relax="never"), history=history)
    assert strict.groups == ()
    assert "you met 1 within the last 6 cycles" in strict.unmatched[0].reason
    relaxed = pair([a, b], Program("coffee", relax="cooldown"), history=history)
    (group,) = relaxed.groups
    assert "met recently: paired anyway because nobody else was free" in group.reasons
    assert any("rule relaxed for 2 people: met recently" in note for note in relaxed.notes)


def test_a_team_of_sixty_percent_pairs_teammates_only_as_a_last_resort(create_person: MakePerson) -> None:
    team = [create_person(team="big") for _ in range(6)]
    others = [create_person() for _ in range(4)]
    strict = pair(team + others, Program("coffee", relax="cooldown"))
    assert len(strict.unmatched) == 2
    assert all("the 4 people you could have met were all in full groups" in u.reason for u in strict.unmatched)
    last_resort = pair(team + others, Program("coffee", relax="cooldown_then_team"))
    assert last_resort.unmatched == ()
    same_team = [g for g in last_resort.groups if {e for e in g.members} <= {p.email for p in team}]
    assert len(same_team) == 1
    assert "same team: paired anyway because nobody else was free" in same_team[0].reasons


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_tiny_programs(create_person: MakePerson, size: int) -> None:
    people = [create_person() for _ in range(size)]
    result = pair(people)
    placed = sorted(members_of(result))
    assert placed == ([] if size < 2 else sorted(p.email for p in people))
    assert len(result.unmatched) == (1 if size == 1 else 0)


def test_large_organisations_are_split_into_blocks_and_keep_every_rule(create_person: MakePerson) -> None:
    departments = ["Sales", "Engineering", "Design", "Operations"]
    people = [create_person(team=f"team-{i % 97}", department=departments[i % 4],
                            office=["London", "Berlin", "New York"][i % 3]) for i in range(3001)]
    history = PairHistory(recent=frozenset(frozenset((people[i].email, people[i + 1].email))
                                           for i in range(0, 3000, 2)))
    result = pair(people, history=history, seed=3)
    assert pair(people, history=history, seed=3) == result  # deterministic across blocks too
    assert result.unmatched == ()
    assert sorted(len(g.members) for g in result.groups).count(3) == 1
    by_email = {p.email: p for p in people}
    for group in result.groups:
        for x, y in itertools.combinations(group.members, 2):
            assert hard_rule(by_email[x], by_email[y], COFFEE, history, None) is None
        assert group.reasons
