"""An organisation folder for the end-to-end tests: a config, a people CSV and ICS calendars.

The CLI uses the real clock, so calendars are written relative to today: every person is busy all of the next
planning window (and the week after, in case a test runs across midnight on Sunday) except Wednesday
13:00–15:00 London time. A meeting can only land there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from scheduler.config import load_config
from scheduler.entrypoints.bootstrap import bootstrap
from scheduler.model import Interval
from scheduler.ports import UnitOfWork
from web.urls import WebUrls

LONDON = ZoneInfo("Europe/London")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# (email, name, team, department): six people in six teams, so three pairs.
PEOPLE = (
    ("ana.alpha@example.com", "Ana Alpha", "Payments", "Engineering"),
    ("ben.beta@example.com", "Ben Beta", "Platform", "Engineering"),
    ("cai.gamma@example.com", "Cai Gamma", "Mobile", "Engineering"),
    ("dee.delta@example.com", "Dee Delta", "Data", "Engineering"),
    ("eve.epsilon@example.com", "Eve Epsilon", "EMEA Sales", "Sales"),
    ("fay.zeta@example.com", "Fay Zeta", "Partnerships", "Sales"),
)
HEADER = "email,name,team,department,office,timezone,working_hours,calendar"

COFFEE = """
[[programs]]
name = "coffee"
kind = "coffee"
cadence = "weekly"
meeting_mode = "virtual"
"""
LUNCH = """
[[programs]]
name = "lunch"
kind = "lunch"
cadence = "monthly"
duration_minutes = 60
meeting_mode = "virtual"
"""
CONFIG = """
[organisation]
name = "Test Org"
organizer_email = "coffee@test.example.com"
organizer_name = "Coffee Chat"

[mail]
backend = "file"
sender = "Coffee Chat <coffee@test.example.com>"
outbox_dir = "outbox"

[calendar]
ics_dir = "."
"""


@dataclass(frozen=True)
class CliResult:
    """What one CLI run returned and printed (ANSI codes removed)."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout then stderr, every run of whitespace made one space (rich wraps long lines)."""
        return " ".join(f"{self.out}\n{self.err}".split())


@dataclass(frozen=True)
class Org:
    """A folder with config.toml, people.csv and calendars/*.ics; the database and outbox go next to them."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "config.toml"

    @property
    def people_csv(self) -> Path:
        return self.directory / "people.csv"

    @property
    def database(self) -> Path:
        return self.directory / "coffeechat.db"

    @property
    def outbox(self) -> Path:
        return self.directory / "outbox"


def free_wednesday(window_start: datetime) -> Interval:
    """The only free time in the test calendars: Wednesday 13:00–15:00 London time of the window's week."""
    wednesday = window_start.astimezone(LONDON).date() + timedelta(days=2)
    return Interval(datetime.combine(wednesday, time(13), LONDON), datetime.combine(wednesday, time(15), LONDON))


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def busy_calendar(email: str, window_starts: list[datetime]) -> str:
    """An iCalendar file busy from each week's Monday to Saturday (London), except Wednesday 13:00–15:00."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Coffee Chat tests//EN"]
    for week, start in enumerate(window_starts):
        monday = datetime.combine(start.astimezone(LONDON).date(), time(0), LONDON)
        free = free_wednesday(start)
        for part, (begin, end) in enumerate(((monday, free.start), (free.end, monday + timedelta(days=5)))):
            lines += [
                "BEGIN:VEVENT",
                f"UID:busy-{week}-{part}-{email}",
                "DTSTAMP:20260101T000000Z",
                f"DTSTART:{_utc(begin)}",
                f"DTEND:{_utc(end)}",
                "SUMMARY:Busy",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def person_row(email: str, name: str, team: str, department: str, *, timezone: str = "Europe/London") -> str:
    """One CSV row in the HEADER's columns, with the person's calendar file."""
    slug = email.partition("@")[0]
    return f"{email},{name},{team},{department},London,{timezone},mon-fri 09:00-17:00,ics:calendars/{slug}.ics"


@contextmanager
def open_store(config: Path) -> Iterator[UnitOfWork]:
    """A unit of work on the database of the config at ``config`` (read only: never committed)."""
    loaded = load_config(config)
    services = bootstrap(loaded, site=WebUrls.from_config(loaded))
    try:
        with services.uow_factory() as uow:
            yield uow
    finally:
        services.dispose()
