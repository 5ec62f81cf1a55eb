"""The pairing problem's rules: what the engine remembers, the hard rules that forbid a pair, the relaxations that
let some of them give way, meeting modes, and the sizes of groups a count of people makes.

The bottom of ``scheduler.pairing``: the score (``score``), the vectorised scan (``scan``), the LP (``lp``), the
bound (``bound``) and the engine (``engine``) all read these, and this module reads none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from scheduler.availability.slots import FreeTimeIndex
from scheduler.model import Person, Program

# The hard rules each relaxation setting of a program lets give way, in the order they give way.
RELAXABLE = {"cooldown": ("met recently",), "cooldown_then_team": ("met recently", "same team")}

# The ways of meeting each mode setting (of a program or a person) accepts.
ACCEPTED_MODES = {
    "either": frozenset({"in_person", "virtual"}),
    "in_person": frozenset({"in_person"}),
    "virtual": frozenset({"virtual"}),
}
# The accepted modes as bits, for the vectorised rules: a pair may meet when the AND of its bits is not 0, and
# only virtually across offices.
IN_PERSON_BIT, VIRTUAL_BIT = 1, 2
MODE_BITS = {mode: sum(IN_PERSON_BIT if m == "in_person" else VIRTUAL_BIT for m in accepted)
             for mode, accepted in ACCEPTED_MODES.items()}


@dataclass(frozen=True)
class PairHistory:
    """What the engine remembers: pairs inside the cooldown, when each pair last met, and who was in a trio
    or left unmatched in the previous cycle (so it does not happen to them twice running)."""

    recent: frozenset[frozenset[str]] = frozenset()
    last_met: Mapping[frozenset[str], date] = field(default_factory=dict)
    left_over: frozenset[str] = frozenset()
    # Who had the early or late end of the day in a cross-zone meeting last cycle (slot choice rotates it).
    edge_of_day: frozenset[str] = frozenset()
    # Pairs another program already groups in this window: a pair meets at most once per window, so these are
    # kept apart whatever the relaxation (``Program.once_per_window``).
    apart: frozenset[frozenset[str]] = frozenset()


def accepted_modes(mode: str) -> set[str]:
    """The ways of meeting (``in_person``, ``virtual``) that the mode setting ``mode`` accepts, as a new set."""
    return set(ACCEPTED_MODES[mode])


def hard_rule(a: Person, b: Person, program: Program, history: PairHistory,
              free_time: FreeTimeIndex | None) -> str | None:
    """The name of the hard rule that forbids this pair, or None when they may meet."""
    if b.email in a.blocked or a.email in b.blocked:
        return "blocked"
    if history.apart and frozenset((a.email, b.email)) in history.apart:
        return "meeting already this window"
    modes = ACCEPTED_MODES[program.meeting_mode] & ACCEPTED_MODES[a.mode] & ACCEPTED_MODES[b.mode]
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


def may_relax(refusal: str, relax: str | None) -> bool:
    """Whether the hard rule named ``refusal`` gives way under the relaxation step ``relax`` (a rule named in
    ``RELAXABLE``, each step also relaxing the ones before it)."""
    if relax is None:
        return False
    steps = RELAXABLE["cooldown_then_team"]
    return refusal in steps[: steps.index(relax) + 1]


def last_relaxation(program: Program) -> str | None:
    """The furthest relaxation step ``program`` allows (None: none): the pairs the engine may use as a last
    resort, which a bound on its plans must cover."""
    return RELAXABLE[program.relax][-1] if program.relax in RELAXABLE else None


def meeting_modes(members: Sequence[Person], program: Program) -> set[str]:
    """The ways (``in_person``, ``virtual``) this group can meet: what the program and every member accept,
    and in person only when everyone works in the same office."""
    modes = accepted_modes(program.meeting_mode)
    for person in members:
        modes &= accepted_modes(person.mode)
    if len({person.office for person in members}) > 1:
        modes.discard("in_person")
    return modes


def group_sizes(count: int, size: int) -> list[int]:
    """The sizes of the groups ``count`` people make in a program of groups of ``size``, biggest first.

    Whole groups of ``size`` where the count divides; otherwise as few groups off the size as possible, one
    bigger (size + 1) or one smaller (size - 1, never a group of one), smaller on a tie (a group of 3 finds a
    common slot more easily than one of 5). Pairs: a trio for an odd count. Fewer people than ``size``
    make one smaller group (two or more), nobody dropped: 7 by 4 → [4, 3]; 5 by 3 → [3, 2]; 2 by 4 → [2].
    """
    if count < 2:
        return []
    if count <= size:
        return [count]
    whole, rest = divmod(count, size)
    if rest == 0:
        return [size] * whole
    options: list[tuple[int, int, list[int]]] = []
    if whole >= rest:  # ``rest`` groups take one more
        options.append((rest, 1, [size + 1] * rest + [size] * (whole - rest)))
    short = size - rest
    if size - 1 >= 2 and whole + 1 >= short:  # ``short`` groups have one fewer
        options.append((short, 0, [size] * (whole + 1 - short) + [size - 1] * short))
    return min(options)[2]


def core_group_sizes(count: int, size: int) -> list[int]:
    """``group_sizes`` without the groups that are one bigger: the sizes to form before extra people join."""
    return [min(part, size) for part in group_sizes(count, size)] if count > size else group_sizes(count, size)
