"""The demo organisation: deterministic, varied, and with calendars that read back as a realistic week."""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from integrations.ics_feed import IcsCalendarProvider, read_busy
from scheduler.admin.people_csv import parse_people_csv
from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.config import parse_config
from scheduler.entrypoints.demo_org import (
    OFFICE_HOLIDAYS,
    OFFICES,
    DemoOrganisation,
    generate_organisation,
    offices_config,
    write_organisation,
)
from scheduler.model import Busy, Interval, Person, merge_intervals
from tests.intervals import subtract_intervals

LONDON = "Europe/London"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

SEED = 2025
START = date(2025, 3, 17)  # a Monday; Europe changes to summer time within the three weeks
DAYS = 21
READ_WINDOW = Interval(
    datetime.combine(START - timedelta(days=1), time(0), tzinfo=UTC),
    datetime.combine(START + timedelta(days=DAYS + 1), time(0), tzinfo=UTC),
)


@pytest.fixture(scope="module")
def org() -> DemoOrganisation:
    """The default-sized organisation (generated once: it takes about a second)."""
    return generate_organisation(seed=SEED, start=START, days=DAYS)


@pytest.fixture(scope="module")
def busy(org: DemoOrganisation) -> dict[str, Busy]:
    """Every person's busy time, read from their generated calendar with the real ICS reader."""
    return {
        person.email: read_busy(
            org.calendars[person.calendar.location], READ_WINDOW, person.timezone, source=person.calendar.location
        )
        for person in org.people
    }


def working_time(person: Person) -> tuple[Interval, ...]:
    """The person's working hours on each of their working days in the window."""
    zone = ZoneInfo(person.timezone)
    hours = person.working_hours
    days = (START + timedelta(days=i) for i in range(DAYS))
    return tuple(
        Interval(datetime.combine(day, hours.start, tzinfo=zone), datetime.combine(day, hours.end, tzinfo=zone))
        for day in days
        if day.weekday() in hours.days
    )


def free_time(person: Person, busy: Busy) -> list[Interval]:
    """Working time minus busy and tentative time (tentative is busy unless a program says otherwise)."""
    taken = merge_intervals((*busy.busy, *busy.tentative))
    return [free for work in working_time(person) for free in subtract_intervals(work, taken)]


def total(intervals: list[Interval] | tuple[Interval, ...]) -> float:
    """Summed length in hours."""
    return sum((i.duration for i in intervals), timedelta()).total_seconds() / 3600


def test_a_seed_always_gives_the_same_organisation(org: DemoOrganisation) -> None:
    again = generate_organisation(seed=SEED, start=START, days=DAYS)

    assert again.people == org.people
    assert again.calendars == org.calendars


def test_another_seed_gives_another_organisation(org: DemoOrganisation) -> None:
    other = generate_organisation(seed=SEED + 1, start=START, days=DAYS, size=30)

    assert {p.email for p in other.people} != {p.email for p in org.people[:30]}


def test_size_teams_departments_and_offices(org: DemoOrganisation) -> None:
    people = org.people

    assert len(people) == 150
    assert len({p.email for p in people}) == 150
    assert len({p.name for p in people}) == 150
    assert len({p.team for p in people}) >= 12
    assert len({p.department for p in people}) == 4
    assert {p.office for p in people} == {"London", "Berlin", "New York"}
    assert {(p.office, p.timezone) for p in people} == {("London", LONDON), ("Berlin", BERLIN), ("New York", NEW_YORK)}
    assert all(p.email.endswith("@example.com") for p in people)
    assert min(Counter(p.team for p in people).values()) >= 3


def test_managers_lead_teams_and_report_to_a_department_head(org: DemoOrganisation) -> None:
    by_email = {p.email: p for p in org.people}
    heads = [p for p in org.people if not p.manager]

    assert sorted(p.department for p in heads) == sorted({p.department for p in org.people})
    for person in org.people:
        if person.manager:
            manager = by_email[person.manager]
            assert manager.team == person.team or (manager in heads and manager.department == person.department)


def test_people_vary_like_real_colleagues(org: DemoOrganisation) -> None:
    people = org.people
    kinds = Counter(tuple(sorted(p.kinds)) for p in people)

    assert {p.working_hours.start for p in people} >= {time(8), time(9), time(10)}
    assert len({p.working_hours.days for p in people}) >= 2  # some part-timers
    assert kinds[("coffee", "lunch")] > len(people) / 2
    assert kinds[("coffee",)] > 0
    assert kinds[("lunch",)] > 0
    assert 0 < sum(n for chosen, n in kinds.items() if "dinner" in chosen) < len(people) / 3  # only by choice
    assert {p.mode for p in people} == {"in_person", "virtual", "either"}
    assert {p.cadence for p in people} == {"weekly", "fortnightly", "monthly"}
    assert len({p.seniority for p in people}) >= 4
    assert all(2 <= len(p.interests) <= 4 for p in people)
    assert all(p.verified_at is not None for p in people)
    assert all(p.calendar.kind == "ics" for p in people)
    assert {p.calendar.location for p in people} == set(org.calendars)


def test_every_calendar_reads_without_error(org: DemoOrganisation, busy: dict[str, Busy]) -> None:
    assert len(busy) == len(org.people)
    assert all(b.error is None and b.warnings == () for b in busy.values())
    assert all(b.busy for b in busy.values())


def test_calendars_are_crlf_and_folded_at_75_octets(org: DemoOrganisation) -> None:
    for text in org.calendars.values():
        assert text.endswith("END:VCALENDAR\r\n")
        lines = text.split("\r\n")[:-1]
        assert "\n" not in "".join(lines)
        assert max(len(line.encode()) for line in lines) <= 75


def test_calendars_use_the_features_real_exports_use(org: DemoOrganisation) -> None:
    texts = list(org.calendars.values())

    def files_with(fragment: str) -> int:
        return sum(fragment in text for text in texts)

    assert files_with("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR") == len(texts)  # everyone has a stand-up
    assert files_with("BEGIN:VTIMEZONE") > len(texts) / 2
    assert files_with("X-WR-TIMEZONE:") > 10  # Google exports
    assert files_with('TZID="W. Europe Standard Time"') + files_with('TZID="Eastern Standard Time"') > 3  # Outlook
    assert files_with("EXDATE") > len(texts) * 0.8  # the 1:1s
    assert files_with("RECURRENCE-ID") > len(texts) * 0.8
    assert files_with("STATUS:TENTATIVE") > 10
    assert files_with("TRANSP:TRANSPARENT") > 10
    assert files_with("STATUS:CANCELLED") > 10
    assert files_with("DTSTART;VALUE=DATE:") > 20  # out of office, birthdays
    assert files_with("\r\n ") == len(texts)  # folded lines
    assert files_with("\\,") > 0  # escaped commas


def test_busy_share_of_working_hours_is_realistic(org: DemoOrganisation, busy: dict[str, Busy]) -> None:
    work = {p.email: total(working_time(p)) for p in org.people}
    free = {p.email: total(free_time(p, busy[p.email])) for p in org.people}
    away = [email for email in work if free[email] == 0]

    share = 1 - sum(free.values()) / sum(work.values())
    assert 0.30 <= share <= 0.50
    assert 1 <= len(away) <= 5  # the few away for the whole window
    assert all(free[email] / work[email] >= 0.3 for email in work if email not in away)


def test_colleagues_in_other_teams_usually_share_free_time(org: DemoOrganisation, busy: dict[str, Busy]) -> None:
    free = {p.email: free_time(p, busy[p.email]) for p in org.people}
    present = [p for p in org.people if free[p.email]]
    rng = random.Random(SEED)
    pairs = [(a, b) for a, b in (rng.sample(present, 2) for _ in range(300)) if a.team != b.team]

    def has_common_half_hour(a: Person, b: Person) -> bool:
        common = merge_intervals(c for x in free[a.email] for y in free[b.email] if (c := x.clip(y)) is not None)
        return any(c.duration >= timedelta(minutes=30) for c in common)

    shared = sum(has_common_half_hour(a, b) for a, b in pairs)
    assert shared / len(pairs) >= 0.9


def test_written_organisation_reads_back(org: DemoOrganisation, tmp_path: Path) -> None:
    csv_path = write_organisation(org, tmp_path)

    assert csv_path == tmp_path / "people.csv"
    verified_at = org.people[0].verified_at
    assert verified_at is not None
    people, errors = parse_people_csv(csv_path.read_text(encoding="utf-8"), source="people.csv", now=verified_at)
    assert errors == []
    assert tuple(people) == org.people
    for relative, text in org.calendars.items():
        assert (tmp_path / relative).read_bytes() == text.encode()
    provider = IcsCalendarProvider(tmp_path)
    answers = provider.fetch_busy(people[:10], READ_WINDOW)
    assert all(answer.error is None and answer.busy for answer in answers.values())


def test_small_organisations_still_work() -> None:
    small = generate_organisation(seed=1, start=date(2025, 10, 20), days=3, size=10)

    assert len(small.people) == 10
    assert all(p.office in OFFICES for p in small.people)
    window = Interval(datetime(2025, 10, 19, tzinfo=UTC), datetime(2025, 10, 24, tzinfo=UTC))
    for person in small.people:
        result = read_busy(small.calendars[person.calendar.location], window, person.timezone, source="x")
        assert result.error is None


@pytest.mark.parametrize(("size", "days"), [(0, 21), (10, 0)])
def test_an_empty_organisation_is_refused(size: int, days: int) -> None:
    with pytest.raises(ValueError, match="at least one person and one day"):
        generate_organisation(seed=1, start=START, days=days, size=size)


def test_issue_13_demo_offices_keep_their_countrys_public_holidays(tmp_path: Path) -> None:
    config = parse_config(tomllib.loads(offices_config()), tmp_path / "config.toml")
    offices = config.office_rules()
    assert set(offices) == set(OFFICES)
    window = Interval(datetime(2026, 12, 21, tzinfo=UTC), datetime(2027, 1, 9, tzinfo=UTC))
    rules = SlotRules(duration=timedelta(minutes=30), buffer=timedelta(0), earliest_start=window.start,
                      offices=offices)
    people = generate_organisation(seed=SEED, start=window.start.date(), days=19, size=30).people
    index = FreeTimeIndex(window, rules)
    for someone in people:
        index.add(someone, Busy())
    closed = {name: set(holidays.country_holidays(country, subdiv=subdivision, years=[2026, 2027]))
              for name, (country, subdivision) in OFFICE_HOLIDAYS.items()}
    assert date(2026, 12, 25) in closed["London"]  # the window holds holidays of every office
    assert date(2027, 1, 1) in closed["New York"]
    assert date(2026, 12, 25) in closed["Berlin"]
    for someone in people:
        starts = index.common_starts([someone.email])
        days = {index.step_start(i).astimezone(someone.zone).date() for i in range(index.steps) if starts >> i & 1}
        assert days, someone.email
        assert not days & closed[someone.office], someone.email
