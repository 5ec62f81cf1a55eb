"""Issue 15: dinner as a third kind of program: evening hours per office, in person only, groups of 2 to 4."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.admin.people_csv import format_people_csv, parse_people_csv
from scheduler.availability.slots import FreeTimeIndex, SlotRules, dinner_hours, hours_conflict
from scheduler.config import load_config
from scheduler.errors import ConfigError, InputError
from scheduler.model import DEFAULT_KINDS, MEETING_KINDS, Busy, Interval, OfficeRules, Person, Program, WorkingHours
from scheduler.pairing.rules import group_sizes
from scheduler.programs.settings import apply_changes
from tests.conftest import AUCKLAND, BERLIN, KOLKATA, LONDON, NEW_YORK, SUNDAY_NOON, SYDNEY

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = Interval(MONDAY, MONDAY + timedelta(days=5))
DINNER = Program("dinner", kind="dinner", meeting_mode="in_person", duration_minutes=90)


def diner(email: str, zone: str = LONDON, office: str = "London", hours: str = "mon-fri 09:00-17:00",
          **overrides: object) -> Person:
    fields: dict[str, object] = {
        "email": email, "name": email.split("@")[0].title(), "team": email, "office": office, "timezone": zone,
        "working_hours": WorkingHours.parse(hours), "verified_at": SUNDAY_NOON,
        "kinds": frozenset({"coffee", "dinner"}), "mode": "either",
    }
    fields.update(overrides)
    return Person(**fields)  # type: ignore[arg-type]


def starts_of(index: FreeTimeIndex, emails: list[str]) -> list[datetime]:
    starts = index.common_starts(emails)
    return [index.step_start(i) for i in range(index.steps) if starts >> i & 1]


def index_of(people: list[Person], rules: SlotRules, window: Interval = WEEK) -> FreeTimeIndex:
    index = FreeTimeIndex(window, rules)
    for someone in people:
        index.add(someone, Busy())
    return index


# --- the kind and its program -------------------------------------------------------------------------------


def test_issue_15_dinner_is_a_kind_people_choose_rather_than_get() -> None:
    assert "dinner" in MEETING_KINDS
    assert "dinner" not in DEFAULT_KINDS  # an evening is the person's own time: only by choice
    assert "dinner" not in Person(email="a@example.com", name="A", team="T").kinds


@pytest.mark.parametrize("mode", ["virtual", "either"])
def test_issue_15_a_dinner_program_refuses_to_meet_other_than_in_person(mode: str) -> None:
    with pytest.raises(ValueError,
                       match=rf"a dinner program meets in person: set meeting_mode = \"in_person\", not '{mode}'"):
        Program("dinner", kind="dinner", meeting_mode=mode)


@pytest.mark.parametrize("size", [2, 3])
def test_issue_15_a_dinner_program_takes_groups_of_two_to_four(size: int) -> None:
    assert Program("dinner", kind="dinner", meeting_mode="in_person", group_size=size).group_size == size


def test_issue_15_people_who_meet_only_virtually_or_from_no_office_are_not_at_dinner() -> None:
    today = MONDAY.date()
    assert diner("ana@example.com").ineligibility(DINNER, today) is None
    assert diner("ana@example.com", mode="in_person").ineligibility(DINNER, today) is None
    assert diner("ana@example.com", mode="virtual").ineligibility(DINNER, today) == (
        "meets only virtually; dinner is in person")
    assert diner("ana@example.com", office="").ineligibility(DINNER, today) == (
        "works from no office; dinner is in person, at an office")
    assert diner("ana@example.com", kinds=frozenset({"coffee"})).ineligibility(DINNER, today) == (
        "does not take part in dinner meetings")
    # The in-person rule is dinner's own: a virtual coffee takes an office-less, online-only person.
    assert diner("ana@example.com", mode="virtual", office="").ineligibility(Program("coffee"), today) is None


def test_issue_15_the_site_refuses_a_dinner_program_that_would_meet_online() -> None:
    coffee = Program("coffee")  # virtual
    with pytest.raises(InputError, match="a dinner program meets in person: choose in_person, not virtual") as raised:
        apply_changes(coffee, {"kind": "dinner"})
    assert raised.value.where == "meeting_mode"
    with pytest.raises(InputError) as raised:
        apply_changes(DINNER, {"meeting_mode": "either"})
    assert raised.value.where == "meeting_mode"
    dinner = apply_changes(coffee, {"kind": "dinner", "meeting_mode": "in_person", "group_size": 3})
    assert (dinner.kind, dinner.meeting_mode, dinner.group_size) == ("dinner", "in_person", 3)


# --- configuration ------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coffeechat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_issue_15_offices_have_dinner_hours_from_the_file_or_the_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[offices]]\nname = "London"\ndinner = "18:30-22:00"\n\n'
                                          '[[offices]]\nname = "Berlin"\n\n'
                                          '[[programs]]\nname = "dinner"\nkind = "dinner"\n'
                                          'meeting_mode = "in_person"\ngroup_size = 3\nduration_minutes = 120\n'))
    rules = config.office_rules()
    assert rules["London"].dinner == (time(18, 30), time(22, 0))
    assert rules["Berlin"].dinner == (time(18, 0), time(21, 0))
    assert rules["London"].lunch == (time(11, 30), time(14, 0))  # lunch untouched
    (program,) = config.programs
    assert (program.kind, program.meeting_mode, program.group_size) == ("dinner", "in_person", 3)


@pytest.mark.parametrize(("dinner", "problem"), [
    ("evening", r"office London: dinner 'evening' is not like '18:00-21:00'"),
    ("21:00-18:00", r"office London: dinner '21:00-18:00' must end after it starts, on the same day"),
    ("19:00-19:00", r"office London: dinner '19:00-19:00' must end after it starts"),
    ("18:00+01:00-21:00", r"office London: dinner '18:00\+01:00-21:00' is in local time"),
])
def test_issue_15_bad_dinner_hours_are_a_config_error_naming_the_office(tmp_path: Path, dinner: str,
                                                                         problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as raised:
        load_config(write(tmp_path, f'[[offices]]\nname = "London"\ndinner = "{dinner}"\n'))
    assert raised.value.key == "offices[0]"


def test_issue_15_a_dinner_program_meeting_virtually_is_a_config_error_naming_the_entry(tmp_path: Path) -> None:
    text = '[[programs]]\nname = "coffee"\n\n[[programs]]\nname = "dinner"\nkind = "dinner"\n'
    with pytest.raises(ConfigError,
                       match=r'meets in person: set meeting_mode = "in_person", not \'virtual\'') as raised:
        load_config(write(tmp_path, text))
    assert raised.value.key == "programs[1]"


def test_issue_15_the_example_configs_dinner_program_loads(tmp_path: Path) -> None:
    lines = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[programs]]", lines.index(next(line for line in lines if "A dinner program" in line)))
    table = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        table.append(line[2:])
    (program,) = load_config(write(tmp_path, "\n".join(table) + "\n")).programs
    assert (program.kind, program.meeting_mode, program.group_size) == ("dinner", "in_person", 3)


def test_issue_15_office_rules_check_their_dinner_hours() -> None:
    with pytest.raises(ValueError, match="dinner hours end"):
        OfficeRules(dinner=(time(21), time(18)))


# --- slots --------------------------------------------------------------------------------------------------


def test_issue_15_dinner_slots_fall_in_the_evening_though_working_hours_end_before() -> None:
    rules = SlotRules.for_program(DINNER, SUNDAY_NOON)
    ana, ben = diner("ana@example.com"), diner("ben@example.com", hours="mon-fri 08:00-16:00")
    index = index_of([ana, ben], rules)
    starts = starts_of(index, [ana.email, ben.email])
    assert starts  # the evening is free though nobody works then
    for start in starts:
        local = start.astimezone(ana.zone)
        assert local.weekday() < 5
        assert time(18) <= local.time()
        assert (local + DINNER.duration).time() <= time(21)
    slot = index.choose_slot([ana, ben])
    assert slot is not None
    assert slot.duration == DINNER.duration


def test_issue_15_dinner_hours_are_the_offices_and_coffee_ignores_them() -> None:
    offices = {"Berlin": OfficeRules(dinner=(time(19), time(22)))}
    kai = diner("kai@example.com", BERLIN, "Berlin")
    assert dinner_hours(kai, offices) == (time(19), time(22))
    assert dinner_hours(replace(kai, office="Paris"), offices) == (time(18), time(21))
    dinner = starts_of(index_of([kai], SlotRules.for_program(DINNER, SUNDAY_NOON, offices)), [kai.email])
    # 90 minutes inside 19:00-22:00: starts from 19:00 to 20:30.
    assert {s.astimezone(kai.zone).time() for s in dinner} == {time(19 + q // 4, q % 4 * 15) for q in range(7)}
    coffee = starts_of(index_of([kai], SlotRules.for_program(Program("coffee"), SUNDAY_NOON, offices)), [kai.email])
    assert all(time(9) <= s.astimezone(kai.zone).time() < time(17) for s in coffee)


def test_issue_15_no_dinner_on_a_day_off_or_an_office_holiday() -> None:
    tuesday = date(2026, 11, 24)
    offices = {"London": OfficeRules(holidays=frozenset({tuesday}))}
    part_timer = diner("pat@example.com", hours="mon,tue,wed 09:00-17:00")
    days = {s.astimezone(part_timer.zone).date()
            for s in starts_of(index_of([part_timer], SlotRules.for_program(DINNER, SUNDAY_NOON, offices)),
                               [part_timer.email])}
    assert days == {date(2026, 11, 23), date(2026, 11, 25)}


def test_issue_15_a_busy_evening_takes_no_dinner() -> None:
    ana = diner("ana@example.com")
    index = FreeTimeIndex(WEEK, SlotRules.for_program(DINNER, SUNDAY_NOON))
    evenings = tuple(Interval(datetime(2026, 11, day, 17, tzinfo=UTC), datetime(2026, 11, day, 22, tzinfo=UTC))
                     for day in range(23, 28))
    index.add(ana, Busy(busy=evenings))
    assert not index.has_any_slot(ana.email)


def test_issue_15_hours_conflict_names_the_dinner_hours() -> None:
    ana = diner("ana@example.com")
    evening = Interval(datetime(2026, 11, 24, 18, 30, tzinfo=UTC), datetime(2026, 11, 24, 20, tzinfo=UTC))
    noon = Interval(datetime(2026, 11, 24, 12, tzinfo=UTC), datetime(2026, 11, 24, 13, 30, tzinfo=UTC))
    assert hours_conflict(evening, ana, dinner=True) is None
    assert hours_conflict(evening, ana) == "outside ana@example.com's working hours (09:00–17:00 Europe/London)"
    assert hours_conflict(noon, ana, dinner=True) == (
        "outside ana@example.com's dinner hours (18:00–21:00 Europe/London)")


PROPERTY_ZONES = [LONDON, NEW_YORK, BERLIN, KOLKATA, SYDNEY, AUCKLAND, "Asia/Kathmandu", "America/St_Johns",
                  "Australia/Lord_Howe", "America/Santiago", "UTC"]


@st.composite
def evenings(draw: st.DrawFn) -> tuple[time, time]:
    start = draw(st.integers(15 * 60, 22 * 60))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    return time(start // 60, start % 60), time(end // 60, end % 60)


def _oracle_dinner_starts(people: list[Person], offices: dict[str, OfficeRules], window: Interval,
                          minutes: int) -> list[datetime]:
    """Independently of FreeTimeIndex: the starts on the 15-minute UTC grid whose whole dinner lies inside every
    member's office dinner hours on one of their working days, on their own wall clock."""
    found = []
    step = window.start
    while step + timedelta(minutes=minutes) <= window.end:
        end = step + timedelta(minutes=minutes)
        ok = True
        for someone in people:
            first, last = offices[someone.office].dinner
            local_start, local_end = step.astimezone(someone.zone), end.astimezone(someone.zone)
            ok = ok and (local_start.date() == local_end.date() and local_start.weekday() in someone.working_hours.days
                         and first <= local_start.time() and local_end.time() <= last)
        if ok:
            found.append(step)
        step += timedelta(minutes=15)
    return found


@settings(max_examples=150, deadline=None)
@given(members=st.lists(st.tuples(st.sampled_from(PROPERTY_ZONES), evenings(),
                                  st.frozensets(st.integers(0, 6), min_size=1)), min_size=1, max_size=4),
       minutes=st.integers(30, 180), first_day=st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_issue_15_every_dinner_start_lies_in_every_members_dinner_hours_on_their_clock(
        members: list[tuple[str, tuple[time, time], frozenset[int]]], minutes: int, first_day: date) -> None:
    offices = {f"Office {i}": OfficeRules(dinner=evening) for i, (_, evening, _) in enumerate(members)}
    people = [diner(f"p{i}@example.com", zone, f"Office {i}", working_hours=WorkingHours(days, time(9), time(17)))
              for i, (zone, _, days) in enumerate(members)]
    start = datetime.combine(first_day, time(0), UTC)
    window = Interval(start, start + timedelta(days=7))  # a week from any day: DST changes fall inside some
    rules = SlotRules(duration=timedelta(minutes=minutes), buffer=timedelta(0), earliest_start=start,
                      offices=offices, dinner=True)
    index = index_of(people, rules, window)
    emails = [p.email for p in people]
    # Steps are whole 15 minutes: a dinner of 40 minutes needs 45 free, so the index may offer fewer starts
    # than the oracle for a duration off the grid, never more, and the same for one on it.
    found = starts_of(index, emails)
    oracle = _oracle_dinner_starts(people, offices, window, minutes)
    assert set(found) <= set(oracle)
    if minutes % 15 == 0:
        assert found == oracle
    slot = index.choose_slot(people)
    assert (slot is None) == (not found)
    if slot is not None:
        for someone in people:
            assert hours_conflict(slot, someone, offices, dinner=True) is None


# --- people's choices: CSV ----------------------------------------------------------------------------------


def test_issue_15_the_csv_kinds_column_takes_dinner_and_leaves_it_out_when_empty() -> None:
    text = ("email,name,team,office,kinds\n"
            "ana@example.com,Ana,Payments,London,coffee;dinner\n"
            "ben@example.com,Ben,Sales,London,\n")
    people, problems = parse_people_csv(text, source="people.csv", now=SUNDAY_NOON)
    assert problems == []
    by_email = {person.email: person for person in people}
    assert by_email["ana@example.com"].kinds == {"coffee", "dinner"}
    assert by_email["ben@example.com"].kinds == DEFAULT_KINDS
    again, _ = parse_people_csv(format_people_csv(people), source="again.csv", now=SUNDAY_NOON)
    assert {p.email: p.kinds for p in again} == {p.email: p.kinds for p in people}


def test_issue_15_a_dinner_never_seats_five() -> None:
    with pytest.raises(ValueError, match="a dinner seats 2 to 4"):
        Program("dinner", kind="dinner", meeting_mode="in_person", group_size=4)
    # Tables of three are two to four where the count does not divide.
    assert {size for count in range(2, 40) for size in group_sizes(count, 3)} <= {2, 3, 4}
