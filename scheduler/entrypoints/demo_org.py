"""A made-up but realistic organisation, with an iCalendar file per person, for the demo and for tests.

``generate_organisation`` builds people in teams, departments and offices (London, Berlin, New York) and a
calendar for each, covering ``days`` days from ``start``:

- a daily team stand-up (RRULE on weekdays), a weekly team planning meeting and a department all-hands, placed
  where most of the team is free and working, across offices and time zones;
- a weekly 1:1 with one's manager, with one week cancelled (EXDATE) and one moved (a RECURRENCE-ID override);
- one-off meetings filling roughly a third of each person's working hours (some tentative), a lunch block for
  some, "focus time" marked free (TRANSP:TRANSPARENT), a cancelled meeting, colleagues' birthdays (free
  all-day events), a day or two out of office for some, and the whole window away for a few.

Files come in three styles, as real exports do: IANA ``TZID`` with ``VTIMEZONE`` blocks; Google's UTC times
with ``X-WR-TIMEZONE``; Outlook's Windows zone names ("W. Europe Standard Time") with their own ``VTIMEZONE``.
Everything follows from ``random.Random(seed)``, so a seed always gives the same organisation.
"""

from __future__ import annotations

import random
import re
import unicodedata
from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from scheduler.admin.people_csv import format_people_csv
from scheduler.model import CalendarSource, Person, WorkingHours

OFFICES = {"London": "Europe/London", "Berlin": "Europe/Berlin", "New York": "America/New_York"}
# Whose public holidays each office keeps (ISO 3166-1 country, ISO 3166-2 subdivision): the demo's config lists
# them as [[offices]] tables (``offices_config``), so the demo books nobody on their office's public holiday.
OFFICE_HOLIDAYS = {"London": ("GB", "ENG"), "Berlin": ("DE", "BE"), "New York": ("US", "NY")}


def offices_config() -> str:
    """The ``[[offices]]`` tables of the demo's config file: each office with its country's public holidays."""
    tables = [f'[[offices]]\nname = "{name}"\ncountry = "{country}"\nsubdivision = "{subdivision}"\n'
              for name, (country, subdivision) in OFFICE_HOLIDAYS.items()]
    return "\n".join(tables)


# Department → teams with their home office.
DEPARTMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Engineering": (
        ("Payments", "London"),
        ("Platform", "Berlin"),
        ("Mobile", "London"),
        ("Data", "Berlin"),
        ("Security", "New York"),
    ),
    "Sales": (
        ("EMEA Sales", "London"),
        ("North America Sales", "New York"),
        ("Partnerships", "New York"),
        ("Customer Success", "Berlin"),
    ),
    "Product & Design": (("Product Design", "Berlin"), ("User Research", "London"), ("Product Management", "New York")),
    "Operations & People": (
        ("People", "London"),
        ("Finance", "New York"),
        ("Legal", "London"),
        ("Workplace", "Berlin"),
    ),
}

_FIRST_NAMES = (
    "Ana", "Ben", "Carla", "Dev", "Elif", "Finn", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Mei", "Nadia",
    "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomás", "Uma", "Viktor", "Wen", "Yara", "Zoë", "Aisha", "Bruno",
    "Chloé", "Daniel", "Emma", "Felix", "Gabriel", "Hannah", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Noor",
    "Oscar", "Paula", "Rafael", "Sofia", "Theo", "Valentina", "William", "Xavier", "Yusuf", "Amara", "Björn",
    "Camille", "Diego", "Freya", "Hamza", "Isla", "Jamal", "Kiran", "Leila", "Mateo", "Niamh", "Olga", "Pedro",
    "Ravi", "Siobhán", "Tariq", "Ursula", "Wei", "Zainab", "Malik", "Astrid",
)  # fmt: skip
_LAST_NAMES = (
    "López", "Okafor", "Schmidt", "Patel", "Yılmaz", "Murphy", "Kim", "Tanaka", "Silva", "Becker", "Adeyemi",
    "O'Brien", "Chen", "Haddad", "Nowak", "Rossi", "Andersson", "Dubois", "Khan", "Novak", "Fischer", "García",
    "Ivanova", "Mensah", "Nguyen", "Costa", "Jensen", "Kowalski", "Moreau", "Ali", "Byrne", "Cohen", "Dimitrov",
    "Evans", "Fernández", "Gupta", "Hoffmann", "Jones", "Kaur", "Lindqvist", "Meyer", "Nakamura", "Owusu",
    "Popescu", "Quaresma", "Richter", "Santos", "Taylor", "Van der Berg", "Wagner", "Xu", "Young", "Zimmermann",
    "Abara", "Brennan", "Castillo", "Da Costa", "Eriksen", "Fraser", "Ghosh", "Hughes", "Ibrahim", "Jovanović",
)  # fmt: skip
_INTERESTS = (
    "jazz", "climbing", "running", "chess", "cooking", "photography", "board games", "cycling", "gardening",
    "sci-fi", "football", "yoga", "baking", "hiking", "podcasts", "film", "knitting", "tennis", "swimming",
    "poetry", "travel", "coffee", "wine", "languages", "history", "astronomy", "woodwork", "dancing", "go",
    "open source",
)  # fmt: skip
_WORKING_HOURS = (  # (text, weight): most keep 9 to 5, early birds and late starters, a few part-timers
    ("mon-fri 09:00-17:00", 50),
    ("mon-fri 08:00-16:00", 15),
    ("mon-fri 10:00-18:00", 15),
    ("mon-fri 08:30-16:30", 8),
    ("mon-fri 09:30-17:30", 5),
    ("mon-thu 09:00-17:00", 4),
    ("tue-fri 09:00-17:00", 3),
)
_MEETINGS = {
    "Engineering": (
        "Design review: {topic}", "Incident review", "Pairing with {colleague}", "Architecture sync",
        "Interview: backend engineer", "Code walkthrough: {topic}", "On-call handover", "Tech debt triage",
    ),
    "Sales": (
        "Call with {client}", "Demo for {client}", "Pipeline review", "QBR prep: {client}", "Contract review",
        "Discovery call: {client}", "Forecast check-in", "Pricing approval",
    ),
    "Product & Design": (
        "User interview #{n}", "Design critique", "Roadmap review", "Usability test: {topic}",
        "Workshop: {topic}", "Spec review: {topic}", "Stakeholder sync", "Prototype walkthrough",
    ),
    "Operations & People": (
        "Interview: {role}", "Budget review", "Onboarding session", "Vendor call: {client}", "Policy review",
        "Payroll check", "Audit prep", "Office move planning",
    ),
}  # fmt: skip
_COMMON_MEETINGS = ("Coffee with {colleague}", "Lunch & learn: {topic}", "Training: {topic}", "Doctor's appointment")
_TOPICS = ("checkout v2", "search", "onboarding flow", "the data platform", "SSO", "pricing page", "mobile release")
_CLIENTS = ("Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries", "Wayne Enterprises", "Hooli")
_ROLES = ("recruiter", "finance analyst", "office manager", "legal counsel")
_LOCATIONS = ("", "", "Zoom", "Google Meet", "Room 2.01", "Room 3.14 (Turing)", "Kitchen, 4th floor")

# Windows names, as Outlook writes them in TZID, and the rules of each zone for hand-written VTIMEZONEs:
# (standard name, standard offset, daylight name, daylight offset, daylight starts, standard starts) where a
# start is (month, BYDAY, local wall time of the change).
_WINDOWS_NAMES = {
    "Europe/London": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "America/New_York": "Eastern Standard Time",
}
_ZONE_RULES = {
    "Europe/London": ("GMT", "+0000", "BST", "+0100", (3, "-1SU", "010000"), (10, "-1SU", "020000")),
    "Europe/Berlin": ("CET", "+0100", "CEST", "+0200", (3, "-1SU", "020000"), (10, "-1SU", "030000")),
    "America/New_York": ("EST", "-0500", "EDT", "-0400", (3, "2SU", "020000"), (11, "1SU", "020000")),
}
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_STYLES = (("standard", 60), ("google", 25), ("outlook", 15))
_T = TypeVar("_T")


@dataclass(frozen=True)
class DemoOrganisation:
    """People and their calendars: ``calendars`` maps a relative path (``calendars/ana-lopez.ics``, as in each
    person's ``calendar.location``) to the iCalendar text of that file."""

    people: tuple[Person, ...]
    calendars: dict[str, str]


def generate_organisation(*, seed: int, start: date, days: int = 21, size: int = 150) -> DemoOrganisation:
    """A deterministic organisation of ``size`` people with calendars covering ``days`` days from ``start``.

    At the default size there are 16 teams in 4 departments over 3 offices; smaller organisations have fewer
    teams (about six people each, at least one team). Roughly 30–50 % of working hours are busy.
    """
    if size < 1 or days < 1:
        raise ValueError("an organisation needs at least one person and one day")
    rng = random.Random(seed)  # noqa: S311 - a replayable demo, not a secret
    people = _people(rng, start, size)
    window = [start + timedelta(days=i) for i in range(days)]
    planner = _Planner(rng, people, window)
    planner.plan()
    calendars = {
        person.calendar.location: _render(person, planner.style[person.email], planner.events[person.email], start)
        for person in people
    }
    return DemoOrganisation(tuple(people), calendars)


def write_organisation(org: DemoOrganisation, directory: Path) -> Path:
    """Write the calendars and ``people.csv`` under ``directory``; return the path of ``people.csv``.

    Calendar paths in the CSV are relative to ``directory``, so it is the base directory for reading them.
    """
    for relative, text in org.calendars.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")  # keep iCalendar's CRLF as it is
    csv_path = directory / "people.csv"
    csv_path.write_text(format_people_csv(org.people), encoding="utf-8", newline="")
    return csv_path


# --- people ----------------------------------------------------------------------------------------------------


def _people(rng: random.Random, start: date, size: int) -> list[Person]:
    """Teams with a lead each; leads report to their department's head (the lead of its first team)."""
    teams = _teams_for(size)
    sizes = _team_sizes(rng, size, len(teams))
    verified_at = datetime.combine(start - timedelta(days=14), time(9), tzinfo=UTC)
    taken: set[str] = set()
    heads: dict[str, str] = {}
    people: list[Person] = []
    for (department, team, home), count in zip(teams, sizes, strict=True):
        lead_email = ""
        for index in range(count):
            first, last, slug = _unique_name(rng, taken)
            email = f"{slug.replace('-', '.')}@example.com"
            if index == 0:
                is_head = department not in heads
                heads.setdefault(department, email)
                lead_email = email
                manager = "" if is_head else heads[department]
                seniority = "director" if is_head else "lead"
                office = home
            else:
                manager = lead_email
                seniority = _weighted(rng, (("junior", 20), ("mid", 40), ("senior", 30), ("staff", 10)))
                office = home if rng.random() < 0.75 else rng.choice([o for o in OFFICES if o != home])
            people.append(
                Person(
                    email=email,
                    name=f"{first} {last}",
                    team=team,
                    department=department,
                    office=office,
                    timezone=OFFICES[office],
                    working_hours=WorkingHours.parse(_weighted(rng, _WORKING_HOURS)),
                    calendar=CalendarSource("ics", f"calendars/{slug}.ics"),
                    kinds=frozenset(_weighted(rng, _KINDS)),
                    mode=_weighted(rng, (("either", 50), ("virtual", 25), ("in_person", 25))),
                    cadence=_weighted(rng, (("weekly", 55), ("fortnightly", 30), ("monthly", 15))),
                    interests=frozenset(rng.sample(_INTERESTS, rng.randint(2, 4))),
                    seniority=seniority,
                    manager=manager,
                    verified_at=verified_at,
                )
            )
    return people


def _teams_for(size: int) -> list[tuple[str, str, str]]:
    """(department, team, home office), taking departments in turn so that small organisations keep variety."""
    columns = [[(department, team, home) for team, home in teams] for department, teams in DEPARTMENTS.items()]
    interleaved = [row[i] for i in range(max(map(len, columns))) for row in columns if i < len(row)]
    return interleaved[: max(1, min(len(interleaved), size // 6))]


def _team_sizes(rng: random.Random, size: int, teams: int) -> list[int]:
    """Split ``size`` into ``teams`` uneven parts of at least one (largest remainder on random weights)."""
    weights = [rng.uniform(0.6, 1.4) for _ in range(teams)]
    spare = size - teams
    shares = [spare * w / sum(weights) for w in weights]
    sizes = [1 + int(share) for share in shares]
    by_remainder = sorted(range(teams), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[: size - sum(sizes)]:
        sizes[i] += 1
    return sizes


def _unique_name(rng: random.Random, taken: set[str]) -> tuple[str, str, str]:
    for attempt in range(1000):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        slug = f"{_slug(first)}-{_slug(last)}" + (f"-{attempt}" if attempt >= 100 else "")
        if slug not in taken:
            taken.add(slug)
            return first, last, slug
    raise ValueError("ran out of unique names")  # only for organisations far larger than the name lists


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.replace("'", "")).strip("-")


# The meeting kinds people choose, with how often: dinner, an evening, only by some.
_KINDS = ((("coffee", "lunch"), 58), (("coffee", "lunch", "dinner"), 12), (("coffee",), 12), (("coffee", "dinner"), 3),
          (("lunch",), 15))


def _weighted(rng: random.Random, choices: Sequence[tuple[_T, int]]) -> _T:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


# --- events and diaries ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    """One VEVENT (with its overrides), its times on the wall clock of ``zone``."""

    uid: str
    summary: str
    zone: str
    start: datetime  # naive wall time in ``zone``; for all-day events, midnight of the first day
    minutes: int = 0  # length of a timed event
    days: int = 0  # length of an all-day event (0: a timed event)
    repeat: str = ""  # "", "weekdays" or "weekly"
    exdates: tuple[datetime, ...] = ()
    moved: tuple[tuple[datetime, datetime], ...] = ()  # RECURRENCE-ID overrides: (original start, new start)
    status: str = "CONFIRMED"
    transparent: bool = False
    location: str = ""
    description: str = ""
    organizer: Person | None = None
    attendees: tuple[Person, ...] = ()
    floating: bool = False  # written without a zone, as some clients do for personal entries

    def seen_from(self, zone: str) -> _Event:
        """The same event with its times on ``zone``'s wall clock (as a Google feed's X-WR-TIMEZONE reads it)."""
        if self.zone == zone or self.days or self.floating:
            return self

        def move(wall: datetime) -> datetime:
            return _aware(wall, self.zone).astimezone(ZoneInfo(zone)).replace(tzinfo=None)

        return replace(
            self,
            zone=zone,
            start=move(self.start),
            exdates=tuple(move(d) for d in self.exdates),
            moved=tuple((move(a), move(b)) for a, b in self.moved),
        )

    def occurrences(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """Aware (start, end) of each timed occurrence starting between ``first`` and ``last`` (inclusive)."""
        length = timedelta(minutes=self.minutes)
        if not self.repeat:
            if first <= self.start.date() <= last:
                yield _aware(self.start, self.zone), _aware(self.start, self.zone) + length
            return
        moved = dict(self.moved)
        day = max(first, self.start.date())
        while day <= last:
            weekly_ok = self.repeat == "weekly" and day.weekday() == self.start.weekday()
            if weekly_ok or (self.repeat == "weekdays" and day.weekday() < 5):
                wall = datetime.combine(day, self.start.time())
                if wall not in self.exdates:
                    begins = _aware(moved.get(wall, wall), self.zone)
                    yield begins, begins + length
            day += timedelta(days=1)


def _aware(wall: datetime, zone: str) -> datetime:
    return wall.replace(tzinfo=ZoneInfo(zone))


class _Diary:
    """What is booked in one person's working hours, per local day of the window, in minutes since midnight."""

    def __init__(self, person: Person, window: Sequence[date]) -> None:
        self.zone = ZoneInfo(person.timezone)
        hours = person.working_hours
        self.opens = hours.start.hour * 60 + hours.start.minute
        self.closes = hours.end.hour * 60 + hours.end.minute
        self.booked: dict[date, list[tuple[int, int]]] = {d: [] for d in window if d.weekday() in hours.days}

    @property
    def working_days(self) -> list[date]:
        return list(self.booked)

    def _local(self, start: datetime, end: datetime) -> tuple[date, int, int]:
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        minutes = local_start.hour * 60 + local_start.minute
        if local_end.date() != local_start.date():
            return local_start.date(), minutes, 24 * 60
        return local_start.date(), minutes, local_end.hour * 60 + local_end.minute

    def fits(self, start: datetime, end: datetime) -> bool | None:
        """Free and inside working hours; ``None`` when not on one of this person's working days."""
        day, a, b = self._local(start, end)
        if day not in self.booked:
            return None
        return self.opens <= a and b <= self.closes and all(b <= c or d <= a for c, d in self.booked[day])

    def book(self, start: datetime, end: datetime) -> None:
        """Mark the time as busy (overlaps are allowed: real calendars have them)."""
        day, a, b = self._local(start, end)
        if day in self.booked:
            self.booked[day].append((a, b))

    def book_day(self, day: date) -> None:
        """Mark a whole working day busy (out of office)."""
        if day in self.booked:
            self.booked[day].append((0, 24 * 60))

    def busy_minutes(self, day: date) -> int:
        """Booked minutes inside working hours on ``day`` (overlaps counted once)."""
        covered = 0
        cursor = self.opens
        for a, b in sorted(self.booked.get(day, [])):
            a, b = max(a, cursor), min(b, self.closes)
            if b > a:
                covered += b - a
                cursor = b
        return covered

    def free_starts(self, day: date, minutes: int) -> list[int]:
        """Starts on a quarter-hour grid where a meeting of ``minutes`` fits on ``day``."""
        booked = self.booked.get(day, [])
        return [
            a
            for a in range(self.opens + (-self.opens) % 15, self.closes - minutes + 1, 15)
            if all(a + minutes <= c or d <= a for c, d in booked)
        ]


class _Planner:
    """Places every person's events; the order matters (shared series first, then fill the gaps)."""

    def __init__(self, rng: random.Random, people: Sequence[Person], window: Sequence[date]) -> None:
        self.rng = rng
        self.people = list(people)
        self.window = list(window)
        self.first, self.last = window[0], window[-1]
        # A series began weeks before the window, as real ones do.
        self.series_start = self.first - timedelta(days=35)
        self.diary = {p.email: _Diary(p, window) for p in people}
        self.events: dict[str, list[_Event]] = {p.email: [] for p in people}
        self.style = {p.email: _weighted(rng, _STYLES) for p in people}
        self.by_email = {p.email: p for p in people}
        self._uids = 0

    def plan(self) -> None:
        """Fill ``events`` (each person's calendar) and ``diary`` (their booked working time)."""
        teams: dict[str, list[Person]] = {}
        departments: dict[str, list[Person]] = {}
        for person in self.people:
            teams.setdefault(person.team, []).append(person)
            departments.setdefault(person.department, []).append(person)
        for team, members in teams.items():
            self._team_series(team, members)
        for department, members in departments.items():
            self._all_hands(department, members)
        for person in self.people:
            if person.manager:
                self._one_to_one(person, self.by_email[person.manager])
        away = self._out_of_office()
        for person in self.people:
            if person.email not in away:
                self._lunch_block(person)
                self._fill(person)
            self._extras(person)

    # -- helpers --

    def _uid(self, kind: str) -> str:
        self._uids += 1
        return f"{kind}-{self._uids:05d}@demo.coffeechat.example"

    def _view(self, event: _Event, person: Person) -> _Event:
        return event.seen_from(person.timezone) if self.style[person.email] == "google" else event

    def _clashes(self, event: _Event, people: Sequence[Person]) -> int:
        """How many (person, occurrence) pairs fall outside working hours or on booked time."""
        clashes = 0
        shared = list(event.occurrences(self.first, self.last))  # the same for everyone but Google readers
        for person in people:
            view = self._view(event, person)
            occurrences = shared if view is event else view.occurrences(self.first, self.last)
            diary = self.diary[person.email]
            clashes += sum(diary.fits(start, end) is False for start, end in occurrences)
        return clashes

    def _add(self, event: _Event, people: Sequence[Person]) -> None:
        """Put the event in each person's calendar and book its busy occurrences."""
        busy = not event.transparent and event.status != "CANCELLED"
        for person in people:
            self.events[person.email].append(event)
            if busy:
                for start, end in self._view(event, person).occurrences(self.first, self.last):
                    self.diary[person.email].book(start, end)

    def _best(self, candidates: Sequence[_Event], people: Sequence[Person]) -> _Event:
        """The first candidate with the fewest clashes: candidates come in order of preference."""
        return min(candidates, key=lambda event: self._clashes(event, people))

    def _times(self, person: Person, minutes: int, step: int = 30) -> list[time]:
        """Start times for a meeting of ``minutes`` inside the person's working hours."""
        diary = self.diary[person.email]
        return [time(m // 60, m % 60) for m in range(diary.opens, diary.closes - minutes + 1, step)]

    def _series_day(self, weekday: int) -> date:
        return self.series_start + timedelta(days=(weekday - self.series_start.weekday()) % 7)

    # -- shared events --

    def _team_series(self, team: str, members: list[Person]) -> None:
        lead = members[0]
        invited = tuple(members)
        # Stand-up: early in the lead's day is preferred; later times win when colleagues abroad are asleep.
        times = self._times(lead, 15, 15)
        preferred = times[1:8] + times[8:] + times[:1]
        uid = self._uid("standup")
        standups = [
            _Event(
                uid=uid,
                summary=f"{team} stand-up",
                zone=lead.timezone,
                start=datetime.combine(self._series_day(0), at),
                minutes=15,
                repeat="weekdays",
                location="Google Meet",
                organizer=lead,
                attendees=invited,
            )
            for at in preferred
        ]
        self._add(self._best(standups, members), members)
        uid = self._uid("planning")
        planning = [
            _Event(
                uid=uid,
                summary=f"{team} planning",
                zone=lead.timezone,
                start=datetime.combine(self._series_day(weekday), at),
                minutes=60,
                repeat="weekly",
                location=self.rng.choice(_LOCATIONS[2:]),
                description="Agenda: last week's goals, this week's priorities, blockers; "
                "notes in the team doc.\nJoin: https://meet.example.com/" + _slug(team) + "-planning",
                organizer=lead,
                attendees=invited,
            )
            for weekday in self.rng.sample(range(5), 5)
            for at in self._times(lead, 60)
        ]
        self._add(self._best(planning, members), members)

    def _all_hands(self, department: str, members: list[Person]) -> None:
        head = members[0]
        # In the second week when there is one, so that the first week is not the only busy one.
        days = [d for d in self.window[7:14] or self.window if d.weekday() < 5] or self.window
        uid = self._uid("all-hands")
        candidates = [
            _Event(
                uid=uid,
                summary=f"{department} all-hands",
                zone=head.timezone,
                start=datetime.combine(day, at),
                minutes=60,
                location="Auditorium + stream",
                description=f"Quarterly update for everyone in {department}. Questions, please, in the form.",
                organizer=head,
                attendees=tuple(members),
            )
            for day in days
            for at in self._times(head, 60)
        ]
        self._add(self._best(candidates, members), members)

    def _one_to_one(self, person: Person, manager: Person) -> None:
        pair = [manager, person]
        first_names = f"{person.name.split()[0]} / {manager.name.split()[0]}"
        uid = self._uid("one-to-one")
        base = self._best(
            [
                _Event(
                    uid=uid,
                    summary=f"1:1 {first_names}",
                    zone=manager.timezone,
                    start=datetime.combine(self._series_day(weekday), at),
                    minutes=30,
                    repeat="weekly",
                    organizer=manager,
                    attendees=(manager, person),
                )
                for weekday in self.rng.sample(range(5), 5)
                for at in self._times(manager, 30)
            ],
            pair,
        )
        walls = [start.replace(tzinfo=None) for start, _ in base.occurrences(self.first, self.last)]
        # One week off (EXDATE) and one week moved (RECURRENCE-ID), as every real 1:1 series has.
        exdates = tuple(walls[1:2])
        moved: tuple[tuple[datetime, datetime], ...] = ()
        if walls:
            original = walls[0]
            options = [original + timedelta(hours=h) for h in (2, -2, 3, -3, 1, -1)] + [original + timedelta(days=1)]
            probe = replace(base, repeat="", minutes=30)
            fitting = [
                o for o in options if self._clashes(replace(probe, start=o), pair) == 0 and o.date() in self.window
            ]
            moved = ((original, fitting[0] if fitting else original),)
        self._add(replace(base, exdates=exdates, moved=moved), pair)

    # -- personal events --

    def _out_of_office(self) -> set[str]:
        """A day or two off for about a quarter of people; the whole window for a few (about 2 %)."""
        people = [p for p in self.people if p.manager]  # heads of department stay, the demo needs them
        whole = set(self.rng.sample([p.email for p in people], min(len(people), round(len(self.people) * 0.02))))
        for person in self.people:
            diary = self.diary[person.email]
            if person.email in whole:
                reason = self.rng.choice(["Parental leave", "Sabbatical", "Annual leave"])
                self._all_day(person, reason, self.first, len(self.window))
                for day in diary.working_days:
                    diary.book_day(day)
            elif diary.working_days and self.rng.random() < 0.25:
                day = self.rng.choice(diary.working_days)
                length = 2 if self.rng.random() < 0.3 and day + timedelta(days=1) in diary.booked else 1
                self._all_day(person, self.rng.choice(["Out of office", "Annual leave", "Off sick"]), day, length)
                for offset in range(length):
                    diary.book_day(day + timedelta(days=offset))
        return whole

    def _all_day(self, person: Person, summary: str, first: date, days: int, transparent: bool = False) -> None:
        event = _Event(
            uid=self._uid("all-day"),
            summary=summary,
            zone=person.timezone,
            start=datetime.combine(first, time(0)),
            days=days,
            transparent=transparent,
        )
        self.events[person.email].append(event)

    def _lunch_block(self, person: Person) -> None:
        if self.rng.random() < 0.15:
            at = self.rng.choice([time(12), time(12, 30)])
            event = _Event(
                uid=self._uid("lunch"),
                summary="Lunch",
                zone=person.timezone,
                start=datetime.combine(self._series_day(0), at),
                minutes=45,
                repeat="weekdays",
            )
            self._add(event, [person])

    def _fill(self, person: Person) -> None:
        """One-off meetings until each working day is about as busy as this person usually is."""
        diary = self.diary[person.email]
        load = self.rng.uniform(0.22, 0.40) + (0.04 if person.department == "Sales" else 0.0)
        day_length = diary.closes - diary.opens
        for day in diary.working_days:
            target = load * day_length * self.rng.uniform(0.6, 1.4)
            while diary.busy_minutes(day) < target:
                minutes = self.rng.choice((30, 30, 30, 45, 60, 60, 90))
                starts = diary.free_starts(day, minutes)
                if not starts:  # the day is fragmented: a short meeting may still fit
                    minutes, starts = 30, diary.free_starts(day, 30)
                if not starts:
                    break
                at = self.rng.choice(starts)
                wall = datetime.combine(day, time(at // 60, at % 60))
                self._add(
                    _Event(
                        uid=self._uid("meeting"),
                        summary=self._meeting_title(person),
                        zone=person.timezone,
                        start=wall,
                        minutes=minutes,
                        status="TENTATIVE" if self.rng.random() < 0.1 else "CONFIRMED",
                        location=self.rng.choice(_LOCATIONS),
                        floating=self.style[person.email] == "standard" and self.rng.random() < 0.05,
                    ),
                    [person],
                )

    def _extras(self, person: Person) -> None:
        """Events that must not count as busy: focus time, a cancelled meeting, colleagues' birthdays."""
        diary = self.diary[person.email]
        days = diary.working_days
        if not days:
            return
        if self.rng.random() < 0.3:
            day = self.rng.choice(days)
            at = diary.opens + 60 * self.rng.randint(0, max(0, (diary.closes - diary.opens) // 60 - 2))
            self._add(
                _Event(
                    uid=self._uid("focus"),
                    summary="Focus time",
                    zone=person.timezone,
                    start=datetime.combine(day, time(at // 60, at % 60)),
                    minutes=120,
                    transparent=True,
                ),
                [person],
            )
        if self.rng.random() < 0.5:
            # Placed on free time on purpose: read as busy, it would hide a slot that is really free.
            day = self.rng.choice(days)
            starts = diary.free_starts(day, 60)
            if starts:
                at = self.rng.choice(starts)
                self._add(
                    _Event(
                        uid=self._uid("cancelled"),
                        summary="Cancelled: " + self._meeting_title(person),
                        zone=person.timezone,
                        start=datetime.combine(day, time(at // 60, at % 60)),
                        minutes=60,
                        status="CANCELLED",
                    ),
                    [person],
                )
        if self.rng.random() < 0.15:
            colleague = self.rng.choice(self.people)
            self._all_day(person, f"{colleague.name.split()[0]}'s birthday", self.rng.choice(days), 1, True)

    def _meeting_title(self, person: Person) -> str:
        pool = _MEETINGS.get(person.department, ()) + _COMMON_MEETINGS
        return self.rng.choice(pool).format(
            topic=self.rng.choice(_TOPICS),
            client=self.rng.choice(_CLIENTS),
            role=self.rng.choice(_ROLES),
            colleague=self.rng.choice(self.people).name.split()[0],
            n=self.rng.randint(1, 40),
        )


# --- iCalendar text --------------------------------------------------------------------------------------------


def _render(person: Person, style: str, events: Sequence[_Event], start: date) -> str:
    """One person's calendar file as an export of the given style would write it (CRLF, folded lines)."""
    stamp = datetime.combine(start - timedelta(days=1), time(8), tzinfo=UTC).strftime("%Y%m%dT%H%M%SZ")
    views = [event.seen_from(person.timezone) if style == "google" else event for event in events]
    lines = [
        "BEGIN:VCALENDAR",
        {
            "google": "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "outlook": "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
            "standard": "PRODID:-//Coffee Chat//Demo organisation//EN",
        }[style],
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(person.name)}",
    ]
    if style == "google":
        lines.append(f"X-WR-TIMEZONE:{person.timezone}")
    else:
        zones = sorted({v.zone for v in views if not v.days and not v.floating})
        for zone in zones:
            lines += _vtimezone(zone, _WINDOWS_NAMES[zone] if style == "outlook" else zone)
    for view in views:
        lines += _vevent(view, style, stamp)
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _vevent(event: _Event, style: str, stamp: str) -> list[str]:
    def when(name: str, wall: datetime) -> str:
        if event.floating:
            return f"{name}:{wall:%Y%m%dT%H%M%S}"
        if style == "google":
            return f"{name}:{_aware(wall, event.zone).astimezone(UTC):%Y%m%dT%H%M%SZ}"
        tzid = f'"{_WINDOWS_NAMES[event.zone]}"' if style == "outlook" else event.zone
        return f"{name};TZID={tzid}:{wall:%Y%m%dT%H%M%S}"

    def body(start: datetime, summary: str, location: str, sequence: int) -> list[str]:
        lines = [f"UID:{event.uid}", f"DTSTAMP:{stamp}"]
        if event.days:
            lines.append(f"DTSTART;VALUE=DATE:{start:%Y%m%d}")
            if event.days > 1 or event.transparent:  # a one-day absence without DTEND: "missing DTEND = 1 day"
                lines.append(f"DTEND;VALUE=DATE:{start + timedelta(days=event.days):%Y%m%d}")
        else:
            lines.append(when("DTSTART", start))
            if event.repeat == "weekdays":
                lines.append(f"DURATION:PT{event.minutes}M")
            else:
                lines.append(when("DTEND", start + timedelta(minutes=event.minutes)))
        lines += [f"SUMMARY:{_text(summary)}", f"SEQUENCE:{sequence}"]
        if location:
            lines.append(f"LOCATION:{_text(location)}")
        if event.description:
            lines.append(f"DESCRIPTION:{_text(event.description)}")
        if event.organizer is not None:
            lines.append(f"ORGANIZER;CN={_param(event.organizer.name)}:mailto:{event.organizer.email}")
        if len(event.attendees) <= 8:  # big meetings list nobody, as exports of large invites often do
            lines += [
                f"ATTENDEE;CN={_param(a.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:{a.email}"
                for a in event.attendees
            ]
        lines += [f"STATUS:{event.status}", f"TRANSP:{'TRANSPARENT' if event.transparent else 'OPAQUE'}"]
        return lines

    lines = ["BEGIN:VEVENT", *body(event.start, event.summary, event.location, 0)]
    if event.repeat == "weekdays":
        lines.append("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR")
    elif event.repeat == "weekly":
        lines.append(f"RRULE:FREQ=WEEKLY;BYDAY={_BYDAY[event.start.weekday()]}")
    lines += [when("EXDATE", wall) for wall in event.exdates]
    lines.append("END:VEVENT")
    for original, new in event.moved:
        summary, location = (event.summary, "Café downstairs") if new == original else (event.summary, "")
        lines += ["BEGIN:VEVENT", when("RECURRENCE-ID", original), *body(new, summary, location, 1), "END:VEVENT"]
    return lines


def _vtimezone(zone: str, tzid: str) -> list[str]:
    std_name, std_offset, dst_name, dst_offset, dst_start, std_start = _ZONE_RULES[zone]

    def part(kind: str, name: str, before: str, after: str, begins: tuple[int, str, str]) -> list[str]:
        month, byday, clock = begins
        # DTSTART must be a day the rule yields; the first such day in 1970 is fine for zoneinfo and Outlook.
        first = _first_match(1970, month, byday)
        return [
            f"BEGIN:{kind}",
            f"TZOFFSETFROM:{before}",
            f"TZOFFSETTO:{after}",
            f"TZNAME:{name}",
            f"DTSTART:{first:%Y%m%d}T{clock}",
            f"RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={byday}",
            f"END:{kind}",
        ]

    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tzid}",
        *part("DAYLIGHT", dst_name, std_offset, dst_offset, dst_start),
        *part("STANDARD", std_name, dst_offset, std_offset, std_start),
        "END:VTIMEZONE",
    ]


def _first_match(year: int, month: int, byday: str) -> date:
    """The day of ``month`` named by an RRULE BYDAY such as ``2SU`` (second Sunday) or ``-1SU`` (last)."""
    weekday, n = _BYDAY.index(byday[-2:]), int(byday[:-2])
    matching = [
        date(year, month, d)
        for d in range(1, monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() == weekday
    ]
    return matching[n - 1] if n > 0 else matching[n]


def _text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(value: str) -> str:
    """A parameter value, quoted when it holds a character that would end it."""
    value = value.replace('"', "'")
    return f'"{value}"' if any(c in value for c in ",;:") else value


def _fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never splitting a UTF-8 character."""
    if len(line) <= 18 or len(line.encode()) <= 75:  # most lines: 18 characters are at most 72 octets
        return line
    pieces: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, 74  # continuation lines begin with a space, which counts
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)
