"""Issue 15, part 4: meet a leader. Leaders offer slots a month; others ask to meet leaders outside their own
department, or their manager suggests some; the plan respects every capacity, places each asker at most once and
is the best assignment there is (checked against brute force), favouring people who have not met a leader."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.config import load_config
from scheduler.errors import ConfigError
from scheduler.model import MEETING_KINDS, Person, Program
from scheduler.pairing.leaders import (
    best_assignment,
    is_leader,
    last_leader_meeting,
    leader_capacity,
    leader_requests,
    pair_leaders,
    request_weight,
)
from scheduler.pairing.rules import PairHistory

TODAY = date(2026, 12, 14)
LEADERS = Program("leaders", kind="leader", leader_slots=2)
DEPARTMENTS = ("Sales", "Engineering", "Design")


def leader(i: int, department: str) -> Person:
    return Person(f"leader{i}@example.com", f"Dana{i} Lee", f"lead-{i}", department=department, role="leader")


def asker(i: int, department: str, wishes: frozenset[str] = frozenset()) -> Person:
    return Person(f"asker{i}@example.com", f"Sam{i} Park", f"team-{i}", department=department, wishlist=wishes)


def brute_force(weights: dict[tuple[str, str], int], capacity: dict[str, int]) -> int:
    """The best total weight by trying every choice of leader (or none) for every asker."""
    askers = sorted({a for a, _ in weights})
    options = [[None, *sorted(b for a2, b in weights if a2 == a)] for a in askers]
    best = 0
    for choice in itertools.product(*options):
        used = [b for b in choice if b is not None]
        if any(used.count(b) > capacity.get(b, 0) for b in set(used)):
            continue
        best = max(best, sum(weights[(a, b)] for a, b in zip(askers, choice, strict=True) if b is not None))
    return best


instances = st.tuples(
    st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=3),  # leaders' departments
    st.lists(st.integers(1, 3), min_size=3, max_size=3),  # leader_slots caps per leader (by program)
    st.lists(st.tuples(st.sampled_from(DEPARTMENTS), st.sets(st.integers(0, 2)), st.sets(st.integers(0, 2)),
                       st.one_of(st.none(), st.integers(0, 400))), min_size=0, max_size=6),
    st.integers(1, 3),
)


@settings(max_examples=120, deadline=None)
@given(instance=instances)
def test_issue_15_leader_plan_respects_capacity_departments_and_is_optimal(instance: tuple) -> None:
    leader_departments, _caps, asker_specs, slots = instance
    leaders = [leader(i, d) for i, d in enumerate(leader_departments)]
    people: list[Person] = list(leaders)
    suggestions: dict[str, frozenset[str]] = {}
    last_met: dict[frozenset[str], date] = {}
    for i, (department, wishes, suggested, days_ago) in enumerate(asker_specs):
        person = asker(i, department, frozenset(f"leader{w}@example.com" for w in wishes))
        people.append(person)
        suggestions[person.email] = frozenset(f"leader{s}@example.com" for s in suggested)
        if days_ago is not None and leaders:
            last_met[frozenset((person.email, leaders[0].email))] = date.fromordinal(TODAY.toordinal() - days_ago)
    program = Program("leaders", kind="leader", leader_slots=slots)
    history = PairHistory(last_met=last_met)

    result = pair_leaders(people, program, history=history, today=TODAY, suggestions=suggestions)

    by_email = {p.email: p for p in people}
    capacity = {p.email: leader_capacity(p, program, history, TODAY) for p in leaders}
    placed = [group.members for group in result.groups]
    askers_placed = [a for a, _ in placed]
    assert len(askers_placed) == len(set(askers_placed))  # each asker at most one leader
    for a, b in placed:
        assert is_leader(by_email[b])
        assert not is_leader(by_email[a])  # leaders never meet each other here
        assert by_email[a].department != by_email[b].department  # never a leader of one's own department
    for email, cap in capacity.items():
        assert sum(1 for _, b in placed if b == email) <= cap
    assert not {u.email for u in result.unmatched} & set(askers_placed)
    # Optimal: the total weight equals the brute-force best over the same allowed pairs.
    leaders_by_email = {p.email: p for p in leaders}
    weights = {(r.asker, r.leader): request_weight(r, last_leader_meeting(by_email[r.asker], leaders_by_email,
                                                                           history), TODAY)
               for r in leader_requests(people, suggestions) if capacity[r.leader] > 0}
    assert sum(group.score for group in result.groups) == brute_force(weights, capacity)
    assert sum(weights[pair] for pair in best_assignment(weights, capacity).items()) == brute_force(weights, capacity)


def test_issue_15_a_greedy_choice_would_miss_the_best_assignment() -> None:
    # Ann wants A or B; Bo wants only A; each leader has one slot. Ann first to A leaves Bo out.
    weights = {("ann", "A"): 101, ("ann", "B"): 100, ("bo", "A"): 100}
    assert best_assignment(weights, {"A": 1, "B": 1}) == {"ann": "B", "bo": "A"}


def test_issue_15_people_who_have_not_met_a_leader_recently_come_first() -> None:
    dana = leader(0, "Sales")
    fresh = asker(1, "Engineering", frozenset({dana.email}))
    recent = asker(2, "Engineering", frozenset({dana.email}))
    program = Program("leaders", kind="leader", leader_slots=1)
    other_leader = leader(9, "Design")
    history = PairHistory(last_met={frozenset((recent.email, other_leader.email)): date(2026, 11, 30)})

    result = pair_leaders([dana, fresh, recent, other_leader], program, history=history, today=TODAY)

    assert [g.members for g in result.groups] == [(fresh.email, dana.email)]
    assert result.groups[0].reasons == ("Sam1 asked to meet Dana0 Lee, who leads Sales",
                                        "Sam1 has not met a leader here before")
    (left,) = result.unmatched
    assert left.email == recent.email
    assert "Dana0 Lee's slots this month are taken" in left.reason


def test_issue_15_capacity_counts_this_months_meetings() -> None:
    dana = leader(0, "Sales")
    history = PairHistory(last_met={frozenset((dana.email, "x@example.com")): date(2026, 12, 2),
                                    frozenset((dana.email, "y@example.com")): date(2026, 11, 20)})
    assert leader_capacity(dana, Program("l", kind="leader", leader_slots=2), history, TODAY) == 1
    assert leader_capacity(dana, Program("l", kind="leader", leader_slots=1), history, TODAY) == 0


def test_issue_15_own_requests_outweigh_manager_suggestions_and_own_department_never_counts() -> None:
    dana = leader(0, "Sales")
    lee = leader(1, "Engineering")
    asks = asker(1, "Engineering", frozenset({dana.email, lee.email}))  # Lee leads their own department
    suggested = asker(2, "Design")
    program = Program("leaders", kind="leader", leader_slots=1)

    result = pair_leaders([dana, lee, asks, suggested], program, history=PairHistory(), today=TODAY,
                          suggestions={suggested.email: frozenset({dana.email}), asks.email: frozenset({lee.email})})

    assert [g.members for g in result.groups] == [(asks.email, dana.email)]
    assert [u.email for u in result.unmatched] == [suggested.email]
    assert "Dana0 Lee's slots this month are taken" in result.unmatched[0].reason

    alone = pair_leaders([dana, suggested], program, history=PairHistory(), today=TODAY,
                         suggestions={suggested.email: frozenset({dana.email})})
    assert alone.groups[0].reasons[0] == "Sam2's manager suggested meeting Dana0 Lee, who leads Sales"


def test_issue_15_blocked_leaders_are_never_paired() -> None:
    dana = leader(0, "Sales")
    sam = Person("sam@example.com", "Sam Park", "t", department="Design", wishlist=frozenset({dana.email}),
                 blocked=frozenset({dana.email}))
    result = pair_leaders([dana, sam], LEADERS, history=PairHistory(), today=TODAY)
    assert result.groups == ()
    assert result.unmatched[0].email == sam.email


def test_issue_15_leader_kind_and_config_errors(tmp_path: Path) -> None:
    assert "leader" in MEETING_KINDS
    assert Program("l", kind="leader").leader_slots == 2
    with pytest.raises(ValueError, match="group_size must be 2"):
        Program("l", kind="leader", group_size=3)
    with pytest.raises(ValueError, match="leader_slots must be between 1 and 31"):
        Program("l", kind="leader", leader_slots=0)
    # Nobody ticks "leader": asking (or leading) is what takes a person in.
    person = Person("a@example.com", "A", "t", verified_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert "leader" not in person.kinds
    assert person.ineligibility(LEADERS, TODAY) is None
    assert person.ineligibility(Program("d", kind="dinner", meeting_mode="in_person"), TODAY) is not None
    config = tmp_path / "coffee.toml"
    config.write_text('[[programs]]\nname = "leaders"\nkind = "leader"\ngroup_size = 3\n')
    with pytest.raises(ConfigError, match="group_size must be 2"):
        load_config(config)
