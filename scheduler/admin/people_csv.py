"""Participants as a CSV file: the admin's bulk import and export.

The first line is a header naming the columns, in any order; names are matched without regard to case or
surrounding spaces. Values are stripped of surrounding spaces. Lists inside a cell are separated by ``;``.

============== ======== ===================================================================================
column         required meaning (default when the cell is empty or the column is absent)
============== ======== ===================================================================================
email          yes      the person's address; identifies them, so it may appear only once in a file
name           yes      display name
team           yes      team name; people in the same team are never paired
department              department name ("")
office                  office name ("")
timezone                IANA zone such as ``Europe/London`` (``UTC``)
working_hours           days and hours in the person's zone, like ``mon-fri 09:00-17:00`` or
                        ``mon,tue,thu 08:30-16:30`` (``mon-fri 09:00-17:00``)
lunch                   the person's own lunch hours for lunch programs, in their zone, like
                        ``12:00-13:30`` (their office's: ``11:30-14:00`` unless the configuration says)
calendar                where free/busy comes from: ``ics:calendars/ana.ics``, ``ics:https://…``,
                        ``google:ana@example.com``, ``microsoft:…``, ``caldav:https://…`` (none)
kinds                   meeting kinds taken part in: ``coffee;lunch;dinner``, ``coffee``, ``lunch;dinner`` …
                        (``coffee;lunch``: dinner, in the evening, only for people it names)
mode                    ``in_person``, ``virtual`` or ``either`` (``either``)
cadence                 ``weekly``, ``fortnightly`` or ``monthly`` (``weekly``)
interests               ``jazz;climbing;go`` (none)
seniority               free text such as ``junior``, ``senior``, ``lead`` ("")
manager                 the manager's email address ("")
wishlist                whom the person would like to meet: email addresses, ``team:NAME`` and
                        ``department:NAME``, like ``bo@example.com;team:Search;department:Sales`` (none)
blocked                 email addresses of people never to be paired with, like ``cy@example.com`` (none)
verified                ``yes`` or ``no`` (``yes``): an admin import vouches for the address, so it counts as
                        confirmed; ``no`` makes the person confirm it by email first
role                    free text such as ``engineer`` or ``leader``, which a program's audience may name
                        (``[programs.audience] roles``) ("")
============== ======== ===================================================================================

Pausing and opting out are not columns: they belong to the participant's own account, not to an import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import datetime, time
from typing import TypeVar

from scheduler.errors import InputError
from scheduler.model import (
    CADENCES,
    DEFAULT_KINDS,
    MEETING_KINDS,
    MEETING_MODES,
    CalendarSource,
    Person,
    WorkingHours,
    normalize_email,
    require_utc,
    zone_named,
)

COLUMNS = (
    "email",
    "name",
    "team",
    "department",
    "office",
    "timezone",
    "working_hours",
    "lunch",
    "calendar",
    "kinds",
    "mode",
    "cadence",
    "interests",
    "seniority",
    "manager",
    "wishlist",
    "blocked",
    "verified",
    "role",
)
REQUIRED_COLUMNS = ("email", "name", "team")

_T = TypeVar("_T")
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_WISHLIST_GROUPS = ("team", "department")


def parse_people_csv(text: str, *, source: str, now: datetime) -> tuple[list[Person], list[InputError]]:
    """Read people from CSV ``text``; return the good rows as people and every problem as an ``InputError``.

    ``source`` names the file in errors, whose ``where`` is ``"<source>, line <n>"`` with ``n`` the physical
    line (the header is line 1; a row with a quoted line break is named by its first line). A bad header is
    the only error and no people are returned. Each bad row is one error naming every bad column; good rows
    are returned all the same, so the caller decides whether a partial import is acceptable. A repeated
    email is an error on its later line. ``now`` (timezone-aware) becomes ``verified_at`` of verified people.
    """
    verified_at = require_utc(now, "now")
    # strict: a stray quote is an error on its line, not a silently mangled row (or a swallowed file).
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        return [], [InputError(f"the header is not valid CSV: {exc}", where=f"{source}, line 1")]
    columns = [name.strip().lower() for name in header]
    header_problem = _header_problem(columns)
    if header_problem:
        return [], [InputError(header_problem, where=f"{source}, line 1")]

    people: list[Person] = []
    errors: list[InputError] = []
    first_line_of: dict[str, int] = {}
    last_line = reader.line_num
    while True:
        where = f"{source}, line {last_line + 1}"
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            errors.append(InputError(f"not valid CSV: {exc}", where=where))
            last_line = reader.line_num  # the reader goes on with the line after the broken row
            continue
        if cells is None:
            break
        line, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        try:
            person = _person(_cells(cells, columns), verified_at)
        except _RowError as exc:
            errors.append(InputError(str(exc), where=where))
            continue
        if person.email in first_line_of:
            problem = f"email: {person.email} already appears on line {first_line_of[person.email]}"
            errors.append(InputError(problem, where=where))
            continue
        first_line_of[person.email] = line
        people.append(person)
    return people, errors


def _header_problem(columns: list[str]) -> str | None:
    if not any(columns):
        return f"no header: the first line must name the columns, at least {', '.join(REQUIRED_COLUMNS)}"
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        problems.append(f"unknown column(s) {shown}; the columns are {', '.join(COLUMNS)}")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append(f"column(s) {', '.join(repeated)} given more than once")
    return "; ".join(problems) or None


class _RowError(Exception):
    """Everything wrong with one row, as "column: problem" parts."""


def _cells(cells: list[str], columns: list[str]) -> dict[str, str]:
    extra = cells[len(columns) :]
    if any(cell.strip() for cell in extra):
        raise _RowError(f"the row has {len(cells)} fields but the header names {len(columns)} columns")
    # A short row (spreadsheets drop trailing empty cells) leaves the missing columns empty.
    return {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(columns)}


def _person(cells: dict[str, str], verified_at: datetime) -> Person:
    """A person from one row's cells; ``_RowError`` names every bad column."""
    problems = [f"{column}: required but empty" for column in REQUIRED_COLUMNS if not cells.get(column)]

    def read(column: str, parse: Callable[[str], _T], default: _T) -> _T:
        text = cells.get(column, "")
        if not text:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
            return default

    email = read("email", normalize_email, "")
    timezone = read("timezone", _zone_name, "UTC")
    working_hours = read("working_hours", WorkingHours.parse, WorkingHours())
    lunch = read("lunch", _lunch, None)
    calendar = read("calendar", CalendarSource.parse, CalendarSource())
    kinds = read("kinds", _kinds, DEFAULT_KINDS)
    mode = read("mode", _choice(MEETING_MODES), "either")
    cadence = read("cadence", _choice(CADENCES), "weekly")
    manager = read("manager", normalize_email, "")
    no_one: frozenset[str] = frozenset()
    wishlist = read("wishlist", _entries(_wishlist_entry), no_one)
    blocked = read("blocked", _entries(normalize_email), no_one)
    verified = read("verified", _yes_no, True)
    if problems:
        raise _RowError("; ".join(problems))
    return Person(
        email=email,
        name=cells["name"],
        team=cells["team"],
        department=cells.get("department", ""),
        office=cells.get("office", ""),
        timezone=timezone,
        working_hours=working_hours,
        lunch=lunch,
        calendar=calendar,
        kinds=kinds,
        mode=mode,
        cadence=cadence,
        interests=frozenset(_split(cells.get("interests", ""))),
        seniority=cells.get("seniority", ""),
        manager=manager,
        role=cells.get("role", ""),
        wishlist=wishlist,
        blocked=blocked,
        verified_at=verified_at if verified else None,
    )


def _zone_name(text: str) -> str:
    zone_named(text)
    return text


def _lunch(text: str) -> tuple[time, time]:
    """``12:00-13:30`` (local times, end after start) as a pair of times."""
    try:
        start_text, end_text = text.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"lunch hours {text!r} are not like '12:00-13:30'") from None
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"lunch hours {text!r} are local times: give them without a time zone")
    if end <= start:
        raise ValueError(f"lunch hours {text!r} must end after they start")
    return (start, end)


def _clock(moment: time) -> str:
    """``moment`` as ``HH:MM``, with seconds (and microseconds) only when it has them, so it reads back as itself."""
    return moment.isoformat("minutes" if not (moment.second or moment.microsecond) else "auto")


def _kinds(text: str) -> frozenset[str]:
    kinds = frozenset(kind.lower() for kind in _split(text))
    unknown = sorted(kinds - set(MEETING_KINDS))
    if unknown:
        raise ValueError(f"unknown kind {', '.join(unknown)}; use {';'.join(MEETING_KINDS)}")
    return kinds


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.lower().replace("-", "_").replace(" ", "_")  # "in-person" and "In person" mean in_person
        if value not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return value

    return parse


def _entries(parse: Callable[[str], str]) -> Callable[[str], frozenset[str]]:
    """A parser of a ``;``-separated list whose entries each go through ``parse``; every bad entry is named."""

    def parse_list(text: str) -> frozenset[str]:
        entries: set[str] = set()
        problems: list[str] = []
        for part in _split(text):
            try:
                entries.add(parse(part))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return frozenset(entries)

    return parse_list


def _wishlist_entry(text: str) -> str:
    """``team:NAME`` or ``department:NAME`` (the prefix in any case), else a normalised email address."""
    prefix, sep, name = text.partition(":")
    if sep and prefix.strip().lower() in _WISHLIST_GROUPS:
        if not name.strip():
            raise ValueError(f"{text!r} names no {prefix.strip().lower()}")
        return f"{prefix.strip().lower()}:{name.strip()}"
    try:
        return normalize_email(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an email address, team:NAME or department:NAME") from None


def _yes_no(text: str) -> bool:
    if text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise ValueError(f"{text!r} is not yes or no")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def format_people_csv(people: Iterable[Person]) -> str:
    """People as CSV text in the format ``parse_people_csv`` reads, with every column, one row per person.

    Reading the text back gives the same people (values are stripped, so surrounding spaces do not survive),
    except that ``verified_at`` becomes the reader's ``now`` (the file says only yes or no) and pausing and
    opting out are not written. Raises ``ValueError`` for a person the format cannot express: one taking part
    in no meeting kind, with an interest containing ``;``, or with a wishlist or blocked entry that would not
    read back as itself (one containing ``;``, an address not lower-case, ``Team:x`` for ``team:x``, …).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for person in people:
        if not person.kinds:
            raise ValueError(f"{person.email} takes part in no meeting kind; the CSV cannot say that")
        bad_interests = sorted(interest for interest in person.interests if ";" in interest)
        if bad_interests:
            raise ValueError(f"{person.email}: interest {bad_interests[0]!r} contains ';', the list separator")
        writer.writerow(
            (
                person.email,
                person.name,
                person.team,
                person.department,
                person.office,
                person.timezone,
                person.working_hours.describe(),
                "" if person.lunch is None else f"{_clock(person.lunch[0])}-{_clock(person.lunch[1])}",
                "" if person.calendar.kind == "none" else str(person.calendar),
                ";".join(kind for kind in MEETING_KINDS if kind in person.kinds),
                person.mode,
                person.cadence,
                ";".join(sorted(person.interests)),
                person.seniority,
                person.manager,
                _list_cell(person.email, "wishlist", person.wishlist, _wishlist_entry),
                _list_cell(person.email, "blocked", person.blocked, normalize_email),
                "no" if person.verified_at is None else "yes",
                person.role,
            )
        )
    return out.getvalue()


def _list_cell(email: str, column: str, entries: frozenset[str], parse: Callable[[str], str]) -> str:
    """``entries`` as one ``;``-separated cell of ``column``; ``ValueError`` for an entry that would not read
    back as itself through ``parse``."""
    for entry in sorted(entries):
        if ";" in entry:
            raise ValueError(f"{email}: {column} entry {entry!r} contains ';', the list separator")
        try:
            read_back = parse(entry)
        except ValueError as exc:
            raise ValueError(f"{email}: {column}: {exc}") from None
        if read_back != entry:
            raise ValueError(f"{email}: {column} entry {entry!r} would read back as {read_back!r}")
    return ";".join(sorted(entries))
