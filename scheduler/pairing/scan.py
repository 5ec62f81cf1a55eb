"""Every pair's score at once: the engine's hard rules (``rules.hard_rule``) and the score's table of terms
(``score.TERMS``, each term's ``vector_value``) evaluated for many pairs in one go with numpy.

Used where scoring pairs one by one in Python would be too slow: the candidate lists of medium-sized
organisations (each person's best partners, found exactly rather than sampled) and the certified upper bound
(``bound``), which needs, for every person, their best partners *and* a number no other partner can beat.

The terms are added in the table's order, each as weight times value, so each score is the very float that
``score.score_pair`` returns (``tests/unit/test_score_table.py`` and ``tests/unit/test_pairing_scan.py`` check
it on generated organisations): a term that does not apply adds 0.0, which changes no float. Everything that
depends on a pair rather than on its two people's attributes (history, block lists, named wishes) is a handful
of entries per person, patched in per row after the vectorised part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scheduler.availability.slots import STEP, FreeTimeIndex
from scheduler.model import Person, Program
from scheduler.pairing.rules import MODE_BITS, VIRTUAL_BIT, PairHistory
from scheduler.pairing.score import BASE_SCORE, PairArrays, PeopleColumns, Side, seniority_level, weighted_terms

# Rows scored per numpy call: large enough that per-call overhead vanishes, small enough that a chunk of rows
# times everyone stays a few tens of megabytes.
CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class TopPartners:
    """For each person (row), their ``k`` best allowed partners and scores, best first (index -1 and score
    -inf pad rows with fewer), and ``rest``: the best score among all their other allowed partners (-inf when
    there are none), which no partner outside the list can beat."""

    index: NDArray[np.int64]
    score: NDArray[np.float64]
    rest: NDArray[np.float64]


@dataclass(frozen=True)
class _PairFacts:
    """What belongs to pairs rather than people, as sorted keys (see ``PairScanner._pair_facts``)."""

    history_keys: NDArray[np.int64]
    history_recent: NDArray[np.bool_]
    history_factor: NDArray[np.float64]
    wish_keys: NDArray[np.int64]
    blocked_keys: NDArray[np.int64]
    wish_group_keys: NDArray[np.int64]


class PairScanner:
    """The scores of ``people`` (in this order) against each other, for one program, history and calendar.

    ``relax`` names the hard rule that may give way ("met recently", or "same team" which lets both give way),
    as in the engine's relaxation passes.
    """

    def __init__(self, people: Sequence[Person], program: Program, history: PairHistory, today: date,
                 free_time: FreeTimeIndex | None = None, relax: str | None = None) -> None:
        self.people = list(people)
        self.program = program
        self.weights = program.weights
        self.free_time = free_time
        self.relax_team = relax == "same team"
        self.relax_recent = relax in ("met recently", "same team")
        n = len(self.people)
        index = {person.email: i for i, person in enumerate(self.people)}
        self.index = index

        def ids(values: Sequence[str], *, blank_is_none: bool) -> NDArray[np.int64]:
            table: dict[str, int] = {}
            return np.array([-1 if blank_is_none and not value else table.setdefault(value, len(table))
                             for value in values], dtype=np.int64)

        self.team = ids([p.team for p in self.people], blank_is_none=False)
        self.team_names = {p.team: int(t) for p, t in zip(self.people, self.team, strict=True)}
        self.department = ids([p.department for p in self.people], blank_is_none=True)
        self.department_names = {p.department: int(d) for p, d in zip(self.people, self.department, strict=True)
                                 if p.department}
        self.office_named = ids([p.office for p in self.people], blank_is_none=True)
        self.office_raw = ids([p.office for p in self.people], blank_is_none=False)
        self.manager = ids([p.manager for p in self.people], blank_is_none=True)
        self.zone = ids([p.timezone for p in self.people], blank_is_none=False)
        program_modes = MODE_BITS[program.meeting_mode]
        self.modes = np.array([program_modes & MODE_BITS[p.mode] for p in self.people], dtype=np.int64)
        levels = [seniority_level(p, program.seniority_levels) for p in self.people]
        self.has_level = np.array([level is not None for level in levels])
        self.level = np.array([level or 0 for level in levels], dtype=np.int64)

        vocabulary: dict[str, int] = {}
        for person in self.people:
            for interest in sorted(person.interests):
                vocabulary.setdefault(interest, len(vocabulary))
        # 0/1 matrices: shared interests and common start steps are counted by matrix products (exact in
        # float32 for counts below 2**24), far faster than bitwise popcounts over every pair.
        self.interests = np.zeros((n, len(vocabulary)), dtype=np.float32)
        for i, person in enumerate(self.people):
            for interest in person.interests:
                self.interests[i, vocabulary[interest]] = 1.0

        # Pair-specific facts, per person: history, blocks and named wishes.
        self.history_of: dict[int, dict[int, tuple[bool, float]]] = defaultdict(dict)
        for pair, met_on in history.last_met.items():
            self._add_history(pair, met_on, today, history)
        for pair in history.recent:
            if pair not in history.last_met:
                self._add_history(pair, None, today, history)
        self.blocked: dict[int, set[int]] = defaultdict(set)
        # Pairs grouped by another program this window are refused as a block is: no relaxation lets them meet.
        for pair in history.apart:
            a_email, b_email = sorted(pair)
            if a_email in index and b_email in index:
                self.blocked[index[a_email]].add(index[b_email])
                self.blocked[index[b_email]].add(index[a_email])
        self.wish_people: dict[int, set[int]] = defaultdict(set)
        self.wish_teams: dict[int, list[int]] = defaultdict(list)
        self.wish_departments: dict[int, list[int]] = defaultdict(list)
        self.wished_by_person: dict[int, set[int]] = defaultdict(set)
        self.wished_by_team: dict[int, list[int]] = defaultdict(list)
        self.wished_by_department: dict[int, list[int]] = defaultdict(list)
        for i, person in enumerate(self.people):
            for other in person.blocked:
                if other in index:
                    self.blocked[i].add(index[other])
                    self.blocked[index[other]].add(i)
            for wish in sorted(person.wishlist):
                kind, sep, name = wish.partition(":")
                if sep and kind == "team" and name in self.team_names:
                    self.wish_teams[i].append(self.team_names[name])
                    self.wished_by_team[self.team_names[name]].append(i)
                elif sep and kind == "department" and name in self.department_names:
                    self.wish_departments[i].append(self.department_names[name])
                    self.wished_by_department[self.department_names[name]].append(i)
                elif wish in index:
                    self.wish_people[i].add(index[wish])
                    self.wished_by_person[index[wish]].add(i)

        self.starts: NDArray[np.uint64] | None = None
        if free_time is not None:
            # A group can start a meeting at a step when every member can: the engine's common_starts of a
            # pair is the AND of each one's own starts, so one bitset per person is enough.
            self.starts = _int_bitsets([free_time.common_starts([p.email]) for p in self.people], free_time.steps)
            self.steps = free_time.steps
            classes: dict[tuple[object, ...], int] = {}
            representatives: list[str] = []
            work_class = []
            for person in self.people:
                key = (person.timezone, person.working_hours, person.office, person.lunch)
                if key not in classes:
                    classes[key] = len(representatives)
                    representatives.append(person.email)
                work_class.append(classes[key])
            self.work_class = np.array(work_class, dtype=np.int64)
            size = len(representatives)
            self.overlap = np.array([[free_time.working_overlap(representatives[a], representatives[b])
                                      for b in range(size)] for a in range(size)], dtype=np.float64)
        self.columns = PeopleColumns(department=self.department, office=self.office_named, level=self.level,
                                     has_level=self.has_level, zone=self.zone, manager=self.manager)
        self.size = n
        self.team_count = len(self.team_names)
        self.department_count = len(self.department_names)
        self._facts: _PairFacts | None = None

    def _add_history(self, pair: frozenset[str], met_on: date | None, today: date, history: PairHistory) -> None:
        if len(pair) != 2:
            return
        first, second = pair
        a, b = self.index.get(first), self.index.get(second)
        if a is None or b is None:
            return
        recent = pair in history.recent
        factor = -1.0 if met_on is None else min(1.0, (today - met_on).days / 365)
        self.history_of[a][b] = self.history_of[b][a] = (recent, factor)

    def scores(self, rows: NDArray[np.int64], columns: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """The scores of ``rows`` (people's positions) against ``columns`` (default everyone): a
        len(rows) × len(columns) array, -inf where a hard rule forbids the pair or a person meets themself."""
        cols = np.arange(self.size) if columns is None else columns
        r = rows[:, None]
        never_met = np.ones((len(rows), len(cols)))
        wished = np.zeros(never_met.shape, dtype=bool)
        forbidden = np.zeros(never_met.shape, dtype=bool)
        self._patch(rows, cols, never_met, wished, forbidden)
        shared: NDArray[np.int64] | int = 0
        if self.interests.shape[1]:
            shared = (self.interests[rows] @ self.interests[cols].T).astype(np.int64)
        modes = self.modes[r] & self.modes[cols]
        forbidden |= modes == 0
        forbidden |= ((modes & VIRTUAL_BIT) == 0) & (self.office_raw[r] != self.office_raw[cols])
        hours = overlap = None
        if self.starts is not None:
            common = (self._start_matrix(rows) @ self._start_matrix(cols).T).astype(np.int64)
            forbidden |= common == 0
            hours = common * STEP.total_seconds() / 3600
            overlap = self.overlap[self.work_class[r], self.work_class[cols]]
        score = self._add_terms(Side(self.columns, r), Side(self.columns, cols),
                                PairArrays(never_met=never_met, wished=wished, shared=shared, hours=hours,
                                           overlap=overlap), never_met.shape)
        if not self.relax_team:
            forbidden |= self.team[r] == self.team[cols]
        forbidden |= rows[:, None] == cols[None, :]
        score[forbidden] = -np.inf
        return score

    def _add_terms(self, a: Side, b: Side, pair: PairArrays, shape: tuple[int, ...]) -> NDArray[np.float64]:
        """BASE_SCORE plus every weighted term of the score's table, in its order, for the pairs of ``a`` and
        ``b``."""
        score = np.full(shape, BASE_SCORE)
        for term, weight in weighted_terms(self.weights, calendars=self.starts is not None):
            score += weight * term.vector_value(a, b, pair)
        return score

    def pair_scores(self, first: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.float64]:
        """The scores of the pairs (first[i], second[i]), one each: ``scores`` term by term, pair by pair
        rather than row by column (so each is the very float ``score.score_pair`` returns), -inf where a hard rule
        forbids the pair. Costs O(len(first)), whoever the people are: local search scores pairs that no
        candidate list holds."""
        a, b = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
        facts = self._pair_facts()
        keys = a * self.size + b
        met = _lookup(facts.history_keys, keys)
        factor = _take(facts.history_factor, met, -1.0)
        wished = _lookup(facts.wish_keys, keys) >= 0
        if len(facts.wish_group_keys):
            teams, departments = self.team_count, self.department_count
            for x, y in ((a, b), (b, a)):
                wished |= _lookup(facts.wish_group_keys, x * (teams + departments) + self.team[y]) >= 0
                named = self.department[y] >= 0
                wished |= named & (_lookup(facts.wish_group_keys,
                                           x * (teams + departments) + teams + self.department[y]) >= 0)
        shared: NDArray[np.int64] | int = 0
        if self.interests.shape[1]:
            shared = np.einsum("ij,ij->i", self.interests[a], self.interests[b]).astype(np.int64)
        modes = self.modes[a] & self.modes[b]
        forbidden = modes == 0
        forbidden |= ((modes & VIRTUAL_BIT) == 0) & (self.office_raw[a] != self.office_raw[b])
        hours = overlap = None
        if self.starts is not None:
            common = np.bitwise_count(self.starts[a] & self.starts[b]).sum(axis=1).astype(np.int64)
            forbidden |= common == 0
            hours = common * STEP.total_seconds() / 3600
            overlap = self.overlap[self.work_class[a], self.work_class[b]]
        pair = PairArrays(never_met=np.where(factor >= 0, factor, 1.0), wished=wished, shared=shared, hours=hours,
                          overlap=overlap)
        score = self._add_terms(Side(self.columns, a), Side(self.columns, b), pair, a.shape)
        if not self.relax_team:
            forbidden |= self.team[a] == self.team[b]
        if not self.relax_recent:
            forbidden |= _take(facts.history_recent, met, False)
        forbidden |= _lookup(facts.blocked_keys, keys) >= 0
        forbidden |= a == b
        score[forbidden] = -np.inf
        return score

    def _pair_facts(self) -> _PairFacts:
        """History, blocks and wishes as sorted integer keys (first * size + second, both orders), built on
        first use, so ``pair_scores`` finds them by binary search."""
        if self._facts is None:
            n = self.size
            history = sorted((a * n + b, recent, factor) for a, row in self.history_of.items()
                             for b, (recent, factor) in row.items())
            wishes = sorted({key for a, others in self.wish_people.items() for b in others
                             for key in (a * n + b, b * n + a)})
            blocked = sorted({a * n + b for a, others in self.blocked.items() for b in others})
            groups = self.team_count + self.department_count
            wish_groups = sorted({a * groups + team for a, teams in self.wish_teams.items() for team in teams}
                                 | {a * groups + self.team_count + department
                                    for a, departments in self.wish_departments.items()
                                    for department in departments})
            self._facts = _PairFacts(
                history_keys=np.array([key for key, _, _ in history], dtype=np.int64),
                history_recent=np.array([recent for _, recent, _ in history], dtype=bool),
                history_factor=np.array([factor for _, _, factor in history], dtype=np.float64),
                wish_keys=np.array(wishes, dtype=np.int64),
                blocked_keys=np.array(blocked, dtype=np.int64),
                wish_group_keys=np.array(wish_groups, dtype=np.int64),
            )
        return self._facts

    def _start_matrix(self, people: NDArray[np.int64]) -> NDArray[np.float32]:
        """The start steps of ``people`` as a 0/1 matrix, one row each (unpacked from the stored bitsets)."""
        if self.starts is None:
            raise ValueError("no calendars: this scanner has no start steps")
        packed = self.starts[people].view(np.uint8)
        return np.unpackbits(packed, axis=1, bitorder="little")[:, : self.steps].astype(np.float32)

    def _patch(self, rows: NDArray[np.int64], cols: NDArray[np.int64], never_met: NDArray[np.float64],
               wished: NDArray[np.bool_], forbidden: NDArray[np.bool_]) -> None:
        """History (as the never-met factor), blocks and wishes, which belong to pairs, into the ``rows`` ×
        ``cols`` arrays: each fact
        found by binary search among the sorted keys of ``_pair_facts``, so the cost is the facts of these
        rows, not a Python loop per row (``cols`` are distinct)."""
        n, facts = self.size, self._pair_facts()
        by_person = np.argsort(cols, kind="stable")
        sorted_cols = cols[by_person]

        def cells(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
            """(row position, column position, index of the key) of the keys row * n + other in ``cols``."""
            x, at = _spans(np.searchsorted(keys, rows * n), np.searchsorted(keys, rows * n + n))
            other = keys[at] % n
            found = np.minimum(np.searchsorted(sorted_cols, other), max(len(cols) - 1, 0))
            hit = sorted_cols[found] == other if len(cols) else np.zeros(len(other), dtype=bool)
            return x[hit], by_person[found[hit]], at[hit]

        x, j, at = cells(facts.history_keys)
        factor = facts.history_factor[at]
        met = factor >= 0
        never_met[x[met], j[met]] = factor[met]
        if not self.relax_recent:
            recent = facts.history_recent[at]
            forbidden[x[recent], j[recent]] = True
        x, j, _ = cells(facts.blocked_keys)
        forbidden[x, j] = True
        x, j, _ = cells(facts.wish_keys)
        wished[x, j] = True
        if len(facts.wish_group_keys):
            self._patch_group_wishes(rows, cols, wished)

    def _patch_group_wishes(self, rows: NDArray[np.int64], cols: NDArray[np.int64],
                            wished: NDArray[np.bool_]) -> None:
        """A row who wished a column's team or department, or a column who wished a row's, is a wish."""
        keys, teams = self._pair_facts().wish_group_keys, self.team_count
        groups = teams + self.department_count
        for wisher_is_row in (True, False):
            wishers, others = (rows, cols) if wisher_is_row else (cols, rows)
            # (wisher position, group wished): a group below ``teams`` is a team, above it a department.
            who, at = _spans(np.searchsorted(keys, wishers * groups),
                             np.searchsorted(keys, wishers * groups + groups))
            group = keys[at] % groups
            # Each other person's group keys, team and department, sorted: the members of a wished group are
            # one run of them.
            member_group = np.concatenate([self.team[others], np.where(self.department[others] >= 0,
                                                                        teams + self.department[others], -1)])
            member = np.concatenate([np.arange(len(others)), np.arange(len(others))])
            order = np.argsort(member_group, kind="stable")
            entry, position = _spans(np.searchsorted(member_group[order], group),
                                     np.searchsorted(member_group[order], group, side="right"))
            wisher, other = who[entry], member[order[position]]
            wished[(wisher, other) if wisher_is_row else (other, wisher)] = True

    def top_partners(self, k: int, members: NDArray[np.int64] | None = None,
                     prices: NDArray[np.float64] | None = None) -> TopPartners:
        """Each member's ``k`` best allowed partners among ``members`` (default everyone), as positions in
        ``members``, and the best score left outside the list; with ``prices`` (one per person), best by
        score minus the partner's price, and those net values in place of the scores."""
        cols = np.arange(self.size) if members is None else members
        count = len(cols)
        keep = min(k, max(count - 1, 0))
        index = np.full((count, k), -1, dtype=np.int64)
        score = np.full((count, k), -np.inf)
        rest = np.full(count, -np.inf)
        chunk = max(1, CHUNK_CELLS // max(count, 1))
        for start in range(0, count, chunk):
            rows = cols[start:start + chunk]
            block = self.scores(rows, None if members is None else cols)
            if prices is not None:
                block -= prices[cols][None, :]
            if keep == 0:
                continue
            if keep < count:
                # The keep + 1 best: the last of them is the best outside the list.
                part = np.argpartition(-block, keep, axis=1)[:, : keep + 1]
            else:
                part = np.tile(np.arange(count), (len(rows), 1))
            values = np.take_along_axis(block, part, axis=1)
            order = np.lexsort((part, -values), axis=1)  # best first; equal scores by position
            part = np.take_along_axis(part, order, axis=1)
            values = np.take_along_axis(values, order, axis=1)
            index[start:start + len(rows), :keep] = part[:, :keep]
            score[start:start + len(rows), :keep] = values[:, :keep]
            if part.shape[1] > keep:
                rest[start:start + len(rows)] = values[:, keep]
        index[~np.isfinite(score)] = -1
        return TopPartners(index, score, rest)


def _spans(low: NDArray[np.int64], high: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every k of the ranges low[i] <= k < high[i], as (i, k) in two arrays."""
    counts = high - low
    owner = np.repeat(np.arange(len(low)), counts)
    start_of_owner = np.cumsum(counts) - counts
    return owner, np.arange(int(counts.sum())) - np.repeat(start_of_owner - low, counts)


def _lookup(keys: NDArray[np.int64], wanted: NDArray[np.int64]) -> NDArray[np.int64]:
    """The position of each ``wanted`` key in the sorted ``keys``, or -1 where it is absent."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[position] == wanted, position, -1)


def _take(values: NDArray[Any], position: NDArray[np.int64], default: Any) -> NDArray[Any]:
    """values[position], and ``default`` where position is -1 (as ``_lookup`` gives for a missing key)."""
    if not len(values):
        return np.full(len(position), default)
    return np.where(position >= 0, values[np.maximum(position, 0)], default)


def _int_bitsets(masks: Sequence[int], width: int) -> NDArray[np.uint64]:
    """Python integers used as bitsets (bit b = step b) as rows of 64-bit words."""
    words = max(1, -(-width // 64))
    data = b"".join(mask.to_bytes(words * 8, "little") for mask in masks)
    return np.frombuffer(data, dtype="<u8").astype(np.uint64).reshape(len(masks), words)

