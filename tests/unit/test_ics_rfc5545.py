"""Issue 13: every calendar read as RFC 5545 defines it, where the libraries alone read it otherwise: exact and
nominal durations across DST changes, instances lasting their event's exact length, published free/busy time
(VFREEBUSY), CR-only line ends and UTF-16 exports."""

from __future__ import annotations

import codecs
import functools
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from integrations.ics_feed import IcsCalendarProvider, read_busy, read_free_busy
from scheduler.errors import CalendarError
from scheduler.model import Busy, CalendarSource, Interval, Person

DATA = Path(__file__).parent.parent / "data" / "ics"
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
# 2026: the US moves to daylight time on 8 March and back on 1 November, Europe on 29 March and 25 October.
YEAR = Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2026, UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def calendar(*events: str) -> str:
    """A minimal VCALENDAR around the given VEVENT bodies."""
    body = "".join(f"BEGIN:VEVENT\r\nUID:e{i}@example.com\r\n{event}END:VEVENT\r\n" for i, event in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def busy(text: str, zone: str = LONDON, window: Interval = YEAR) -> tuple[Interval, ...]:
    """The busy intervals of ``text``, which must be read without warnings."""
    result = read_busy(text, window, zone, source="rfc.ics")
    assert result.warnings == ()
    return result.busy


# --- DURATION: hours exact, days nominal (RFC 5545 3.3.6) ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Noon GMT on Saturday 28 March: 24 real hours later is 13:00 BST on Sunday.
        (LONDON, "20260328T120000", Interval(utc(3, 28, 12), utc(3, 29, 12))),
        (NEW_YORK, "20260307T120000", Interval(utc(3, 7, 17), utc(3, 8, 17))),
        # In autumn the day is 25 hours long: 24 hours end at 11:00 on the wall clock.
        (LONDON, "20261024T120000", Interval(utc(10, 24, 11), utc(10, 25, 11))),
    ],
)
def test_issue_13_pt24h_across_a_dst_change_lasts_24_real_hours(zone: str, start: str, expected: Interval) -> None:
    assert busy(calendar(f"DTSTART;TZID={zone}:{start}\r\nDURATION:PT24H\r\n"), zone) == (expected,)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("P1D", Interval(utc(3, 28, 12), utc(3, 29, 11))),  # the same wall-clock time, 23 hours later
        ("P1DT2H", Interval(utc(3, 28, 12), utc(3, 29, 13))),  # a calendar day, then two real hours
        ("P1W", Interval(utc(3, 28, 12), utc(4, 4, 11))),
        ("PT1440M", Interval(utc(3, 28, 12), utc(3, 29, 12))),
    ],
)
def test_issue_13_days_and_weeks_of_a_duration_are_calendar_days(duration: str, expected: Interval) -> None:
    assert busy(calendar(f"DTSTART;TZID={LONDON}:20260328T120000\r\nDURATION:{duration}\r\n")) == (expected,)


@pytest.mark.parametrize(
    ("zone", "first", "end", "expected"),
    [
        # 22:00 to 06:00 every Saturday: eight real hours, also on the night the clocks change.
        (NEW_YORK, "20260228T220000", "20260301T060000", Interval(utc(3, 8, 3), utc(3, 8, 11))),  # to 07:00 EDT
        (NEW_YORK, "20261024T220000", "20261025T060000", Interval(utc(11, 1, 2), utc(11, 1, 10))),  # to 05:00 EST
        (LONDON, "20260321T220000", "20260322T060000", Interval(utc(3, 28, 22), utc(3, 29, 6))),  # to 07:00 BST
        (LONDON, "20261017T220000", "20261018T060000", Interval(utc(10, 24, 21), utc(10, 25, 5))),  # to 05:00 GMT
    ],
)
@pytest.mark.parametrize("form", ["tzid", "floating"])
def test_issue_13_each_instance_of_a_weekly_overnight_event_lasts_the_events_exact_length(
        zone: str, first: str, end: str, expected: Interval, form: str) -> None:
    tzid = f";TZID={zone}" if form == "tzid" else ""
    text = calendar(f"DTSTART{tzid}:{first}\r\nDTEND{tzid}:{end}\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n")

    intervals = busy(text, zone)

    assert len(intervals) == 3
    assert all(interval.duration == timedelta(hours=8) for interval in intervals)
    assert expected in intervals


ZONES = ["Europe/London", "America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Sydney",
         "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Tehran", "Asia/Tokyo"]


@functools.cache
def changes(name: str) -> tuple[datetime, ...]:
    """The hours of 2026 (UTC) at which ``name``'s offset from UTC changes; none for a zone without DST."""
    zone = ZoneInfo(name)
    hours = [YEAR.start + timedelta(hours=h) for h in range(365 * 24)]
    offsets = [hour.astimezone(zone).utcoffset() for hour in hours]
    return tuple(hour for hour, (before, after) in zip(hours[1:], itertools.pairwise(offsets), strict=True)
                 if before != after)


@st.composite
def starts_near_a_change(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a wall-clock start up to two days before (or shortly after) one of its 2026 changes."""
    name = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(changes(name) or (datetime(2026, 6, 1, tzinfo=UTC),)))
    moment = anchor - timedelta(minutes=15) * draw(st.integers(-8, 49 * 4))
    # As written in a file: a repeated wall-clock hour is read as its first occurrence (fold 0).
    return name, moment.astimezone(ZoneInfo(name)).replace(tzinfo=None, fold=0)


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time happens exactly once in ``zone`` (neither skipped nor repeated)."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return first.utcoffset() == second.utcoffset() and round_trip == wall


@settings(max_examples=150, deadline=None)
@given(starts_near_a_change(), st.integers(1, 48))
def test_issue_13_an_occurrence_lasting_pt_n_h_lasts_exactly_n_hours(drawn: tuple[str, datetime], hours: int) -> None:
    name, wall = drawn
    zone = ZoneInfo(name)
    begins = wall.replace(tzinfo=zone).astimezone(UTC)
    window = Interval(begins - timedelta(days=1), begins + timedelta(weeks=4))
    text = calendar(f"DTSTART;TZID={name}:{wall:%Y%m%dT%H%M%S}\r\nDURATION:PT{hours}H\r\n",
                    f"DTSTART;TZID={name}:{wall:%Y%m%dT%H%M%S}\r\nDURATION:PT{hours}H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n")

    intervals = busy(text, name, window)

    # The single event lies on top of the series' first instance.
    assert intervals[0] == Interval(begins, begins + timedelta(hours=hours))
    assert len(intervals) == 3
    assert all(interval.duration == timedelta(hours=hours) for interval in intervals)


@settings(max_examples=150, deadline=None)
@given(starts_near_a_change())
def test_issue_13_an_occurrence_lasting_p1d_ends_at_the_same_wall_clock_time_the_next_day(
        drawn: tuple[str, datetime]) -> None:
    name, wall = drawn
    zone = ZoneInfo(name)
    assume(exists(wall, zone) and exists(wall + timedelta(days=1), zone))
    begins = wall.replace(tzinfo=zone).astimezone(UTC)
    window = Interval(begins - timedelta(days=1), begins + timedelta(days=3))

    intervals = busy(calendar(f"DTSTART;TZID={name}:{wall:%Y%m%dT%H%M%S}\r\nDURATION:P1D\r\n"), name, window)

    (interval,) = intervals
    assert interval.start == begins
    assert interval.end.astimezone(zone).replace(tzinfo=None) == wall + timedelta(days=1)


def test_issue_13_dtend_and_duration_that_agree_are_read() -> None:
    text = calendar(f"DTSTART;TZID={LONDON}:20260328T120000\r\nDTEND;TZID={LONDON}:20260329T130000\r\n"
                    "DURATION:PT24H\r\n")

    assert busy(text) == (Interval(utc(3, 28, 12), utc(3, 29, 12)),)


# --- VFREEBUSY: published free/busy time (RFC 5545 3.6.4, 3.8.2.6) ---------------------------------

WEEK = Interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
PUBLISHED = Busy(
    busy=(
        Interval(utc(3, 2, 9), utc(3, 2, 10)),  # FBTYPE left out: BUSY
        Interval(utc(3, 3, 9), utc(3, 3, 10, 30)),  # start/duration
        Interval(utc(3, 3, 14), utc(3, 3, 14, 30)),  # the second period of the same line
        Interval(utc(3, 4, 0), utc(3, 5, 0)),  # BUSY-UNAVAILABLE
        Interval(utc(3, 6, 12), utc(3, 6, 13)),  # a type RFC 5545 does not name counts as BUSY
    ),
    tentative=(Interval(utc(3, 5, 11), utc(3, 5, 12)),),  # BUSY-TENTATIVE; the FREE period is nothing
)


def free_busy(line: str) -> str:
    """A VCALENDAR holding one VFREEBUSY with ``line`` (line 4)."""
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\n{line}\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"


def test_issue_13_a_published_free_busy_file_is_busy_tentative_or_free_by_fbtype() -> None:
    text = (DATA / "published_free_busy.ifb").read_bytes()

    assert read_busy(text, WEEK, LONDON, source="ana.ifb") == PUBLISHED
    assert read_free_busy(text, WEEK, LONDON, source="ana.ifb") == PUBLISHED


def test_issue_13_the_provider_reads_a_published_free_busy_file() -> None:
    ana = Person(email="ana@example.com", name="Ana", team="Payments", timezone=LONDON,
                 calendar=CalendarSource("ics", "published_free_busy.ifb"))

    assert IcsCalendarProvider(DATA).fetch_busy([ana], WEEK) == {"ana@example.com": PUBLISHED}


def test_issue_13_events_and_free_busy_periods_in_one_file_both_count() -> None:
    text = calendar("DTSTART:20260302T150000Z\r\nDTEND:20260302T160000Z\r\n").replace(
        "END:VCALENDAR", "BEGIN:VFREEBUSY\r\nFREEBUSY:20260302T090000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR")

    assert busy(text, window=WEEK) == (Interval(utc(3, 2, 9), utc(3, 2, 10)), Interval(utc(3, 2, 15), utc(3, 2, 16)))


def test_issue_13_read_free_busy_says_none_for_a_text_without_vfreebusy() -> None:
    assert read_free_busy((DATA / "floating.ics").read_bytes(), WEEK, LONDON, source="floating.ics") is None


def test_issue_13_a_floating_free_busy_period_is_read_on_the_persons_clock() -> None:
    text = free_busy("FREEBUSY:20260302T090000/PT1H")

    assert read_free_busy(text, WEEK, NEW_YORK, source="fb") == Busy(busy=(Interval(utc(3, 2, 14), utc(3, 2, 15)),))


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        ("20260302T090000Z", "line 4: FREEBUSY: a period is a UTC start and an end or a duration"),
        ("20260302T090000Z/20260302T080000Z", "line 4: FREEBUSY: a period ends before it starts"),
        ("20260302T090000Z/-PT1H", "line 4: FREEBUSY: a period with a negative duration"),
        ("tomorrow/PT1H", "line 4: FREEBUSY: a period is a UTC start and an end or a duration"),
    ],
)
def test_issue_13_a_free_busy_period_that_cannot_be_read_is_named_by_its_line(period: str, problem: str) -> None:
    text = free_busy(f"FREEBUSY:{period}")

    for reader in (read_busy, read_free_busy):
        with pytest.raises(CalendarError) as caught:
            reader(text, WEEK, LONDON, source="fb.ifb")
        assert str(caught.value).startswith(f"fb.ifb: {problem}")


# --- line ends and encodings (RFC 5545 3.1 asks for CRLF; writers differ) -----------------------------


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.replace("\r\n", "\r").encode(), id="cr-only"),
        pytest.param(lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), id="utf-16-be"),
    ],
)
def test_issue_13_cr_only_line_ends_and_utf16_exports_read_like_the_crlf_file(encode: object) -> None:
    original = (DATA / "statuses.ics").read_bytes().decode()  # not read_text(), which turns CRLF into LF
    assert "\r\n" in original
    window = Interval(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))

    result = read_busy(encode(original), window, LONDON, source="s.ics")  # type: ignore[operator]

    assert result == read_busy(original, window, LONDON, source="s.ics")
    assert result.busy
    assert result.tentative
