"""Benchmark: availability and slots at scale, calendar in the loop versus "pair first, find a time later".

For a synthetic organisation (departments, teams, offices in five time zones, working hours, 30-50% of each
working day busy), one 5-day window:
- coffeechat: busy intervals → free-time index → candidates → pairing (no pair without a common slot) → slots;
- baseline (what the popular tools do): the same pairing engine without calendars, then a slot search for
  each pair it made.

Printed: seconds per stage, groups, and the share of groups that got a common slot inside every member's
working hours.
Usage: python bench/availability.py [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.model import Busy, Interval, Person, Program, WorkingHours
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import PairHistory
from scheduler.planning.cycle import choose_slots

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
PLANNED_AT = MONDAY - timedelta(days=1)
PROGRAM = Program("coffee", meeting_mode="virtual")
OFFICES = [("London", "Europe/London", 30), ("Berlin", "Europe/Berlin", 25), ("New York", "America/New_York", 30),
           ("Bangalore", "Asia/Kolkata", 10), ("Sydney", "Australia/Sydney", 5)]
DEPARTMENTS = ["Engineering", "Sales", "Product", "Operations"]
HOURS = ["mon-fri 09:00-17:00", "mon-fri 08:00-16:00", "mon-fri 10:00-18:00", "mon-thu 09:00-17:00"]


def organisation(size: int, seed: int) -> tuple[list[Person], dict[str, Busy]]:
    """People and their busy intervals: meetings on the 15-minute grid filling 30-50% of each working day."""
    rng = random.Random(seed)
    people, busy = [], {}
    for i in range(size):
        office, zone, _ = rng.choices(OFFICES, [w for *_, w in OFFICES])[0]
        department = rng.choice(DEPARTMENTS)
        person = Person(email=f"p{i}@example.com", name=f"P {i}", team=f"{department}-{rng.randrange(size // 10)}",
                        department=department, office=office, timezone=zone,
                        working_hours=WorkingHours.parse(rng.choice(HOURS)))
        people.append(person)
        busy[person.email] = Busy(busy=_meetings(person, rng))
    return people, busy


def _meetings(person: Person, rng: random.Random) -> tuple[Interval, ...]:
    zone = ZoneInfo(person.timezone)
    spans = []
    for offset in range(-1, 6):
        day = (MONDAY + timedelta(days=offset)).astimezone(zone).date()
        if day.weekday() not in person.working_hours.days:
            continue
        opens = datetime.combine(day, person.working_hours.start, tzinfo=zone)
        length = int((datetime.combine(day, person.working_hours.end, tzinfo=zone) - opens) / timedelta(minutes=15))
        target = rng.uniform(0.3, 0.5) * length
        taken = 0
        while taken < target:
            start, steps = rng.randrange(length), rng.choice([2, 2, 4, 4, 6, 8])
            begin = opens + timedelta(minutes=15 * start)
            spans.append(Interval(begin, begin + timedelta(minutes=15 * steps)))
            taken += steps
    return tuple(spans)


def index_of(people: Sequence[Person], busy: dict[str, Busy], *, with_calendars: bool) -> FreeTimeIndex:
    index = FreeTimeIndex(WINDOW, SlotRules.for_program(PROGRAM, PLANNED_AT))
    for person in people:
        index.add(person, busy[person.email] if with_calendars else Busy(known=False))
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    print(f"{'people':>7} {'method':<34} {'index s':>8} {'pairing s':>10} {'slots s':>8} {'total s':>8} "
          f"{'groups':>7} {'with a slot':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        people, busy = organisation(size, seed=size)
        by_email = {p.email: p for p in people}
        for label, with_calendars in (("coffeechat (calendar in the loop)", True),
                                      ("pair first, find a time after", False)):
            started = time.perf_counter()
            index = index_of(people, busy, with_calendars=with_calendars)
            indexed = time.perf_counter()
            result = pair_people(people, PROGRAM, history=PairHistory(), today=date(2026, 11, 22), seed=1,
                                 free_time=index if with_calendars else None)
            paired = time.perf_counter()
            real_index = index if with_calendars else index_of(people, busy, with_calendars=True)
            meetings = choose_slots(result.groups, by_email, real_index, PROGRAM)
            done = time.perf_counter()
            with_slot = sum(m.slot is not None for m in meetings)
            print(f"{size:>7} {label:<34} {indexed - started:>8.2f} {paired - indexed:>10.2f} {done - paired:>8.2f} "
                  f"{done - started:>8.2f} {len(meetings):>7} {100 * with_slot / max(1, len(meetings)):>11.1f}%")


if __name__ == "__main__":
    main()
