"""Busy time from iCalendar (RFC 5545) files and feeds.

``read_busy`` turns one ``.ics`` text into merged UTC busy and tentative intervals over a window, and
``read_free_busy`` a published free/busy text (VFREEBUSY); ``IcsCalendarProvider`` is the ``CalendarProvider``
for people whose calendar is an ``ics:`` file path or http(s) URL.

Only start and end times leave this module: summaries, attendees, locations and descriptions are never read
into the result.

How events count:

- ``TRANSP:TRANSPARENT`` ("show as free") and ``STATUS:CANCELLED`` are not busy; neither are Outlook's
  ``X-MICROSOFT-CDO-BUSYSTATUS:FREE`` / ``WORKINGELSEWHERE``.
- ``STATUS:TENTATIVE`` (or Outlook's ``BUSYSTATUS:TENTATIVE``) goes to ``Busy.tentative``, apart from the busy
  time: whether it counts as busy is the program's choice (``Program.tentative_busy``), made by the cycle.
- Recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded by ``recurring_ical_events``, over
  the window only, each rule in bounded time whatever its COUNT or DTSTART (``_rule_starts``). A Google feed's
  ``X-WR-TIMEZONE`` applies (UTC and floating times are then read in that zone).
- Lengths as RFC 5545 has them: in a ``DURATION`` weeks and days are calendar days and hours, minutes and
  seconds exact time (``PT24H`` from the day before the spring change ends 24 real hours later, ``P1D`` at the
  same wall-clock time the next day), and each instance of a recurring event lasts its event's exact
  ``DTEND - DTSTART``, also on the night the clocks change.
- ``VFREEBUSY`` periods count too: ``FBTYPE`` ``BUSY`` (the default) and ``BUSY-UNAVAILABLE`` as busy,
  ``BUSY-TENTATIVE`` as tentative, ``FREE`` not at all.
- Floating times (no ``Z``, no ``TZID``) are read in the person's zone.
- All-day (``VALUE=DATE``) events cover whole local days in the person's zone; ``DTEND`` is exclusive and a
  missing ``DTEND`` means one day. They follow ``TRANSP`` like any event (default opaque).
- A ``TZID`` that is an IANA name is read with zoneinfo; any other by the file's own ``VTIMEZONE`` (Outlook's
  "Customized Time Zone", Windows names such as "W. Europe Standard Time"), else through icalendar's
  Windows→IANA table. Each file's definitions are its own, whatever other files said.
- What carries no time is read past with a warning (a stray or garbled line); a calendar whose times cannot
  be trusted is refused whole (``read_busy``).
"""

from __future__ import annotations

import codecs
import functools
import http.client
import logging
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import rrule, rrulestr
from icalendar.parser import Contentline
from icalendar.prop import vDatetime
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events.util import to_recurrence_ids

from integrations.public_http import AddressRefused, public_opener
from scheduler.availability.addresses import AddressPolicy
from scheduler.errors import CalendarError
from scheduler.model import Busy, Interval, Person, merge_intervals

log = logging.getLogger(__name__)

# Calendars bigger than this are refused rather than read into memory: a year of a busy person's calendar is
# well under 5 MB, so anything larger is a mistake or an attack.
MAX_CALENDAR_BYTES = 20 * 1024 * 1024

# Occurrences are expanded over the window widened by this much, because recurring_ical_events compares
# floating and all-day times on their own wall clock: 23:00 floating in Tokyo is the previous day in UTC.
# Two days cover every UTC offset (±14 h) with room to spare; the result is clipped to the window anyway.
_EXPANSION_MARGIN = timedelta(days=2)

# A rule that can repeat more often than this in a day (every 15 minutes) is no real busy calendar.
_MOST_PER_DAY = 96

# Time and memory stay bounded whatever a file says: at most this many occurrences per calendar over the
# window (a person booked in 15-minute slots, 9 to 5, for three months has 2,000), and at most this many
# repetitions counted from DTSTART when a COUNT makes each of them matter (see ``_rule_starts``).
MAX_OCCURRENCES = 20_000
_MAX_COUNTED_REPETITIONS = 50_000

# Warnings are given one by one up to this many, and then counted.
_MAX_WARNINGS = 10

# Properties whose value decides *when* (or whether) a component makes someone busy. A line of any other
# property that cannot be parsed (a garbled DESCRIPTION, Apple's X-APPLE-STRUCTURED-LOCATION with unquoted
# parameters) does not matter for busy time: it is skipped with a warning.
_EVENT_TIME_PROPERTIES = frozenset(
    {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "STATUS", "TRANSP", "UID",
     "X-MICROSOFT-CDO-BUSYSTATUS"}
)
_ZONE_RULE_PROPERTIES = frozenset({"DTSTART", "RRULE", "RDATE", "TZOFFSETFROM", "TZOFFSETTO"})
_TIME_PROPERTIES = {
    "VCALENDAR": frozenset({"X-WR-TIMEZONE", "CALSCALE"}),
    "VEVENT": _EVENT_TIME_PROPERTIES,
    "VTIMEZONE": frozenset({"TZID"}),
    "STANDARD": _ZONE_RULE_PROPERTIES,
    "DAYLIGHT": _ZONE_RULE_PROPERTIES,
    "VFREEBUSY": frozenset({"FREEBUSY"}),
}
# Properties an event has once: two different values leave its time (or whether it is busy) unknown.
_SINGLE_VALUED = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "STATUS", "TRANSP", "X-MICROSOFT-CDO-BUSYSTATUS")
_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# NAME *(";" param) ":" value (RFC 5545 3.1), a parameter's values quoted or free of '"', ";", ":" and ",".
# A line that does not match is offered to icalendar's own, more lenient, parser before it counts as broken.
_CONTENT_LINE = re.compile(
    r'([A-Za-z0-9-]+)(?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*:(.*)', re.DOTALL
)
_LEADING_NAME = re.compile(r"[A-Za-z0-9-]+(?=[;:])")
# dur-value (RFC 5545 3.3.6); weeks may come with days, as several writers have it.
_DURATION = re.compile(r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_TIMEZONE_COMPONENTS = frozenset({"VTIMEZONE", "STANDARD", "DAYLIGHT"})
_FREE_CDO_STATUSES = frozenset({"FREE", "WORKINGELSEWHERE"})

# Recurrence frequencies from the coarsest; the rank of BYHOUR, BYMINUTE and BYSECOND is that of the frequency
# at which they stop being implied by DTSTART (a daily rule repeats at DTSTART's hour, an hourly one at any).
_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_TIME_PARTS = (("BYHOUR", 4, 24), ("BYMINUTE", 5, 60), ("BYSECOND", 6, 60))
_STEPS = {
    "WEEKLY": timedelta(weeks=1),
    "DAILY": timedelta(days=1),
    "HOURLY": timedelta(hours=1),
    "MINUTELY": timedelta(minutes=1),
    "SECONDLY": timedelta(seconds=1),
}
_SHORTEST_PERIOD = {**_STEPS, "YEARLY": timedelta(days=365), "MONTHLY": timedelta(days=28)}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# A span of at most this many years is moved to the latest years with the same calendar (see ``_year_shift``).
_SHIFT_SEARCH_YEARS = 40

_BusyKind = Literal["busy", "tentative"]


@dataclass
class _Lines:
    """Where one component sits in the file, and what of it icalendar would lose.

    ``properties`` holds the line of each property, in file order. ``duration`` is the DURATION as written:
    icalendar reads PT24H (exact time) and P1D (a calendar day) as the same timedelta. ``free_busy`` holds the
    FREEBUSY lines themselves, read by ``_free_busy`` rather than by icalendar, so that a broken period is
    named by its line.
    """

    name: str
    line: int
    properties: dict[str, list[int]] = field(default_factory=dict)
    duration: str | None = None
    free_busy: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, prop: str, index: int = 0) -> int:
        lines = self.properties.get(prop)
        return lines[min(index, len(lines) - 1)] if lines else self.line


@dataclass
class _Scan:
    """What ``_scan`` makes of a text: the lines for icalendar, where each component sits, and a warning for
    each line skipped."""

    text: str
    components: list[_Lines]
    warnings: list[str]


def read_busy(
    ics: bytes | str,
    window: Interval,
    zone: str,
    *,
    source: str,
) -> Busy:
    """Busy and tentative intervals of one iCalendar text over ``window``: each UTC, merged, sorted and clipped
    to the window. A tentative event is in ``Busy.tentative`` only, not in ``Busy.busy``. Events (VEVENT) and
    published free/busy time (VFREEBUSY, see ``read_free_busy``) both count.

    ``zone`` is the person's IANA zone, used for floating times and all-day events. ``source`` names the file
    or feed in messages and warnings.

    What carries no time is read past: a line that is no iCalendar content line at all (bad folding inside a
    DESCRIPTION, text after END:VCALENDAR, NUL bytes) and a line of any property that does not say when an
    event is busy that cannot be parsed (Apple's X-APPLE-STRUCTURED-LOCATION with odd parameters) is skipped
    and named in ``Busy.warnings`` ("line 14: not an iCalendar content line (NAME:value); skipped"); the
    person's events still count.

    A calendar whose times cannot be trusted is refused whole, with a ``CalendarError`` naming ``source`` and,
    where known, the line: not iCalendar (an HTML page), truncated inside a component, a DTSTART, DTEND,
    DURATION, RRULE... that cannot be read, two different DTSTARTs (DTENDs, RECURRENCE-IDs) in one event, an
    event ending before it starts, a TZID nobody defines, a rule repeating more often than every 15 minutes, or
    more than ``MAX_OCCURRENCES`` occurrences in the window. Skipping such an event was not chosen: it is busy
    time that would silently look free, and a meeting booked on top of it is worse than a person planned
    without calendar data (which the cycle records and shows).

    Lengths follow RFC 5545: in a DURATION, weeks and days are calendar days and hours, minutes and seconds
    exact time (3.3.6), and each instance of a recurring event lasts the exact DTEND - DTSTART of its event
    (3.8.5.3), whatever DST change it spans. Recurrences are expanded over the window only, in time and memory
    bounded whatever COUNT, the frequency or DTSTART say.
    """
    text = _decode(ics, source)
    scan = _scan(text, source)
    try:
        calendars = icalendar.Calendar.from_ical(scan.text, multiple=True)
    except ValueError as exc:
        raise CalendarError(f"not readable as iCalendar: {_short(exc)}", source=source) from exc
    except (TypeError, KeyError, AttributeError) as exc:
        # icalendar reads each VTIMEZONE's rules as it parses, through dateutil, which fails so on a rule without
        # FREQ or with an unknown part; a VTIMEZONE with two TZID lines gives it a list (AttributeError).
        zones = [lines for lines in scan.components if lines.name == "VTIMEZONE"]
        where = f"{_where(zones[0])}: " if len(zones) == 1 else ""
        raise CalendarError(f"{where}a VTIMEZONE cannot be read: {_short(exc)}", source=source) from exc

    person_zone = ZoneInfo(zone)
    expansion = _Expansion(person_zone, source)
    span_start, span_end = window.start - _EXPANSION_MARGIN, window.end + _EXPANSION_MARGIN
    warnings = list(scan.warnings)
    found: list[tuple[Interval, _BusyKind]] = []
    offset = 0
    for calendar in calendars:
        components = calendar.walk()
        # ``walk()`` lists components in file order, as ``_scan`` did, so the two line up one to one.
        lines = [scan.components[i] if i < len(scan.components) else None
                 for i in range(offset, offset + len(components))]
        offset += len(components)
        located = list(zip(components, lines, strict=True))
        warnings += _check_components(located, source)
        _bind_timezones(calendar, located, source)
        standard = _apply_x_wr_timezone(calendar, lines[0], source)
        # The events it changed are copies in the same places: the walk still lines up with ``lines``.
        expansion.learn(zip(standard.walk(), lines, strict=True))
        for occurrence in _expand(standard, span_start, span_end, expansion):
            kind = _busy_kind(occurrence)
            if kind is None:
                continue
            start = _to_utc(occurrence.start, person_zone)
            # A floating end inside the hour skipped by a DST change can land before its start: it is empty.
            found.append((Interval(start, max(start, _to_utc(occurrence.end, person_zone))), kind))
    found += _free_busy(scan.components, person_zone, source)
    busy, tentative = _merged(found, window)
    return Busy(busy=busy, tentative=tentative, warnings=_summarised(warnings, source))


def read_free_busy(ics: bytes | str, window: Interval, zone: str, *, source: str) -> Busy | None:
    """Busy and tentative time of the VFREEBUSY components of an iCalendar text over ``window`` (UTC, merged,
    sorted, clipped), or ``None`` when the text holds no VFREEBUSY at all.

    This reads published free/busy files (.ifb, .vfb: Exchange's and Google's free/busy publishing) and CalDAV
    free-busy-query answers. A FREEBUSY period is start/end or start/duration (RFC 5545 3.8.2.6); FBTYPE BUSY
    (the default), BUSY-UNAVAILABLE and any type the RFC does not name are busy, BUSY-TENTATIVE is tentative,
    FREE is not busy. Times should be UTC; a floating one is read in ``zone``. A text that is not iCalendar, or
    a period that cannot be read, raises ``CalendarError`` as ``read_busy`` does, naming the line.
    """
    scan = _scan(_decode(ics, source), source)
    if not any(lines.name == "VFREEBUSY" for lines in scan.components):
        return None
    busy, tentative = _merged(_free_busy(scan.components, ZoneInfo(zone), source), window)
    return Busy(busy=busy, tentative=tentative, warnings=_summarised(scan.warnings, source))


def _summarised(warnings: Sequence[str], source: str) -> tuple[str, ...]:
    """The warnings as ``Busy.warnings`` has them, each naming ``source``: the first few, then how many more."""
    shown = tuple(f"{source}: {warning}" for warning in warnings[:_MAX_WARNINGS])
    more = len(warnings) - _MAX_WARNINGS
    return (*shown, f"{source}: and {more} more warnings") if more > 0 else shown


def _merged(
    found: Iterable[tuple[Interval, _BusyKind]], window: Interval
) -> tuple[tuple[Interval, ...], tuple[Interval, ...]]:
    """The busy and the tentative intervals of ``found``, each clipped to ``window`` and merged."""
    kinds: dict[_BusyKind, list[Interval]] = {"busy": [], "tentative": []}
    for interval, kind in found:
        clipped = interval.clip(window)
        if clipped is not None:
            kinds[kind].append(clipped)
    return merge_intervals(kinds["busy"]), merge_intervals(kinds["tentative"])


def _decode(ics: bytes | str, source: str) -> str:
    if len(ics) > MAX_CALENDAR_BYTES:
        raise CalendarError(f"larger than {MAX_CALENDAR_BYTES // 2**20} MB", source=source)
    if isinstance(ics, bytes):
        # Outlook's "Unicode" export is UTF-16 with a byte order mark, everything else should be UTF-8. Times are
        # plain ASCII, so a summary in some legacy encoding must not make the calendar unreadable.
        encoding = "utf-16" if ics.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8"
        ics = ics.decode(encoding, errors="replace")
    return ics.removeprefix("\ufeff")


def _scan(text: str, source: str) -> _Scan:
    """Check the file's structure line by line, note where each component and property sits, and set aside
    the lines that are no iCalendar.

    icalendar is lenient about structure (it accepts a truncated file or a mismatched END) but not about single
    lines (one it cannot parse makes its component, or the whole file, unreadable), and its messages carry no
    line numbers; so this pass decides first, with a precise "line 12: ...". Line contents are never quoted
    back: the message may be shown to someone who should not see the file. The text handed on holds the kept
    lines only, unfolded, one per CRLF, whatever line ends the file had (CR alone, from classic Mac OS, too).
    """
    components: list[_Lines] = []
    stack: list[_Lines] = []
    kept: list[str] = []
    skipped: list[str] = []
    for number, line in _unfolded(text):
        if not components and line.strip().upper() != "BEGIN:VCALENDAR":
            hint = " (it looks like an HTML page)" if line.lstrip().startswith("<") else ""
            raise CalendarError(f"line {number}: not an iCalendar file{hint}: expected BEGIN:VCALENDAR", source=source)
        name, value = _parts(line)
        if name is None or "\x00" in line:
            problem = "contains NUL bytes" if "\x00" in line else "not an iCalendar content line (NAME:value)"
            leading = _LEADING_NAME.match(line)
            named = leading.group().upper() if leading else ""
            if named in ("BEGIN", "END") or (stack and named in _TIME_PROPERTIES.get(stack[-1].name, ())):
                raise CalendarError(f"line {number}: {named} cannot be read: {problem}", source=source)
            skipped.append(f"line {number}: {problem}; skipped")
        elif name == "BEGIN":
            begun = value.strip().upper()
            if not stack and begun != "VCALENDAR":
                raise CalendarError(f"line {number}: BEGIN:{begun} outside of a VCALENDAR", source=source)
            component = _Lines(begun, number)
            components.append(component)
            stack.append(component)
            kept.append(line)
        elif name == "END":
            ended = value.strip().upper()
            if not stack:
                skipped.append(f"line {number}: END:{ended} after the end of the calendar; skipped")
                continue
            if stack[-1].name != ended:
                raise CalendarError(
                    f"line {number}: END:{ended} does not close BEGIN:{stack[-1].name} of line {stack[-1].line}",
                    source=source,
                )
            stack.pop()
            kept.append(line)
        elif not stack:
            skipped.append(f"line {number}: content after END:VCALENDAR; skipped")
        else:
            here = stack[-1]
            here.properties.setdefault(name, []).append(number)
            if name == "DURATION" and here.duration is None:
                here.duration = value
            if name == "FREEBUSY" and here.name == "VFREEBUSY":
                here.free_busy.append((number, line))
            else:
                kept.append(line)
    if not components:
        raise CalendarError("the file is empty", source=source)
    if stack:
        raise CalendarError(
            f"the file ends inside BEGIN:{stack[-1].name} of line {stack[-1].line} (is it truncated?)",
            source=source,
        )
    return _Scan("\r\n".join(kept) + "\r\n", components, skipped)


def _unfolded(text: str) -> Iterator[tuple[int, str]]:
    """Logical content lines with the physical number of their first line; blank lines are skipped.

    A continuation line with nothing before it to continue stands alone, and so is no content line.
    """
    start, parts = 0, list[str]()
    # Not str.splitlines(): it also breaks at U+2028, U+0085 and the like, which may sit inside a DESCRIPTION.
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        if physical[:1] in (" ", "\t") and parts:
            parts.append(physical[1:])
            continue
        if parts:
            yield start, "".join(parts)
        start, parts = number, ([physical] if physical.strip() else [])
    if parts:
        yield start, "".join(parts)


def _parts(line: str) -> tuple[str | None, str]:
    """The upper-cased name and the value of a content line, or ``(None, "")`` when it is none."""
    match = _CONTENT_LINE.fullmatch(line)
    if match:
        return match[1].upper(), match[2]
    if line[:1].isspace():
        return None, ""
    try:
        name, _params, value = Contentline(line).parts()
    except ValueError:
        return None, ""
    return name.upper(), str(value)


def _where(lines: _Lines | None, prop: str | None = None, index: int = 0) -> str:
    if lines is None:
        return "(line unknown)"
    return f"line {lines.line_of(prop.upper(), index) if prop else lines.line}"


def _check_components(located: Sequence[tuple[icalendar.Component, _Lines | None]], source: str) -> list[str]:
    """Refuse events and time zones that cannot say when they happen, naming the line.

    A property of an event given twice with the same value is read once; the warnings returned say where.
    """
    warnings: list[str] = []
    for component, lines in located:
        for prop, message in component.errors:
            if prop is None:
                raise CalendarError(f"{_where(lines)}: a content line cannot be read: {message}", source=source)
            # Only what decides when an event is busy matters; a broken DESCRIPTION or LAST-MODIFIED does not.
            if component.name in _TIMEZONE_COMPONENTS or prop.upper() in _TIME_PROPERTIES.get(component.name or "", ()):
                raise CalendarError(f"{_where(lines, prop)}: {prop.upper()}: {message}", source=source)
        if component.name != "VEVENT":
            continue
        for prop in _SINGLE_VALUED:
            values = component.get(prop)
            if not isinstance(values, list):
                continue
            if len({_as_written(value) for value in values}) > 1:
                first = lines.line_of(prop) if lines else "?"
                raise CalendarError(
                    f"{_where(lines, prop, 1)}: the event has two different {prop} (lines {first} and "
                    f"{_where(lines, prop, 1).removeprefix('line ')}): when it happens cannot be told",
                    source=source,
                )
            component[prop] = values[0]
            warnings.append(f"{_where(lines, prop, 1)}: {prop} repeated with the same value; read once")
        if "DTSTART" not in component:
            raise CalendarError(f"{_where(lines)}: the event has no DTSTART", source=source)
        for prop in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            if prop in component:
                _moment_of(component, prop, lines, source)
        if "DURATION" in component and not isinstance(_value_of(component, "DURATION"), timedelta):
            raise CalendarError(f"{_where(lines, 'DURATION')}: DURATION is not a duration", source=source)
        rules = component.get("RRULE", [])
        for index, rule in enumerate(rules if isinstance(rules, list) else [rules]):
            _check_rule(rule, _where(lines, "RRULE", index), source)
    return warnings


def _value_of(component: icalendar.Component, prop: str) -> object:
    """The parsed value of a date, date-time or duration property (``dt``), or ``None`` for another kind."""
    return getattr(component[prop], "dt", None)


def _moment_of(component: icalendar.Component, prop: str, lines: _Lines | None, source: str) -> date:
    """The date or date-time of ``prop`` (a ``datetime`` is a ``date`` too), refusing any other value."""
    value = _value_of(component, prop)
    if not isinstance(value, date):
        raise CalendarError(f"{_where(lines, prop)}: {prop} is not a date or a date-time", source=source)
    return value


def _as_written(value: object) -> tuple[bytes, str]:
    """A property value and its parameters, to tell a property repeated with the same value from another."""
    to_ical = getattr(value, "to_ical", None)
    written = to_ical() if to_ical is not None else str(value).encode()
    return written, repr(sorted(getattr(value, "params", {}).items()))


def _check_rule(rule: icalendar.prop.vRecur, where: str, source: str) -> None:
    """Refuse a rule that repeats more often than every 15 minutes, or with a step of less than one."""
    frequency = str(rule.get("FREQ", ["DAILY"])[0]).upper()
    interval = int(rule.get("INTERVAL", [1])[0])
    if interval < 1:
        raise CalendarError(f"{where}: RRULE: INTERVAL must be 1 or more", source=source)
    per_day = _most_per_day(rule, frequency, interval)
    if per_day > _MOST_PER_DAY:
        raise CalendarError(
            f"{where}: the event repeats more often than every 15 minutes (up to {per_day:,} times a day)",
            source=source,
        )


def _most_per_day(rule: icalendar.prop.vRecur, frequency: str, interval: int) -> int:
    """How many times a day a rule can repeat at most: the times of day its BYHOUR, BYMINUTE and BYSECOND
    allow, and for an hourly (minutely, secondly) rule no more than its steps in a day times what the parts
    finer than its frequency add to each step."""
    rank = _FREQUENCIES.index(frequency) if frequency in _FREQUENCIES else _FREQUENCIES.index("DAILY")
    slots = math.prod(len(rule.get(part, [])) or (full if rank >= at else 1) for part, at, full in _TIME_PARTS)
    if rank <= _FREQUENCIES.index("DAILY"):
        return slots
    steps = -(-timedelta(days=1) // (_STEPS[frequency] * interval))
    finer = math.prod(len(rule.get(part, [])) or 1 for part, at, _ in _TIME_PARTS if at > rank)
    return min(steps * finer, slots)


def _bind_timezones(
    calendar: icalendar.Component,
    located: Sequence[tuple[icalendar.Component, _Lines | None]],
    source: str,
) -> None:
    """Give every date with a TZID the zone this file means by it, or refuse a TZID nobody defines.

    icalendar resolves TZIDs through one process-wide cache of VTIMEZONE definitions where the first file to
    define a name wins: two Outlook users whose files both say "Customized Time Zone" with different rules
    would share the first one's offsets, and a file with an undefined TZID would borrow another file's.
    It also leaves an unknown TZID as a naive time, which would silently be read in the wrong zone.
    So the zone of each date is decided here, per file: an IANA name → zoneinfo; else the file's own
    VTIMEZONE; else a Windows name through icalendar's Windows→IANA table; else a "globally unique"
    /vendor/Area/City name → Area/City.

    Every VTIMEZONE of the file is read, used or not: icalendar reads each one as it parses, unless a zone of
    that name is in its cache already, so whether a broken one refuses the calendar must not depend on which
    calendars were read before. A VTIMEZONE without a TZID cannot be referred to and is left out.
    """
    defined = {
        str(component["TZID"]): _zone_of(component, lines, source)
        for component, lines in located
        if isinstance(component, icalendar.Timezone) and "TZID" in component
    }
    resolved: dict[str, tzinfo | None] = {}
    for component, lines in located:
        if component.name != "VEVENT":
            continue
        for prop in _DATE_PROPERTIES:
            for value in _date_values(component.get(prop)):
                tzid = value.params.get("TZID")
                if tzid is None or not isinstance(value.dt, datetime):
                    continue
                if tzid not in resolved:
                    resolved[tzid] = _resolve_tzid(str(tzid), defined, source)
                zone = resolved[tzid]
                if zone is None:
                    raise CalendarError(
                        f"{_where(lines, prop)}: {prop} uses time zone {tzid!r}, which is neither "
                        "a known zone nor defined by a VTIMEZONE in the file",
                        source=source,
                    )
                value.dt = value.dt.replace(tzinfo=zone)


def _zone_of(component: icalendar.Timezone, lines: _Lines | None, source: str) -> tzinfo:
    """The zone a VTIMEZONE defines, read from its own rules alone (not icalendar's cache)."""
    try:
        return component.to_tz(tzp, lookup_tzid=False)
    except (ValueError, TypeError, KeyError) as exc:  # dateutil's failures on a broken RRULE of the zone
        raise CalendarError(
            f"{_where(lines)}: VTIMEZONE {str(component['TZID'])!r} cannot be read: {_short(exc)}", source=source
        ) from exc


def _resolve_tzid(tzid: str, defined: dict[str, tzinfo], source: str) -> tzinfo | None:
    iana = _iana_zone(tzid.strip("/"))
    if iana is not None:
        return iana
    if tzid in defined:
        return defined[tzid]
    if tzid.strip() in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[tzid.strip()])
    parts = tzid.strip("/").split("/")
    for first in range(1, len(parts)):
        zone = _iana_zone("/".join(parts[first:]))
        if zone is not None:
            return zone
    return None


def _iana_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: not a valid key at all, such as "../x"
        return None


def _date_values(prop: object) -> Iterator[icalendar.prop.vDDDTypes]:
    """The single date values of DTSTART-like properties (one value) and EXDATE/RDATE (lists of lists)."""
    if isinstance(prop, list):
        for item in prop:
            yield from _date_values(item)
    elif isinstance(prop, icalendar.prop.vDDDLists):
        for value in prop.dts:
            # A value of a list carries the list's TZID; copy it down so every value is handled alike.
            if "TZID" in prop.params and "TZID" not in value.params:
                value.params["TZID"] = prop.params["TZID"]
            yield value
    elif isinstance(prop, icalendar.prop.vDDDTypes):
        yield prop


def _apply_x_wr_timezone(calendar: icalendar.Component, lines: _Lines | None, source: str) -> icalendar.Component:
    """The calendar with a Google feed's X-WR-TIMEZONE applied (its UTC and floating times then read on that
    zone's clock), as recurring_ical_events would apply it; done here, once, so that the events expanded are the
    very ones ``_Expansion.learn`` saw."""
    try:
        standard = x_wr_timezone.to_standard(calendar)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise CalendarError(
            f"{_where(lines, 'X-WR-TIMEZONE')}: X-WR-TIMEZONE names no known time zone", source=source
        ) from exc
    standard.pop("X-WR-TIMEZONE", None)  # recurring_ical_events would otherwise apply it again, to new copies
    return standard


@dataclass(frozen=True)
class _Length:
    """How long each occurrence of an event lasts: ``days`` on the calendar (a day across a DST change is 23 or
    25 hours), then ``exact`` real time (RFC 5545 3.3.6)."""

    days: int = 0
    exact: timedelta = timedelta(0)

    def end(self, start: date | datetime, zone: ZoneInfo) -> date | datetime:
        """The end of an occurrence beginning at ``start``, as the same kind of time: a date, a floating time
        (real time counted on ``zone``'s clock) or a time in ``start``'s own zone."""
        if not isinstance(start, datetime):
            if not self.exact:
                return start + timedelta(days=self.days)
            start = datetime.combine(start, time(0))
        wall = start + timedelta(days=self.days)  # adding to an aware time in Python moves its wall clock
        if not self.exact:
            return wall
        if wall.tzinfo is None:
            # ``fold`` survives dropping the zone: it says which of a repeated hour the end is in.
            return (wall.replace(tzinfo=zone).astimezone(UTC) + self.exact).astimezone(zone).replace(tzinfo=None)
        return (wall.astimezone(UTC) + self.exact).astimezone(wall.tzinfo)


def _parse_duration(text: str) -> tuple[bool, _Length] | None:
    """Whether a dur-value is negative, and its length; ``None`` when it is not one."""
    match = _DURATION.fullmatch(text.strip().upper())
    if match is None or not any(match.groups()[1:]):
        return None
    sign, weeks, days, hours, minutes, seconds = (group or "0" for group in match.groups())
    exact = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds))
    return sign == "-", _Length(days=7 * int(weeks) + int(days), exact=exact)


def _duration_of(component: icalendar.Component, lines: _Lines | None, source: str) -> _Length:
    """An event's DURATION as written, refusing a negative one."""
    parsed = _parse_duration(lines.duration) if lines is not None and lines.duration is not None else None
    if parsed is None:
        # Written in a way only icalendar understood: its timedelta, whole days as calendar days.
        value = _value_of(component, "DURATION")
        if not isinstance(value, timedelta):
            raise CalendarError(f"{_where(lines, 'DURATION')}: DURATION is not a duration", source=source)
        whole = abs(value)
        parsed = value < timedelta(0), _Length(days=whole.days, exact=whole - timedelta(days=whole.days))
    negative, length = parsed
    if negative and length != _Length():
        raise CalendarError(
            f"{_where(lines, 'DURATION')}: DURATION is negative: the event would end before it starts", source=source
        )
    return length


def _length_of(component: icalendar.Component, lines: _Lines | None, zone: ZoneInfo, source: str) -> _Length | None:
    """How long each occurrence of an event lasts (RFC 5545 3.8.5.3: the same exact length for every instance),
    refusing an event that ends before it starts or whose DTEND and DURATION disagree. ``None`` for a DATE start
    with a DATE-TIME end or the other way round, whose length recurring_ical_events decides."""
    start = _moment_of(component, "DTSTART", lines, source)
    duration = _duration_of(component, lines, source) if "DURATION" in component else None
    if "DTEND" not in component:
        if duration is not None:
            return duration
        # RFC 5545 3.6.1: a date-time event without an end is an instant, a date event one day.
        return _Length(days=0 if isinstance(start, datetime) else 1)
    end = _moment_of(component, "DTEND", lines, source)
    if isinstance(start, datetime) != isinstance(end, datetime):
        return None
    if _earlier(end, start, zone):
        raise CalendarError(
            f"{_where(lines, 'DTEND')}: DTEND is before DTSTART: the event would end before it starts", source=source
        )
    if isinstance(start, datetime):
        # Floating times 01:30 to 03:15 across the night the clocks go forward are 45 real minutes, and a
        # floating end inside the skipped hour can even come first in real time: that event is empty.
        length = _Length(exact=max(_to_utc(end, zone) - _to_utc(start, zone), timedelta(0)))
    else:
        length = _Length(days=(end - start).days)
    if duration is not None and _to_utc(duration.end(start, zone), zone) != _to_utc(end, zone):
        raise CalendarError(
            f"{_where(lines, 'DURATION')}: the event has both DTEND and DURATION, and they disagree", source=source
        )
    return length


def _earlier(moment: date | datetime, other: date | datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment`` comes before ``other``: on their wall clock when both are floating or in one zone
    (as Python compares them), else in real time."""
    floating = [isinstance(value, datetime) and value.tzinfo is None for value in (moment, other)]
    if isinstance(moment, datetime) and isinstance(other, datetime) and floating[0] != floating[1]:
        return _to_utc(moment, zone) < _to_utc(other, zone)
    return moment < other


@dataclass
class _Expansion:
    """What expanding one calendar's events needs besides the calendar: the person's zone, each event's length
    and lines (by ``id`` of the VEVENT), and the count of occurrences so far."""

    zone: ZoneInfo
    source: str
    lengths: dict[int, _Length | None] = field(default_factory=dict)
    lines: dict[int, _Lines | None] = field(default_factory=dict)
    occurrences: int = 0

    def learn(self, located: Iterable[tuple[icalendar.Component, _Lines | None]]) -> None:
        """Note the length and lines of each event in ``located``, refusing one that cannot say how long it is."""
        for component, lines in located:
            if component.name == "VEVENT":
                self.lines[id(component)] = lines
                self.lengths[id(component)] = _length_of(component, lines, self.zone, self.source)

    def count_one(self) -> None:
        """Count one more occurrence, refusing the calendar beyond ``MAX_OCCURRENCES``."""
        self.occurrences += 1
        if self.occurrences > MAX_OCCURRENCES:
            raise CalendarError(
                f"more than {MAX_OCCURRENCES:,} events in the window: too many for one person's calendar",
                source=self.source,
            )


class _EventAdapter(recurring_ical_events.EventAdapter):
    """A VEVENT as recurring_ical_events sees it, knowing the reading it is part of."""

    def __init__(self, component: icalendar.Component, expansion: _Expansion) -> None:
        super().__init__(component)
        self.expansion = expansion

    @property
    def length(self) -> _Length | None:
        return self.expansion.lengths.get(id(self._component))

    @property
    def lines(self) -> _Lines | None:
        return self.expansion.lines.get(id(self._component))


class _Series(recurring_ical_events.Series):
    """recurring_ical_events' series of one UID, with each rule expanded by ``_rule_starts`` (bounded), and each
    occurrence ending after the exact length of its event (``_Length``) rather than the same wall-clock span."""

    class RecurrenceRules(recurring_ical_events.Series.RecurrenceRules):
        def create_rule_with_start(self, rule_string: str) -> _BoundedRule:
            return _BoundedRule(super().create_rule_with_start(rule_string), self.start, self.core)

    def occurrence(
        self, adapter: _EventAdapter, start: date | datetime | None = None, end: object = None
    ) -> recurring_ical_events.Occurrence:
        adapter.expansion.count_one()
        ends = self.recurrence.replace_ends
        period = start is not None and bool(ends) and any(key in ends for key in to_recurrence_ids(start))
        length = adapter.length
        if length is not None and not period:  # an RDATE period keeps its own end
            start = adapter.start if start is None else start
            end = length.end(start, adapter.expansion.zone)
        return super().occurrence(adapter, start, end)


class _BoundedRule:
    """One RRULE of a series, as recurring_ical_events uses a dateutil rule (``until``, ``between``), expanded by
    ``_rule_starts``."""

    def __init__(self, rule: rrule, start: datetime, adapter: _EventAdapter) -> None:
        self.until = rule.until  # set by recurring_ical_events, which drops the starts after it
        self._text = str(rule.string)
        self._start = start
        self._adapter = adapter

    def between(self, after: datetime, before: datetime, inc: bool = True) -> Iterator[datetime]:
        """The starts from ``after`` to ``before``, both included (the only way recurring_ical_events asks)."""
        where = _where(self._adapter.lines, "RRULE")
        return _rule_starts(self._text, self._start, after, before, where, self._adapter.expansion.source)


def _rule_starts(
    text: str, start: datetime, after: datetime, before: datetime, where: str, source: str
) -> Iterator[datetime]:
    """The starts of the rule ``text`` from ``start`` that fall from ``after`` to ``before``, in a time that grows
    neither with how long before ``after`` the rule began nor with how long after ``before`` (or whether ever)
    it repeats again.

    dateutil steps through every period from DTSTART, and after the last start asked for it looks for the
    next one as far as the year 9999: seconds for a rule that began decades ago or that never matches again
    (BYMONTH=2;BYMONTHDAY=30). So: the parts dateutil would take from DTSTART (the weekday of a weekly rule,
    the hour of a daily one...) are written out, DTSTART moves forward a whole number of periods to just before
    ``after`` (unless a COUNT, which counts from the real DTSTART, may end the rule before ``before``), and the
    whole span moves to the latest years with the same calendar before 9999, where that search soon ends.
    """
    zone = start.tzinfo
    first = start.replace(tzinfo=None)
    low, high = max(_wall(after, zone), first), _wall(before, zone)
    if high < low:
        return
    parts = _explicit_parts(text, first)
    frequency, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    count = parts.pop("COUNT", None)
    origin = first
    if count is not None and int(count) < _most_starts(parts, first, high):
        # The COUNT may end the rule inside the span: each start from DTSTART on has to be counted.
        if min(int(count), _periods(frequency, interval, first, high)) > _MAX_COUNTED_REPETITIONS:
            raise CalendarError(
                f"{where}: RRULE: COUNT={count} counted from a DTSTART so long before the window is more "
                f"repetitions than can be read (at most {_MAX_COUNTED_REPETITIONS:,})",
                source=source,
            )
        parts["COUNT"] = count
    else:
        origin = _moved_forward(first, low, frequency, interval)
    # Easter (dateutil's BYEASTER, not iCalendar) does not repeat with the calendar.
    shift = 0 if "BYEASTER" in parts else _year_shift(origin.year, high.year)
    rule = rrulestr(";".join(f"{name}={value}" for name, value in parts.items()), dtstart=_years_later(origin, shift),
                    cache=False)
    low, high = _years_later(low, shift), _years_later(high, shift)
    starts = iter(rule)
    while True:
        try:
            moment = next(starts)
        except StopIteration:
            return
        except (ValueError, OverflowError):
            return  # dateutil ran into the year 9999: the shift keeps a year between it and the span
        if moment > high:
            return
        if moment >= low:
            yield _years_later(moment, -shift).replace(tzinfo=zone)


def _wall(moment: datetime, zone: tzinfo | None) -> datetime:
    """``moment`` on the wall clock a rule runs on: ``zone``'s, or its own for a floating rule."""
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    return moment.replace(tzinfo=None)


def _explicit_parts(text: str, first: datetime) -> dict[str, str]:
    """The parts of a rule with the ones it takes from DTSTART written out (as dateutil and RFC 5545 take them:
    a weekly rule's weekday, a monthly rule's day of the month, a daily rule's time of day...), so that it
    repeats alike from any later start; without UNTIL, which recurring_ical_events applies itself."""
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            parts[name.strip().upper()] = value.strip()
    parts.pop("UNTIL", None)
    frequency = parts["FREQ"] = parts.get("FREQ", "").upper()
    rank = _FREQUENCIES.index(frequency)
    if not parts.keys() & {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYEASTER"}:
        if frequency == "YEARLY":
            parts.setdefault("BYMONTH", str(first.month))
            parts["BYMONTHDAY"] = str(first.day)
        elif frequency == "MONTHLY":
            parts["BYMONTHDAY"] = str(first.day)
        elif frequency == "WEEKLY":
            parts["BYDAY"] = _WEEKDAYS[first.weekday()]
    for (part, at, _), own in zip(_TIME_PARTS, (first.hour, first.minute, first.second), strict=True):
        if rank < at:
            parts.setdefault(part, str(own))
    return parts


def _periods(frequency: str, interval: int, first: datetime, last: datetime) -> int:
    """At most how many periods of a rule (years, months, weeks... times ``interval``) lie from first to last."""
    return (last - first) // (_SHORTEST_PERIOD[frequency] * interval) + 2


def _most_starts(parts: dict[str, str], first: datetime, last: datetime) -> int:
    """At most how many starts a rule (its parts written out) has from ``first`` to ``last``."""
    frequency = parts["FREQ"]
    rank = _FREQUENCIES.index(frequency)
    days = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": 7}.get(frequency, 1)
    times = math.prod(len(parts[part].split(",")) for part, at, _ in _TIME_PARTS if rank < at)
    per_period = days * times
    if "BYSETPOS" in parts:
        per_period = min(per_period, len(parts["BYSETPOS"].split(",")))
    return _periods(frequency, int(parts.get("INTERVAL", "1")), first, last) * per_period


def _moved_forward(first: datetime, low: datetime, frequency: str, interval: int) -> datetime:
    """``first`` moved forward a whole number of periods to at least one period before ``low``. A monthly or
    yearly rule restarts on the 1st of a month; its parts written out, it repeats from there as from ``first``.
    The partial first period, where dateutil leaves out the starts before DTSTART, stays before ``low``."""
    if frequency in _STEPS:
        step = _STEPS[frequency] * interval
        periods = (low - first) // step - 1
        return first + periods * step if periods > 0 else first
    months = (12 if frequency == "YEARLY" else 1) * interval
    periods = ((low.year - first.year) * 12 + low.month - first.month) // months - 1
    if periods <= 0:
        return first
    month = first.year * 12 + first.month - 1 + periods * months
    return datetime(month // 12, month % 12 + 1, 1)  # a wall-clock time, as ``first``


@functools.lru_cache(maxsize=256)
def _year_shift(first_year: int, last_year: int) -> int:
    """How many years later the years ``first_year`` to ``last_year`` (and one either side, for week numbers)
    have the same calendar again, as late as can be with a year to spare before 9999; 0 without room."""
    room = 9997 - last_year
    if room <= 0:
        return 0
    if last_year - first_year <= _SHIFT_SEARCH_YEARS:
        years = range(max(first_year - 1, 1), last_year + 2)
        for shift in range(room, max(room - 400, 0), -1):
            if all(_year_kind(year) == _year_kind(year + shift) for year in years):
                return shift
    return room // 400 * 400  # the Gregorian calendar repeats every 400 years, weekdays included


def _year_kind(year: int) -> tuple[int, int]:
    """The weekday of 1 January and the length of a year: two years alike in both have the same calendar."""
    return date(year, 1, 1).weekday(), date(year, 12, 31).toordinal() - date(year, 1, 1).toordinal()


def _years_later(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years) if years else moment


def _expand(
    calendar: icalendar.Component, start: datetime, end: datetime, expansion: _Expansion
) -> list[icalendar.Event]:
    events = recurring_ical_events.ComponentsWithName(
        "VEVENT", adapter=functools.partial(_EventAdapter, expansion=expansion), series=_Series
    )
    try:
        # Occurrences of VEVENTs (the only component asked for) are Events.
        return cast(list[icalendar.Event], recurring_ical_events.of(calendar, components=[events]).between(start, end))
    except (ValueError, KeyError, TypeError) as exc:
        # ValueError covers icalendar's and recurring_ical_events' InvalidCalendar families and dateutil's
        # rule errors; TypeError dates that cannot be compared (DATE against DATE-TIME in one series). All mean
        # "this file is wrong": this person's problem alone.
        raise CalendarError(f"the events cannot be expanded: {_short(exc)}", source=expansion.source) from exc


def _free_busy(components: Iterable[_Lines], zone: ZoneInfo, source: str) -> list[tuple[Interval, _BusyKind]]:
    """The busy and tentative periods of every VFREEBUSY (see ``read_free_busy``), in UTC."""
    found: list[tuple[Interval, _BusyKind]] = []
    for lines in components:
        for number, line in lines.free_busy:
            try:
                _name, params, value = Contentline(line).parts()
            except ValueError:
                raise CalendarError(f"line {number}: FREEBUSY cannot be read", source=source) from None
            fbtype = str(params.get("FBTYPE", "BUSY")).upper()
            for period in str(value).split(","):
                interval = _period(period.strip(), zone, number, source)
                if fbtype != "FREE":
                    found.append((interval, "tentative" if fbtype == "BUSY-TENTATIVE" else "busy"))
    return found


def _period(text: str, zone: ZoneInfo, number: int, source: str) -> Interval:
    """One FREEBUSY period, start/end or start/duration, in UTC."""
    begin, slash, rest = text.partition("/")
    parsed = _parse_duration(rest) if rest.lstrip("+-").upper().startswith("P") else None
    try:
        start = vDatetime.from_ical(begin)
        if not slash:
            raise ValueError(text)
        if parsed is None:
            end = _to_utc(vDatetime.from_ical(rest), zone)
        elif parsed[0]:
            raise CalendarError(f"line {number}: FREEBUSY: a period with a negative duration", source=source)
        else:
            end = _to_utc(parsed[1].end(start, zone), zone)
    except ValueError:
        raise CalendarError(
            f"line {number}: FREEBUSY: a period is a UTC start and an end or a duration "
            "(19970308T160000Z/PT8H30M)",
            source=source,
        ) from None
    start = _to_utc(start, zone)
    if end < start:
        raise CalendarError(f"line {number}: FREEBUSY: a period ends before it starts", source=source)
    return Interval(start, end)


def _busy_kind(event: icalendar.Component) -> _BusyKind | None:
    """``"busy"``, ``"tentative"``, or ``None`` for an event that leaves the person free."""
    status = str(event.get("STATUS", "")).upper()
    cdo_status = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    if status == "CANCELLED" or str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return None
    if cdo_status in _FREE_CDO_STATUSES:
        return None
    if "TENTATIVE" in (status, cdo_status):
        return "tentative"
    return "busy"


def _to_utc(moment: date | datetime, zone: ZoneInfo) -> datetime:
    """A start or end in UTC: floating times and all-day dates are read on the person's wall clock."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class IcsCalendarProvider:
    """``CalendarProvider`` for ``ics`` calendars: a file path (relative to ``base_dir``) or an http(s) URL.

    A person whose file or feed cannot be read gets ``Busy(error=...)`` naming the source and the problem;
    this provider never raises for one person. People with calendar kind ``none`` get ``Busy(known=False)``;
    other kinds (google, microsoft, caldav) get an error saying no connector is configured for them here.
    Calendars are fetched one after another, each within ``timeout`` seconds.

    Feeds are downloaded only from public addresses (``scheduler.availability.addresses``): every connection, redirects
    included, is checked for the addresses the name resolved to, so a participant's URL cannot make the server
    fetch its own pages, a cloud metadata service's or the private network's. ``allowed_hosts`` names the
    internal servers that may be read anyway (``[calendar] allowed_hosts``); ``allow_internal`` allows every
    address (``ics_allow_internal``: a feed server on this machine, for demos and tests).
    """

    def __init__(self, base_dir: Path, *, timeout: float = 10.0, allow_internal: bool = False,
                 allowed_hosts: Iterable[str] = ()) -> None:
        self.base_dir = base_dir
        self.timeout = timeout
        self.addresses = AddressPolicy.allowing(allowed_hosts, allow_internal=allow_internal)
        # Our own opener: it checks each connection's addresses, and follows redirects to http(s) only (urllib
        # itself also follows them to ftp://).
        self._opener = public_opener(self.addresses)

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see the class docstring)."""
        return {person.email: self._busy_of(person, window) for person in people}

    def _busy_of(self, person: Person, window: Interval) -> Busy:
        calendar = person.calendar
        if calendar.kind == "none":
            return Busy(known=False)
        if calendar.kind != "ics":
            return Busy(error=f"no {calendar.kind} connector configured")
        source: str | None = None
        try:
            data, source = self._load(calendar.location)
            return read_busy(data, window, person.timezone, source=source)
        except CalendarError as exc:
            return Busy(error=str(exc))
        except Exception as exc:  # the boundary of one person's calendar: the others still get answers
            # A bug of icalendar or recurring_ical_events on some input. Its traceback is logged once, never the
            # calendar's contents; the person gets plain words and is planned on working hours.
            shown = source or _shown_location(calendar.location)
            log.exception("reading the ics calendar %s of %s failed", shown, person.email)
            reason = f"the calendar could not be read: the reader failed on it ({type(exc).__name__})"
            return Busy(error=str(CalendarError(reason, source=shown)))

    def _load(self, location: str) -> tuple[bytes, str]:
        """The calendar's bytes and how to name it in messages."""
        scheme = urllib.parse.urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return self._download(location), describe_url(location)
        if len(scheme) > 1:  # one letter is a Windows drive ("C:\\cal.ics"), not a scheme
            hint = " (use https:// instead of webcal://)" if scheme == "webcal" else ""
            raise CalendarError(f"only http and https URLs are supported{hint}", source=f"{scheme}: URL")
        return self._read_file(location), location

    def _read_file(self, location: str) -> bytes:
        path = self.base_dir / location
        try:
            if path.stat().st_size > MAX_CALENDAR_BYTES:
                raise CalendarError(f"larger than {MAX_CALENDAR_BYTES // 2**20} MB", source=location)
            return path.read_bytes()
        except FileNotFoundError:
            raise CalendarError(f"file not found (looked for {path})", source=location) from None
        except IsADirectoryError:
            raise CalendarError("is a directory, not a file", source=location) from None
        except OSError as exc:
            raise CalendarError(f"cannot be read: {exc.strerror or exc}", source=location) from exc

    def _download(self, url: str) -> bytes:
        source = describe_url(url)
        request = urllib.request.Request(  # noqa: S310 - the scheme was checked to be http or https
            url, headers={"Accept": "text/calendar, */*;q=0.5", "User-Agent": "coffeechat-ics/1"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                data: bytes = response.read(MAX_CALENDAR_BYTES + 1)
        except AddressRefused as exc:
            # The same words whatever listens there: nothing was connected to, or nothing sent.
            raise CalendarError(exc.message, source=source) from None
        except urllib.error.HTTPError as exc:
            with exc:  # an HTTPError holds the open response; close it, or the socket leaks
                raise CalendarError(f"HTTP {exc.code} {exc.reason}", source=source) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise CalendarError(f"no answer within {self.timeout:g} s", source=source) from None
            raise CalendarError(f"cannot connect: {exc.reason}", source=source) from None
        except TimeoutError:
            raise CalendarError(f"no answer within {self.timeout:g} s", source=source) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise CalendarError(f"download failed: {_short(exc)}", source=source) from None
        if len(data) > MAX_CALENDAR_BYTES:
            raise CalendarError(f"larger than {MAX_CALENDAR_BYTES // 2**20} MB", source=source)
        return data


def _shown_location(location: str) -> str:
    """A calendar location as messages may show it: a URL without its secrets (``describe_url``), a path as is."""
    return describe_url(location) if urllib.parse.urlsplit(location).scheme.lower() in ("http", "https") else location


def describe_url(url: str) -> str:
    """A URL as it may appear in messages and logs: scheme, host and file name only.

    Private calendar feeds carry their secret in the path or query (Google's ``private-<token>/basic.ics``),
    and error messages end up in the database and on the admin pages.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # never a user:password@ part
    name = parts.path.rstrip("/").rpartition("/")[2]
    return f"{parts.scheme}://{host}/…/{name}" if name else f"{parts.scheme}://{host}/"

