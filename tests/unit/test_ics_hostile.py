"""Issue 13: hostile and broken iCalendar files. Each is read, or refused with a ``CalendarError`` in plain words
naming the line, quickly; a line that carries no time never costs the person their calendar; expansion is
bounded whatever a rule says; and a reader bug on one calendar is that person's problem alone.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import integrations.ics_feed as ics_feed
from integrations.ics_feed import IcsCalendarProvider, read_busy
from scheduler.errors import CalendarError
from scheduler.model import Busy, CalendarSource, Interval, Person, merge_intervals

DATA = Path(__file__).parent.parent / "data" / "ics"
HOSTILE = sorted((DATA / "hostile").glob("*"))
LONDON = "Europe/London"
# Monday 2 to Monday 9 March 2026: London is on GMT, so its wall clock is UTC.
WEEK = Interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026, UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def calendar(*events: str) -> str:
    """A minimal VCALENDAR around the given VEVENT bodies (the first event's first line is line 6)."""
    body = "".join(f"BEGIN:VEVENT\r\nUID:e{i}@example.com\r\n{event}END:VEVENT\r\n" for i, event in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Read:
    """The file is read: these busy intervals over ``WEEK``, and these warnings (without the file's name)."""

    busy: tuple[Interval, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """The file is refused with this message (after the file's name)."""

    problem: str


NINE_TO_TEN = (Interval(at(3, 9), at(3, 10)),)
THREE_TO_FOUR = (Interval(at(4, 15), at(4, 16)),)
SKIPPED = "not an iCalendar content line (NAME:value); skipped"

# What a careful reader does with each file of tests/data/ics/hostile/: when the times can be trusted, read
# them (with a warning for each line set aside); when they cannot, refuse in plain words naming the line.
EXPECTED: dict[str, Read | Refused] = {
    "apple_structured_location.ics": Read(NINE_TO_TEN, (f"line 9: {SKIPPED}",)),
    "content_after_end.ics": Read(THREE_TO_FOUR, ("line 12: content after END:VCALENDAR; skipped",
                                                  f"line 13: {SKIPPED}")),
    # DTSTART five years before the window: every day of the window, at once.
    "count_100000000.ics": Read(tuple(Interval(at(day, 12), at(day, 12, 30)) for day in range(2, 9))),
    "cr_only_line_endings.ics": Read(NINE_TO_TEN),
    "deep_nesting.ics": Read(()),  # unknown components carry no time, however deep
    "dtend_before_dtstart.ics": Refused("line 8: DTEND is before DTSTART: the event would end before it starts"),
    "dtstart_not_a_date.ics": Refused("line 7: DTSTART is not a date or a date-time"),
    "duplicate_dtend.ics": Refused("line 9: the event has two different DTEND (lines 8 and 9): when it happens "
                                   "cannot be told"),
    "duplicate_dtstart.ics": Refused("line 8: the event has two different DTSTART (lines 7 and 8): when it happens "
                                     "cannot be told"),
    "duplicate_recurrence_id.ics": Refused("line 15: the event has two different RECURRENCE-ID (lines 14 and 15): "
                                           "when it happens cannot be told"),
    "freq_minutely.ics": Refused("line 9: the event repeats more often than every 15 minutes (up to 1,440 times a "
                                 "day)"),
    "html_page.ics": Refused("line 2: not an iCalendar file (it looks like an HTML page): expected BEGIN:VCALENDAR"),
    "interval_zero.ics": Refused("line 9: RRULE: INTERVAL must be 1 or more"),
    "line_without_colon.ics": Read(NINE_TO_TEN, (f"line 10: {SKIPPED}",)),
    "negative_duration.ics": Refused("line 8: DURATION is negative: the event would end before it starts"),
    "never_matching_rule.ics": Read(THREE_TO_FOUR),  # 30 February never comes; the other event counts
    "nul_bytes.ics": Read(NINE_TO_TEN, ("line 9: contains NUL bytes; skipped", "line 12: contains NUL bytes; skipped")),
    # RFC 5545 deprecates a second RRULE, but its meaning is plain: the union of both.
    "two_rrules.ics": Read((Interval(at(2, 9), at(2, 9, 30)), Interval(at(5, 9), at(5, 9, 30)))),
}


def test_issue_13_every_hostile_file_has_an_expected_outcome() -> None:
    assert {path.name for path in HOSTILE} == set(EXPECTED)


@pytest.mark.parametrize("path", HOSTILE, ids=[path.name for path in HOSTILE])
def test_issue_13_a_hostile_file_is_read_or_refused_in_plain_words_within_a_second(path: Path) -> None:
    source = f"hostile/{path.name}"
    expected = EXPECTED[path.name]

    began = time.perf_counter()
    try:
        outcome: Busy | CalendarError = read_busy(path.read_bytes(), WEEK, LONDON, source=source)
    except CalendarError as exc:
        outcome = exc
    elapsed = time.perf_counter() - began

    assert elapsed < 1.0
    if isinstance(expected, Refused):
        assert isinstance(outcome, CalendarError)
        assert outcome.source == source
        assert str(outcome) == f"{source}: {expected.problem}"
    else:
        assert outcome == Busy(busy=expected.busy, warnings=tuple(f"{source}: {w}" for w in expected.warnings))


# --- the per-person boundary -----------------------------------------------------------------------


def person(location: str, email: str) -> Person:
    """A participant in London whose calendar is the file ``location`` under tests/data/ics."""
    return Person(email=email, name=email, team="Payments", timezone=LONDON, calendar=CalendarSource("ics", location))


def test_issue_13_every_hostile_file_leaves_the_others_their_answers() -> None:
    people = [person(f"hostile/{path.name}", f"p{i}@example.com") for i, path in enumerate(HOSTILE)]
    people.append(person("floating.ics", "fine@example.com"))

    answers = IcsCalendarProvider(DATA).fetch_busy(people, WEEK)

    assert set(answers) == {p.email for p in people}
    for path, someone in zip(HOSTILE, people, strict=False):
        refused = isinstance(EXPECTED[path.name], Refused)
        assert (answers[someone.email].error is not None) == refused, path.name
    assert answers["fine@example.com"].error is None


def test_issue_13_a_reader_bug_on_one_calendar_is_that_persons_error_logged_once_without_its_contents(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real_of = recurring_ical_events.of

    def of(calendar: object, *args: object, **kwargs: object) -> object:
        """recurring_ical_events failing, as 3.8.2 did on two DTSTARTs, on one file only."""
        if "twice-weekly@example.com" in str(calendar.to_ical()):  # type: ignore[attr-defined]
            raise AttributeError("'list' object has no attribute 'dt'")
        return real_of(calendar, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recurring_ical_events, "of", of)
    people = [
        person("hostile/two_rrules.ics", "bug@example.com"),
        person("floating.ics", "fine@example.com"),
        person("hostile/duplicate_dtstart.ics", "dup@example.com"),
    ]

    with caplog.at_level(logging.ERROR, logger="integrations.ics_feed"):
        answers = IcsCalendarProvider(DATA).fetch_busy(people, WEEK)

    assert answers["bug@example.com"] == Busy(
        error="hostile/two_rrules.ics: the calendar could not be read: the reader failed on it (AttributeError)"
    )
    assert answers["fine@example.com"] == read_busy((DATA / "floating.ics").read_bytes(), WEEK, LONDON, source="f")
    assert (answers["dup@example.com"].error or "").startswith("hostile/duplicate_dtstart.ics: line 8: ")
    (record,) = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[0] is AttributeError
    assert "hostile/two_rrules.ics" in record.getMessage()
    assert "bug@example.com" in record.getMessage()
    assert "Two rules" not in caplog.text  # the file's SUMMARY: its contents never reach the log


def test_issue_13_a_url_calendar_the_reader_fails_on_is_named_without_its_secret(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    provider = IcsCalendarProvider(DATA)

    def load(location: str) -> tuple[bytes, str]:
        raise KeyError("a bug before the calendar was even downloaded")

    monkeypatch.setattr(provider, "_load", load)
    url = "https://calendar.example.com/private-s3cr3t/basic.ics"

    with caplog.at_level(logging.ERROR, logger="integrations.ics_feed"):
        answer = provider.fetch_busy([person(url, "ana@example.com")], WEEK)["ana@example.com"]

    assert answer.error == ("https://calendar.example.com/…/basic.ics: the calendar could not be read: the reader "
                            "failed on it (KeyError)")
    assert "s3cr3t" not in caplog.text


# --- read what can be read -------------------------------------------------------------------------

EVENT = "DTSTART:20260303T090000Z\r\nDTEND:20260303T100000Z\r\n"


@pytest.mark.parametrize(
    ("lines", "warning"),
    [
        # Apple's structured location with unquoted ";" and a quote inside a quoted parameter value.
        ('X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=1 Infinite Loop;Cupertino;X-TITLE="A "B" C":geo:1,2\r\n',
         f"line 8: {SKIPPED}"),
        ("X-CUSTOM;=odd:value\r\n", f"line 8: {SKIPPED}"),
        # A DESCRIPTION folded without the leading space: its second half is no content line.
        ("DESCRIPTION:first half of the agenda\r\nsecond half, with a: colon later on\r\n", f"line 9: {SKIPPED}"),
        ("DESCRIPTION:agenda\x00attached\r\n", "line 8: contains NUL bytes; skipped"),
        ("LOCATION:Room 1\r\n\r\n continued after a blank line\r\n", f"line 10: {SKIPPED}"),
    ],
)
def test_issue_13_a_line_that_carries_no_time_is_skipped_and_the_event_still_counts(lines: str, warning: str) -> None:
    result = read_busy(calendar(EVENT + lines), WEEK, LONDON, source="ana.ics")

    assert result == Busy(busy=NINE_TO_TEN, warnings=(f"ana.ics: {warning}",))


def test_issue_13_lines_after_the_end_of_the_calendar_are_skipped() -> None:
    text = calendar(EVENT) + "END:VCALENDAR\r\nDTSTART:20260304T090000Z\r\n"

    result = read_busy(text, WEEK, LONDON, source="ana.ics")

    assert result.busy == NINE_TO_TEN
    assert result.warnings == ("ana.ics: line 10: END:VCALENDAR after the end of the calendar; skipped",
                               "ana.ics: line 11: content after END:VCALENDAR; skipped")


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('DTSTART;TZID="Europe/London:20260303T090000\r\n', "line 6: DTSTART cannot be read: not an iCalendar "
                                                             "content line (NAME:value)"),
        ("DTSTART:20260303T090000Z\r\nDTEND:20260303T10\x000000Z\r\n", "line 7: DTEND cannot be read: contains "
                                                                       "NUL bytes"),
        ("DTSTART:20260303T090000Z\r\nRRULE;X=\"y:FREQ=DAILY\r\n", "line 7: RRULE cannot be read"),
        ("DTSTART:20260303T090000Z\r\nDURATION:PT1H\r\nDTEND:20260303T110000Z\r\n",
         "line 7: the event has both DTEND and DURATION, and they disagree"),
    ],
)
def test_issue_13_a_broken_line_that_says_when_refuses_the_calendar(lines: str, problem: str) -> None:
    with pytest.raises(CalendarError, match=r"^ana\.ics: ") as caught:
        read_busy(calendar(lines), WEEK, LONDON, source="ana.ics")

    assert problem in str(caught.value)


def test_issue_13_a_property_repeated_with_the_same_value_is_read_once() -> None:
    text = calendar("DTSTART:20260303T090000Z\r\nDTSTART:20260303T090000Z\r\nDTEND:20260303T100000Z\r\n")

    result = read_busy(text, WEEK, LONDON, source="ana.ics")

    assert result == Busy(busy=NINE_TO_TEN,
                          warnings=("ana.ics: line 7: DTSTART repeated with the same value; read once",))


def test_issue_13_many_skipped_lines_are_named_up_to_ten_then_counted() -> None:
    text = calendar(EVENT + "".join(f"garbage line {i}\r\n" for i in range(25)))

    warnings = read_busy(text, WEEK, LONDON, source="ana.ics").warnings

    assert warnings == (*(f"ana.ics: line {8 + i}: {SKIPPED}" for i in range(10)), "ana.ics: and 15 more warnings")


def zone_file(rule: str, *, tzid: bool = True) -> str:
    """A calendar with one VTIMEZONE (its STANDARD rule ``rule``; line 4 is BEGIN:VTIMEZONE) and one event."""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\n"
            + ("TZID:Customized Time Zone\r\n" if tzid else "")
            + "BEGIN:STANDARD\r\nDTSTART:19701025T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\n"
            + f"RRULE:{rule}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:e@example.com\r\n"
            + "DTSTART;TZID=Europe/London:20260303T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_issue_13_a_vtimezone_without_a_tzid_is_left_out() -> None:
    text = zone_file("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", tzid=False)

    assert read_busy(text, WEEK, LONDON, source="tz.ics") == Busy(busy=NINE_TO_TEN)


@pytest.mark.parametrize("cached_before", [False, True])
def test_issue_13_a_vtimezone_whose_rule_cannot_be_read_refuses_the_calendar(cached_before: bool) -> None:
    # icalendar reads a zone while parsing, unless one of that name is in its process-wide cache already; dateutil
    # raised TypeError on this rule. Either way the calendar is refused, whatever was read before it.
    if cached_before:
        read_busy((DATA / "outlook_customized_zone_plus3.ics").read_bytes(), WEEK, LONDON, source="other.ics")

    with pytest.raises(CalendarError) as caught:
        read_busy(zone_file("FREQ=YEARLYBYDAY=-1SU;BYMONTH=10"), WEEK, LONDON, source="tz.ics")

    assert re.match(r"tz\.ics: line 4: (a VTIMEZONE|VTIMEZONE 'Customized Time Zone') cannot be read: ",
                    str(caught.value))


CORPUS = [path.read_bytes().decode() for path in sorted(DATA.glob("*.ics"))]
DAMAGE = st.sampled_from([*":;\"=,\r\n\x00 /-+ZTP019", "BEGIN:", "END:", "VEVENT", "DTSTART", "DTEND", "RRULE:FREQ=",
                          "TZID=", "DURATION:", "VALUE=DATE", "RECURRENCE-ID", "EXDATE:", "RDATE:", "COUNT=",
                          "UNTIL=", "BYDAY=", "VTIMEZONE", "TZOFFSETTO:", "FREEBUSY:", "VFREEBUSY", "X-WR-TIMEZONE:"])


@st.composite
def damaged_calendars(draw: st.DrawFn) -> str:
    """A file of the corpus with a few lines repeated, pieces cut out and iCalendar-looking bits put in."""
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "cut", "repeat a line"]))
        if action == "insert":
            text = text[:at] + "".join(draw(st.lists(DAMAGE, min_size=1, max_size=6))) + text[at:]
        elif action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        else:
            lines = text.split("\r\n")
            line = draw(st.integers(0, len(lines) - 1))
            text = "\r\n".join([*lines[:line], lines[line], *lines[line:]])
    return text


@settings(max_examples=300, deadline=None)
@given(damaged_calendars())
def test_issue_13_whatever_the_damage_a_calendar_is_read_or_refused_with_a_calendar_error(text: str) -> None:
    window = Interval(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 20, tzinfo=UTC))
    outcome: Busy | CalendarError
    try:
        outcome = read_busy(text, window, LONDON, source="damaged.ics")
    except CalendarError as exc:
        outcome = exc

    # Anything else (AttributeError, TypeError, KeyError from the libraries) fails the test.
    assert str(outcome).startswith("damaged.ics: ") if isinstance(outcome, CalendarError) else outcome.error is None


# --- bounded expansion -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtstart", "rule", "per_day"),
    [
        ("20210301T120000Z", "FREQ=DAILY;COUNT=100000000", 1),  # the window is five years after DTSTART
        ("20010301T000000Z", "FREQ=MINUTELY;INTERVAL=15;COUNT=100000000", 96),  # 25 years, 900,000 repetitions
        ("19700101T000000Z", "FREQ=HOURLY", 24),
    ],
)
def test_issue_13_a_rule_from_long_ago_is_read_over_the_window_alone_and_fast(
        dtstart: str, rule: str, per_day: int) -> None:
    text = calendar(f"DTSTART:{dtstart}\r\nDURATION:PT5M\r\nRRULE:{rule}\r\n")
    first = datetime.strptime(dtstart, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    step = timedelta(days=1) / per_day
    expected = tuple(Interval(s, s + timedelta(minutes=5)) for n in range(7 * per_day)
                     if (s := WEEK.start + (first - WEEK.start) % step + n * step) < WEEK.end)

    began = time.perf_counter()
    busy = read_busy(text, WEEK, LONDON, source="old.ics").busy

    assert time.perf_counter() - began < 1.0
    assert busy == expected


def test_issue_13_a_rule_that_never_matches_again_is_read_fast() -> None:
    # dateutil looks for the next 30 February until the year 9999: seconds, for every such event.
    text = calendar(*(f"DTSTART:2020010{i}T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n"
                      for i in range(1, 4)), EVENT)

    began = time.perf_counter()
    busy = read_busy(text, WEEK, LONDON, source="feb.ics").busy

    assert time.perf_counter() - began < 1.0
    assert busy == NINE_TO_TEN


def test_issue_13_a_count_that_ends_inside_the_window_is_honoured() -> None:
    # Daily from 1 March 2025: the 368th and last repetition is on Tuesday 3 March 2026.
    text = calendar("DTSTART:20250301T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=368\r\n")

    busy = read_busy(text, WEEK, LONDON, source="count.ics").busy

    assert busy == (Interval(at(2, 9), at(2, 10)), Interval(at(3, 9), at(3, 10)))


def test_issue_13_a_count_that_must_be_counted_from_long_ago_is_refused_beyond_a_bound() -> None:
    # Hourly from 2019 with COUNT=60,000 ends in 2025, but only by counting every hour since 2019.
    text = calendar("DTSTART:20190301T000000Z\r\nDURATION:PT10M\r\nRRULE:FREQ=HOURLY;COUNT=60000\r\n")

    with pytest.raises(CalendarError) as caught:
        read_busy(text, WEEK, LONDON, source="count.ics")

    assert str(caught.value) == ("count.ics: line 8: RRULE: COUNT=60000 counted from a DTSTART so long before the "
                                 "window is more repetitions than can be read (at most 50,000)")


@pytest.mark.parametrize(
    ("rule", "per_day"),
    [
        ("FREQ=MINUTELY;INTERVAL=30", 48),
        ("FREQ=HOURLY;BYMINUTE=0,15,30,45", 96),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0,15,30,45", 4),
        ("FREQ=MINUTELY;INTERVAL=15;BYHOUR=9,10", 8),
    ],
)
def test_issue_13_a_rule_repeating_at_most_every_15_minutes_is_read(rule: str, per_day: int) -> None:
    text = calendar(f"DTSTART:20260301T090000Z\r\nDURATION:PT1M\r\nRRULE:{rule}\r\n")

    busy = read_busy(text, WEEK, LONDON, source="often.ics").busy

    assert len(busy) == 7 * per_day


@pytest.mark.parametrize(
    ("rule", "per_day"),
    [
        ("FREQ=MINUTELY", 1440),
        ("FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50", 144),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=" + ",".join(str(m) for m in range(60)) + ";BYSECOND=0,30", 120),
    ],
)
def test_issue_13_a_rule_repeating_more_often_than_every_15_minutes_is_refused(rule: str, per_day: int) -> None:
    text = calendar(f"DTSTART:20260301T090000Z\r\nDURATION:PT1M\r\nRRULE:{rule}\r\n")

    with pytest.raises(CalendarError) as caught:
        read_busy(text, WEEK, LONDON, source="often.ics")

    assert str(caught.value) == (f"often.ics: line 8: the event repeats more often than every 15 minutes (up to "
                                 f"{per_day:,} times a day)")


def test_issue_13_occurrences_are_capped_per_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ics_feed, "MAX_OCCURRENCES", 100)
    text = calendar("DTSTART:20260301T000000Z\r\nDURATION:PT5M\r\nRRULE:FREQ=HOURLY\r\n")

    with pytest.raises(CalendarError) as caught:
        read_busy(text, WEEK, LONDON, source="busy.ics")

    assert str(caught.value) == "busy.ics: more than 100 events in the window: too many for one person's calendar"


def test_issue_13_a_calendar_of_countless_occurrences_is_refused_in_bounded_memory() -> None:
    # 500 events every 15 minutes: half a million occurrences in the expanded window, from a 55 kB file.
    text = calendar(*(f"DTSTART:20260101T{i % 24:02d}0000Z\r\nDURATION:PT10M\r\nRRULE:FREQ=MINUTELY;INTERVAL=15\r\n"
                      for i in range(500)))

    tracemalloc.start()
    try:
        with pytest.raises(CalendarError, match="more than 20,000 events in the window"):
            read_busy(text, WEEK, LONDON, source="flood.ics")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 64 * 2**20


DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
GREGORIAN_CYCLE = 400  # years after which the calendar repeats, weekdays included


@st.composite
def rules(draw: st.DrawFn) -> tuple[str, datetime]:
    """A recurrence rule (some never match again, or at all) and a DTSTART up to ten years before ``WEEK``
    (two months for an hourly rule)."""
    frequency = draw(st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"]))
    parts = [f"FREQ={frequency}", f"INTERVAL={draw(st.integers(1, 4))}"]
    if draw(st.booleans()):
        parts.append("BYDAY=" + ",".join(draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))))
    elif frequency in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        parts.append("BYDAY=" + draw(st.sampled_from(["1MO", "-1FR", "2TU,4TH"])))
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from([1, 2, 15, 28, 29, 31, -1]), min_size=1, max_size=2, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    if draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    if frequency in ("YEARLY", "MONTHLY", "WEEKLY") and draw(st.booleans()):
        parts.append("BYSETPOS=" + draw(st.sampled_from(["1", "-1", "2,-2"])))
    if frequency != "HOURLY" and draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=2, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.sampled_from([1, 5, 200, 3000, 10**8]))}")
    quarters = draw(st.integers(0, (60 if frequency == "HOURLY" else 3650) * 96))
    return ";".join(parts), WEEK.start - timedelta(days=3) - quarters * timedelta(minutes=15)


def reference_starts(rule: str, first: datetime, last: datetime) -> list[datetime]:
    """The starts of ``rule`` from the wall-clock time ``first`` to ``last``, as dateutil finds them stepping
    from DTSTART through every period. The whole span is first moved by whole 400-year cycles towards 9999,
    where dateutil's search for a start that never comes soon ends (the year 9999 stops it)."""
    shift = (9998 - last.year) // GREGORIAN_CYCLE * GREGORIAN_CYCLE
    starts: list[datetime] = []
    iterator = iter(rrulestr(rule, dtstart=first.replace(year=first.year + shift), cache=False))
    while True:
        try:
            moment = next(iterator)
        except (StopIteration, ValueError):  # ValueError: dateutil ran past the year 9999
            return starts
        moment = moment.replace(year=moment.year - shift)
        if moment > last:
            return starts
        starts.append(moment)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), st.sampled_from(["utc", "Europe/London", "America/New_York", "floating"]))
def test_issue_13_bounded_expansion_finds_exactly_what_dateutil_finds_stepping_from_dtstart(
        drawn: tuple[str, datetime], form: str) -> None:
    rule, first = drawn
    zone = ZoneInfo(LONDON if form == "floating" else "UTC" if form == "utc" else form)
    wall = first.replace(tzinfo=None)
    dtstart = {"utc": f"DTSTART:{wall:%Y%m%dT%H%M%S}Z", "floating": f"DTSTART:{wall:%Y%m%dT%H%M%S}"}.get(
        form, f"DTSTART;TZID={form}:{wall:%Y%m%dT%H%M%S}")
    starts = [moment.replace(tzinfo=zone).astimezone(UTC)
              for moment in reference_starts(rule, wall, datetime(2026, 3, 10))]
    expected = [Interval(start, start + timedelta(minutes=10)) for start in starts]
    assume(all(a.end <= b.start for a, b in itertools.pairwise(expected)))  # nothing merges

    busy = read_busy(calendar(f"{dtstart}\r\nDURATION:PT10M\r\nRRULE:{rule}\r\n"), WEEK, LONDON, source="r.ics").busy

    assert busy == merge_intervals(c for i in expected if (c := i.clip(WEEK)) is not None)
