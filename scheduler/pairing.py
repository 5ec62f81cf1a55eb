"""The pairing engine: who meets whom this cycle, and why.

1. Hard rules remove pairs that must never be proposed (same team, met within the cooldown, in-person across
   offices or with someone virtual-only, no common free slot).
2. Soft rules weight the rest, and every weight that applies leaves a human reason behind.
3. Each person keeps their best candidates (a sparse graph), and a maximum-weight matching of maximum
   cardinality picks the pairs: as many people as possible meet, and among those plans the best total score.
4. Anyone left over (an odd count, or nobody suitable) joins the trio where they fit best; whoever still has
   nobody is reported with the reason.

Deterministic for a seed: the seed orders the people and breaks ties between equal scores.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import rustworkx

from scheduler.model import Group, Person, Program, Unmatched
from scheduler.slots import FreeTimeIndex

# rustworkx needs integer weights: scores are scaled by this and rounded.
SCORE_SCALE = 1000
# The seeded jitter that breaks ties is far below any real difference in score (one weight is >= 0.1).
TIE_JITTER = 20
BASE_SCORE = 1.0
CANDIDATES_PER_PERSON = 20


@dataclass(frozen=True)
class PairHistory:
    """What the engine remembers: pairs inside the cooldown, and when each pair last met."""

    recent: frozenset[frozenset[str]] = frozenset()
    last_met: Mapping[frozenset[str], date] = field(default_factory=dict)


@dataclass(frozen=True)
class PairingResult:
    """The groups chosen, who was left out and why, and notes about rules that could not all be met."""

    groups: tuple[Group, ...]
    unmatched: tuple[Unmatched, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Edge:
    score: float
    reasons: tuple[str, ...]


def pair_people(
    people: Sequence[Person],
    program: Program,
    *,
    history: PairHistory,
    today: date,
    seed: int,
    free_time: FreeTimeIndex | None = None,
) -> PairingResult:
    """Group eligible ``people`` for one cycle of ``program``.

    ``free_time``, when given, applies the "no common slot" hard rule and the slot-count and time-zone weights;
    people must all be in it. Raises nothing for awkward inputs (one person, one team): they come back as
    ``unmatched`` with a reason.
    """
    rng = random.Random(seed)  # noqa: S311 - replayable tie-breaking, not cryptography
    order = sorted(people, key=lambda p: p.email)
    rng.shuffle(order)
    index = {person.email: i for i, person in enumerate(order)}

    edges: dict[tuple[int, int], _Edge] = {}
    refusals: list[Counter[str]] = [Counter() for _ in order]
    for i, a in enumerate(order):
        for j in range(i + 1, len(order)):
            b = order[j]
            refusal = _hard_rule(a, b, program, history, free_time)
            if refusal is not None:
                refusals[i][refusal] += 1
                refusals[j][refusal] += 1
                continue
            edges[(i, j)] = _score(a, b, program, history, today, free_time)

    # Integer weights for rustworkx; the seeded jitter also breaks ties when each person's best candidates are
    # chosen, so equal scores do not all favour the same few people.
    weights = {key: round(edge.score * SCORE_SCALE) + rng.randrange(TIE_JITTER) for key, edge in edges.items()}
    graph = rustworkx.PyGraph()
    graph.add_nodes_from(range(len(order)))
    for (i, j) in _sparsify(weights, len(order)):
        graph.add_edge(i, j, weights[(i, j)])
    matching = rustworkx.max_weight_matching(graph, max_cardinality=True, weight_fn=lambda w: w)

    groups: list[list[int]] = [sorted(pair) for pair in sorted(matching, key=min)]
    matched = {i for pair in groups for i in pair}
    leftovers = [i for i in range(len(order)) if i not in matched]
    unmatched: list[Unmatched] = []
    for i in leftovers:
        best: tuple[float, int] | None = None
        for g, members in enumerate(groups):
            if len(members) >= program.group_size + 1:
                continue  # at most one extra person per group: a trio, never a crowd
            pair_edges = [edges.get(_key(i, m)) for m in members]
            if all(edge is not None for edge in pair_edges):
                gain = sum(edge.score for edge in pair_edges if edge is not None) / len(members)
                if best is None or gain > best[0]:
                    best = (gain, g)
        if best is None:
            unmatched.append(Unmatched(order[i].email, _explain(refusals[i], len(order) - 1, program)))
        else:
            groups[best[1]].append(i)

    result_groups = tuple(
        _make_group([order[i] for i in sorted(members, key=lambda m: order[m].email)], edges, index)
        for members in groups
    )
    notes = []
    if unmatched:
        notes.append(f"{len(unmatched)} of {len(order)} people could not be placed; each is told why")
    return PairingResult(
        groups=tuple(sorted(result_groups, key=lambda g: g.members)),
        unmatched=tuple(sorted(unmatched, key=lambda u: u.email)),
        notes=tuple(notes),
    )


def _key(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def _hard_rule(a: Person, b: Person, program: Program, history: PairHistory,
               free_time: FreeTimeIndex | None) -> str | None:
    """The name of the hard rule that forbids this pair, or None when they may meet."""
    if a.team == b.team:
        return "same team"
    if frozenset((a.email, b.email)) in history.recent:
        return "met recently"
    if not _accepted(program.meeting_mode) & _accepted(a.mode) & _accepted(b.mode):
        return "in-person and virtual-only"
    if not meeting_modes((a, b), program):
        return "in person, different offices"
    if free_time is not None and not free_time.common_starts((a.email, b.email)):
        return "no common free time"
    return None


def meeting_modes(members: Sequence[Person], program: Program) -> set[str]:
    """The ways (``in_person``, ``virtual``) this group can meet: what the program and every member accept,
    and in person only when everyone works in the same office."""
    modes = _accepted(program.meeting_mode)
    for person in members:
        modes &= _accepted(person.mode)
    if len({person.office for person in members}) > 1:
        modes.discard("in_person")
    return modes


def _accepted(mode: str) -> set[str]:
    return {"in_person", "virtual"} if mode == "either" else {mode}


def _score(a: Person, b: Person, program: Program, history: PairHistory, today: date,
           free_time: FreeTimeIndex | None) -> _Edge:
    """The soft-rule score of an allowed pair and the reasons behind it, most telling first."""
    weights = program.weights
    score = BASE_SCORE
    reasons: list[str] = []
    if a.department and b.department and a.department != b.department:
        score += weights.different_department
        reasons.append(f"different departments: {a.department} and {b.department}")
    elif a.team != b.team:
        reasons.append(f"different teams: {a.team} and {b.team}")
    if a.office and b.office and a.office != b.office:
        score += weights.different_office
        reasons.append(f"different offices: {a.office} and {b.office}")
    last = history.last_met.get(frozenset((a.email, b.email)))
    if last is None:
        score += weights.never_met
        reasons.append("never met")
    else:
        # Pairs who met long ago are nearly as welcome as new ones; the weight recovers over a year.
        score += weights.never_met * min(1.0, (today - last).days / 365)
        reasons.append(f"last met on {last.isoformat()}")
    shared = sorted(a.interests & b.interests)
    if shared:
        score += weights.shared_interest * min(3, len(shared))
        reasons.append(f"both into {', '.join(shared)}")
    if free_time is not None:
        hours = free_time.common_hours((a.email, b.email))
        score += weights.common_slots * min(1.0, hours / 5)
        reasons.append(f"{hours:g} hours of common free time this cycle" if hours != 1
                       else "one hour of common free time this cycle")
        if a.timezone != b.timezone:
            overlap = free_time.working_overlap(a.email, b.email)
            score += weights.timezone_overlap * overlap
            reasons.append(f"working days overlap {round(overlap * 100)}% ({a.timezone} and {b.timezone})")
    return _Edge(score, tuple(reasons))


def _sparsify(weights: Mapping[tuple[int, int], int], size: int) -> set[tuple[int, int]]:
    """Keep each person's best candidates: the union of everyone's top ``CANDIDATES_PER_PERSON`` edges.

    The matching's cost grows fast with edges; a top-k graph keeps near-optimal plans (see
    shared/reference/matching-facts.md).
    """
    per_person: list[list[tuple[int, tuple[int, int]]]] = [[] for _ in range(size)]
    for key, weight in weights.items():
        per_person[key[0]].append((weight, key))
        per_person[key[1]].append((weight, key))
    kept: set[tuple[int, int]] = set()
    for candidates in per_person:
        candidates.sort(reverse=True)
        kept.update(key for _, key in candidates[:CANDIDATES_PER_PERSON])
    return kept


def _make_group(members: Sequence[Person], edges: Mapping[tuple[int, int], _Edge],
                index: Mapping[str, int]) -> Group:
    score = 0.0
    reasons: list[str] = []
    for x in range(len(members)):
        for y in range(x + 1, len(members)):
            edge = edges[_key(index[members[x].email], index[members[y].email])]
            score += edge.score
            prefix = "" if len(members) == 2 else f"{members[x].name.split()[0]} & {members[y].name.split()[0]}: "
            reasons.extend(prefix + reason for reason in edge.reasons)
    return Group(tuple(p.email for p in members), round(score, 3), tuple(reasons))


_REFUSAL_WORDS = {
    "same team": "{n} are in your own team",
    "met recently": "you met {n} within the last {cooldown} cycles",
    "in-person and virtual-only": "{n} want a different meeting mode (in person vs. virtual)",
    "in person, different offices": "{n} work in another office and this meeting is in person",
    "no common free time": "{n} have no free time in common with you this cycle",
}


def _explain(refusals: Counter[str], others: int, program: Program) -> str:
    """Why nobody could be paired with this person, in words they understand."""
    if others == 0:
        return "you were the only person taking part this cycle"
    allowed = others - sum(refusals.values())
    if allowed > 0:
        return (f"the {allowed} people you could have met were all in full groups this cycle; "
                "you stay in for the next cycle")
    parts = [
        _REFUSAL_WORDS[rule].format(n=count, cooldown=program.cooldown_cycles)
        for rule, count in refusals.most_common()
    ]
    return f"nobody could be paired with you: of {others} other people, " + "; ".join(parts)
