"""Busy time from iCalendar files: the reading rules, real-looking exports, broken files, and the provider."""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.ics_feed import IcsCalendarProvider, describe_url, read_busy
from scheduler.errors import CalendarError
from scheduler.model import Busy, CalendarSource, Interval, Person, merge_intervals

DATA = Path(__file__).parent.parent / "data" / "ics"

LONDON = "Europe/London"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"

# Spring 2025: the US changes to daylight time on 9 March, Europe on 30 March.
MARCH = Interval(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 20, tzinfo=UTC))


def load(name: str) -> bytes:
    """A corpus file by name."""
    return (DATA / name).read_bytes()


def local(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in ``zone``, as UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def span(zone: str, day: date, start: tuple[int, int], end: tuple[int, int]) -> Interval:
    """``start``–``end`` on ``day`` on a wall clock in ``zone``."""
    return Interval(local(zone, day, *start), local(zone, day, *end))


def read(name: str, zone: str = LONDON, window: Interval = MARCH) -> Busy:
    """What a corpus file says; fails the test if the file cannot be read."""
    result = read_busy(load(name), window, zone, source=name)
    assert result.error is None
    assert result.warnings == ()
    return result


def busy_of(name: str, zone: str = LONDON, window: Interval = MARCH) -> tuple[Interval, ...]:
    """The busy (not tentative) intervals of a corpus file."""
    return read(name, zone, window).busy


def calendar(*events: str, header: str = "") -> str:
    """A minimal VCALENDAR around the given VEVENT bodies."""
    body = "".join(f"BEGIN:VEVENT\r\nUID:e{i}@example.com\r\n{event}END:VEVENT\r\n" for i, event in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{header}{body}END:VCALENDAR\r\n"


# --- time zones and daylight saving ----------------------------------------------------------------


def test_weekly_event_keeps_its_local_time_across_the_dst_change() -> None:
    busy = busy_of("dst_london_weekly.ics")

    thursdays = [date(2025, 3, 20) + timedelta(weeks=n) for n in range(5)]
    assert busy == tuple(span(LONDON, day, (9, 30), (10, 0)) for day in thursdays)
    assert busy[0].start.hour == 9  # GMT before 30 March
    assert busy[2].start.hour == 8  # BST after


def test_google_feed_with_x_wr_timezone_repeats_utc_times_on_the_local_clock() -> None:
    # Google writes the series start in UTC and names the calendar's zone in X-WR-TIMEZONE; without it the
    # weekly meeting would slide from 10:00 to 11:00 London time after the clocks change.
    busy = busy_of("google_xwr_london.ics")

    mondays = [date(2025, 3, 24), date(2025, 3, 31), date(2025, 4, 7)]
    weekly = [span(LONDON, day, (10, 0), (10, 30)) for day in mondays]
    one_off = Interval(datetime(2025, 3, 25, 14, 15, tzinfo=UTC), datetime(2025, 3, 25, 15, tzinfo=UTC))
    # The birthday is an all-day TRANSP:TRANSPARENT event: not busy.
    assert busy == tuple(sorted([*weekly, one_off]))


def test_outlook_file_with_windows_zone_names_and_its_own_vtimezones() -> None:
    result = read("outlook_windows_zones.ics")

    berlin_mondays = [span(BERLIN, date(2025, 3, 24) + timedelta(weeks=n), (10, 0), (11, 0)) for n in range(3)]
    new_york_tuesdays = [span(NEW_YORK, date(2025, 3, 4) + timedelta(weeks=n), (9, 30), (10, 0)) for n in range(3)]
    # 27 March is WORKINGELSEWHERE: the person is working, so not busy.
    assert result.busy == tuple(sorted([*berlin_mondays, *new_york_tuesdays]))
    # X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE: apart, for the program to decide.
    assert result.tentative == (span(BERLIN, date(2025, 3, 26), (14, 0), (15, 0)),)


def test_windows_zone_name_without_vtimezone_is_mapped_to_its_iana_zone() -> None:
    busy = busy_of("outlook_windows_zone_without_vtimezone.ics")

    assert busy == tuple(span(NEW_YORK, date(2025, 3, 4) + timedelta(weeks=n), (9, 30), (10, 0)) for n in range(3))


def test_issue_customized_time_zone_is_read_from_each_files_own_vtimezone() -> None:
    # icalendar caches VTIMEZONEs process-wide by TZID; two Outlook files that both call their zone
    # "Customized Time Zone" must still each be read with their own offset, in either order.
    for _ in range(2):
        plus3 = busy_of("outlook_customized_zone_plus3.ics")
        minus5 = busy_of("outlook_customized_zone_minus5.ics")

        assert plus3 == (Interval(datetime(2025, 3, 24, 7, tzinfo=UTC), datetime(2025, 3, 24, 8, tzinfo=UTC)),)
        assert minus5 == (Interval(datetime(2025, 3, 24, 15, tzinfo=UTC), datetime(2025, 3, 24, 16, tzinfo=UTC)),)


def test_undefined_tzid_is_not_borrowed_from_another_file() -> None:
    busy_of("outlook_customized_zone_plus3.ics")  # leaves "Customized Time Zone" in icalendar's cache
    text = calendar(
        'DTSTART;TZID="Customized Time Zone":20250324T100000\r\nDTEND;TZID="Customized Time Zone":20250324T110000\r\n'
    )

    with pytest.raises(CalendarError, match="Customized Time Zone"):
        read_busy(text, MARCH, LONDON, source="other.ics")


def test_globally_unique_tzid_falls_back_to_its_iana_suffix() -> None:
    text = calendar(
        "DTSTART;TZID=/example.org/Europe/Berlin:20250324T100000\r\n"
        "DTEND;TZID=/example.org/Europe/Berlin:20250324T110000\r\n"
    )

    # icalendar says it is guessing; the guess is the zone meant by every client that writes such TZIDs.
    with pytest.warns(UserWarning, match="globally unique TZID"):
        busy = read_busy(text, MARCH, LONDON, source="lightning.ics").busy

    assert busy == (span(BERLIN, date(2025, 3, 24), (10, 0), (11, 0)),)


@pytest.mark.parametrize("zone", [LONDON, NEW_YORK, TOKYO])
def test_floating_times_are_read_in_the_persons_zone(zone: str) -> None:
    assert busy_of("floating.ics", zone) == (span(zone, date(2025, 3, 18), (9, 0), (10, 0)),)


# --- all-day events --------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [LONDON, NEW_YORK, TOKYO])
def test_all_day_events_cover_whole_local_days(zone: str) -> None:
    busy = busy_of("all_day.ics", zone)

    two_days = Interval(local(zone, date(2025, 3, 18), 0), local(zone, date(2025, 3, 20), 0))  # DTEND exclusive
    one_day = Interval(local(zone, date(2025, 3, 24), 0), local(zone, date(2025, 3, 25), 0))  # no DTEND
    # The transparent all-day reminder on 26 March is not busy.
    assert busy == (two_days, one_day)


def test_all_day_event_with_duration_lasts_that_many_days() -> None:
    busy = busy_of("duration.ics", NEW_YORK)

    workshop = Interval(datetime(2025, 3, 18, 9, tzinfo=UTC), datetime(2025, 3, 18, 10, 30, tzinfo=UTC))
    conference = Interval(local(NEW_YORK, date(2025, 3, 20), 0), local(NEW_YORK, date(2025, 3, 22), 0))
    assert busy == (workshop, conference)


# --- what counts as busy ---------------------------------------------------------------------------


def test_cancelled_and_transparent_events_are_not_busy_and_tentative_comes_back_apart() -> None:
    result = read("statuses.ics")

    confirmed = Interval(datetime(2025, 3, 18, 9, tzinfo=UTC), datetime(2025, 3, 18, 10, tzinfo=UTC))
    tentative = Interval(datetime(2025, 3, 18, 11, tzinfo=UTC), datetime(2025, 3, 18, 12, tzinfo=UTC))
    assert result.busy == (confirmed,)
    assert result.tentative == (tentative,)


def test_tentative_intervals_are_merged_and_clipped_and_may_overlap_busy_time() -> None:
    window = Interval(datetime(2025, 3, 18, 8, tzinfo=UTC), datetime(2025, 3, 18, 12, tzinfo=UTC))
    text = calendar(
        "DTSTART:20250318T070000Z\r\nDTEND:20250318T083000Z\r\nSTATUS:TENTATIVE\r\n",  # starts before the window
        "DTSTART:20250318T083000Z\r\nDTEND:20250318T090000Z\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n",
        "DTSTART:20250318T100000Z\r\nDTEND:20250318T110000Z\r\n",
        "DTSTART:20250318T103000Z\r\nDTEND:20250318T113000Z\r\nSTATUS:TENTATIVE\r\n",
    )

    result = read_busy(text, window, LONDON, source="maybe.ics")

    assert result.busy == (Interval(datetime(2025, 3, 18, 10, tzinfo=UTC), datetime(2025, 3, 18, 11, tzinfo=UTC)),)
    assert result.tentative == (
        Interval(window.start, datetime(2025, 3, 18, 9, tzinfo=UTC)),
        Interval(datetime(2025, 3, 18, 10, 30, tzinfo=UTC), datetime(2025, 3, 18, 11, 30, tzinfo=UTC)),
    )


def test_recurrence_with_exdate_rdate_and_overrides() -> None:
    busy = busy_of("recurrence.ics", BERLIN)

    assert busy == (
        span(BERLIN, date(2025, 3, 17), (9, 30), (9, 45)),  # the rule
        span(BERLIN, date(2025, 3, 18), (14, 0), (14, 15)),  # RECURRENCE-ID moved it to the afternoon
        # 19 March: EXDATE; 20 March: the override is STATUS:CANCELLED
        span(BERLIN, date(2025, 3, 21), (9, 30), (9, 45)),  # the rule again, then UNTIL ends it
        span(BERLIN, date(2025, 3, 22), (11, 0), (11, 15)),  # RDATE adds a Saturday, with the series' DURATION
    )


def test_overlapping_and_touching_events_are_merged() -> None:
    text = calendar(
        "DTSTART:20250318T090000Z\r\nDTEND:20250318T100000Z\r\n",
        "DTSTART:20250318T093000Z\r\nDTEND:20250318T103000Z\r\n",
        "DTSTART:20250318T103000Z\r\nDTEND:20250318T110000Z\r\n",
        "DTSTART:20250318T120000Z\r\nDTEND:20250318T120000Z\r\n",  # zero length: nothing
    )

    busy = read_busy(text, MARCH, LONDON, source="merge.ics").busy

    assert busy == (Interval(datetime(2025, 3, 18, 9, tzinfo=UTC), datetime(2025, 3, 18, 11, tzinfo=UTC)),)


def test_busy_time_is_clipped_to_the_window() -> None:
    window = Interval(datetime(2025, 3, 18, 9, 30, tzinfo=UTC), datetime(2025, 3, 18, 11, 30, tzinfo=UTC))

    result = read("statuses.ics", window=window)

    assert result.busy == (Interval(window.start, datetime(2025, 3, 18, 10, tzinfo=UTC)),)
    assert result.tentative == (Interval(datetime(2025, 3, 18, 11, tzinfo=UTC), window.end),)


def test_only_times_are_kept() -> None:
    result = read_busy(load("google_xwr_london.ics"), MARCH, LONDON, source="google.ics")

    text = repr(result)
    for private in ("Payments weekly", "Room 3.14", "Acme", "ben.okafor", "agenda"):
        assert private not in text


def test_text_with_a_byte_order_mark_and_unix_line_ends_is_read() -> None:
    text = "\ufeff" + load("floating.ics").decode().replace("\r\n", "\n")

    assert read_busy(text, MARCH, LONDON, source="apple.ics").busy == busy_of("floating.ics")


def test_concatenated_calendars_are_all_read() -> None:
    text = load("floating.ics") + load("statuses.ics")

    busy = read_busy(text, MARCH, LONDON, source="both.ics").busy

    assert busy == merge_intervals([*busy_of("floating.ics"), *busy_of("statuses.ics")])


# --- files that cannot be read ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("not_a_calendar.html", "line 1: not an iCalendar file (it looks like an HTML page)"),
        ("truncated.ics", "ends inside BEGIN:VEVENT of line 4 (is it truncated?)"),
        ("unknown_tzid.ics", "line 7: DTSTART uses time zone 'Mars/Olympus_Mons'"),
        ("no_dtstart.ics", "line 11: the event has no DTSTART"),
        ("bad_date.ics", "line 7: DTSTART: Wrong datetime format"),
    ],
)
def test_unreadable_files_raise_calendar_error_naming_source_and_line(name: str, problem: str) -> None:
    with pytest.raises(CalendarError) as caught:
        read_busy(load(name), MARCH, LONDON, source=f"calendars/{name}")

    assert caught.value.source == f"calendars/{name}"
    assert str(caught.value).startswith(f"calendars/{name}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        (calendar("DTSTART:20250318T090000Z\r\nEND:VTODO\r\n"), "END:VTODO does not close BEGIN:VEVENT"),
        (" folded onto nothing\r\n", "line 1: not an iCalendar file"),
        (calendar("DTSTART:20250318T090000Z\r\nRRULE:FREQ=SOMETIMES\r\n"), "line 7: RRULE"),
        (calendar("DTSTART:20250318T090000Z\r\nRRULE:FREQ=MINUTELY\r\n"), "more often than every 15 minutes"),
        (
            calendar("DTSTART:20250318T090000Z\r\n", header="X-WR-TIMEZONE:Mars/Base\r\n"),
            "line 4: X-WR-TIMEZONE names no known time zone",
        ),
    ],
)
def test_structural_problems_are_named(text: str, problem: str) -> None:
    with pytest.raises(CalendarError, match=r"^feed\.ics: ") as caught:
        read_busy(text, MARCH, LONDON, source="feed.ics")

    assert problem in str(caught.value)


def test_issue_unicode_line_separators_inside_a_description_do_not_break_the_line() -> None:
    text = calendar(
        "DTSTART:20250318T090000Z\r\nDTEND:20250318T100000Z\r\nDESCRIPTION:one\u2028two\x85three\x0cfour\r\n"
    )

    assert len(read_busy(text, MARCH, LONDON, source="feed.ics").busy) == 1


def test_issue_13_a_line_that_lost_its_property_name_is_skipped_and_the_event_still_counts() -> None:
    result = read_busy(load("broken_line.ics"), MARCH, LONDON, source="calendars/broken_line.ics")

    assert result.busy == (Interval(datetime(2025, 3, 18, 9, tzinfo=UTC), datetime(2025, 3, 18, 10, tzinfo=UTC)),)
    assert result.warnings == (
        "calendars/broken_line.ics: line 9: not an iCalendar content line (NAME:value); skipped",
    )


def test_a_broken_property_that_is_not_about_time_is_ignored() -> None:
    text = calendar("DTSTART:20250318T090000Z\r\nDTEND:20250318T100000Z\r\nLAST-MODIFIED:yesterday\r\n")

    assert len(read_busy(text, MARCH, LONDON, source="feed.ics").busy) == 1


# --- property: whatever the events, the answer is well formed --------------------------------------

PROPERTY_WINDOW = Interval(datetime(2025, 3, 8, 12, tzinfo=UTC), datetime(2025, 3, 11, 12, tzinfo=UTC))
PROPERTY_ZONE = NEW_YORK  # the window spans New York's change to daylight time


@st.composite
def events(draw: st.DrawFn) -> tuple[str, Interval | None, bool]:
    """One VEVENT, the interval it should produce (``None`` when it leaves the person free), and whether that
    interval is tentative."""
    base = datetime(2025, 3, 7)
    start = base + timedelta(minutes=15 * draw(st.integers(0, 6 * 24 * 4)))
    form = draw(st.sampled_from(["utc", "floating", "tzid", "all-day"]))
    transparent = draw(st.booleans())
    status = draw(st.sampled_from(["", "CONFIRMED", "TENTATIVE", "CANCELLED"]))
    zone = ZoneInfo(PROPERTY_ZONE)
    if form == "all-day":
        days = draw(st.integers(1, 3))
        lines = f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{start + timedelta(days=days):%Y%m%d}\r\n"
        first = datetime.combine(start.date(), time(0), tzinfo=zone)
        last = datetime.combine(start.date() + timedelta(days=days), time(0), tzinfo=zone)
        interval = Interval(first, last)
    else:
        end = start + timedelta(minutes=15 * draw(st.integers(0, 40)))
        if form == "utc":
            lines = f"DTSTART:{start:%Y%m%dT%H%M%S}Z\r\nDTEND:{end:%Y%m%dT%H%M%S}Z\r\n"
            interval = Interval(start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
        elif form == "floating":
            # A wall time in the hour skipped on 9 March counts from after the jump (zoneinfo's fold=0
            # reading), so an event ending inside the gap may end "before" it starts: it is then empty.
            lines = f"DTSTART:{start:%Y%m%dT%H%M%S}\r\nDTEND:{end:%Y%m%dT%H%M%S}\r\n"
            begins = start.replace(tzinfo=zone).astimezone(UTC)
            interval = Interval(begins, max(begins, end.replace(tzinfo=zone).astimezone(UTC)))
        else:
            lines = f"DTSTART;TZID={BERLIN}:{start:%Y%m%dT%H%M%S}\r\nDTEND;TZID={BERLIN}:{end:%Y%m%dT%H%M%S}\r\n"
            interval = Interval(start.replace(tzinfo=ZoneInfo(BERLIN)), end.replace(tzinfo=ZoneInfo(BERLIN)))
    lines += "TRANSP:TRANSPARENT\r\n" if transparent else ""
    lines += f"STATUS:{status}\r\n" if status else ""
    return lines, None if transparent or status == "CANCELLED" else interval, status == "TENTATIVE"


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), max_size=12))
def test_busy_and_tentative_are_sorted_disjoint_inside_the_window_and_match_the_events(
    drawn: list[tuple[str, Interval | None, bool]],
) -> None:
    result = read_busy(calendar(*(lines for lines, *_ in drawn)), PROPERTY_WINDOW, PROPERTY_ZONE, source="p.ics")

    for kind, intervals in (("busy", result.busy), ("tentative", result.tentative)):
        for interval in intervals:
            assert PROPERTY_WINDOW.start <= interval.start < interval.end <= PROPERTY_WINDOW.end
        for earlier, later in itertools.pairwise(intervals):
            assert earlier.end < later.start
        expected = (i for _, i, tentative in drawn if i is not None and tentative == (kind == "tentative"))
        assert intervals == merge_intervals(c for i in expected if (c := i.clip(PROPERTY_WINDOW)) is not None)


# --- the provider ----------------------------------------------------------------------------------


def person(location: str, *, kind: str = "ics", email: str = "ana@example.com", zone: str = LONDON) -> Person:
    """A participant whose calendar is at ``location``."""
    return Person(email=email, name="Ana", team="Payments", timezone=zone, calendar=CalendarSource(kind, location))


def test_provider_reads_a_file_relative_to_its_base_directory() -> None:
    provider = IcsCalendarProvider(DATA)

    answer = provider.fetch_busy([person("floating.ics", zone=TOKYO)], MARCH)

    assert answer == {"ana@example.com": Busy(busy=(span(TOKYO, date(2025, 3, 18), (9, 0), (10, 0)),))}


def test_provider_reads_an_absolute_path(tmp_path: Path) -> None:
    shutil.copy(DATA / "statuses.ics", tmp_path / "mine.ics")

    answer = IcsCalendarProvider(DATA).fetch_busy([person(str(tmp_path / "mine.ics"))], MARCH)

    assert answer["ana@example.com"].busy == busy_of("statuses.ics")


def test_provider_answers_for_everyone_and_never_raises() -> None:
    people = [
        person("floating.ics", email="fine@example.com"),
        person("missing.ics", email="missing@example.com"),
        person("truncated.ics", email="broken@example.com"),
        person("", kind="none", email="nocal@example.com"),
        person("bo@example.com", kind="google", email="bo@example.com"),
        person(".", email="dir@example.com"),
    ]

    answer = IcsCalendarProvider(DATA).fetch_busy(people, MARCH)

    assert set(answer) == {p.email for p in people}
    assert answer["fine@example.com"].error is None
    assert answer["fine@example.com"].busy
    assert answer["missing@example.com"].error is not None
    assert answer["missing@example.com"].error.startswith("missing.ics: file not found")
    assert answer["broken@example.com"] == Busy(
        error="truncated.ics: the file ends inside BEGIN:VEVENT of line 4 (is it truncated?)"
    )
    assert answer["nocal@example.com"] == Busy(known=False)
    assert answer["bo@example.com"] == Busy(error="no google connector configured")
    assert answer["dir@example.com"] == Busy(error=".: is a directory, not a file")


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("webcal://calendar.example.com/ana.ics", "use https:// instead of webcal://"),
        ("ftp://files.example.com/ana.ics", "only http and https URLs are supported"),
    ],
)
def test_provider_refuses_other_url_schemes(location: str, problem: str) -> None:
    answer = IcsCalendarProvider(DATA).fetch_busy([person(location)], MARCH)

    error = answer["ana@example.com"].error
    assert error is not None
    assert problem in error


class _FeedHandler(BaseHTTPRequestHandler):
    """Serves the corpus at /feeds/<name>, redirects, a 404, and a feed that never answers."""

    release: threading.Event

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            self.release.wait(5)  # answer nothing; the client's timeout ends the request
            return
        if self.path.startswith("/moved"):
            self._redirect("/feeds/" + self.path.rpartition("/")[2])
        elif self.path.startswith("/to-loopback"):
            self._redirect(f"http://127.0.0.1:{self.server.server_address[1]}/feeds/statuses.ics")
        elif self.path.startswith("/to-ftp"):
            self._redirect("ftp://127.0.0.1/statuses.ics")
        elif self.path.startswith("/feeds/") and (DATA / self.path.rpartition("/")[2]).is_file():
            body = (DATA / self.path.rpartition("/")[2]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404, "Not Found")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A local HTTP server with the corpus; yields its base URL and stops it afterwards."""
    release = threading.Event()
    handler = type("Handler", (_FeedHandler,), {"release": release})
    server = ThreadingHTTPServer(("0.0.0.0", 0), handler)  # noqa: S104 - also on this machine's own address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


# The local feed server is on this machine: these providers are allowed to reach it.
LOCAL = IcsCalendarProvider(DATA, allow_internal=True)


def test_provider_fetches_a_feed_over_http(feed_server: str) -> None:
    answer = LOCAL.fetch_busy([person(f"{feed_server}/feeds/google_xwr_london.ics")], MARCH)

    assert answer["ana@example.com"].busy == busy_of("google_xwr_london.ics")


def test_provider_follows_http_redirects(feed_server: str) -> None:
    answer = LOCAL.fetch_busy([person(f"{feed_server}/moved/statuses.ics")], MARCH)

    assert answer["ana@example.com"].busy == busy_of("statuses.ics")


def test_provider_refuses_a_redirect_away_from_http(feed_server: str) -> None:
    answer = LOCAL.fetch_busy([person(f"{feed_server}/to-ftp/statuses.ics")], MARCH)

    error = answer["ana@example.com"].error
    assert error is not None
    assert "redirect to a non-http address refused" in error


def test_provider_reports_http_errors_without_the_secret_part_of_the_url(feed_server: str) -> None:
    url = f"{feed_server}/calendar/ical/ana/private-s3cr3t/basic.ics?token=hunter2"

    error = LOCAL.fetch_busy([person(url)], MARCH)["ana@example.com"].error

    assert error == f"{feed_server}/…/basic.ics: HTTP 404 Not Found"
    assert "s3cr3t" not in error
    assert "hunter2" not in error


def test_provider_gives_up_on_a_feed_that_does_not_answer(feed_server: str) -> None:
    provider = IcsCalendarProvider(DATA, timeout=0.2, allow_internal=True)

    error = provider.fetch_busy([person(f"{feed_server}/slow/ana.ics")], MARCH)["ana@example.com"].error

    assert error == f"{feed_server}/…/ana.ics: no answer within 0.2 s"


def test_provider_reports_a_feed_that_cannot_be_reached() -> None:
    # Port 9 (discard) on localhost is closed on any test machine: the connection is refused at once.
    error = IcsCalendarProvider(DATA, timeout=2, allow_internal=True).fetch_busy([person("http://127.0.0.1:9/a.ics")],
                                                                             MARCH)

    message = error["ana@example.com"].error
    assert message is not None
    assert message.startswith("http://127.0.0.1:9/…/a.ics: cannot connect")


def refused(host: str) -> str:
    """The one message of a refused connection to ``host``."""
    return f"refused: {host} is not a public address (set calendar.allowed_hosts to allow it)"


@pytest.mark.parametrize(("host", "named"), [
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "localhost"),
    ("LOCALHOST.", "localhost"),
    ("2130706433", "2130706433"),  # 127.0.0.1 as one decimal number
    ("0x7f000001", "0x7f000001"),
    ("127.1", "127.1"),
    ("0177.0.0.1", "0177.0.0.1"),  # octal
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ("[::1]", "::1"),
])
def test_issue_13_a_feed_on_this_machine_is_refused_in_every_spelling(feed_server: str, host: str,
                                                                      named: str) -> None:
    port = feed_server.rpartition(":")[2]
    url = f"http://{host}:{port}/feeds/statuses.ics"

    answer = IcsCalendarProvider(DATA).fetch_busy([person(url)], MARCH)

    assert answer["ana@example.com"] == Busy(error=f"{describe_url(url)}: {refused(named)}")


def test_issue_13_a_refused_address_reads_the_same_whatever_listens_there(feed_server: str) -> None:
    # No port probe: an open port, a closed one and a missing file on this machine are told apart by nothing.
    port = feed_server.rpartition(":")[2]
    provider = IcsCalendarProvider(DATA, timeout=2)
    urls = [f"http://127.0.0.1:{port}/feeds/statuses.ics", "http://127.0.0.1:9/feeds/statuses.ics",
            f"http://127.0.0.1:{port}/feeds/no-such-file.ics"]

    errors = [provider.fetch_busy([person(url)], MARCH)["ana@example.com"].error for url in urls]

    assert [error.partition(": ")[2] if error else None for error in errors] == [refused("127.0.0.1")] * 3


def test_issue_13_a_host_allowed_by_name_is_read_and_its_redirects_are_checked(feed_server: str) -> None:
    port = feed_server.rpartition(":")[2]
    provider = IcsCalendarProvider(DATA, allowed_hosts=["localhost"])

    direct = provider.fetch_busy([person(f"http://localhost:{port}/feeds/statuses.ics")], MARCH)
    moved = provider.fetch_busy([person(f"http://localhost:{port}/moved/statuses.ics")], MARCH)
    # The allowed server redirects to 127.0.0.1: the same machine, but not the host the configuration named.
    redirected = provider.fetch_busy([person(f"http://localhost:{port}/to-loopback/statuses.ics")], MARCH)

    assert direct["ana@example.com"].busy == busy_of("statuses.ics")
    assert moved["ana@example.com"].busy == busy_of("statuses.ics")
    assert redirected["ana@example.com"].error == f"http://localhost:{port}/…/statuses.ics: {refused('127.0.0.1')}"


def this_machines_address() -> str | None:
    """This machine's own non-loopback IPv4 address (routing a UDP socket sends nothing), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never answers, and nothing is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def test_issue_13_this_machines_own_address_is_refused_unless_allowed(feed_server: str) -> None:
    # Private (a container's 172.17.x.x, an office's 10.x) or public, this machine's own address reaches its
    # own services: refused, unless the configuration names it; then a redirect to loopback is still refused.
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    port = feed_server.rpartition(":")[2]
    url = f"http://{address}:{port}/feeds/statuses.ics"

    refused_answer = IcsCalendarProvider(DATA).fetch_busy([person(url)], MARCH)
    allowed = IcsCalendarProvider(DATA, allowed_hosts=[address])
    direct = allowed.fetch_busy([person(url)], MARCH)
    redirected = allowed.fetch_busy([person(f"http://{address}:{port}/to-loopback/statuses.ics")], MARCH)

    assert refused_answer["ana@example.com"].error == f"{describe_url(url)}: {refused(address)}"
    assert direct["ana@example.com"].busy == busy_of("statuses.ics")
    assert redirected["ana@example.com"].error is not None
    assert redirected["ana@example.com"].error.endswith(refused("127.0.0.1"))


def test_issue_13_a_name_is_judged_by_the_address_it_resolves_to(feed_server: str) -> None:
    # This machine's own name is no numeric address and not "localhost": only what it resolves to (127.0.1.1
    # on Debian, the container's address in Docker) shows that it is internal.
    name = socket.gethostname()
    try:
        socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("this machine's name does not resolve")
    port = feed_server.rpartition(":")[2]
    url = f"http://{name}:{port}/feeds/statuses.ics"

    answer = IcsCalendarProvider(DATA).fetch_busy([person(url)], MARCH)

    assert answer["ana@example.com"].error == f"{describe_url(url)}: {refused(name.lower())}"


def test_provider_passes_tentative_time_on_apart() -> None:
    answer = IcsCalendarProvider(DATA).fetch_busy([person("statuses.ics")], MARCH)["ana@example.com"]

    assert (answer.busy, answer.tentative) == (busy_of("statuses.ics"), read("statuses.ics").tentative)
    assert answer.tentative != ()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://calendar.google.com/calendar/ical/a%40b.com/private-abc/basic.ics",
            "https://calendar.google.com/…/basic.ics",
        ),
        ("https://user:pw@example.com:8443/feed.ics?key=1", "https://example.com:8443/…/feed.ics"),
        ("https://example.com/", "https://example.com/"),
    ],
)
def test_describe_url_hides_secrets(url: str, shown: str) -> None:
    assert describe_url(url) == shown
