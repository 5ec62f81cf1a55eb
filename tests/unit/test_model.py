import itertools
import random
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.model import (
    CalendarSource,
    Interval,
    Person,
    Program,
    WorkingHours,
    merge_intervals,
    normalize_email,
)
from tests.intervals import subtract_intervals

T0 = datetime(2026, 11, 23, tzinfo=UTC)
intervals = st.lists(
    st.tuples(st.integers(0, 500), st.integers(0, 60)).map(
        lambda t: Interval(T0 + timedelta(minutes=t[0]), T0 + timedelta(minutes=t[0] + t[1]))),
    max_size=30,
)


def covered(spans: tuple[Interval, ...] | list[Interval], minute: int) -> bool:
    moment = T0 + timedelta(minutes=minute, seconds=30)
    return any(i.start <= moment < i.end for i in spans)


@given(intervals)
def test_merge_gives_sorted_disjoint_intervals_covering_the_same_time(spans: list[Interval]) -> None:
    merged = merge_intervals(spans)
    for a, b in itertools.pairwise(merged):
        assert a.end < b.start
    assert all(i.start < i.end for i in merged)
    for minute in range(0, 561):
        assert covered(merged, minute) == covered(spans, minute)


@given(intervals)
def test_free_time_is_exactly_the_window_minus_busy(spans: list[Interval]) -> None:
    """The tests' reference subtraction (``tests.intervals``), on the merge of the application."""
    window = Interval(T0 + timedelta(minutes=100), T0 + timedelta(minutes=400))
    free = subtract_intervals(window, merge_intervals(spans))
    for minute in range(0, 561):
        in_window = 100 <= minute < 400
        assert covered(free, minute) == (in_window and not covered(spans, minute))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_working_hours_parse_and_describe() -> None:
    hours = WorkingHours.parse("Mon-Thu 08:30-16:30")
    assert hours == WorkingHours(frozenset({0, 1, 2, 3}), time(8, 30), time(16, 30))
    assert hours.describe() == "mon-thu 08:30-16:30"
    assert WorkingHours.parse("mon,wed 09:00-17:00").describe() == "mon,wed 09:00-17:00"
    for bad in ("mon-fri", "fri-mon 09:00-17:00", "mon-fri 17:00-09:00", "xyz 09:00-17:00"):
        with pytest.raises(ValueError):  # noqa: PT011 - each message is checked by the CSV tests
            WorkingHours.parse(bad)


def test_calendar_source_parse() -> None:
    assert CalendarSource.parse("ics:calendars/a.ics") == CalendarSource("ics", "calendars/a.ics")
    assert CalendarSource.parse("") == CalendarSource()
    with pytest.raises(ValueError, match="unknown calendar kind"):
        CalendarSource.parse("outlook:me@example.com")


@pytest.mark.parametrize("address", ["no-at-sign", "a@b", "a b@example.com", "<a@example.com>", "@example.com"])
def test_bad_email_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        normalize_email(address)


def test_eligibility_reasons() -> None:
    base = Person(email="a@example.com", name="A", team="t", verified_at=T0)
    coffee = Program("coffee", meeting_mode="in_person")
    assert base.ineligibility(coffee, T0.date()) is None
    assert Person(email="a@example.com", name="A", team="t").ineligibility(coffee, T0.date()) == \
        "email address not yet confirmed"
    paused = Person(email="a@example.com", name="A", team="t", verified_at=T0,
                    paused_until=T0.date() + timedelta(days=3))
    assert paused.ineligibility(coffee, T0.date()) == f"paused until {paused.paused_until}"
    virtual = Person(email="a@example.com", name="A", team="t", verified_at=T0, mode="virtual")
    assert virtual.ineligibility(coffee, T0.date()) == "meets only virtual; this program meets in person"


def test_unknown_time_zone_is_refused_at_once() -> None:
    with pytest.raises(Exception, match="Mars/Olympus"):
        Person(email="a@example.com", name="A", team="t", timezone="Mars/Olympus")


def test_own_lunch_hours_must_end_after_they_start() -> None:
    lunch = (time(12, 30), time(13, 30))
    assert Person(email="a@example.com", name="A", team="t", lunch=lunch).lunch == lunch
    assert Person(email="a@example.com", name="A", team="t").lunch is None  # the office's
    for start, end in ((time(13, 30), time(12, 30)), (time(12, 30), time(12, 30))):
        with pytest.raises(ValueError, match=r"lunch hours end .* must be after they start"):
            Person(email="a@example.com", name="A", team="t", lunch=(start, end))


def test_own_lunch_hours_are_local_times() -> None:
    with pytest.raises(ValueError, match="lunch hours are local times"):
        Person(email="a@example.com", name="A", team="t", lunch=(time(12, tzinfo=UTC), time(13, tzinfo=UTC)))


@given(intervals, st.randoms(use_true_random=False))
def test_merging_is_idempotent_and_order_independent(spans: list[Interval], rng: random.Random) -> None:
    merged = merge_intervals(spans)
    assert merge_intervals(merged) == merged
    shuffled = spans[:]
    rng.shuffle(shuffled)
    assert merge_intervals(shuffled) == merged
