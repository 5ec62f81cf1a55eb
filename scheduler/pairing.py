"""The pairing engine: who meets whom this cycle, and why.

1. Hard rules remove pairs that must never be proposed: same team, met within the cooldown, on a block list,
   in person across offices or with someone virtual-only, no common free slot.
2. Soft rules weight the rest, and every weight that applies leaves a human reason behind.
3. Candidates come from structure, not from all n² pairs: people are cut into random blocks (kept whole
   around wishlists), and inside a block each person samples partners from the department/office buckets
   that score best for them, then scores those exactly. Small organisations score every pair.
4. Each block is solved by a maximum-cardinality, maximum-weight matching (rustworkx) on everyone's best
   candidates; people left over in one block get a second chance across blocks.
5. With an odd count, the odd person is chosen first (not someone who was left over last cycle, when that
   can be avoided) and joins the trio where they fit best. Whoever still has nobody is paired under relaxed
   rules when the program allows it (cooldown first, then team), and otherwise told why.

Deterministic for a seed: the seed orders people, draws blocks and samples, and breaks ties.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import rustworkx

from scheduler.model import Group, Person, Program, Unmatched
from scheduler.slots import FreeTimeIndex

# rustworkx needs integer weights: scores are scaled by this and rounded.
SCORE_SCALE = 1000
# The seeded jitter that breaks ties is far below any real difference in score (one weight is >= 0.1).
TIE_JITTER = 20
BASE_SCORE = 1.0
# Each person keeps this many best candidates in the matching graph (matching-facts.md: k >= 10 kept a
# perfect matching and 99.9% of the optimum).
CANDIDATES_PER_PERSON = 40
# How many allowed partners a person samples before the matching, trying at most MAX_TRIES_PER_PERSON (the
# rest are refused by hard rules: teams, zones without common time, modes), and how many of the best
# buckets' people sharing each of their interests are tried first.
SAMPLES_PER_PERSON = 32
MAX_TRIES_PER_PERSON = 120
SAMPLES_PER_INTEREST = 16
# Sampling takes this many partners from the best buckets for each one drawn from anyone at all.
PREFERRED_PER_RANDOM = 1
# Up to this many people, every pair is scored: exact, and cheap enough.
EXACT_LIMIT = 700
# Blocks of about this size keep rustworkx fast (it grows about with n^2.4) while every block still holds
# a share of every department and office.
BLOCK_SIZE = 1000
# Wishlist pairs are kept in one block; a cap stops one popular person from pulling in a whole company.
WISHLIST_GROUP_CAP = 24
# A leftover person is tried in at least this many groups when looking for the best trio.
TRIO_OPTIONS = 200
# Looking for a swap that gives a trio two hosts who were not left over last cycle: this many groups.
SWAP_SEARCH = 60
# Explaining why someone is unmatched looks at up to this many others.
EXPLAIN_SAMPLE = 3000

RELAXABLE = {"cooldown": ("met recently",), "cooldown_then_team": ("met recently", "same team")}


@dataclass(frozen=True)
class PairHistory:
    """What the engine remembers: pairs inside the cooldown, when each pair last met, and who was in a trio
    or left unmatched in the previous cycle (so it does not happen to them twice running)."""

    recent: frozenset[frozenset[str]] = frozenset()
    last_met: Mapping[frozenset[str], date] = field(default_factory=dict)
    left_over: frozenset[str] = frozenset()
    # Who had the early or late end of the day in a cross-zone meeting last cycle (slot choice rotates it).
    edge_of_day: frozenset[str] = frozenset()


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

    ``free_time``, when given, applies the "no common slot" hard rule and the common-time and time-zone
    weights; people must all be in it. Raises nothing for awkward inputs (nobody, one person, one team):
    they come back as ``unmatched`` with a reason, and ``notes`` say which rules had to give way.
    """
    engine = _Engine(people, program, history, today, seed, free_time)
    return engine.run()


class _Engine:
    """One run of the engine: the people in seeded order, their candidates, and the groups being built."""

    def __init__(self, people: Sequence[Person], program: Program, history: PairHistory, today: date,
                 seed: int, free_time: FreeTimeIndex | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - replayable choices, not cryptography
        self.order = sorted(people, key=lambda p: p.email)
        self.rng.shuffle(self.order)
        self.salt = self.rng.randrange(2**31)
        self.program = program
        self.history = history
        self.today = today
        self.free_time = free_time
        self.index = {person.email: i for i, person in enumerate(self.order)}
        self.candidates: dict[int, list[int]] = defaultdict(list)
        self.relaxed: dict[tuple[int, int], str] = {}

    # -- the run --------------------------------------------------------------------------------------

    def run(self) -> PairingResult:
        everyone = list(range(len(self.order)))
        odd_one = self._choose_odd_one(everyone) if len(everyone) % 2 else None
        to_match = [i for i in everyone if i != odd_one]

        groups: list[list[int]] = []
        leftovers: list[int] = []
        for block in self._blocks(to_match):
            pairs, left = self._match(block)
            groups.extend(pairs)
            leftovers.extend(left)
        if len(leftovers) > 1:  # a second chance across blocks
            pairs, leftovers = self._match(leftovers)
            groups.extend(pairs)
        if odd_one is not None:
            leftovers.append(odd_one)

        leftovers = self._attach_to_trios(leftovers, groups)
        notes: list[str] = []
        for relaxed_rule in RELAXABLE.get(self.program.relax, ()):
            if len(leftovers) < 1:
                break
            before = len(leftovers)
            pairs, leftovers = self._match(leftovers, relax=relaxed_rule)
            groups.extend(pairs)
            leftovers = self._attach_to_trios(leftovers, groups, relax=relaxed_rule)
            if len(leftovers) < before:
                notes.append(f"rule relaxed for {before - len(leftovers)} people: {relaxed_rule} "
                             "(nobody else could meet them)")

        unmatched = [Unmatched(self.order[i].email, self._explain(i)) for i in leftovers]
        if unmatched:
            notes.append(f"{len(unmatched)} of {len(self.order)} people could not be placed; each is told why")
        result_groups = [self._make_group(members) for members in groups]
        return PairingResult(
            groups=tuple(sorted(result_groups, key=lambda g: g.members)),
            unmatched=tuple(sorted(unmatched, key=lambda u: u.email)),
            notes=tuple(notes),
        )

    def _choose_odd_one(self, everyone: list[int]) -> int:
        """The person who will join a trio: not someone left over last cycle, when anyone else can be."""
        for i in everyone:  # seeded order, so the choice rotates between cycles
            if self.order[i].email not in self.history.left_over:
                return i
        return everyone[0]

    def _blocks(self, members: list[int]) -> list[list[int]]:
        """Random blocks of about BLOCK_SIZE (even sizes), each wishlist circle kept inside one block."""
        if len(members) <= BLOCK_SIZE * 1.5:
            return [members]
        circles = _wishlist_circles(members, self.order, self.index)
        self.rng.shuffle(circles)
        flat = [i for circle in circles for i in circle]
        count = max(1, round(len(flat) / BLOCK_SIZE))
        size = -(-len(flat) // count)
        size += size % 2
        return [flat[start:start + size] for start in range(0, len(flat), size)]

    # -- candidates and matching ------------------------------------------------------------------------

    def _match(self, members: list[int], relax: str | None = None) -> tuple[list[list[int]], list[int]]:
        """Pairs among ``members`` (max cardinality, then max weight) and those left without a partner."""
        if len(members) < 2:
            return [], list(members)
        graph_edges: dict[tuple[int, int], int] = {}
        seen: set[tuple[int, int]] = set()
        exact = len(members) <= EXACT_LIMIT
        for i, others in self._candidate_streams(members):
            valid = tried = 0
            for other in others:
                key = _key(i, other)
                if key in seen:
                    continue
                seen.add(key)
                tried += 1
                edge = self._edge(key[0], key[1], relax)
                if edge is not None:
                    graph_edges[key] = round(edge.score * SCORE_SCALE) + self._jitter(key)
                    valid += 1
                # Sampling goes on past refused partners (other zones, modes, teams) until enough are allowed.
                if not exact and (valid >= SAMPLES_PER_PERSON or tried >= MAX_TRIES_PER_PERSON):
                    break
        position = {person: n for n, person in enumerate(members)}
        graph = rustworkx.PyGraph()
        graph.add_nodes_from(members)
        for (a, b) in _keep_best(graph_edges, CANDIDATES_PER_PERSON):
            graph.add_edge(position[a], position[b], graph_edges[(a, b)])
            self.candidates[a].append(b)
            self.candidates[b].append(a)
        matching = rustworkx.max_weight_matching(graph, max_cardinality=True, weight_fn=lambda w: w)
        # rustworkx returns a set: sort it, so the plan does not depend on hash order.
        pairs = sorted(sorted((members[x], members[y])) for x, y in matching)
        if relax is not None:
            for a, b in pairs:
                self.relaxed[_key(a, b)] = relax
        matched = {i for pair in pairs for i in pair}
        return pairs, [i for i in members if i not in matched]

    def _jitter(self, key: tuple[int, int]) -> int:
        """A seeded tie-breaker for one pair: the same in every pass, far below any real score difference."""
        return ((key[0] * 2654435761) ^ (key[1] * 40503) ^ self.salt) % TIE_JITTER

    def _candidate_streams(self, members: list[int]) -> Iterator[tuple[int, Iterator[int]]]:
        """For each person, the partners to try, best-looking first: everyone (once per pair) among few
        people; otherwise wished-for people, then people sharing an interest in the best buckets, then the
        buckets (department, office, time zone) that suit them, best tier first, in random order."""
        if len(members) <= EXACT_LIMIT:
            for x, a in enumerate(members):
                yield a, iter(members[x + 1:])
            return
        buckets: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for i in members:
            person = self.order[i]
            buckets[(person.department, person.office, person.timezone)].append(i)
        in_block = set(members)
        everyone = list(members)
        self.rng.shuffle(everyone)
        tiers: dict[tuple[str, str, str], list[list[int]]] = {}
        interest_pools: dict[str, list[int]] = {}
        for i in members:
            person = self.order[i]
            home = (person.department, person.office, person.timezone)
            if home not in tiers:  # everyone in a bucket sees the other buckets alike
                tiers[home] = self._tiers(home, buckets)
            for interest in sorted(person.interests):  # sorted: string hashes vary per process
                if interest not in interest_pools:
                    interest_pools[interest] = [j for j in everyone if interest in self.order[j].interests]
            yield i, self._stream(i, person, in_block, tiers[home], interest_pools, everyone)

    def _stream(self, i: int, person: Person, in_block: set[int], tiers: list[list[int]],
                interest_pools: Mapping[str, list[int]], everyone: list[int]) -> Iterator[int]:
        for wish in sorted(person.wishlist):
            wished = self.index.get(wish)
            if wished is not None and wished in in_block and wished != i:
                yield wished
        # Shared interests are invisible at bucket level: look for them directly.
        for interest in sorted(person.interests):
            yield from self._sample(i, interest_pools[interest], SAMPLES_PER_INTEREST)
        # Best buckets first, interleaved with anyone at all: if everyone's favourite buckets are the same few
        # people, a graph of favourites alone has no room for everyone to get a partner.
        preferred = (other for pool in tiers for other in self._sample(i, pool, len(pool)))
        anyone = self._sample(i, everyone, len(everyone))
        for batch in itertools.zip_longest(*[preferred] * PREFERRED_PER_RANDOM, anyone):
            yield from (other for other in batch if other is not None)

    def _tiers(self, home: tuple[str, str, str],
               buckets: Mapping[tuple[str, str, str], list[int]]) -> list[list[int]]:
        """The members of the buckets (department, office, time zone), pooled by how well they suit someone
        in ``home`` (best first) and shuffled, so a run of a pool is a random mix of all its buckets. With
        calendars in play, zones whose working days barely overlap come last."""
        weights = self.program.weights
        by_score: dict[float, list[int]] = defaultdict(list)
        for bucket, pool in buckets.items():
            score = (weights.different_department * (bucket[0] != home[0])
                     + weights.different_office * (bucket[1] != home[1]))
            if self.free_time is not None and bucket[2] != home[2]:
                overlap = _zone_overlap(home[2], bucket[2], self.free_time.window.start)
                score = score + weights.timezone_overlap * overlap if overlap > 0 else -1.0
            by_score[round(score, 6)].extend(pool)
        pools = [by_score[score] for score in sorted(by_score, reverse=True)]
        for pool in pools:
            self.rng.shuffle(pool)
        return pools

    def _sample(self, i: int, pool: Sequence[int], count: int) -> Iterator[int]:
        """Up to ``count`` members of ``pool`` other than ``i``, consecutive from a random start (pools are
        shuffled once, so that is a random sample)."""
        if not pool:
            return
        start = self.rng.randrange(len(pool))
        for step in range(min(count, len(pool))):
            other = pool[(start + step) % len(pool)]
            if other != i:
                yield other

    def _edge(self, a: int, b: int, relax: str | None = None, *, explain: bool = False) -> _Edge | None:
        """The scored edge between two people, or None when a hard rule (not relaxed) forbids it. Reasons
        are written only when ``explain`` is set: formatting them for every candidate would cost more than
        scoring."""
        first, second = self.order[a], self.order[b]
        refusal = _hard_rule(first, second, self.program, self.history, self.free_time)
        if refusal is not None and not _may_relax(refusal, relax):
            return None
        edge = _score(first, second, self.program, self.history, self.today, self.free_time, explain=explain)
        if refusal is not None and explain:
            edge = _Edge(edge.score, (*edge.reasons, f"{refusal}: paired anyway because nobody else was free"))
        return edge

    def _attach_to_trios(self, leftovers: list[int], groups: list[list[int]],
                         relax: str | None = None) -> list[int]:
        """Put each leftover person into the pair where they fit best; return who is still left."""
        group_of = {member: g for g, members in enumerate(groups) for member in members}
        still_left = []
        for i in leftovers:
            options = {group_of[c] for c in self.candidates.get(i, ()) if c in group_of}
            if len(groups) <= EXACT_LIMIT:
                options = set(range(len(groups)))
            elif len(options) < TRIO_OPTIONS:
                # Few known partners: look at a random handful of groups too, not at every group (that was
                # quadratic when many people had no partner at all).
                options |= set(self.rng.sample(range(len(groups)), TRIO_OPTIONS))
            best: tuple[bool, float, int] | None = None
            for g in sorted(options):
                members = groups[g]
                if len(members) != 2:
                    continue  # at most one extra person per group: a trio, never a crowd
                edges = [self._edge(i, m, relax) for m in members]
                if all(edge is not None for edge in edges):
                    # Prefer a pair where nobody was in a trio or left out last cycle, then the best fit.
                    fresh = not any(self.order[m].email in self.history.left_over for m in members)
                    option = (fresh, sum(edge.score for edge in edges if edge is not None), g)
                    if best is None or option[:2] > best[:2]:
                        best = option
            needs_fresh_host = (best is None or not best[0]) and bool(self.history.left_over)
            if needs_fresh_host and self._swap_for_fresh_host(i, groups, sorted(options)[:SWAP_SEARCH],
                                                              group_of, relax):
                continue
            if best is None:
                still_left.append(i)
            else:
                chosen = best[2]
                groups[chosen].append(i)
                group_of[i] = chosen
                if relax is not None:
                    for m in groups[chosen][:-1]:
                        self.relaxed[_key(i, m)] = relax
        return still_left

    def _swap_for_fresh_host(self, i: int, groups: list[list[int]], options: list[int],
                             group_of: dict[int, int], relax: str | None) -> bool:
        """Swap partners between two pairs so that ``i`` joins two people who were not left over last cycle;
        True when done. Used only when no such pair exists as matched."""
        fresh = [g for g in options if len(groups[g]) == 2]
        best: tuple[float, int, int, int, int] | None = None
        for n, g1 in enumerate(fresh):
            for g2 in fresh[n + 1:]:
                for x in groups[g1]:
                    for y in groups[g2]:
                        if {self.order[x].email, self.order[y].email} & self.history.left_over:
                            continue
                        o1 = next(m for m in groups[g1] if m != x)
                        o2 = next(m for m in groups[g2] if m != y)
                        edges = [self._edge(a, b, relax) for a, b in ((i, x), (i, y), (x, y), (o1, o2))]
                        if any(edge is None for edge in edges):
                            continue
                        gain = sum(edge.score for edge in edges if edge is not None)
                        if best is None or gain > best[0]:
                            best = (gain, g1, g2, x, y)
        if best is None:
            return False
        _, g1, g2, x, y = best
        o1 = next(m for m in groups[g1] if m != x)
        o2 = next(m for m in groups[g2] if m != y)
        groups[g1], groups[g2] = [x, y, i], [o1, o2]
        group_of.update({x: g1, y: g1, i: g1, o1: g2, o2: g2})
        if relax is not None:
            for a, b in ((i, x), (i, y), (x, y), (o1, o2)):
                self.relaxed[_key(a, b)] = relax
        return True

    # -- results ----------------------------------------------------------------------------------------

    def _make_group(self, members: list[int]) -> Group:
        people = sorted((self.order[i] for i in members), key=lambda p: p.email)
        score = 0.0
        reasons: list[str] = []
        for x in range(len(people)):
            for y in range(x + 1, len(people)):
                a, b = self.index[people[x].email], self.index[people[y].email]
                edge = self._edge(a, b, self.relaxed.get(_key(a, b)), explain=True)
                if edge is None:  # cannot happen: every grouped pair was allowed when it was grouped
                    raise RuntimeError(f"grouped a forbidden pair: {people[x].email}, {people[y].email}")
                score += edge.score
                prefix = "" if len(people) == 2 else f"{_first_name(people[x])} & {_first_name(people[y])}: "
                reasons.extend(prefix + reason for reason in edge.reasons)
        return Group(tuple(p.email for p in people), round(score, 3), tuple(reasons))

    def _explain(self, i: int) -> str:
        """Why nobody could be paired with this person, in words they understand."""
        others = [j for j in range(len(self.order)) if j != i]
        if not others:
            return "you were the only person taking part this cycle"
        sample = others if len(others) <= EXPLAIN_SAMPLE else self.rng.sample(others, EXPLAIN_SAMPLE)
        refusals: Counter[str] = Counter()
        for j in sample:
            refusal = _hard_rule(self.order[i], self.order[j], self.program, self.history, self.free_time)
            if refusal is not None:
                refusals[refusal] += 1
        scale = len(others) / len(sample)
        allowed = len(sample) - sum(refusals.values())
        if allowed > 0:
            return (f"the {_about(allowed * scale, scale)} people you could have met were all in full groups "
                    "this cycle; you stay in for the next one")
        parts = [
            _REFUSAL_WORDS[rule].format(n=_about(count * scale, scale), cooldown=self.program.cooldown_cycles)
            for rule, count in refusals.most_common()
        ]
        return f"nobody could be paired with you: of {len(others)} other people, " + "; ".join(parts)


def _zone_overlap(zone_a: str, zone_b: str, moment: datetime) -> float:
    """Share of a 09:00-17:00 day that two zones have in common at ``moment`` (0 to 1): a cheap estimate to
    rank buckets; the exact overlap of each pair comes from the free-time index."""
    offset_a = moment.astimezone(ZoneInfo(zone_a)).utcoffset() or timedelta(0)
    offset_b = moment.astimezone(ZoneInfo(zone_b)).utcoffset() or timedelta(0)
    apart = abs((offset_a - offset_b).total_seconds()) / 3600
    return max(0.0, 8 - apart) / 8


def _key(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def _about(value: float, scale: float) -> str:
    return str(round(value)) if scale == 1 else f"about {round(value)}"


def _first_name(person: Person) -> str:
    return person.name.split()[0] if person.name.split() else person.email


def _may_relax(refusal: str, relax: str | None) -> bool:
    """Whether the hard rule named ``refusal`` gives way under the relaxation step ``relax``."""
    if relax is None:
        return False
    steps = RELAXABLE["cooldown_then_team"]
    return refusal in steps[: steps.index(relax) + 1]


def _keep_best(weights: Mapping[tuple[int, int], int], k: int) -> set[tuple[int, int]]:
    """The union of everyone's ``k`` heaviest edges. The matching's cost grows fast with edges, and a top-k
    graph keeps near-optimal plans (see shared/reference/matching-facts.md)."""
    per_person: dict[int, list[tuple[int, tuple[int, int]]]] = defaultdict(list)
    for key, weight in weights.items():
        per_person[key[0]].append((weight, key))
        per_person[key[1]].append((weight, key))
    kept: set[tuple[int, int]] = set()
    for candidates in per_person.values():
        candidates.sort(reverse=True)
        kept.update(key for _, key in candidates[:k])
    return kept


def _wishlist_circles(members: list[int], order: Sequence[Person], index: Mapping[str, int]) -> list[list[int]]:
    """People joined by wishlist entries naming a person, in circles of at most WISHLIST_GROUP_CAP."""
    parent = {i: i for i in members}
    size = dict.fromkeys(members, 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in members:
        for wish in sorted(order[i].wishlist):
            j = index.get(wish)
            if j is None or j not in parent:
                continue
            a, b = root(i), root(j)
            if a != b and size[a] + size[b] <= WISHLIST_GROUP_CAP:
                parent[b] = a
                size[a] += size[b]
    circles: dict[int, list[int]] = defaultdict(list)
    for i in members:
        circles[root(i)].append(i)
    return list(circles.values())


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
    return set(_ACCEPTED[mode])


_ACCEPTED = {
    "either": frozenset({"in_person", "virtual"}),
    "in_person": frozenset({"in_person"}),
    "virtual": frozenset({"virtual"}),
}


def _hard_rule(a: Person, b: Person, program: Program, history: PairHistory,
               free_time: FreeTimeIndex | None) -> str | None:
    """The name of the hard rule that forbids this pair, or None when they may meet."""
    if b.email in a.blocked or a.email in b.blocked:
        return "blocked"
    modes = _ACCEPTED[program.meeting_mode] & _ACCEPTED[a.mode] & _ACCEPTED[b.mode]
    if not modes:
        return "in-person and virtual-only"
    if "virtual" not in modes and a.office != b.office:
        return "in person, different offices"
    if free_time is not None and not free_time.common_starts((a.email, b.email)):
        return "no common free time"
    if a.team == b.team:
        return "same team"
    if frozenset((a.email, b.email)) in history.recent:
        return "met recently"
    return None


def _score(a: Person, b: Person, program: Program, history: PairHistory, today: date,
           free_time: FreeTimeIndex | None, *, explain: bool = True) -> _Edge:
    """The soft-rule score of an allowed pair and, when ``explain``, the reasons behind it, most telling
    first."""
    weights = program.weights
    score = BASE_SCORE
    reasons: list[str] = []
    if a.department and b.department and a.department != b.department:
        score += weights.different_department
        if explain:
            reasons.append(f"different departments: {a.department} and {b.department}")
    elif explain and a.team != b.team:
        reasons.append(f"different teams: {a.team} and {b.team}")
    if a.office and b.office and a.office != b.office:
        score += weights.different_office
        if explain:
            reasons.append(f"different offices: {a.office} and {b.office}")
    last = history.last_met.get(frozenset((a.email, b.email))) if history.last_met else None
    if last is None:
        score += weights.never_met
        if explain:
            reasons.append("never met")
    else:
        # Pairs who met long ago are nearly as welcome as new ones; the weight recovers over a year.
        score += weights.never_met * min(1.0, (today - last).days / 365)
        if explain:
            reasons.append(f"last met on {last.isoformat()}")
    wish = (a.wishlist or b.wishlist) and (_wish_reason(a, b) or _wish_reason(b, a))
    if wish:
        score += weights.wishlist
        if explain:
            reasons.append(wish)
    shared = a.interests & b.interests if a.interests and b.interests else None
    if shared:
        score += weights.shared_interest * min(3, len(shared))
        if explain:
            reasons.append(f"both into {', '.join(sorted(shared))}")
    if not (a.manager and a.manager == b.manager):
        score += weights.no_shared_manager
    level_a, level_b = (_level(a), _level(b)) if weights.seniority_mix else (None, None)
    if level_a is not None and level_b is not None and level_a != level_b:
        score += weights.seniority_mix * min(3, abs(level_a - level_b))
        if explain:
            reasons.append(f"seniority mix: levels {min(level_a, level_b)} and {max(level_a, level_b)}")
    if free_time is not None:
        hours = free_time.common_hours((a.email, b.email))
        score += weights.common_slots * min(1.0, hours / 5)
        if explain:
            reasons.append(f"{hours:g} hours of common free time this cycle" if hours != 1
                           else "one hour of common free time this cycle")
        if a.timezone != b.timezone:
            overlap = free_time.working_overlap(a.email, b.email)
            score += weights.timezone_overlap * overlap
            if explain:
                reasons.append(f"working days overlap {round(overlap * 100)}% ({a.timezone} and {b.timezone})")
    return _Edge(score, tuple(reasons))


def _wish_reason(wisher: Person, other: Person) -> str | None:
    """Why ``wisher``'s wishlist wants ``other``, in words, or None."""
    if other.email in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet {other.name}"
    if other.team and f"team:{other.team}" in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet someone in {other.team}"
    if other.department and f"department:{other.department}" in wisher.wishlist:
        return f"{_first_name(wisher)} asked to meet someone in {other.department}"
    return None


def _level(person: Person) -> int | None:
    return int(person.seniority) if person.seniority.isdigit() else None


_REFUSAL_WORDS = {
    "blocked": "{n} are on a block list with you",
    "same team": "{n} are in your own team",
    "met recently": "you met {n} within the last {cooldown} cycles",
    "in-person and virtual-only": "{n} want a different meeting mode (in person vs. virtual)",
    "in person, different offices": "{n} work in another office and this meeting is in person",
    "no common free time": "{n} have no free time in common with you this cycle",
}
