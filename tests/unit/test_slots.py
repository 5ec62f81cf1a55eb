import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.availability.slots import FreeTimeIndex, SlotRules, edge_of_day, hours_conflict, lunch_hours
from scheduler.model import Busy, Interval, OfficeRules, Person, Program, WorkingHours
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


# --- issue 13: working hours off the 15-minute grid, public holidays -----------------------------------------


def _one_day(hours: str, zone: str = LONDON) -> tuple[Person, FreeTimeIndex]:
    """A person with ``hours`` on Monday 23 November 2026 (London is on UTC then), no notice, no buffer."""
    someone = person("ana@example.com", zone, hours)
    rules = SlotRules(duration=timedelta(minutes=30), buffer=timedelta(0), earliest_start=MONDAY)
    return someone, index_of((someone, Busy()), rules=rules, window=Interval(MONDAY, MONDAY + timedelta(days=1)))


def test_issue_13_working_hours_off_the_grid_start_on_the_grid_inside_them() -> None:
    ana, index = _one_day("mon 09:10-09:45")
    assert [s.time() for s in _starts(index, [ana.email])] == [time(9, 15)]
    assert index.choose_slot([ana]) == Interval(utc(23, 9, 15), utc(23, 9, 45))
    ana, index = _one_day("mon 09:00-09:50")
    assert [s.time() for s in _starts(index, [ana.email])] == [time(9, 0), time(9, 15)]
    slot = index.choose_slot([ana])
    assert slot is not None
    assert slot.end <= utc(23, 9, 50)


def test_issue_13_hours_too_short_for_a_slot_on_the_grid_give_none() -> None:
    ana, index = _one_day("mon 09:05-09:40")  # 35 minutes, but only 09:15-09:30 lies on the grid inside
    assert not index.has_any_slot(ana.email)
    assert index.choose_slot([ana]) is None


# Zones with offsets off the hour (Kolkata +05:30, Kathmandu +05:45, Chatham +12:45/+13:45, St John's -03:30),
# a half-hour daylight saving change (Lord Howe) and the usual one-hour changes on both hemispheres.
PROPERTY_ZONES = [LONDON, NEW_YORK, KOLKATA, SYDNEY, AUCKLAND, "Asia/Kathmandu", "Pacific/Chatham",
                  "America/St_Johns", "Australia/Lord_Howe", "Australia/Adelaide", "America/Santiago", "UTC"]


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    start = draw(st.integers(0, 23 * 60 + 58))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return WorkingHours(days, time(start // 60, start % 60), time(end // 60, end % 60))


def _inside_hours_on_the_local_clock(slot: Interval, someone: Person) -> bool:
    """Independently of FreeTimeIndex: the slot starts and ends on one working day of ``someone``, inside their
    hours as their wall clock shows them."""
    local_start, local_end = slot.start.astimezone(someone.zone), slot.end.astimezone(someone.zone)
    hours = someone.working_hours
    return (local_start.date() == local_end.date() and local_start.weekday() in hours.days
            and hours.start <= local_start.time() and local_end.time() <= hours.end)


@settings(max_examples=300, deadline=None)
@given(members=st.lists(st.tuples(working_hours(), st.sampled_from(PROPERTY_ZONES)), min_size=1, max_size=3),
       minutes=st.integers(5, 180), first_day=st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_issue_13_every_chosen_slot_lies_inside_every_members_working_hours_on_their_clock(
        members: list[tuple[WorkingHours, str]], minutes: int, first_day: date) -> None:
    people = [replace(person(f"p{i}@example.com", zone), working_hours=hours)
              for i, (hours, zone) in enumerate(members)]
    start = datetime.combine(first_day, time(0), UTC)
    window = Interval(start, start + timedelta(days=7))  # a week from any day: DST changes fall inside some
    rules = SlotRules(duration=timedelta(minutes=minutes), buffer=timedelta(0), earliest_start=start)
    index = index_of(*((p, Busy()) for p in people), rules=rules, window=window)
    emails = [p.email for p in people]
    for begin in _starts(index, emails):
        for someone in people:
            assert _inside_hours_on_the_local_clock(Interval(begin, begin + rules.duration), someone)
    slot = index.choose_slot(people)
    assert (slot is None) == (index.common_starts(emails) == 0)
    if slot is not None:
        assert slot.duration == rules.duration
        assert all(_inside_hours_on_the_local_clock(slot, someone) for someone in people)


@pytest.mark.parametrize(("wall_start", "wall_end", "starts"), [
    # New York springs forward on Sunday 2027-03-14 at 02:00 (to 03:00); hours end inside the skipped hour,
    # whose earlier reading is 01:30 EST: cautious (01:30-02:00 was inside too) but never past 02:30 on the
    # clock, where the later reading (03:30 EDT) let a slot run to 03:30.
    (time(1, 0), time(2, 30), [time(1, 0)]),
    # Falls back on Sunday 2026-11-01 at 02:00 (to 01:00): 01:30 comes twice; hours end at the first.
    (time(0, 0), time(1, 30), [time(0, 0), time(0, 15), time(0, 30), time(0, 45), time(1, 0)]),
], ids=["spring-forward-end-in-the-gap", "fall-back-end-in-the-repeated-hour"])
def test_working_hours_edges_the_clock_skips_or_repeats_keep_slots_inside(
        wall_start: time, wall_end: time, starts: list[time]) -> None:
    sunday = date(2027, 3, 14) if wall_end == time(2, 30) else date(2026, 11, 1)
    bob = person("bob@example.com", NEW_YORK, f"sun {wall_start:%H:%M}-{wall_end:%H:%M}")
    window = Interval(datetime.combine(sunday, time(0), UTC), datetime.combine(sunday, time(0), UTC)
                      + timedelta(days=2))
    rules = SlotRules(duration=timedelta(minutes=30), buffer=timedelta(0), earliest_start=window.start)
    index = index_of((bob, Busy()), rules=rules, window=window)
    assert [s.astimezone(bob.zone).time() for s in _starts(index, [bob.email])] == starts


CHRISTMAS = Interval(datetime(2026, 12, 21, tzinfo=UTC), datetime(2027, 1, 9, tzinfo=UTC))


def _booked_dates(office: OfficeRules, zone: str = LONDON, window: Interval = CHRISTMAS) -> set[date]:
    rules = SlotRules(duration=timedelta(minutes=30), buffer=timedelta(0), earliest_start=window.start,
                      offices={"Here": office})
    someone = replace(person("ana@example.com", zone), office="Here")
    index = index_of((someone, Busy()), rules=rules, window=window)
    return {s.astimezone(someone.zone).date() for s in _starts(index, [someone.email])}


def test_issue_13_the_public_holidays_of_an_offices_country_are_not_booked() -> None:
    weekdays = {date(2026, 12, 21) + timedelta(days=n) for n in range(19)
                if (date(2026, 12, 21) + timedelta(days=n)).weekday() < 5}
    # England: Christmas Day (Fri 25), Boxing Day (Sat 26, taken on Mon 28) and New Year's Day (Fri 1 Jan).
    assert _booked_dates(OfficeRules(country="GB", subdivision="ENG")) == weekdays - {
        date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}
    # The office's own dates come on top; without a country only they are kept.
    extra = frozenset({date(2026, 12, 24), date(2026, 12, 31)})
    assert _booked_dates(OfficeRules(country="GB", subdivision="ENG", holidays=extra)) == weekdays - extra - {
        date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}
    assert _booked_dates(OfficeRules(holidays=extra)) == weekdays - extra


def test_issue_13_a_subdivision_adds_its_own_public_holidays() -> None:
    epiphany = date(2027, 1, 6)  # Heilige Drei Könige: a holiday in Bavaria, not in Berlin
    assert epiphany not in _booked_dates(OfficeRules(country="DE", subdivision="BY"), BERLIN)
    assert epiphany in _booked_dates(OfficeRules(country="DE", subdivision="BE"), BERLIN)
    assert epiphany in _booked_dates(OfficeRules(country="DE"), BERLIN)


def test_hours_conflict_names_the_hours_the_day_or_the_holiday() -> None:
    bob = replace(person("bob@example.com", NEW_YORK), office="New York")
    offices = {"New York": OfficeRules(country="US", holidays=frozenset({date(2026, 11, 27)}))}
    inside = Interval(utc(23, 15), utc(23, 15, 30))  # 10:00 in New York
    assert hours_conflict(inside, bob, offices) is None
    early = Interval(utc(23, 13, 50), utc(23, 14, 20))  # 08:50-09:20
    assert hours_conflict(early, bob, offices) == ("outside bob@example.com's working hours "
                                                   "(09:00–17:00 America/New_York)")
    saturday = Interval(utc(28, 15), utc(28, 15, 30))
    assert hours_conflict(saturday, bob, offices) == ("Saturday is not one of bob@example.com's working days "
                                                      "(mon-fri 09:00-17:00 America/New_York)")
    thanksgiving = Interval(utc(26, 15), utc(26, 15, 30))
    assert hours_conflict(thanksgiving, bob, offices) == ("Thu 2026-11-26 is a public holiday (Thanksgiving Day, "
                                                          "US) at bob@example.com's office, New York")
    assert hours_conflict(Interval(utc(27, 15), utc(27, 15, 30)), bob, offices) == (
        "Fri 2026-11-27 is an office holiday at bob@example.com's office, New York")
    lunch = hours_conflict(inside, bob, offices, lunch=True)
    assert lunch == "outside bob@example.com's lunch hours (11:30–14:00 America/New_York)"
