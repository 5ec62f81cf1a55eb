"""Groups of 3 or 4 (lunch groups): sizes and remainders, hard rules inside every group, reasons, determinism,
fairness, the certified bound, and a whole cycle with calendars."""

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.model import Attendee, Busy, Cycle, Interval, Person, Program
from scheduler.pairing.bound import certified_bound, top_scores_bound
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import PairHistory, core_group_sizes, group_sizes, hard_rule
from scheduler.pairing.score import score_pair
from scheduler.planning.cycle import PlanSettings, plan_cycle, plan_effects, slot_reason
from tests.fakes import FakeCalendarProvider
from tests.pairing_bounds import upper_bound
from web.urls import WebUrls

TODAY = date(2026, 11, 22)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
MakePerson = Callable[..., Person]


def lunch(size: int, **overrides: object) -> Program:
    return Program("lunch club", kind="lunch", group_size=size, **overrides)  # type: ignore[arg-type]


def group(people: list[Person], program: Program, history: PairHistory | None = None, seed: int = 1,
          free_time: FreeTimeIndex | None = None):  # type: ignore[no-untyped-def]
    return pair_people(people, program, history=history or PairHistory(), today=TODAY, seed=seed,
                       free_time=free_time)


def pair_score(a: Person, b: Person, program: Program, history: PairHistory | None = None) -> float:
    return score_pair(a, b, program, history or PairHistory(), TODAY, None, explain=False).score


# -- sizes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "size", "expected"), [
    (0, 3, []), (1, 3, []), (2, 3, [2]), (3, 3, [3]), (4, 3, [4]), (5, 3, [3, 2]), (9, 3, [3, 3, 3]),
    (10, 3, [4, 3, 3]), (11, 3, [3, 3, 3, 2]), (2, 4, [2]), (3, 4, [3]), (5, 4, [5]), (6, 4, [3, 3]),
    (7, 4, [4, 3]), (9, 4, [5, 4]), (10, 4, [4, 3, 3]), (11, 4, [4, 4, 3]), (7, 2, [3, 2, 2]),
])
def test_group_sizes_of_small_counts(count: int, size: int, expected: list[int]) -> None:
    assert group_sizes(count, size) == expected


@given(count=st.integers(0, 400), size=st.sampled_from([2, 3, 4]))
def test_group_sizes_place_everyone_in_groups_one_off_the_size_at_most(count: int, size: int) -> None:
    sizes = group_sizes(count, size)
    assert sum(sizes) == (count if count >= 2 else 0)  # nobody dropped, never a group of one
    assert all(part >= 2 for part in sizes)
    if count > size:
        assert all(size - 1 <= part <= size + 1 for part in sizes)
        off = sum(1 for part in sizes if part != size)
        assert off <= min(count % size, size - count % size) if count % size else off == 0
    assert sum(core_group_sizes(count, size)) + sum(1 for part in sizes if part > size) == sum(sizes)


# -- hard rules and accounting, on generated organisations ----------------------------------------------------

person_strategy = st.tuples(st.integers(0, 6), st.integers(0, 2), st.sampled_from(["London", "Berlin"]),
                            st.sampled_from(["either", "either", "virtual", "in_person"]))


def build(specs: list[tuple[int, int, str, str]]) -> list[Person]:
    return [Person(email=f"p{i}@example.com", name=f"P{i} Example", team=f"t{team}", department=f"d{dept}",
                   office=office, mode=mode, verified_at=None)
            for i, (team, dept, office, mode) in enumerate(specs)]


@settings(max_examples=150, deadline=None)
@given(specs=st.lists(person_strategy, max_size=40), seed=st.integers(0, 2**32), size=st.sampled_from([3, 4]),
       program_mode=st.sampled_from(["virtual", "either", "in_person"]),
       relax=st.sampled_from(["never", "cooldown"]), met=st.sets(st.tuples(st.integers(0, 39), st.integers(0, 39))))
def test_no_hard_rule_breaks_inside_any_group(specs: list[tuple[int, int, str, str]], seed: int, size: int,
                                              program_mode: str, relax: str, met: set[tuple[int, int]]) -> None:
    people = build(specs)
    emails = [p.email for p in people]
    history = PairHistory(recent=frozenset(frozenset((emails[a], emails[b])) for a, b in met
                                           if a != b and max(a, b) < len(people)))
    program = lunch(size, meeting_mode=program_mode, relax=relax)
    result = group(people, program, history, seed)

    placed = [email for g in result.groups for email in g.members]
    assert len(placed) == len(set(placed))  # nobody twice
    assert sorted(placed + [u.email for u in result.unmatched]) == sorted(emails)  # nobody lost
    by_email = {p.email: p for p in people}
    for g in result.groups:
        assert 2 <= len(g.members) <= size + 1
        assert g.reasons
        for x, y in itertools.combinations(g.members, 2):
            refusal = hard_rule(by_email[x], by_email[y], program, history, None)
            # Only the program's relaxation may let a recent pair meet, and the reasons then say so.
            assert refusal is None or (relax == "cooldown" and refusal == "met recently")
            if refusal is not None:
                assert any("met recently: paired anyway" in reason for reason in g.reasons)
    for left in result.unmatched:
        assert left.reason


@settings(max_examples=60, deadline=None)
@given(count=st.integers(2, 60), size=st.sampled_from([3, 4]), seed=st.integers(0, 2**32))
def test_without_conflicts_the_sizes_are_exactly_as_planned(count: int, size: int, seed: int) -> None:
    people = build([(i, i % 3, "London", "either") for i in range(count)])  # everyone in a team of their own
    result = group(people, lunch(size), seed=seed)
    assert result.unmatched == ()
    assert sorted(len(g.members) for g in result.groups) == sorted(group_sizes(count, size))


@settings(max_examples=40, deadline=None)
@given(busy=st.lists(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 15), st.integers(1, 16)), max_size=6),
                     min_size=2, max_size=24),
       zones=st.lists(st.sampled_from(["Europe/London", "America/New_York", "Asia/Kolkata"]), min_size=24,
                      max_size=24),
       size=st.sampled_from([3, 4]), seed=st.integers(0, 2**16))
def test_with_calendars_every_group_shares_a_free_slot(busy: list[list[tuple[int, int, int]]], zones: list[str],
                                                       size: int, seed: int) -> None:
    """Pairwise common time does not give a group common time: the whole group must share a slot."""
    people = [Person(email=f"p{i}@example.com", name=f"P{i}", team=f"t{i}", timezone=zones[i], verified_at=None)
              for i in range(len(busy))]
    index = FreeTimeIndex(WINDOW, SlotRules(duration=timedelta(minutes=30)))
    for person, blocks in zip(people, busy, strict=True):
        intervals = tuple(Interval(MONDAY + timedelta(days=day, hours=8 + half / 2),
                                   MONDAY + timedelta(days=day, hours=8 + half / 2 + length / 2))
                          for day, half, length in blocks)
        index.add(person, Busy(busy=intervals))
    program = Program("coffee groups", group_size=size)
    result = group(people, program, seed=seed, free_time=index)
    for g in result.groups:
        assert index.common_starts(g.members), g.members
    placed = [email for g in result.groups for email in g.members]
    assert sorted(placed + [u.email for u in result.unmatched]) == sorted(p.email for p in people)


# -- scores, reasons, determinism, fairness ------------------------------------------------------------------


def test_a_group_scores_the_sum_of_its_pairs_and_says_why_for_each_pair(create_person: MakePerson) -> None:
    people = [create_person(department=dept, name=f"{first} Example")
              for dept, first in [("Sales", "Ana"), ("Design", "Bo"), ("Engineering", "Cy")]]
    program = lunch(3)
    (only,) = group(people, program).groups
    by_email = {p.email: p for p in people}
    expected = sum(pair_score(by_email[x], by_email[y], program) for x, y in itertools.combinations(only.members, 2))
    assert only.score == pytest.approx(expected, abs=1e-3)
    assert "Ana & Bo: different departments: Sales and Design" in only.reasons
    assert "Bo & Cy: never met" in only.reasons
    assert sum(1 for reason in only.reasons if reason.endswith("never met")) == 3


def test_groups_mix_departments_when_they_can(create_person: MakePerson) -> None:
    departments = ["Sales", "Design", "Engineering", "People"]
    people = [create_person(department=departments[i % 4]) for i in range(16)]
    result = group(people, lunch(4))
    department = {p.email: p.department for p in people}
    for g in result.groups:
        assert len({department[e] for e in g.members}) == 4


def test_same_seed_same_groups_and_other_seeds_vary(create_person: MakePerson) -> None:
    people = [create_person(department=f"d{i % 3}") for i in range(23)]
    first = group(people, lunch(4), seed=7)
    assert group(list(reversed(people)), lunch(4), seed=7) == first
    assert any(group(people, lunch(4), seed=seed).groups != first.groups for seed in range(8, 20))


def test_nobody_is_in_the_bigger_group_two_cycles_running_when_avoidable(create_person: MakePerson) -> None:
    people = [create_person() for _ in range(10)]  # groups of 3: one group of 4
    for seed in range(8):
        first = group(people, lunch(3), seed=seed)
        (big,) = [g for g in first.groups if len(g.members) == 4]
        second = group(people, lunch(3), PairHistory(left_over=frozenset(big.members)), seed=seed + 100)
        (next_big,) = [g for g in second.groups if len(g.members) == 4]
        assert not set(next_big.members) & set(big.members)


def test_local_swaps_reach_the_best_grouping_of_a_small_organisation(create_person: MakePerson) -> None:
    """Brute force over every split of 8 people into two groups of 4: the engine finds the best one."""
    departments = ["Sales", "Sales", "Design", "Design", "Engineering", "Engineering", "People", "People"]
    interests = [{"jazz"}, {"chess"}, {"jazz"}, {"chess"}, {"jazz"}, {"chess"}, {"jazz"}, {"chess"}]
    people = [create_person(department=d, interests=frozenset(i)) for d, i in zip(departments, interests,
                                                                                    strict=True)]
    program = lunch(4)

    def total(groups: list[list[Person]]) -> float:
        return sum(pair_score(a, b, program) for g in groups for a, b in itertools.combinations(g, 2))

    best = max(total([list(first), [p for p in people if p not in first]])
               for first in itertools.combinations(people, 4))
    for seed in range(6):
        result = group(people, program, seed=seed)
        assert sum(g.score for g in result.groups) == pytest.approx(best, abs=0.05)


# -- when the rules cannot all be met ------------------------------------------------------------------------


def test_one_team_leaves_everyone_unmatched_unless_teams_may_mix(create_person: MakePerson) -> None:
    people = [create_person(team="solo") for _ in range(7)]
    strict = group(people, lunch(3))
    assert strict.groups == ()
    assert all("6 are in your own team" in u.reason for u in strict.unmatched)
    relaxed = group(people, lunch(3, relax="cooldown_then_team"))
    assert sorted(len(g.members) for g in relaxed.groups) == [3, 4]
    assert all(any("same team: paired anyway" in r for r in g.reasons) for g in relaxed.groups)
    assert any("rule relaxed for 7 people: same team" in note for note in relaxed.notes)


def test_a_team_too_big_for_full_groups_fills_what_it_can(create_person: MakePerson) -> None:
    """Six teammates and six others: a group holds one teammate at most and groups of 4 can be 3 but not 2,
    so at most three groups of 3 (nine people) can be made; the three left are told why."""
    team = [create_person(team="big") for _ in range(6)]
    others = [create_person() for _ in range(6)]
    result = group(team + others, lunch(4, relax="never"))
    by_email = {p.email: p for p in team + others}
    for g in result.groups:
        assert sum(1 for e in g.members if by_email[e].team == "big") <= 1
    placed = sum(len(g.members) for g in result.groups)
    assert placed + len(result.unmatched) == 12
    assert sorted(len(g.members) for g in result.groups) == [3, 3, 3]
    assert all("were all in full groups" in u.reason for u in result.unmatched)


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_tiny_lunch_programs(create_person: MakePerson, size: int) -> None:
    people = [create_person() for _ in range(size)]
    result = group(people, lunch(4))
    assert sorted(e for g in result.groups for e in g.members) == ([] if size < 2 else sorted(p.email for p in people))
    assert len(result.unmatched) == (1 if size == 1 else 0)


def test_large_organisations_are_grouped_in_blocks_and_keep_every_rule(create_person: MakePerson) -> None:
    departments = ["Sales", "Engineering", "Design", "Operations"]
    people = [create_person(team=f"team-{i % 211}", department=departments[i % 4]) for i in range(2603)]
    result = group(people, lunch(4), seed=3)
    assert group(people, lunch(4), seed=3) == result
    assert result.unmatched == ()
    assert Counter(len(g.members) for g in result.groups) == Counter(group_sizes(2603, 4))
    by_email = {p.email: p for p in people}
    for g in result.groups:
        assert len({by_email[e].team for e in g.members}) == len(g.members)


# -- the certified bound --------------------------------------------------------------------------------------


def test_top_scores_bound_adds_the_next_best_for_bigger_groups() -> None:
    top = [[5.0, 4.0, 3.0], [6.0, 1.0, -2.0], [2.0]]
    assert top_scores_bound(top, group_size=3, bigger=0) == pytest.approx((9 + 7 + 2) / 2)
    assert top_scores_bound(top, group_size=3, bigger=1) == pytest.approx((9 + 7 + 2 + 3) / 2)


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(person_strategy, min_size=3, max_size=7), size=st.sampled_from([3, 4]),
       interests=st.lists(st.sets(st.sampled_from(["jazz", "chess", "film"])), min_size=7, max_size=7))
def test_the_bound_holds_for_every_grouping_of_a_small_organisation(
        specs: list[tuple[int, int, str, str]], size: int, interests: list[set[str]]) -> None:
    people = [Person(email=p.email, name=p.name, team=p.team, department=p.department, office=p.office,
                     mode="either", interests=frozenset(i), verified_at=None)
              for p, i in zip(build(specs), interests, strict=False)]
    program = lunch(size, relax="never")
    bound = upper_bound(people, program, PairHistory(), TODAY, trios=len(people))

    def best(rest: list[Person]) -> float:
        """The best total over every way to put ``rest`` into groups of 2 to size + 1 (or leave people out)."""
        if len(rest) < 2:
            return 0.0
        first, others = rest[0], rest[1:]
        options = [best(others)]  # first left out
        for count in range(1, size + 1):
            for mates in itertools.combinations(others, count):
                members = [first, *mates]
                if any(hard_rule(a, b, program, PairHistory(), None) for a, b in itertools.combinations(members, 2)):
                    continue
                inside = sum(pair_score(a, b, program) for a, b in itertools.combinations(members, 2))
                options.append(inside + best([p for p in others if p not in mates]))
        return max(options)

    assert best(people) <= bound + 1e-6
    result = group(people, program)
    assert sum(g.score for g in result.groups) <= bound + 1e-3


def test_the_bound_names_its_argument_for_groups(create_person: MakePerson) -> None:
    people = [create_person(department=f"d{i % 3}") for i in range(12)]
    certificate = certified_bound(people, lunch(3), PairHistory(), TODAY)
    assert "best partner scores" in certificate.method
    result = group(people, lunch(3))
    assert sum(g.score for g in result.groups) <= certificate.value


# -- a whole cycle ----------------------------------------------------------------------------------------------


def test_a_cycle_of_lunch_groups_books_a_common_slot_and_writes_to_every_member(create_person: MakePerson) -> None:
    people = [create_person(department=["Sales", "Design", "Engineering"][i % 3]) for i in range(11)]
    # The first person is busy all Monday: their group must meet another day.
    provider = FakeCalendarProvider(busy={people[0].email: [Interval(MONDAY, MONDAY + timedelta(days=1))]})
    program = lunch(3)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    plan = plan_cycle(program, people, provider, now=now, window=WINDOW, history=PairHistory(), seed=5)
    assert plan.unmatched == ()
    assert sorted(len(m.group.members) for m in plan.meetings) == sorted(group_sizes(11, 3))
    for meeting in plan.meetings:
        assert meeting.slot is not None
        free = "both free " if len(meeting.group.members) == 2 else "all free "
        assert any(reason.startswith(free) for reason in meeting.group.reasons)
        if people[0].email in meeting.group.members:
            assert meeting.slot.start >= MONDAY + timedelta(days=1)
    cycle = Cycle(program=program.name, window=WINDOW, seed=5, id=1)
    meetings = [replace(m, id=n, cycle_id=1) for n, m in enumerate(plan.meetings)]
    settings_ = PlanSettings(organizer=Attendee("coffee@example.com", "Coffee Chat"), sender="coffee@example.com",
                             site=WebUrls("https://coffee.example.com"))
    effects = plan_effects(cycle, plan, meetings, settings_)
    announced = [e.key.rsplit("/", 1)[1] for e in effects if "/announce/" in e.key]
    assert sorted(announced) == sorted(p.email for p in people)


def test_the_time_a_group_got_is_a_reason_in_each_members_own_time_zone(create_person: MakePerson) -> None:
    london, berlin, kolkata = (create_person(timezone=zone) for zone in
                               ("Europe/London", "Europe/Berlin", "Asia/Kolkata"))
    late = Interval(datetime(2026, 12, 8, 20, 0, tzinfo=UTC), datetime(2026, 12, 8, 20, 30, tzinfo=UTC))
    assert slot_reason([london, berlin], late) == "both free Tue 08 Dec 20:00 Europe/London, 21:00 Europe/Berlin"
    # Past midnight in Kolkata: the day is said again.
    assert slot_reason([london, create_person(timezone="Europe/London"), kolkata], late) == (
        "all free Tue 08 Dec 20:00 Europe/London, Wed 09 Dec 01:30 Asia/Kolkata")
