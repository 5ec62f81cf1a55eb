"""Free time and meeting slots.

The planning window is cut into 15-minute steps. Each person's free time is a bitset (a Python int, bit i =
step i is free): working hours in their own zone, minus busy time widened by a buffer, minus the minimum notice,
and for lunch programs only inside lunch hours (the person's own when they set them, else their office's), on
days their office is open (neither one of its own holidays nor a public holiday of its country). Dinner programs
book the office's dinner hours (18:00-21:00 unless it says otherwise) instead of working hours, which end before
dinner begins, on the same working days. A group's
common free time is the AND of its members' bitsets, so availability, candidate filtering and slot choice share
one index and stay cheap.

The two kinds of span are put on the grid in opposite directions: busy time takes every step it touches, free
time (working and lunch hours) only the steps wholly inside it. So hours off the grid (09:10-09:45) give the
steps inside them (09:15-09:45), and no slot ever starts before or ends after someone's hours.

Steps are aligned to UTC, so every candidate start is a real instant: a slot can never start at a local time
that does not exist (the hour skipped when clocks spring forward). An edge of working hours that the clock
skips or shows twice that day has two readings; a start takes the later and an end the earlier, so the hours
between stay inside the person's hours on their local clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as holiday_tables

from scheduler.model import Busy, Interval, OfficeRules, Person, Program

STEP = timedelta(minutes=15)
DEFAULT_OFFICE = OfficeRules()
# How much more the local time of someone who had the edge of the day last cycle counts this cycle.
FAVOUR_FACTOR = 3.0
# Preferred local starts: mid-morning and early afternoon, where people say yes to a coffee.
PREFERRED_LOCAL = ((time(10, 0), time(11, 30)), (time(13, 30), time(15, 30)))


@dataclass(frozen=True)
class SlotRules:
    """What makes a step usable for a program's meeting."""

    duration: timedelta
    buffer: timedelta = timedelta(minutes=5)
    earliest_start: datetime | None = None
    lunch: bool = False
    offices: Mapping[str, OfficeRules] = field(default_factory=dict)
    # Dinner hours (the office's evening) in place of working hours, on working days.
    dinner: bool = False

    @classmethod
    def for_program(cls, program: Program, now: datetime,
                    offices: Mapping[str, OfficeRules] | None = None) -> SlotRules:
        """The rules of ``program`` for a cycle planned at ``now``, with each office's lunch and dinner hours
        and holidays."""
        return cls(
            duration=program.duration,
            buffer=timedelta(minutes=program.buffer_minutes),
            earliest_start=now + timedelta(hours=program.min_notice_hours),
            lunch=program.kind == "lunch",
            offices=offices or {},
            dinner=program.kind == "dinner",
        )


class FreeTimeIndex:
    """Everyone's free steps over one window, with the operations pairing and slot choice need."""

    def __init__(self, window: Interval, rules: SlotRules) -> None:
        if (window.start - datetime.min.replace(tzinfo=window.start.tzinfo)) % STEP:
            raise ValueError("the planning window must start on a 15-minute boundary")
        self.window = window
        self.rules = rules
        self.steps = int((window.end - window.start) / STEP)
        self.slot_steps = max(1, -(-int(rules.duration / timedelta(seconds=1)) // int(STEP.total_seconds())))
        self._free: dict[str, int] = {}
        self._working: dict[str, int] = {}

    # -- building -------------------------------------------------------------------------------------

    def add(self, person: Person, busy: Busy) -> None:
        """Index ``person``'s free time. A calendar that could not be read (``busy.error``) has no busy
        intervals of its own, so only what else is known (meetings already booked) is taken out. Working hours
        the calendar reports (Exchange's) replace the profile's (``with_reported_hours``)."""
        person = with_reported_hours(person, busy)
        working = self._working_mask(person)
        free = working
        for interval in busy.busy:
            free &= ~self._mask(interval.start - self.rules.buffer, interval.end + self.rules.buffer)
        if self.rules.earliest_start is not None:
            free &= ~self._mask(self.window.start, self.rules.earliest_start)
        self._working[person.email] = working
        self._free[person.email] = free

    def _working_mask(self, person: Person) -> int:
        zone = person.zone
        hours = person.working_hours
        office = self.rules.offices.get(person.office, DEFAULT_OFFICE)
        lunch = lunch_hours(person, self.rules.offices)
        start_day = self.window.start.astimezone(zone).date() - timedelta(days=1)
        end_day = self.window.end.astimezone(zone).date() + timedelta(days=1)
        closed = closed_days(office, start_day, end_day)
        mask = 0
        day = start_day
        while day <= end_day:
            if day.weekday() in hours.days and day not in closed:
                begin, finish = hours.start, hours.end
                if self.rules.lunch:
                    begin, finish = max(begin, lunch[0]), min(finish, lunch[1])
                if self.rules.dinner:
                    begin, finish = office.dinner
                if begin < finish:
                    mask |= self._inner_mask(local_start(day, begin, zone), local_end(day, finish, zone))
            day += timedelta(days=1)
        return mask

    def _mask(self, start: datetime, end: datetime) -> int:
        """Bits of the steps that overlap ``[start, end)`` (a busy span: any step it touches is taken), clipped
        to the window."""
        return self._bits_between(_floor_steps(start - self.window.start), _ceil_steps(end - self.window.start))

    def _inner_mask(self, start: datetime, end: datetime) -> int:
        """Bits of the steps wholly inside ``[start, end)`` (a free span: a step that begins before it or ends
        after it is not free), clipped to the window."""
        return self._bits_between(_ceil_steps(start - self.window.start), _floor_steps(end - self.window.start))

    def _bits_between(self, first: int, last: int) -> int:
        first, last = max(0, first), min(self.steps, last)
        if last <= first:
            return 0
        return ((1 << (last - first)) - 1) << first

    # -- questions ------------------------------------------------------------------------------------

    def __contains__(self, email: object) -> bool:
        return email in self._free

    def common_starts(self, emails: Iterable[str]) -> int:
        """Bits of the steps where a meeting of the program's duration can start for everyone in ``emails``."""
        common = -1
        for email in emails:
            common &= self._free[email]
        if common == -1:
            return 0
        starts = common
        for shift in range(1, self.slot_steps):
            starts &= common >> shift
        return starts

    def common_hours(self, emails: Iterable[str]) -> float:
        """Hours of possible meeting starts the group shares (a measure of how easy they are to book)."""
        return self.common_starts(emails).bit_count() * STEP.total_seconds() / 3600

    def has_any_slot(self, email: str) -> bool:
        """Whether the person alone has room for one meeting in the window (False when out of office)."""
        return self.common_starts([email]) != 0

    def free_share(self, email: str) -> float:
        """Share of the person's working steps that are free (1.0 when they have no working steps)."""
        working = self._working[email].bit_count()
        return self._free[email].bit_count() / working if working else 1.0

    def working_overlap(self, a: str, b: str) -> float:
        """Share of the shorter working week that two people have in common (1.0 = fully overlapping)."""
        shorter = min(self._working[a].bit_count(), self._working[b].bit_count())
        return (self._working[a] & self._working[b]).bit_count() / shorter if shorter else 0.0

    def step_start(self, index: int) -> datetime:
        """The UTC start of step ``index``."""
        return self.window.start + index * STEP

    def choose_slot(self, people: Sequence[Person], day_load: Mapping[str, int] | None = None,
                    favour: frozenset[str] = frozenset()) -> Interval | None:
        """The best common slot for ``people``, or None when they share no free time.

        Best means: a start on the hour or half hour, inside mid-morning or early afternoon for every member in
        their own zone, on a day with few meetings of this cycle already (``day_load``, keyed by ISO date), and
        otherwise the earliest. People in ``favour`` (who had the early or late end of the day last cycle) weigh
        three times as much, so in a cross-zone pair the edge of the day moves from one to the other. Ties
        always break the same way, so a plan can be replayed.
        """
        starts = self.common_starts(p.email for p in people)
        if not starts:
            return None
        load = day_load or {}

        def cost(index: int) -> tuple[float, int]:
            start = self.step_start(index)
            total = 0.0 if start.minute in (0, 30) else 2.0
            total += sum(_local_time_cost(start.astimezone(person.zone).time())
                         * (FAVOUR_FACTOR if person.email in favour else 1.0) for person in people)
            total += 1.5 * load.get(start.date().isoformat(), 0)
            return (total, index)  # equal costs: the earliest start wins

        start = self.step_start(min(_bits(starts), key=cost))
        return Interval(start, start + self.rules.duration)


def lunch_hours(person: Person, offices: Mapping[str, OfficeRules] | None = None) -> tuple[time, time]:
    """The local hours a lunch program books ``person`` in: their own when set, else their office's (11:30-14:00
    for an office not in ``offices``)."""
    return person.lunch or (offices or {}).get(person.office, DEFAULT_OFFICE).lunch


def dinner_hours(person: Person, offices: Mapping[str, OfficeRules] | None = None) -> tuple[time, time]:
    """The local hours a dinner program books ``person`` in: their office's evening (18:00-21:00 for an office
    not in ``offices``)."""
    return (offices or {}).get(person.office, DEFAULT_OFFICE).dinner


def with_reported_hours(person: Person, busy: Busy) -> Person:
    """``person`` with the working hours their calendar reports (Exchange's), when it reports usable ones: those
    are what the person keeps up to date, so they replace the profile's wherever a slot is judged."""
    if busy.working_hours is None:
        return person
    return replace(person, working_hours=busy.working_hours, timezone=busy.working_zone or person.timezone)


def hours_conflict(slot: Interval, person: Person, offices: Mapping[str, OfficeRules] | None = None, *,
                   lunch: bool = False, dinner: bool = False) -> str | None:
    """Why ``slot`` does not lie inside ``person``'s working hours on their own clock, on a day they work and
    their office is open (and, when ``lunch``, inside their lunch hours too; when ``dinner``, inside their
    office's dinner hours instead), or None when it does: what a cycle's index allows, checked directly for a
    start off the 15-minute grid (``meeting reschedule``)."""
    zone = person.zone
    begin, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    hours = person.working_hours
    if begin.weekday() not in hours.days:
        return (f"{begin:%A} is not one of {person.email}'s working days ({hours.describe()} "
                f"{person.timezone})")
    office = (offices or {}).get(person.office, DEFAULT_OFFICE)
    closed = holiday_name(office, begin.date())
    if closed is not None:
        return f"{begin:%a %Y-%m-%d} is {closed} at {person.email}'s office, {person.office}"
    first, last, what = hours.start, hours.end, "working hours"
    if lunch:
        own = lunch_hours(person, offices)
        first, last, what = max(first, own[0]), min(last, own[1]), "lunch hours"
    if dinner:
        (first, last), what = dinner_hours(person, offices), "dinner hours"
    if not (begin.date() == end.date() and first <= begin.time() and end.time() <= last):
        return f"outside {person.email}'s {what} ({first:%H:%M}–{last:%H:%M} {person.timezone})"
    return None


# Public holidays are looked up here, for the years a window covers, rather than listed as dates in OfficeRules
# by the config: the config cannot know which years a long-running process will plan (a site started in
# December plans January's cycles), and the tables are plain data in the `holidays` package (no I/O, nothing
# mutable), cached per year, so the index stays a pure function of its inputs and tests build OfficeRules by hand.

@functools.lru_cache(maxsize=1024)
def closed_days(office: OfficeRules, first: date, last: date) -> frozenset[date]:
    """The local dates from ``first`` to ``last`` (both included) when nobody at ``office`` is booked: its own
    holidays and its country's public holidays."""
    days = {day for day in office.holidays if first <= day <= last}
    if office.country:
        for year in range(first.year, last.year + 1):
            days.update(day for day in public_holidays(office.country, office.subdivision, year)
                        if first <= day <= last)
    return frozenset(days)


def holiday_name(office: OfficeRules, day: date) -> str | None:
    """What closes ``office`` on ``day`` ("a public holiday (Christmas Day, GB-ENG)", "an office holiday"), or
    None when it is open."""
    if day in office.holidays:
        return "an office holiday"
    if office.country:
        name = public_holidays(office.country, office.subdivision, day.year).get(day)
        if name is not None:
            region = f"{office.country}-{office.subdivision}" if office.subdivision else office.country
            return f"a public holiday ({name}, {region})"
    return None


@functools.cache
def public_holidays(country: str, subdivision: str, year: int) -> Mapping[date, str]:
    """The public holidays of ``country`` (an ISO 3166-1 code such as ``GB``) and, when given, its
    ``subdivision`` (``ENG``) in ``year``, by date, with their names. Observed days are included: a holiday
    that falls on a Saturday and is taken on the Monday closes the office on the Monday. ``ValueError`` for a
    country or subdivision the tables do not know (see ``check_holiday_region``)."""
    check_holiday_region(country, subdivision)
    table = holiday_tables.country_holidays(country, subdiv=subdivision or None, years=year)
    return MappingProxyType(dict(table.items()))


@functools.cache
def check_holiday_region(country: str, subdivision: str = "") -> None:
    """``ValueError`` saying what to write instead when ``country`` is not an ISO 3166-1 code the public
    holiday tables know, or ``subdivision`` is not one of that country's."""
    supported = holiday_tables.list_supported_countries()
    if country not in supported:
        raise ValueError(f"country {country!r} has no public holiday table; use an ISO 3166-1 code such as "
                         "GB, US or DE")
    if subdivision and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        raise ValueError(f"subdivision {subdivision!r} is not one of {country}'s ({known})")


def edge_of_day(slot: Interval, people: Sequence[Person]) -> str | None:
    """Who had the least comfortable local time in this meeting (outside mid-morning and early afternoon,
    and worse than the others), or None when nobody did."""
    costs = sorted((_local_time_cost(slot.start.astimezone(p.zone).time()), p.email) for p in people)
    if not costs or costs[-1][0] == 0 or costs[-1][0] == costs[0][0]:
        return None
    return costs[-1][1]


def _local_time_cost(local: time) -> float:
    minutes = local.hour * 60 + local.minute
    distances = []
    for begin, end in PREFERRED_LOCAL:
        low, high = begin.hour * 60 + begin.minute, end.hour * 60 + end.minute
        distances.append(0 if low <= minutes <= high else min(abs(minutes - low), abs(minutes - high)))
    return min(distances) / 60.0


def local_start(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which hours that begin at ``at`` on ``day`` in ``zone`` begin. A wall time the clock
    shows twice (clocks going back) takes its later reading: between the two the clock is back before ``at``.
    One it skips (clocks going forward) also takes the later, on the far side of the gap."""
    return max(_readings(day, at, zone))


def local_end(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which hours that end at ``at`` on ``day`` in ``zone`` end: the earlier reading of a
    wall time the clock shows twice or skips (the mirror of ``local_start``)."""
    return min(_readings(day, at, zone))


def _readings(day: date, at: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    # Compared in UTC: two datetimes of the same zone compare by wall time, ignoring fold.
    wall = datetime.combine(day, at, tzinfo=zone)
    return wall.astimezone(UTC), wall.replace(fold=1).astimezone(UTC)


def _floor_steps(delta: timedelta) -> int:
    return int(delta // STEP)


def _ceil_steps(delta: timedelta) -> int:
    return -int(-delta // STEP)


def _bits(mask: int) -> Iterable[int]:
    """Indexes of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
