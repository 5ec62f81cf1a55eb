"""The silence rules of ``scheduler.planning.silence``: how many cycles someone has been silent, and where that
puts them (asked, paused, back), as properties over any history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.model import Engagement
from scheduler.planning.silence import (
    LEFT_OUT,
    SilenceRules,
    SilenceState,
    silence_reason,
    silence_state,
    silent_cycles,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
moments = st.integers(min_value=0, max_value=24 * 365).map(lambda hours: START + timedelta(hours=hours))
placements = st.lists(moments, max_size=30, unique=True)
maybe_moment = st.none() | moments


@given(placements, maybe_moment, st.integers(min_value=1, max_value=10))
def test_issue_15_silent_for_n_cycles_means_the_n_latest_placements_all_follow_the_last_sign_of_life(
        placed: list[datetime], last: datetime | None, n: int) -> None:
    latest = sorted(placed, reverse=True)[:n]
    all_after = len(latest) == n and all(last is None or moment > last for moment in latest)
    assert (silent_cycles(placed, last) >= n) == all_after


@given(placements, maybe_moment)
def test_issue_15_the_count_is_the_placements_after_the_last_sign_of_life_in_any_order(
        placed: list[datetime], last: datetime | None) -> None:
    count = silent_cycles(placed, last)
    assert count == silent_cycles(list(reversed(placed)), last)
    assert count == len([moment for moment in placed if last is None or moment > last])
    assert silent_cycles(placed, None) == len(placed)


@given(placements, moments, moments)
def test_issue_15_a_later_sign_of_life_never_makes_anyone_more_silent(
        placed: list[datetime], first: datetime, second: datetime) -> None:
    earlier, later = sorted((first, second))
    assert silent_cycles(placed, later) <= silent_cycles(placed, earlier)
    # A cycle planned after the latest sign of life adds exactly one silent cycle.
    newest = max([*placed, later]) + timedelta(hours=1)
    assert silent_cycles([*placed, newest], later) == silent_cycles(placed, later) + 1


def test_issue_15_a_sign_of_life_at_the_moment_of_planning_answers_that_cycle() -> None:
    assert silent_cycles([START], START) == 0
    assert silent_cycles([START], START - timedelta(seconds=1)) == 1


def test_issue_15_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        silent_cycles([datetime(2026, 1, 5)], None)


@given(placements, maybe_moment, maybe_moment, maybe_moment, moments, st.integers(min_value=1, max_value=6))
def test_issue_15_the_state_follows_the_road_ask_then_pause_and_any_sign_of_life_ends_it(
        placed: list[datetime], last: datetime | None, asked: datetime | None, paused: datetime | None,
        now: datetime, cycles: int) -> None:
    rules = SilenceRules(cycles=cycles)
    engagement = Engagement("ana@example.com", last, tuple(sorted(placed)), asked, paused)
    state = silence_state(engagement, rules, now)
    if paused is not None and (last is None or last <= paused):
        assert state is SilenceState.PAUSED
    elif asked is not None and (last is None or last <= asked):
        assert state is (SilenceState.PAUSE if now - asked >= rules.answer_time else SilenceState.ASKED)
    else:
        assert state is (SilenceState.ASK if silent_cycles(placed, last) >= cycles else SilenceState.ACTIVE)
    assert (silence_reason(state, engagement, rules, now) == "") == (state not in LEFT_OUT)
    # A sign of life after everything known brings anyone back.
    back = max([*placed, *(m for m in (last, asked, paused) if m is not None), now]) + timedelta(minutes=1)
    revived = Engagement("ana@example.com", back, tuple(sorted(placed)), asked, paused)
    assert silence_state(revived, rules, now) is SilenceState.ACTIVE


def test_issue_15_the_reasons_say_it_in_plain_words() -> None:
    rules = SilenceRules(cycles=3)
    asked = Engagement("ana@example.com", asked_at=START)
    paused = Engagement("ana@example.com", asked_at=START, paused_at=START + timedelta(days=7))
    assert silence_reason(SilenceState.ASK, Engagement("ana@example.com"), rules, START) == \
        "no answer for 3 cycles: asked now whether they still want to be paired"
    assert "asked on 2026-01-05" in silence_reason(SilenceState.ASKED, asked, rules, START)
    assert "paused on 2026-01-12" in silence_reason(SilenceState.PAUSED, paused, rules, START)


def test_issue_15_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SilenceRules(cycles=0)
