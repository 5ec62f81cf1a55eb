"""Busy time from iCalendar (RFC 5545) files and feeds.

``read_busy`` turns one ``.ics`` text into merged UTC busy and tentative intervals over a window;
``IcsCalendarProvider`` is the ``CalendarProvider`` for people whose calendar is an ``ics:`` file path or http(s)
URL.

Only start and end times leave this module: summaries, attendees, locations and descriptions are never read
into the result.

How events count:

- ``TRANSP:TRANSPARENT`` ("show as free") and ``STATUS:CANCELLED`` are not busy; neither are Outlook's
  ``X-MICROSOFT-CDO-BUSYSTATUS:FREE`` / ``WORKINGELSEWHERE``.
- ``STATUS:TENTATIVE`` (or Outlook's ``BUSYSTATUS:TENTATIVE``) goes to ``Busy.tentative``, apart from the busy
  time: whether it counts as busy is the program's choice (``Program.tentative_busy``), made by the cycle.
- Recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) are expanded by ``recurring_ical_events``, which
  also applies a Google feed's ``X-WR-TIMEZONE`` (UTC and floating times are then read in that zone).
- Floating times (no ``Z``, no ``TZID``) are read in the person's zone.
- All-day (``VALUE=DATE``) events cover whole local days in the person's zone; ``DTEND`` is exclusive and a
  missing ``DTEND`` means one day. They follow ``TRANSP`` like any event (default opaque).
- A ``TZID`` that is an IANA name is read with zoneinfo; any other by the file's own ``VTIMEZONE`` (Outlook's
  "Customized Time Zone", Windows names such as "W. Europe Standard Time"), else through icalendar's
  Windows→IANA table. Each file's definitions are its own, whatever other files said.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from scheduler.accounts import is_internal_host
from scheduler.errors import CalendarError
from scheduler.model import Busy, Interval, Person, merge_intervals

# Calendars bigger than this are refused rather than read into memory: a year of a busy person's calendar is
# well under 5 MB, so anything larger is a mistake or an attack.
MAX_CALENDAR_BYTES = 20 * 1024 * 1024

# Occurrences are expanded over the window widened by this much, because recurring_ical_events compares
# floating and all-day times on their own wall clock: 23:00 floating in Tokyo is the previous day in UTC.
# Two days cover every UTC offset (±14 h) with room to spare; the result is clipped to the window anyway.
_EXPANSION_MARGIN = timedelta(days=2)

# A recurrence finer than this expands into thousands of occurrences per day; no real busy calendar has one.
_FINEST_RECURRENCE = timedelta(minutes=15)
_FREQ_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}

# Properties whose value decides *when* an event is busy. A broken property of any other kind (a garbled
# DESCRIPTION, an ATTENDEE without mailto:) does not matter for busy time and is ignored.
_TIME_PROPERTIES = frozenset(
    {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "STATUS", "TRANSP"}
)
_DATE_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")

_CONTENT_LINE = re.compile(r"[A-Za-z0-9-]+[;:]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TIMEZONE_COMPONENTS = frozenset({"VTIMEZONE", "STANDARD", "DAYLIGHT"})
_FREE_CDO_STATUSES = frozenset({"FREE", "WORKINGELSEWHERE"})


@dataclass
class _Lines:
    """Where one component sits in the file: the line of its BEGIN and the first line of each property."""

    name: str
    line: int
    properties: dict[str, int] = field(default_factory=dict)

    def line_of(self, prop: str) -> int:
        return self.properties.get(prop, self.line)


def read_busy(
    ics: bytes | str,
    window: Interval,
    zone: str,
    *,
    source: str,
) -> Busy:
    """Busy and tentative intervals of one iCalendar text over ``window``: each UTC, merged, sorted and clipped
    to the window. A tentative event is in ``Busy.tentative`` only, not in ``Busy.busy``.

    ``zone`` is the person's IANA zone, used for floating times and all-day events. ``source`` names the file
    or feed in error messages.

    The whole calendar is refused, never partly read: anything that cannot be read (not iCalendar, a broken or
    truncated line, an unknown ``TZID`` without a ``VTIMEZONE``, an event without ``DTSTART`` or with an
    unreadable date or rule) raises ``CalendarError`` naming ``source`` and, where known, the line. Skipping
    just the bad event was the alternative; it was not chosen because a skipped event is busy time that would
    silently look free, and a meeting booked on top of it is worse than a person planned without calendar data
    (which the cycle records and shows). ``Busy.warnings`` is therefore always empty here.
    """
    text = _decode(ics)
    lines = _scan(text, source)
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except ValueError as exc:
        raise CalendarError(f"not readable as iCalendar: {_short(exc)}", source=source) from exc

    person_zone = ZoneInfo(zone)
    span_start, span_end = window.start - _EXPANSION_MARGIN, window.end + _EXPANSION_MARGIN
    busy: list[Interval] = []
    tentative: list[Interval] = []
    offset = 0
    for calendar in calendars:
        components = calendar.walk()
        # ``walk()`` lists components in file order, as ``_scan`` did, so the two line up one to one.
        located = [
            (component, lines[offset + i] if offset + i < len(lines) else None)
            for i, component in enumerate(components)
        ]
        offset += len(components)
        _check_components(located, source)
        _bind_timezones(calendar, located, source)
        for occurrence in _expand(calendar, span_start, span_end, source):
            kind = _busy_kind(occurrence)
            if kind is None:
                continue
            start = _to_utc(occurrence.start, person_zone)
            # A floating end inside the hour skipped by a DST change can land before its start: it is empty.
            end = max(start, _to_utc(occurrence.end, person_zone))
            clipped = Interval(start, end).clip(window)
            if clipped is not None:
                (tentative if kind == "tentative" else busy).append(clipped)
    return Busy(busy=merge_intervals(busy), tentative=merge_intervals(tentative))


def _decode(ics: bytes | str) -> str:
    if isinstance(ics, bytes):
        # Times are plain ASCII, so a summary in some legacy encoding must not make the calendar unreadable.
        ics = ics.decode("utf-8", errors="replace")
    return ics.removeprefix("\ufeff")


def _scan(text: str, source: str) -> list[_Lines]:
    """Check the file's structure line by line and note where each component and property sits.

    icalendar is lenient (it accepts a truncated file or a mismatched END) and its messages carry no line
    numbers, so this pass gives the person a precise "line 12: ..." before icalendar sees the text. Line
    contents are never quoted back: the message may be shown to someone who should not see the file.
    """
    components: list[_Lines] = []
    stack: list[_Lines] = []
    seen_content = False
    for number, line in _unfolded(text, source):
        if not seen_content and line.strip().upper() != "BEGIN:VCALENDAR":
            hint = " (it looks like an HTML page)" if line.lstrip().startswith("<") else ""
            raise CalendarError(f"line {number}: not an iCalendar file{hint}: expected BEGIN:VCALENDAR", source=source)
        seen_content = True
        if not _CONTENT_LINE.match(line) or ":" not in line:
            raise CalendarError(f"line {number}: not an iCalendar content line (NAME:value)", source=source)
        name = re.split(r"[;:]", line, maxsplit=1)[0].upper()
        value = line.partition(":")[2].strip().upper()
        if name == "BEGIN":
            if not stack and value != "VCALENDAR":
                raise CalendarError(f"line {number}: BEGIN:{value} outside of a VCALENDAR", source=source)
            component = _Lines(value, number)
            components.append(component)
            stack.append(component)
        elif name == "END":
            if not stack:
                raise CalendarError(f"line {number}: END:{value} without a matching BEGIN", source=source)
            if stack[-1].name != value:
                raise CalendarError(
                    f"line {number}: END:{value} does not close BEGIN:{stack[-1].name} of line {stack[-1].line}",
                    source=source,
                )
            stack.pop()
        elif not stack:
            raise CalendarError(f"line {number}: content after END:VCALENDAR", source=source)
        else:
            stack[-1].properties.setdefault(name, number)
    if not seen_content:
        raise CalendarError("the file is empty", source=source)
    if stack:
        raise CalendarError(
            f"the file ends inside BEGIN:{stack[-1].name} of line {stack[-1].line} (is it truncated?)",
            source=source,
        )
    return components


def _unfolded(text: str, source: str) -> Iterator[tuple[int, str]]:
    """Logical content lines with the physical number of their first line; blank lines are skipped."""
    start, parts = 0, list[str]()
    # Not str.splitlines(): it also breaks at U+2028, U+0085 and the like, which may sit inside a DESCRIPTION.
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        if physical[:1] in (" ", "\t"):
            if not parts:
                raise CalendarError(f"line {number}: a continuation line with nothing to continue", source=source)
            parts.append(physical[1:])
            continue
        if parts:
            yield start, "".join(parts)
        start, parts = number, ([physical] if physical.strip() else [])
    if parts:
        yield start, "".join(parts)


def _where(lines: _Lines | None, prop: str | None = None) -> str:
    if lines is None:
        return "(line unknown)"
    return f"line {lines.line_of(prop.upper()) if prop else lines.line}"


def _check_components(located: Sequence[tuple[icalendar.Component, _Lines | None]], source: str) -> None:
    """Refuse events and time zones that cannot say when they happen, naming the line."""
    for component, lines in located:
        for prop, message in component.errors:
            if prop is None:
                raise CalendarError(f"{_where(lines)}: a content line cannot be read: {message}", source=source)
            # Only what decides when an event is busy matters; a broken DESCRIPTION or LAST-MODIFIED does not.
            if component.name in _TIMEZONE_COMPONENTS or (
                component.name == "VEVENT" and prop.upper() in _TIME_PROPERTIES
            ):
                raise CalendarError(f"{_where(lines, prop)}: {prop.upper()}: {message}", source=source)
        if component.name != "VEVENT":
            continue
        if "DTSTART" not in component:
            raise CalendarError(f"{_where(lines)}: the event has no DTSTART", source=source)
        rules = component.get("RRULE", [])
        for rule in rules if isinstance(rules, list) else [rules]:
            frequency = str(rule.get("FREQ", ["DAILY"])[0]).upper()
            step = timedelta(seconds=_FREQ_SECONDS.get(frequency, 86400) * int(rule.get("INTERVAL", [1])[0]))
            if step < _FINEST_RECURRENCE:
                raise CalendarError(
                    f"{_where(lines, 'RRULE')}: the event repeats more often than every 15 minutes",
                    source=source,
                )


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
    """
    defined = {str(tz["TZID"]): tz for tz in calendar.walk("VTIMEZONE") if isinstance(tz, icalendar.Timezone)}
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


def _resolve_tzid(tzid: str, defined: dict[str, icalendar.Timezone], source: str) -> tzinfo | None:
    iana = _iana_zone(tzid.strip("/"))
    if iana is not None:
        return iana
    if tzid in defined:
        try:
            return defined[tzid].to_tz(tzp, lookup_tzid=False)
        except (ValueError, TypeError, KeyError) as exc:
            raise CalendarError(f"VTIMEZONE {tzid!r} cannot be read: {_short(exc)}", source=source) from exc
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


def _expand(calendar: icalendar.Component, start: datetime, end: datetime, source: str) -> list[icalendar.Event]:
    try:
        # Occurrences of VEVENTs (the only component asked for) are Events.
        return cast(list[icalendar.Event], recurring_ical_events.of(calendar).between(start, end))
    except (ValueError, KeyError, TypeError) as exc:
        # ValueError covers icalendar's and recurring_ical_events' InvalidCalendar families and dateutil's
        # rule errors; KeyError an unknown X-WR-TIMEZONE; TypeError dates that cannot be compared (DATE
        # against DATE-TIME in one series). All mean "this file is wrong": this person's problem alone.
        raise CalendarError(f"the events cannot be expanded: {_short(exc)}", source=source) from exc


def _busy_kind(event: icalendar.Component) -> Literal["busy", "tentative"] | None:
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
    """

    def __init__(self, base_dir: Path, *, timeout: float = 10.0, allow_internal: bool = False) -> None:
        self.base_dir = base_dir
        self.timeout = timeout
        # Our own opener, so that a redirect can only lead to another http(s) address (urllib also follows
        # redirects to ftp://), and, unless ``allow_internal``, every connection (redirects included) is refused
        # when the address it reached is this machine or link-local: a participant's URL must not make the
        # server fetch its own or a cloud metadata service's pages, whatever the name resolves to.
        handlers: list[urllib.request.BaseHandler] = [_HttpOnlyRedirects()]
        if not allow_internal:
            handlers += [_PublicHttpHandler(), _PublicHttpsHandler()]
        self._opener = urllib.request.build_opener(*handlers)

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see the class docstring)."""
        return {person.email: self._busy_of(person, window) for person in people}

    def _busy_of(self, person: Person, window: Interval) -> Busy:
        calendar = person.calendar
        if calendar.kind == "none":
            return Busy(known=False)
        if calendar.kind != "ics":
            return Busy(error=f"no {calendar.kind} connector configured")
        try:
            data, source = self._load(calendar.location)
            return read_busy(data, window, person.timezone, source=source)
        except CalendarError as exc:
            return Busy(error=str(exc))

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


def describe_url(url: str) -> str:
    """A URL as it may appear in messages and logs: scheme, host and file name only.

    Private calendar feeds carry their secret in the path or query (Google's ``private-<token>/basic.ics``),
    and error messages end up in the database and on the admin pages.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # never a user:password@ part
    name = parts.path.rstrip("/").rpartition("/")[2]
    return f"{parts.scheme}://{host}/…/{name}" if name else f"{parts.scheme}://{host}/"


class InternalAddressRefused(OSError):
    """A calendar URL led to this machine or a link-local address (see ``IcsCalendarProvider``)."""


def _refuse_internal_peer(connection: http.client.HTTPConnection) -> None:
    """Close ``connection`` and raise when the address it connected to is internal (``is_internal_host``)."""
    if connection.sock is None:
        return
    peer = str(connection.sock.getpeername()[0])
    if is_internal_host(peer):
        connection.close()
        raise InternalAddressRefused(f"refused: {connection.host} is this server or a link-local address ({peer})")


class _PublicHttpConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _refuse_internal_peer(self)  # before a byte of the request is sent


class _PublicHttpsConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _refuse_internal_peer(self)  # after the TLS handshake, before a byte of the request is sent


class _PublicHttpHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PublicHttpConnection, req)


class _PublicHttpsHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PublicHttpsConnection, req)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http address refused ({msg})", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)
