"""Meet a leader: pair people who asked to meet a leader with leaders, within each leader's monthly slots.

A leader is a person whose role is ``leader`` (``is_leader``). Anyone else asks to meet leaders by naming them on
their wishlist; their manager may suggest leaders too (``suggestions``), which counts like the person's own
request but weaker. Only leaders outside the asker's own department count. The plan is a maximum-weight
assignment with capacities, solved exactly as a min-cost flow (OR-Tools): source → asker (one leader each) →
leader (weight of the pair) → sink (the leader's free slots), with a zero-weight arc from each asker straight to
the sink so that leaving someone out is always possible and never forced. Pure: the same input gives the same
plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ortools.graph.python import min_cost_flow

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Group, Person, Program, Unmatched
from scheduler.pairing.engine import PairingResult
from scheduler.pairing.rules import PairHistory, hard_rule
from scheduler.pairing.score import first_name

LEADER_ROLE = "leader"
# Integer weights (the flow solver's costs are integers): a direct request outweighs a manager's suggestion, and
# someone who never met a leader, or not for a long while, comes before someone who met one last month.
REQUEST_WEIGHT = 100
SUGGESTION_WEIGHT = 60
RECENCY_WEIGHT = 50
RECENCY_DAYS = 365


def is_leader(person: Person) -> bool:
    """Whether ``person`` has the leader role (CSV column ``role``, or their profile)."""
    return person.role.strip().casefold() == LEADER_ROLE


def same_department(a: Person, b: Person) -> bool:
    """Whether two people work in the same department (compared without case; two blanks are the same)."""
    return a.department.strip().casefold() == b.department.strip().casefold()


@dataclass(frozen=True)
class LeaderRequest:
    """One asker's wish to meet one leader: asked directly (``suggested`` False) or suggested by their manager."""

    asker: str
    leader: str
    suggested: bool


def leader_requests(people: Sequence[Person], suggestions: Mapping[str, frozenset[str]]) -> list[LeaderRequest]:
    """The requests that count: each non-leader's wishes and manager's suggestions naming a leader outside their
    own department (a direct wish wins over a suggestion of the same leader), in a stable order."""
    leaders = {p.email: p for p in people if is_leader(p)}
    requests: list[LeaderRequest] = []
    for person in sorted(people, key=lambda p: p.email):
        if is_leader(person):
            continue  # leaders are never paired with each other in a leader program
        direct = {email for email in person.wishlist if email in leaders}
        suggested = {email for email in suggestions.get(person.email, frozenset()) if email in leaders} - direct
        for email, weak in sorted([(e, False) for e in direct] + [(e, True) for e in suggested]):
            if not same_department(person, leaders[email]):
                requests.append(LeaderRequest(person.email, email, weak))
    return requests


def leader_capacity(leader: Person, program: Program, history: PairHistory, today: date) -> int:
    """How many more 1:1s ``leader`` can take this cycle: the program's ``leader_slots`` a month, less the
    meetings with them that already took place this month (``history.last_met``)."""
    met = sum(1 for pair, day in history.last_met.items()
              if leader.email in pair and (day.year, day.month) == (today.year, today.month) and day <= today)
    return max(0, program.leader_slots - met)


def last_leader_meeting(person: Person, leaders: Mapping[str, Person], history: PairHistory) -> date | None:
    """When ``person`` last met any leader, or None."""
    days = [day for pair, day in history.last_met.items()
            if person.email in pair and any(email in leaders for email in pair if email != person.email)]
    return max(days, default=None)


def request_weight(request: LeaderRequest, last: date | None, today: date) -> int:
    """The weight of placing one request: direct over suggested, then how long since the asker met a leader."""
    base = SUGGESTION_WEIGHT if request.suggested else REQUEST_WEIGHT
    days = RECENCY_DAYS if last is None else min(RECENCY_DAYS, max(0, (today - last).days))
    return base + RECENCY_WEIGHT * days // RECENCY_DAYS


def best_assignment(weights: Mapping[tuple[str, str], int], capacity: Mapping[str, int]) -> dict[str, str]:
    """A maximum-weight assignment of askers to leaders: asker → leader, each asker at most once, each leader
    at most ``capacity[leader]`` times, over the allowed pairs ``(asker, leader)`` with positive ``weights``.

    Exact (a min-cost flow); ties go the same way for the same input, since nodes are numbered in sorted order.
    """
    askers = sorted({asker for asker, _ in weights})
    leaders = sorted({leader for _, leader in weights})
    if not askers:
        return {}
    source, sink = 0, 1
    node = {name: 2 + i for i, name in enumerate([*(f"a:{a}" for a in askers), *(f"l:{b}" for b in leaders)])}
    flow = min_cost_flow.SimpleMinCostFlow()
    for asker in askers:
        flow.add_arc_with_capacity_and_unit_cost(source, node[f"a:{asker}"], 1, 0)
        flow.add_arc_with_capacity_and_unit_cost(node[f"a:{asker}"], sink, 1, 0)  # left out: always possible
    arcs: dict[int, tuple[str, str]] = {}
    for (asker, leader), weight in sorted(weights.items()):
        arc = flow.add_arc_with_capacity_and_unit_cost(node[f"a:{asker}"], node[f"l:{leader}"], 1, -weight)
        arcs[arc] = (asker, leader)
    for leader in leaders:
        flow.add_arc_with_capacity_and_unit_cost(node[f"l:{leader}"], sink, max(0, capacity.get(leader, 0)), 0)
    flow.set_node_supply(source, len(askers))
    flow.set_node_supply(sink, -len(askers))
    status = flow.solve()
    if status != flow.OPTIMAL:  # pragma: no cover - the bypass arcs make every instance feasible
        raise RuntimeError(f"the leader assignment could not be solved (status {status})")
    return {arcs[arc][0]: arcs[arc][1] for arc in arcs if flow.flow(arc) > 0}


def pair_leaders(
    people: Sequence[Person],
    program: Program,
    *,
    history: PairHistory,
    today: date,
    suggestions: Mapping[str, frozenset[str]] | None = None,
    free_time: FreeTimeIndex | None = None,
) -> PairingResult:
    """Pair askers with leaders for one cycle of a leader ``program``.

    Each leader meets at most their capacity (``leader_capacity``), each asker at most one leader, never a
    leader of their own department nor one a hard rule forbids (blocked, apart, no common free time when
    ``free_time`` is given). Askers who have not met a leader recently, and direct requests over a manager's
    ``suggestions`` (report email → leader emails), weigh more. Everyone who asked and was not placed is
    unmatched with a reason; people who asked for nobody are not part of the cycle (a note counts them).
    """
    suggestions = suggestions or {}
    by_email = {p.email: p for p in people}
    leaders = {p.email: p for p in people if is_leader(p)}
    requests = leader_requests(people, suggestions)
    capacity = {email: leader_capacity(leader, program, history, today) for email, leader in leaders.items()}
    weights: dict[tuple[str, str], int] = {}
    chosen_request: dict[tuple[str, str], LeaderRequest] = {}
    refused: dict[str, list[str]] = {}
    for request in requests:
        asker, leader = by_email[request.asker], leaders[request.leader]
        rule = hard_rule(asker, leader, program, history, free_time)
        if rule is not None:
            refused.setdefault(asker.email, []).append(f"{leader.name}: {_rule_words(rule)}")
            continue
        if capacity[leader.email] <= 0:
            refused.setdefault(asker.email, []).append(f"{leader.name}'s slots this month are taken")
            continue
        last = last_leader_meeting(asker, leaders, history)
        weights[(asker.email, leader.email)] = request_weight(request, last, today)
        chosen_request[(asker.email, leader.email)] = request
    placed = best_assignment(weights, capacity)

    groups = []
    for asker_email, leader_email in sorted(placed.items()):
        asker, leader = by_email[asker_email], leaders[leader_email]
        request = chosen_request[(asker_email, leader_email)]
        unit = f", who leads {leader.department}" if leader.department else ""
        why = (f"{first_name(asker)}'s manager suggested meeting {leader.name}{unit}" if request.suggested
               else f"{first_name(asker)} asked to meet {leader.name}{unit}")
        last = last_leader_meeting(asker, leaders, history)
        recency = (f"{first_name(asker)} has not met a leader here before" if last is None
                   else f"{first_name(asker)} last met a leader on {last.isoformat()}")
        groups.append(Group((asker_email, leader_email), float(weights[(asker_email, leader_email)]),
                            (why, recency)))

    unmatched = []
    askers = sorted({r.asker for r in requests})
    for asker_email in askers:
        if asker_email in placed:
            continue
        wanted = sorted({leaders[leader].name for (a, leader) in weights if a == asker_email})
        reasons = list(refused.get(asker_email, []))
        if wanted:
            names = " and ".join(wanted)
            reasons.append(f"the slots this month of {names} are taken" if len(wanted) > 1
                           else f"{names}'s slots this month are taken")
        unmatched.append(Unmatched(asker_email, "; ".join(reasons) + "; you stay on the list for next month"))
    idle = sum(1 for p in people if not is_leader(p) and p.email not in set(askers))
    notes = (f"{idle} people asked to meet no leader outside their department, so sit this cycle out",) if idle else ()
    return PairingResult(tuple(groups), tuple(unmatched), notes)


def _rule_words(rule: str) -> str:
    """A hard rule's name as a reason an asker reads."""
    return {"no common free time": "no free time in common with you this cycle",
            "blocked": "not possible this cycle", "met recently": "you met recently"}.get(rule, rule)


def takes_part(people: Sequence[Person], suggestions: Mapping[str, frozenset[str]] | None = None) -> frozenset[str]:
    """Who a leader cycle is about: the leaders and everyone with a request that counts."""
    askers = {request.asker for request in leader_requests(people, suggestions or {})}
    return frozenset(askers | {p.email for p in people if is_leader(p)})
