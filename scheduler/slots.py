"""Free time and meeting slots.

The planning window is cut into 15-minute steps. Each person's free time is a bitset (a Python int, bit i =
step i is free): working hours in their own zone, minus busy time widened by a buffer, minus the minimum notice,
and for lunch programs only inside lunch hours (the person's own when they set them, else their office's). A
group's common free time is the AND of its members' bitsets, so availability, candidate filtering and slot choice
share one index and stay cheap.

Steps are aligned to UTC, so every candidate start is a real instant: a slot can never start at a local time
that does not exist (the hour skipped when clocks spring forward); working-hours edges on such days are
resolved with zoneinfo's ``fold=0`` rule, consistently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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

    @classmethod
    def for_program(cls, program: Program, now: datetime,
                    offices: Mapping[str, OfficeRules] | None = None) -> SlotRules:
        """The rules of ``program`` for a cycle planned at ``now``, with each office's lunch hours and
        holidays."""
        return cls(
            duration=program.duration,
            buffer=timedelta(minutes=program.buffer_minutes),
            earliest_start=now + timedelta(hours=program.min_notice_hours),
            lunch=program.kind == "lunch",
            offices=offices or {},
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
        the calendar reports (Exchange's) replace the profile's: they are what the person keeps up to date."""
        if busy.working_hours is not None:
            person = replace(person, working_hours=busy.working_hours,
                             timezone=busy.working_zone or person.timezone)
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
        mask = 0
        day = start_day
        while day <= end_day:
            if day.weekday() in hours.days and day not in office.holidays:
                begin, finish = hours.start, hours.end
                if self.rules.lunch:
                    begin, finish = max(begin, lunch[0]), min(finish, lunch[1])
                if begin < finish:
                    mask |= self._mask(_local(day, begin, zone), _local(day, finish, zone))
            day += timedelta(days=1)
        return mask

    def _mask(self, start: datetime, end: datetime) -> int:
        """Bits of the steps that overlap ``[start, end)`` (a busy or free span), clipped to the window."""
        first = max(0, _floor_steps(start - self.window.start))
        last = min(self.steps, _ceil_steps(end - self.window.start))
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


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone)


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
