"""People who stop answering: how many cycles someone has been silent, and what a cycle does about it.

Pure functions over plain values (``model.Engagement``, datetimes), so the rules can be property-tested and
the cycle step (``scheduler.planning.nonresponders``) only reads, decides with these, and writes.

The road of a silent person, one cycle at a time:

1. ``ACTIVE``: paired as usual.
2. ``ASK``: silent for ``SilenceRules.cycles`` cycles: this cycle asks "still in?" (an email with a stay and a
   pause link) and leaves them out.
3. ``ASKED``: asked less than ``SilenceRules.answer_time`` ago: left out while the question stands (another
   program planning the same week must not pause them before they could read it).
4. ``PAUSE``: asked at least ``answer_time`` ago with no sign of life since: this cycle pauses them and tells
   them how to come back.
5. ``PAUSED``: left out until any sign of life.

Any sign of life after the ask or the pause (the stay link, a sign-in, an answer to a meeting, a used link)
brings them back to ``ACTIVE`` at once: the count starts again from the cycles planned after it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.model import Engagement, require_utc

# How long a "still in?" question stands before the person is paused: a little under a week, so that the next
# weekly cycle (planned about 7 days later) pauses them, while a second program planned the same week does not.
ANSWER_TIME = timedelta(days=5)


@dataclass(frozen=True)
class SilenceRules:
    """When silence leads to a question and then a pause: after ``cycles`` silent cycles (the configuration's
    ``[participation] nonresponder_cycles``) the person is asked; ``answer_time`` after the question, a cycle
    pauses them."""

    cycles: int = 3
    answer_time: timedelta = ANSWER_TIME

    def __post_init__(self) -> None:
        if self.cycles < 1:
            raise ValueError("nonresponder_cycles must be at least 1")
        if self.answer_time < timedelta(0):
            raise ValueError("the time to answer cannot be negative")


class SilenceState(enum.StrEnum):
    """Where a person stands on the road of the module docstring."""

    ACTIVE = "active"
    ASK = "ask"
    ASKED = "asked"
    PAUSE = "pause"
    PAUSED = "paused"


# States that keep a person out of the cycle being planned (and so out of everyone's group).
LEFT_OUT = frozenset({SilenceState.ASK, SilenceState.ASKED, SilenceState.PAUSE, SilenceState.PAUSED})


def silent_cycles(placed_at: Iterable[datetime], last_sign_of_life: datetime | None) -> int:
    """How many cycles in a row a person has been silent.

    ``placed_at`` holds when each cycle that placed the person in a meeting was planned (in any order, any
    program; several meetings of one cycle count once when given once). The count is the number of those moments
    strictly after ``last_sign_of_life`` (all of them when there was none). Since they are compared with a
    single moment, these are exactly the most recent placements, so a person is *silent for N cycles* when this
    is at least N: the N most recent cycles that placed them all came after their last sign of life. A sign of
    life at the very moment a cycle was planned counts as an answer to it. Timezone-aware datetimes only
    (``ValueError`` for a naive one).
    """
    last = None if last_sign_of_life is None else require_utc(last_sign_of_life, "last_sign_of_life")
    moments = [require_utc(moment, "placed_at") for moment in placed_at]
    return sum(1 for moment in moments if last is None or moment > last)


def _stands(mark: datetime | None, last_sign_of_life: datetime | None) -> bool:
    """Whether an ask or a pause made at ``mark`` still holds: no sign of life came after it."""
    return mark is not None and (last_sign_of_life is None or last_sign_of_life <= mark)


def silence_state(engagement: Engagement, rules: SilenceRules, now: datetime) -> SilenceState:
    """Where the person stands when a cycle is planned at ``now`` (see the module docstring): paused while a
    pause stands; asked while a question stands, to be paused once ``rules.answer_time`` has passed since it;
    to be asked when silent for ``rules.cycles`` cycles (``silent_cycles``); else active."""
    last = engagement.last_sign_of_life
    if _stands(engagement.paused_at, last):
        return SilenceState.PAUSED
    asked = engagement.asked_at
    if asked is not None and _stands(asked, last):
        return SilenceState.PAUSE if now - asked >= rules.answer_time else SilenceState.ASKED
    if silent_cycles(engagement.placed_at, last) >= rules.cycles:
        return SilenceState.ASK
    return SilenceState.ACTIVE


def silence_reason(state: SilenceState, engagement: Engagement, rules: SilenceRules, now: datetime) -> str:
    """Why a person is left out of the cycle, in plain words (the plan's ineligible reasons and the admin's
    page); empty for ``ACTIVE``."""
    cycles = f"{rules.cycles} cycle{'s' if rules.cycles != 1 else ''}"
    if state is SilenceState.ASK:
        return f"no answer for {cycles}: asked now whether they still want to be paired"
    if state is SilenceState.ASKED:
        asked = engagement.asked_at or now
        return f"asked on {asked.date().isoformat()} whether they still want to be paired; waiting for the answer"
    if state is SilenceState.PAUSE:
        asked = engagement.asked_at or now
        return (f"no answer to \"still in?\" (asked on {asked.date().isoformat()}): paused now, until they "
                "come back")
    if state is SilenceState.PAUSED:
        paused = engagement.paused_at or now
        return f"paused on {paused.date().isoformat()} after no answer to \"still in?\", until they come back"
    return ""
