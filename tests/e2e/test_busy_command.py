"""``coffeechat busy``: the busy time the engine reads from a calendar, for an ICS file of the corpus and for a
stored person. Expected intervals are worked out by hand from the files (offsets noted next to them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.clock import SystemClock
from scheduler.model import Program
from scheduler.planning.cycle import next_window
from tests.e2e.org import LONDON, PEOPLE, CliResult, Org, free_wednesday, person_row

RunCli = Callable[..., CliResult]
ICS = Path(__file__).resolve().parents[1] / "data" / "ics"
ANA = "ana.alpha@example.com"


def corpus(name: str) -> Path:
    """A file of the ICS corpus by name."""
    return ICS / name


def as_json(result: CliResult) -> dict[str, Any]:
    """The JSON a successful run printed (and nothing on stderr)."""
    assert result.code == 0, result.text
    assert result.err == ""
    return json.loads(result.out)


def span(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


def utc(moment: datetime) -> str:
    """How the JSON writes a moment: UTC with a Z."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def assert_one_line_error(result: CliResult, code: int, *fragments: str) -> None:
    assert result.code == code, result.text
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert result.err.count("\n") == 1, result.err  # one line, no traceback
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err


# --- an ICS file ---------------------------------------------------------------------------------------------


def test_text_lists_busy_and_tentative_time_in_order_with_a_count(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("statuses.ics"), "--start", "2025-03-17", "--end", "2025-03-21")

    assert result.code == 0, result.text
    # CONFIRMED 09:00-10:00Z, TENTATIVE 11:00-12:00Z; the CANCELLED and TRANSPARENT events are not busy.
    assert result.out.splitlines() == [
        "Tue 2025-03-18 09:00–10:00 busy",
        "Tue 2025-03-18 11:00–12:00 tentative",
        "1 busy, 1 tentative (times in UTC; tentative is busy unless the program sets tentative_busy = false)",
    ]


def test_json_keeps_tentative_apart_with_utc_times(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("statuses.ics"), "--start", "2025-03-17", "--end", "2025-03-21",
                     "--tz", "Europe/London", "--json")

    assert as_json(result) == {
        "busy": [span("2025-03-18T09:00:00Z", "2025-03-18T10:00:00Z")],
        "tentative": [span("2025-03-18T11:00:00Z", "2025-03-18T12:00:00Z")],
        "warnings": [],
    }


def test_outlook_windows_zones_across_both_daylight_saving_changes(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("outlook_windows_zones.ics"), "--start", "2025-03-01",
                     "--end", "2025-04-20", "--json")

    assert as_json(result) == {
        "busy": [
            # "Eastern Standard Time" Tuesdays 09:30-10:00: EST (-5) on 4 March, EDT (-4) from 9 March.
            span("2025-03-04T14:30:00Z", "2025-03-04T15:00:00Z"),
            span("2025-03-11T13:30:00Z", "2025-03-11T14:00:00Z"),
            span("2025-03-18T13:30:00Z", "2025-03-18T14:00:00Z"),
            # "W. Europe Standard Time" Mondays 10:00-11:00: CET (+1) on 24 March, CEST (+2) from 30 March.
            span("2025-03-24T09:00:00Z", "2025-03-24T10:00:00Z"),
            span("2025-03-31T08:00:00Z", "2025-03-31T09:00:00Z"),
            span("2025-04-07T08:00:00Z", "2025-04-07T09:00:00Z"),
        ],
        # BUSYSTATUS:TENTATIVE on Wednesday 26 March 14:00-15:00 CET; 27 March is WORKINGELSEWHERE (free).
        "tentative": [span("2025-03-26T13:00:00Z", "2025-03-26T14:00:00Z")],
        "warnings": [],
    }


def test_weekly_event_shown_on_the_local_clock_keeps_its_time_across_the_change(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("dst_london_weekly.ics"), "--start", "2025-03-17",
                     "--end", "2025-04-06", "--tz", "Europe/London")

    assert result.code == 0, result.text
    assert result.out.splitlines() == [
        "Thu 2025-03-20 09:30–10:00 busy",
        "Thu 2025-03-27 09:30–10:00 busy",
        "Thu 2025-04-03 09:30–10:00 busy",  # 08:30 UTC: British Summer Time from 30 March
        "3 busy, 0 tentative (times in Europe/London)",
    ]


def test_all_day_events_cover_whole_days_in_the_zone_given(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("all_day.ics"), "--start", "2025-03-17", "--end", "2025-03-31",
                     "--tz", "America/New_York", "--json")

    # 18-19 March (DTEND exclusive) and 24 March (no DTEND), midnight to midnight in New York (EDT, -4);
    # the transparent all-day reminder on 26 March is not busy.
    assert as_json(result) == {
        "busy": [
            span("2025-03-18T04:00:00Z", "2025-03-20T04:00:00Z"),
            span("2025-03-24T04:00:00Z", "2025-03-25T04:00:00Z"),
        ],
        "tentative": [],
        "warnings": [],
    }


def test_all_day_events_spanning_days_are_shown_with_both_days(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("all_day.ics"), "--start", "2025-03-18", "--end", "2025-03-18",
                     "--tz", "America/New_York")

    assert result.code == 0, result.text
    # An end date includes its whole day: the window is 18 March in New York, which the two-day event fills.
    assert result.out.splitlines() == [
        "Tue 2025-03-18 00:00 – Wed 2025-03-19 00:00 busy",
        "1 busy, 0 tentative (times in America/New_York)",
    ]


def test_floating_times_are_read_in_the_zone_given(run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", corpus("floating.ics"), "--start", "2025-03-18", "--end", "2025-03-18",
                     "--tz", "Asia/Tokyo", "--json")

    # 09:00-10:00 on a Tokyo wall clock (+9).
    assert as_json(result)["busy"] == [span("2025-03-18T00:00:00Z", "2025-03-18T01:00:00Z")]


@pytest.mark.parametrize(
    ("start", "end", "zone", "busy", "tentative"),
    [
        # Naive date-times are read in --tz: 10:30-11:30 in Berlin (CET, +1) is 09:30-10:30 UTC.
        ("2025-03-18T10:30", "2025-03-18T11:30", "Europe/Berlin",
         [span("2025-03-18T09:30:00Z", "2025-03-18T10:00:00Z")], []),
        # Date-times with an offset or Z mean what they say, whatever --tz is.
        ("2025-03-18T09:30Z", "2025-03-18T12:30+01:00", "Asia/Tokyo",
         [span("2025-03-18T09:30:00Z", "2025-03-18T10:00:00Z")],
         [span("2025-03-18T11:00:00Z", "2025-03-18T11:30:00Z")]),
    ],
    ids=["naive in --tz", "with offsets"],
)
def test_the_window_is_read_in_the_zone_unless_it_says_its_own(
    run_cli: RunCli, start: str, end: str, zone: str, busy: list[object], tentative: list[object]
) -> None:
    result = run_cli("busy", "--ics", corpus("statuses.ics"), "--start", start, "--end", end, "--tz", zone, "--json")

    assert as_json(result) == {"busy": busy, "tentative": tentative, "warnings": []}


def test_an_ics_file_needs_no_config(run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no coffeechat.toml here, nor COFFEECHAT_CONFIG (see clean_environment)
    (tmp_path / "mine.ics").write_bytes(corpus("floating.ics").read_bytes())

    result = run_cli("busy", "--ics", "mine.ics", "--start", "2025-03-18", "--end", "2025-03-18")

    assert result.code == 0, result.text
    assert result.out.splitlines()[0] == "Tue 2025-03-18 09:00–10:00 busy"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("hostile/duplicate_dtstart.ics", "the event has two different DTSTART"),
        ("truncated.ics", "(is it truncated?)"),
        ("not_a_calendar.html", "it looks like an HTML page"),
        ("unknown_tzid.ics", "'Mars/Olympus_Mons'"),
        ("no_dtstart.ics", "the event has no DTSTART"),
        ("bad_date.ics", "DTSTART"),
        ("missing.ics", "file not found"),
    ],
)
def test_a_calendar_that_cannot_be_read_exits_1_naming_the_file_and_the_problem(
    run_cli: RunCli, name: str, problem: str
) -> None:
    result = run_cli("busy", "--ics", corpus(name), "--start", "2025-03-01", "--end", "2025-03-31")

    assert_one_line_error(result, 1, name, problem)


@pytest.mark.parametrize(
    ("options", "code", "fragments"),
    [
        (["--start", "2025-13-01", "--end", "2025-03-21"], 2, ["--start", "'2025-13-01'", "not an ISO date"]),
        (["--start", "2025-03-17", "--end", "soon"], 2, ["--end", "'soon'", "not an ISO date"]),
        (["--start", "2025-03-17", "--end", "2025-03-10"], 2, ["--end", "is not after --start"]),
        (["--start", "2025-03-17"], 2, ["give both --start and --end"]),
        (["--start", "2025-03-17", "--end", "2025-03-21", "--tz", "Mars/Base"], 2, ["--tz", "'Mars/Base'"]),
        (["--start", "2025-03-17", "--end", "2025-03-21", "--tz", "Europe"], 2, ["--tz", "'Europe'"]),
    ],
    ids=["bad start", "bad end", "end before start", "no end", "unknown zone", "zone folder"],
)
def test_bad_input_exits_2_with_one_line_naming_the_option(
    run_cli: RunCli, options: list[str], code: int, fragments: list[str]
) -> None:
    result = run_cli("busy", "--ics", corpus("statuses.ics"), *options)

    assert_one_line_error(result, code, *fragments)


@pytest.mark.parametrize(
    "options", [[], ["--ics", "a.ics", "--person", ANA]], ids=["neither", "both"]
)
def test_either_a_file_or_a_person_is_needed(run_cli: RunCli, options: list[str]) -> None:
    assert_one_line_error(run_cli("busy", *options), 2, "give either --ics FILE or --person EMAIL")


# --- a stored person -----------------------------------------------------------------------------------------


@pytest.fixture
def stored_org(make_org: Callable[..., Org], run_cli: RunCli) -> Org:
    """The e2e organisation, initialised and imported: each person busy all week but Wednesday 13:00-15:00."""
    org = make_org()
    assert run_cli("--config", org.config, "init").code == 0
    assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0
    return org


def test_a_stored_person_is_read_through_their_calendar_over_the_next_window(
    stored_org: Org, run_cli: RunCli
) -> None:
    result = run_cli("--config", stored_org.config, "busy", "--person", ANA.upper(), "--json")

    window = next_window(Program("coffee"), SystemClock().now())
    free = free_wednesday(window.start)
    # The calendar is busy from Monday to Saturday 00:00 London time but for Wednesday 13:00-15:00 London; the
    # window runs from Monday 00:00 UTC for five days. Under British Summer Time Saturday 00:00 London comes an
    # hour before the window ends.
    monday = datetime.combine(window.start.astimezone(LONDON).date(), time(0), LONDON)
    saturday = monday + timedelta(days=5)  # wall-clock arithmetic: midnight London again
    assert as_json(result) == {
        "busy": [span(utc(window.start), utc(free.start)), span(utc(free.end), utc(min(saturday, window.end)))],
        "tentative": [],
        "warnings": [],
    }


def test_a_stored_person_over_a_window_shown_in_their_zone(stored_org: Org, run_cli: RunCli) -> None:
    window = next_window(Program("coffee"), SystemClock().now())
    wednesday = window.start.astimezone(LONDON).date() + timedelta(days=2)

    result = run_cli("--config", stored_org.config, "busy", "--person", ANA, "--start", f"{wednesday}T12:00",
                     "--end", f"{wednesday}T16:00", "--tz", "Europe/London")

    assert result.code == 0, result.text
    day = f"{wednesday:%a %Y-%m-%d}"
    assert result.out.splitlines() == [
        f"{day} 12:00–13:00 busy",
        f"{day} 15:00–16:00 busy",
        "2 busy, 0 tentative (times in Europe/London)",
    ]


def test_a_stored_person_without_a_calendar_gets_a_warning(make_org: Callable[..., Org], run_cli: RunCli) -> None:
    email, name, team, department = PEOPLE[0]
    row = person_row(email, name, team, department).rsplit(",", 1)[0] + ",none"
    org = make_org(rows=[row])
    assert run_cli("--config", org.config, "init").code == 0
    assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0

    result = run_cli("--config", org.config, "busy", "--person", email, "--json")

    assert as_json(result) == {"busy": [], "tentative": [], "warnings": ["no calendar: planned on working hours alone"]}


def test_a_stored_person_whose_calendar_is_broken_exits_1_naming_the_file(
    stored_org: Org, run_cli: RunCli
) -> None:
    (stored_org.directory / "calendars" / "ana.alpha.ics").write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")

    result = run_cli("--config", stored_org.config, "busy", "--person", ANA)

    assert_one_line_error(result, 1, "calendars/ana.alpha.ics", "is it truncated?")


def test_an_unknown_person_exits_3(stored_org: Org, run_cli: RunCli) -> None:
    result = run_cli("--config", stored_org.config, "busy", "--person", "nobody@example.com")

    assert_one_line_error(result, 3, "'nobody@example.com'", "import-people")


def test_a_person_before_init_exits_5(make_org: Callable[..., Org], run_cli: RunCli) -> None:
    org = make_org()

    assert_one_line_error(run_cli("--config", org.config, "busy", "--person", ANA), 5, "run `coffeechat init`")
