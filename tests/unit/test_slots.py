import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.model import Busy, Interval, OfficeRules, Person, Program, WorkingHours
from scheduler.slots import FreeTimeIndex, SlotRules, edge_of_day, lunch_hours
from tests.conftest import AUCKLAND, BERLIN, KOLKATA, LONDON, NEW_YORK, SUNDAY_NOON, SYDNEY

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = Interval(MONDAY, MONDAY + timedelta(days=5))
COFFEE = SlotRules.for_program(Program("coffee"), SUNDAY_NOON)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def person(email: str, zone: str = LONDON, hours: str = "mon-fri 09:00-17:00") -> Person:
    return Person(email=email, name=email.split("@")[0], team=email, timezone=zone,
                  working_hours=WorkingHours.parse(hours), verified_at=SUNDAY_NOON)


def index_of(*entries: tuple[Person, Busy], rules: SlotRules = COFFEE, window: Interval = WEEK) -> FreeTimeIndex:
    index = FreeTimeIndex(window, rules)
    for p, busy in entries:
        index.add(p, busy)
    return index


def test_minimum_notice_keeps_the_first_day_morning_free_of_meetings() -> None:
    ana = person("ana@example.com")
    index = index_of((ana, Busy()))
    slot = index.choose_slot([ana])
    assert slot is not None
    assert slot.start >= SUNDAY_NOON + timedelta(hours=24)


def test_busy_time_and_its_buffer_are_never_booked() -> None:
    ana, ben = person("ana@example.com"), person("ben@example.com")
    # Ana is busy all week except Tuesday 10:00-10:40; the 5-minute buffer after 10:00 leaves 10:05-10:35.
    busy = Busy(busy=(Interval(utc(23, 0), utc(24, 10)), Interval(utc(24, 10, 40), utc(28, 0))))
    index = index_of((ana, busy), (ben, Busy()))
    assert index.choose_slot([ana, ben]) is None  # a 30-minute slot with buffers needs 10:05-10:35 in steps
    roomy = Busy(busy=(Interval(utc(23, 0), utc(24, 10)), Interval(utc(24, 11, 0), utc(28, 0))))
    slot = index_of((ana, roomy), (ben, Busy())).choose_slot([ana, ben])
    assert slot == Interval(utc(24, 10, 15), utc(24, 10, 45))


def test_a_calendar_error_is_planned_on_working_hours_alone() -> None:
    ana = person("ana@example.com")
    index = index_of((ana, Busy(error="file not found")))
    assert index.has_any_slot(ana.email)
    assert index.free_share(ana.email) > 0.8


def test_out_of_office_all_week_leaves_no_slot() -> None:
    ana = person("ana@example.com")
    index = index_of((ana, Busy(busy=(Interval(utc(23, 0), utc(28, 0)),))))
    assert not index.has_any_slot(ana.email)


def test_london_and_new_york_meet_inside_both_working_days() -> None:
    ana, bob = person("ana@example.com", LONDON), person("bob@example.com", NEW_YORK)
    slot = index_of((ana, Busy()), (bob, Busy())).choose_slot([ana, bob])
    assert slot is not None
    for p in (ana, bob):
        local_start, local_end = slot.start.astimezone(p.zone), slot.end.astimezone(p.zone)
        assert time(9) <= local_start.time()
        assert local_end.time() <= time(17)
        assert local_start.weekday() < 5


def test_sydney_and_london_have_no_common_working_hours() -> None:
    ana, sam = person("ana@example.com", LONDON), person("sam@example.com", SYDNEY)
    index = index_of((ana, Busy()), (sam, Busy()))
    assert index.choose_slot([ana, sam]) is None
    assert index.working_overlap(ana.email, sam.email) == 0.0


def test_lunch_slots_fall_inside_lunch_hours_in_every_zone() -> None:
    rules = SlotRules.for_program(Program("lunch", kind="lunch", duration_minutes=60), SUNDAY_NOON)
    ana, kai = person("ana@example.com", LONDON), person("kai@example.com", BERLIN)
    slot = index_of((ana, Busy()), (kai, Busy()), rules=rules).choose_slot([ana, kai])
    assert slot is not None
    for p in (ana, kai):
        assert time(11, 30) <= slot.start.astimezone(p.zone).time()
        assert slot.end.astimezone(p.zone).time() <= time(14, 0)


def test_slot_choice_spreads_meetings_over_days() -> None:
    people = [person(f"p{i}@example.com") for i in range(10)]
    index = index_of(*((p, Busy()) for p in people))
    load: dict[str, int] = {}
    days = []
    for a, b in zip(people[::2], people[1::2], strict=True):
        slot = index.choose_slot([a, b], load)
        assert slot is not None
        day = slot.start.date().isoformat()
        load[day] = load.get(day, 0) + 1
        days.append(day)
    assert len(set(days)) >= 4


def test_spring_forward_day_keeps_slots_inside_local_working_hours() -> None:
    # US clocks spring forward on Sunday 2027-03-14; the window is the Monday after, in New York and London
    # (which changes only on 2027-03-28, so the two cities are four hours apart that week, not five).
    monday = datetime(2027, 3, 15, tzinfo=UTC)
    window = Interval(monday, monday + timedelta(days=5))
    rules = SlotRules.for_program(Program("coffee"), monday - timedelta(days=1))
    ana, bob = person("ana@example.com", LONDON), person("bob@example.com", NEW_YORK)
    index = index_of((ana, Busy()), (bob, Busy()), rules=rules, window=window)
    starts = index.common_starts([ana.email, bob.email])
    first = index.step_start((starts & -starts).bit_length() - 1)
    assert first.astimezone(ZoneInfo(NEW_YORK)).time() == time(9, 0)  # 13:00 UTC under daylight time
    assert first.astimezone(ZoneInfo(LONDON)).time() == time(13, 0)


busy_intervals = st.lists(
    st.tuples(st.integers(0, 5 * 96 - 1), st.integers(1, 16)).map(
        lambda t: Interval(MONDAY + t[0] * timedelta(minutes=15),
                           MONDAY + (t[0] + t[1]) * timedelta(minutes=15))),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(busy_a=busy_intervals, busy_b=busy_intervals,
       zone_b=st.sampled_from([LONDON, BERLIN, NEW_YORK, "Asia/Kolkata"]))
def test_a_chosen_slot_is_free_for_everyone_and_inside_working_hours(
        busy_a: list[Interval], busy_b: list[Interval], zone_b: str) -> None:
    ana, bob = person("ana@example.com"), person("bob@example.com", zone_b, "mon-fri 08:00-18:00")
    index = index_of((ana, Busy(busy=tuple(busy_a))), (bob, Busy(busy=tuple(busy_b))))
    slot = index.choose_slot([ana, bob])
    if slot is None:
        assert index.common_starts([ana.email, bob.email]) == 0
        return
    assert slot.duration == timedelta(minutes=30)
    assert slot.start >= COFFEE.earliest_start  # type: ignore[operator]
    for p, busy in ((ana, busy_a), (bob, busy_b)):
        widened = [Interval(b.start - COFFEE.buffer, b.end + COFFEE.buffer) for b in busy]
        assert not any(slot.overlaps(w) for w in widened)
        local_start, local_end = slot.start.astimezone(p.zone), slot.end.astimezone(p.zone)
        # The local start exists on the wall clock: read back as a wall time, it is the same instant.
        wall = datetime.combine(local_start.date(), local_start.time(), tzinfo=p.zone).replace(fold=local_start.fold)
        assert wall.astimezone(UTC) == slot.start
        assert local_start.date() == local_end.date() or local_end.time() == time(0)
        assert p.working_hours.start <= local_start.time()
        assert local_end.time() <= p.working_hours.end
        assert local_start.weekday() in p.working_hours.days


def test_office_holidays_are_not_booked() -> None:
    holiday = Interval(utc(24, 0), utc(25, 0)).start.date()
    rules = SlotRules.for_program(Program("coffee"), SUNDAY_NOON,
                                  {"London": OfficeRules(holidays=frozenset({holiday}))})
    ana = replace(person("ana@example.com"), office="London")
    bob = replace(person("bob@example.com"), office="Berlin", timezone=BERLIN)
    index = index_of((ana, Busy()), (bob, Busy()), rules=rules)
    for start in _starts(index, [ana.email]):
        assert start.astimezone(ana.zone).date() != holiday
    assert any(s.astimezone(bob.zone).date() == holiday for s in _starts(index, [bob.email]))


def test_office_lunch_hours_bound_lunch_slots() -> None:
    rules = SlotRules.for_program(Program("lunch", kind="lunch", duration_minutes=60), SUNDAY_NOON,
                                  {"London": OfficeRules(lunch=(time(12, 30), time(14, 30)))})
    ana = replace(person("ana@example.com"), office="London")
    index = index_of((ana, Busy()), rules=rules)
    starts = _starts(index, [ana.email])
    assert min(s.astimezone(ana.zone).time() for s in starts) == time(12, 30)
    assert max(s.astimezone(ana.zone).time() for s in starts) == time(13, 30)


def test_the_edge_of_the_day_moves_to_the_other_person_next_cycle() -> None:
    # Berlin 09-17 and New York 08-16 share 13:00-16:00 UTC: one of them gets an early or late meeting.
    kai = person("kai@example.com", BERLIN)
    bob = person("bob@example.com", NEW_YORK, "mon-fri 08:00-16:00")
    index = index_of((kai, Busy()), (bob, Busy()))
    first = index.choose_slot([kai, bob])
    assert first is not None
    had_edge = edge_of_day(first, [kai, bob])
    assert had_edge is not None
    second = index.choose_slot([kai, bob], favour=frozenset({had_edge}))
    assert second is not None
    assert edge_of_day(second, [kai, bob]) not in (None, had_edge)


def _starts(index: FreeTimeIndex, emails: list[str]) -> list[datetime]:
    starts = index.common_starts(emails)
    return [index.step_start(i) for i in range(index.steps) if starts >> i & 1]


ZONES = [LONDON, NEW_YORK, KOLKATA, SYDNEY, AUCKLAND]
# Mondays of weeks that hold or follow a daylight-saving change somewhere among ZONES.
DST_WEEKS = [date(2026, 9, 28), date(2026, 10, 5), date(2026, 10, 26), date(2026, 11, 2), date(2027, 3, 15),
             date(2027, 3, 29), date(2027, 4, 5)]


def _oracle_has_slot(zones: tuple[str, str], monday: date) -> bool:
    """Independently of FreeTimeIndex: is there a 30-minute start, on the 15-minute UTC grid, inside 09:00-17:00
    on a weekday for both zones?"""
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    for step in range(5 * 96):
        begin = start + timedelta(minutes=15 * step)
        end = begin + timedelta(minutes=30)
        ok = True
        for zone in zones:
            local_begin, local_end = begin.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
            if not (local_begin.weekday() < 5 and local_begin.date() == local_end.date()
                    and time(9) <= local_begin.time() and local_end.time() <= time(17)):
                ok = False
                break
        if ok:
            return True
    return False


@pytest.mark.parametrize("monday", DST_WEEKS, ids=str)
@pytest.mark.parametrize("zones", list(itertools.combinations(ZONES, 2)), ids="-".join)
def test_zone_pairs_across_daylight_saving_changes(zones: tuple[str, str], monday: date) -> None:
    window = Interval(datetime(monday.year, monday.month, monday.day, tzinfo=UTC),
                      datetime(monday.year, monday.month, monday.day, tzinfo=UTC) + timedelta(days=5))
    rules = SlotRules(duration=timedelta(minutes=30), buffer=timedelta(0), earliest_start=window.start)
    a, b = person("a@example.com", zones[0]), person("b@example.com", zones[1])
    index = index_of((a, Busy()), (b, Busy()), rules=rules, window=window)
    slot = index.choose_slot([a, b])
    assert (slot is not None) == _oracle_has_slot(zones, monday)
    if slot is not None:
        for p in (a, b):
            local_start, local_end = slot.start.astimezone(p.zone), slot.end.astimezone(p.zone)
            assert local_start.weekday() < 5
            assert time(9) <= local_start.time()
            assert local_end.time() <= time(17)


def test_a_persons_own_lunch_hours_replace_their_offices() -> None:
    rules = SlotRules.for_program(Program("lunch", kind="lunch", duration_minutes=60), SUNDAY_NOON)
    ana = replace(person("ana@example.com"), office="London", lunch=(time(12, 30), time(13, 30)))
    bob = replace(person("bob@example.com"), office="London")
    index = index_of((ana, Busy()), (bob, Busy()), rules=rules)

    ana_starts = _starts(index, [ana.email])
    assert ana_starts
    assert {s.astimezone(ana.zone).time() for s in ana_starts} == {time(12, 30)}  # one hour: one start a day
    bob_starts = _starts(index, [bob.email])
    assert min(s.astimezone(bob.zone).time() for s in bob_starts) == time(11, 30)
    assert max(s.astimezone(bob.zone).time() for s in bob_starts) == time(13, 0)
    slot = index.choose_slot([ana, bob])
    assert slot is not None
    assert slot.start.astimezone(ana.zone).time() == time(12, 30)
    assert slot.duration == timedelta(minutes=60)


def test_lunch_hours_are_the_persons_else_the_offices_else_the_default() -> None:
    offices = {"Berlin": OfficeRules(lunch=(time(12, 0), time(13, 0)))}
    own = (time(12, 30), time(13, 30))
    kai = replace(person("kai@example.com", BERLIN), office="Berlin")
    assert lunch_hours(replace(kai, lunch=own), offices) == own
    assert lunch_hours(kai, offices) == (time(12, 0), time(13, 0))
    assert lunch_hours(replace(kai, office="Paris"), offices) == (time(11, 30), time(14, 0))
    assert lunch_hours(kai) == (time(11, 30), time(14, 0))


def test_own_lunch_hours_apply_to_lunch_programs_only() -> None:
    ana = replace(person("ana@example.com"), lunch=(time(12, 30), time(13, 30)))
    index = index_of((ana, Busy()))
    assert min(s.astimezone(ana.zone).time() for s in _starts(index, [ana.email])) == time(9, 0)


def test_working_hours_reported_by_the_calendar_replace_the_profiles() -> None:
    # The profile says London 09:00-17:00; Exchange says Tokyo 09:00-12:00 (00:00-03:00 UTC), Monday only.
    ana = person("ana@example.com")
    reported = Busy(working_hours=WorkingHours.parse("mon 09:00-12:00"), working_zone="Asia/Tokyo")
    rules = SlotRules.for_program(Program("coffee"), MONDAY - timedelta(days=2))
    slot = index_of((ana, reported), rules=rules).choose_slot([ana])
    assert slot is not None
    assert utc(23, 0) <= slot.start
    assert slot.end <= utc(23, 3)
    london = index_of((ana, Busy()), rules=rules).choose_slot([ana])
    assert london is not None
    assert london.start.astimezone(ZoneInfo(LONDON)).hour >= 9
