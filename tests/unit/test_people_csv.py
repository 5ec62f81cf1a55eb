"""The participants CSV: columns, defaults, errors with their lines, and the round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.admin.people_csv import COLUMNS, format_people_csv, parse_people_csv
from scheduler.errors import InputError
from scheduler.model import CADENCES, MEETING_KINDS, MEETING_MODES, CalendarSource, Person, WorkingHours

NOW = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
KOLKATA = "Asia/Kolkata"
FULL_HEADER = ",".join(COLUMNS)


def parse(text: str) -> tuple[list[Person], list[InputError]]:
    """Parse ``text`` as people.csv at ``NOW``."""
    return parse_people_csv(text, source="people.csv", now=NOW)


def test_required_columns_alone_give_the_defaults() -> None:
    people, errors = parse("email,name,team\nAna.Lopez@Example.com , Ana López ,Payments\n")

    assert errors == []
    assert people == [
        Person(
            email="ana.lopez@example.com",
            name="Ana López",
            team="Payments",
            timezone="UTC",
            working_hours=WorkingHours(),
            calendar=CalendarSource(),
            kinds=frozenset({"coffee", "lunch"}),
            mode="either",
            cadence="weekly",
            verified_at=NOW,
        )
    ]


def test_every_column_is_read() -> None:
    text = (
        f"{FULL_HEADER}\n"
        "ben@example.com,Ben Okafor,Platform,Engineering,London,Europe/London,mon-thu 08:00-16:00, 12:15-13:00 ,"
        "ics:calendars/ben.ics,coffee,in-person,fortnightly,jazz; climbing ;,senior,Carla@Example.com,"
        "Dana@Example.com; Team: Search ;DEPARTMENT:Sales Ops;,Eve@Example.com;;frank@example.com,no\n"
    )

    people, errors = parse(text)

    assert errors == []
    assert people == [
        Person(
            email="ben@example.com",
            name="Ben Okafor",
            team="Platform",
            department="Engineering",
            office="London",
            timezone=LONDON,
            working_hours=WorkingHours(frozenset({0, 1, 2, 3}), time(8), time(16)),
            lunch=(time(12, 15), time(13)),
            calendar=CalendarSource("ics", "calendars/ben.ics"),
            kinds=frozenset({"coffee"}),
            mode="in_person",
            cadence="fortnightly",
            interests=frozenset({"jazz", "climbing"}),
            seniority="senior",
            manager="carla@example.com",
            wishlist=frozenset({"dana@example.com", "team:Search", "department:Sales Ops"}),
            blocked=frozenset({"eve@example.com", "frank@example.com"}),
            verified_at=None,
        )
    ]


def test_header_names_may_come_in_any_order_case_and_spacing() -> None:
    people, errors = parse(" Team ,EMAIL, name\nPayments,ana@example.com,Ana\n")

    assert errors == []
    assert [(p.email, p.name, p.team) for p in people] == [("ana@example.com", "Ana", "Payments")]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("email,name", "missing required column(s) team"),
        ("email,name,team,favourite_colour", "unknown column(s) 'favourite_colour'"),
        ("mail,name", "missing required column(s) email, team; unknown column(s) 'mail'"),
        ("email,name,team,team", "column(s) team given more than once"),
        ("", "no header"),
    ],
)
def test_a_bad_header_is_one_error_on_line_1(header: str, problem: str) -> None:
    people, errors = parse(f"{header}\nana@example.com,Ana,Payments\n")

    assert people == []
    assert len(errors) == 1
    assert errors[0].where == "people.csv, line 1"
    assert problem in str(errors[0])


@pytest.mark.parametrize(
    ("cell", "value", "problem"),
    [
        ("email", "ana at example", "email: 'ana at example' is not an email address"),
        ("name", "", "name: required but empty"),
        ("team", "", "team: required but empty"),
        ("timezone", "Mars/Base", "timezone: unknown time zone 'Mars/Base'"),
        ("working_hours", "nine to five", "working_hours: working hours 'nine to five' are not like"),
        ("working_hours", "fri-mon 09:00-17:00", "working_hours: working days 'fri-mon' run backwards"),
        ("lunch", "noon", "lunch: lunch hours 'noon' are not like '12:00-13:30'"),
        ("lunch", "12:00-13:30-14:00", "lunch: lunch hours '12:00-13:30-14:00' are not like '12:00-13:30'"),
        ("lunch", "13:30-12:00", "lunch: lunch hours '13:30-12:00' must end after they start"),
        ("lunch", "12:00-12:00", "lunch: lunch hours '12:00-12:00' must end after they start"),
        ("lunch", "12:00+01:00-13:00", "lunch: lunch hours '12:00+01:00-13:00' are local times"),
        ("calendar", "outlook:ana@example.com", "calendar: unknown calendar kind 'outlook'"),
        ("kinds", "coffee;brunch", "kinds: unknown kind brunch"),
        ("mode", "telepathy", "mode: 'telepathy' is not one of in_person, virtual, either"),
        ("cadence", "daily", "cadence: 'daily' is not one of weekly, fortnightly, monthly"),
        ("manager", "the boss", "manager: 'the boss' is not an email address"),
        (
            "wishlist",
            "dana@example.com;the boss",
            "wishlist: 'the boss' is not an email address, team:NAME or department:NAME",
        ),
        ("wishlist", "office:London", "wishlist: 'office:London' is not an email address, team:NAME or"),
        ("wishlist", "team: ", "wishlist: 'team:' names no team"),
        ("blocked", "eve@example.com;team:Search", "blocked: 'team:search' is not an email address"),
        ("verified", "maybe", "verified: 'maybe' is not yes or no"),
    ],
)
def test_a_bad_cell_is_an_error_naming_line_and_column_and_good_rows_still_count(
    cell: str, value: str, problem: str
) -> None:
    good = {"email": "ana@example.com", "name": "Ana", "team": "Payments"}
    bad = {"email": "ben@example.com", "name": "Ben", "team": "Platform", cell: value}
    header = ["email", "name", "team"] + ([cell] if cell not in good else [])
    rows = [",".join(row.get(column, "") for column in header) for row in (good, bad)]

    people, errors = parse("\n".join([",".join(header), *rows]) + "\n")

    assert [p.email for p in people] == ["ana@example.com"]
    assert len(errors) == 1
    assert errors[0].where == "people.csv, line 3"
    assert problem in str(errors[0])
    assert str(errors[0]).startswith("people.csv, line 3: ")


def test_every_problem_of_a_row_is_in_its_one_error() -> None:
    people, errors = parse("email,name,team,mode,timezone\nana@example.com,,Payments,walking,Nowhere/Land\n")

    assert people == []
    assert [str(e) for e in errors] == [
        "people.csv, line 2: name: required but empty; timezone: unknown time zone 'Nowhere/Land'; use an "
        "IANA name such as Europe/London; mode: 'walking' is not one of in_person, virtual, either"
    ]


def test_every_bad_entry_of_a_list_is_named() -> None:
    people, errors = parse("email,name,team,wishlist\nana@example.com,Ana,Payments,bo;team:Ads;department:;cy\n")

    assert people == []
    assert [str(e) for e in errors] == [
        "people.csv, line 2: wishlist: 'bo' is not an email address, team:NAME or department:NAME; "
        "'department:' names no department; 'cy' is not an email address, team:NAME or department:NAME"
    ]


def test_empty_wishlist_and_blocked_cells_mean_none() -> None:
    people, errors = parse("email,name,team,wishlist,blocked\nana@example.com,Ana,Payments, ; ,\n")

    assert errors == []
    assert (people[0].wishlist, people[0].blocked) == (frozenset(), frozenset())


def test_a_repeated_email_is_an_error_on_the_later_line() -> None:
    text = "email,name,team\nana@example.com,Ana,Payments\nben@example.com,Ben,Platform\nANA@example.com,Ana 2,Mobile\n"

    people, errors = parse(text)

    assert [p.name for p in people] == ["Ana", "Ben"]
    assert [(e.where, str(e).partition(": ")[2]) for e in errors] == [
        ("people.csv, line 4", "email: ana@example.com already appears on line 2")
    ]


def test_line_numbers_are_physical_lines_across_quoted_line_breaks_and_blank_lines() -> None:
    text = (
        "email,name,team,interests\n"  # line 1
        'ana@example.com,Ana,Payments,"jazz;\nclimbing"\n'  # lines 2-3
        "\n"  # line 4
        "ben@example.com,Ben,Platform,\n"  # line 5
        "bad-address,Cy,Mobile,\n"  # line 6
    )

    people, errors = parse(text)

    assert [p.email for p in people] == ["ana@example.com", "ben@example.com"]
    assert people[0].interests == frozenset({"jazz", "climbing"})
    assert [e.where for e in errors] == ["people.csv, line 6"]


def test_windows_line_ends_and_short_rows_are_accepted() -> None:
    people, errors = parse("email,name,team,office,mode\r\nana@example.com,Ana,Payments\r\n")

    assert errors == []
    assert people[0].office == ""
    assert people[0].mode == "either"


def test_a_row_with_more_fields_than_columns_is_an_error() -> None:
    people, errors = parse("email,name,team\nana@example.com,Ana,Payments,London\nben@example.com,Ben,Platform,,\n")

    assert [p.email for p in people] == ["ben@example.com"]  # empty trailing cells are harmless
    assert [str(e) for e in errors] == ["people.csv, line 2: the row has 4 fields but the header names 3 columns"]


def test_a_row_that_is_not_csv_is_an_error_and_reading_goes_on() -> None:
    text = (
        "email,name,team\n"
        'ana@example.com,"Ana" Lopez,Payments\n'  # line 2: text after a closing quote
        "ben@example.com,Ben,Platform\n"
        'cy@example.com,"Cy,Mobile\n'  # line 4: a quote that never closes
    )

    people, errors = parse(text)

    assert [p.email for p in people] == ["ben@example.com"]
    assert [e.where for e in errors] == ["people.csv, line 2", "people.csv, line 4"]
    assert all("not valid CSV" in str(e) for e in errors)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_people_csv("email,name,team\n", source="people.csv", now=datetime(2025, 3, 17, 9))


def test_format_writes_every_column_with_empty_calendar_for_none() -> None:
    ana = Person(email="ana@example.com", name="López, Ana", team="Payments", interests=frozenset({"go", "jazz"}))

    text = format_people_csv([ana])

    assert text == (
        f"{FULL_HEADER}\n"
        'ana@example.com,"López, Ana",Payments,,,UTC,mon-fri 09:00-17:00,,,'
        "coffee;lunch,either,weekly,go;jazz,,,,,no,\n"  # the last column, role, is empty
    )


def test_empty_lunch_means_the_offices_and_own_lunch_hours_are_written_as_read() -> None:
    people, errors = parse("email,name,team,lunch\nana@example.com,Ana,Payments,\nbo@example.com,Bo,Ads,12:00-13:30\n")

    assert errors == []
    assert [p.lunch for p in people] == [None, (time(12), time(13, 30))]
    [_, ana, bo] = format_people_csv(people).splitlines()
    assert ana.startswith("ana@example.com,Ana,Payments,,,UTC,mon-fri 09:00-17:00,,")
    assert bo.startswith("bo@example.com,Bo,Ads,,,UTC,mon-fri 09:00-17:00,12:00-13:30,")


def test_format_writes_wishlist_and_blocked_sorted() -> None:
    ana = Person(
        email="ana@example.com",
        name="Ana",
        team="Payments",
        wishlist=frozenset({"team:Search", "bo@example.com", "department:Sales, EMEA"}),
        blocked=frozenset({"zed@example.com", "cy@example.com"}),
    )

    [_, row] = format_people_csv([ana]).splitlines()

    assert row.endswith(',"bo@example.com;department:Sales, EMEA;team:Search",cy@example.com;zed@example.com,no,')


@pytest.mark.parametrize(
    ("person", "problem"),
    [
        (Person(email="a@example.com", name="A", team="T", kinds=frozenset()), "no meeting kind"),
        (
            Person(email="a@example.com", name="A", team="T", interests=frozenset({"rock;roll"})),
            "contains ';'",
        ),
        (
            Person(email="a@example.com", name="A", team="T", wishlist=frozenset({"team:Rock;Roll"})),
            "wishlist entry 'team:Rock;Roll' contains ';'",
        ),
        (
            Person(email="a@example.com", name="A", team="T", wishlist=frozenset({"office:London"})),
            "a@example.com: wishlist: 'office:London' is not an email address, team:NAME or department:NAME",
        ),
        (
            Person(email="a@example.com", name="A", team="T", wishlist=frozenset({"Team: Ads"})),
            "wishlist entry 'Team: Ads' would read back as 'team:Ads'",
        ),
        (
            Person(email="a@example.com", name="A", team="T", blocked=frozenset({"Bo@Example.com"})),
            "blocked entry 'Bo@Example.com' would read back as 'bo@example.com'",
        ),
        (
            Person(email="a@example.com", name="A", team="T", blocked=frozenset({"team:Ads"})),
            "blocked: 'team:ads' is not an email address",
        ),
    ],
)
def test_format_refuses_what_the_file_cannot_express(person: Person, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        format_people_csv([person])


# --- round trip ------------------------------------------------------------------------------------

emails = st.from_regex(r"[a-z][a-z0-9._]{0,10}@[a-z]{1,8}\.(com|org|co\.uk)", fullmatch=True)
words = (
    st.text(st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\x00"), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
minutes = st.integers(0, 23 * 60 + 58)
list_words = words.filter(lambda w: ";" not in w)
wishlist_entries = emails | list_words.map("team:{}".format) | list_words.map("department:{}".format)


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    """Any valid working hours on whole minutes."""
    start = draw(minutes)
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return WorkingHours(days, time(start // 60, start % 60), time(end // 60, end % 60))


@st.composite
def lunch_hours(draw: st.DrawFn) -> tuple[time, time]:
    """Any valid lunch hours: mostly on whole minutes, sometimes with seconds and microseconds."""
    if draw(st.booleans()):
        start = draw(minutes)
        end = draw(st.integers(start + 1, 24 * 60 - 1))
        return (time(start // 60, start % 60), time(end // 60, end % 60))
    first, second = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    return (first, second)


people_strategy = st.builds(
    Person,
    email=emails,
    name=words,
    team=words,
    department=st.just("") | words,
    office=st.just("") | words,
    timezone=st.sampled_from(["UTC", LONDON, NEW_YORK, KOLKATA]),
    working_hours=working_hours(),
    calendar=st.sampled_from(
        [
            CalendarSource(),
            CalendarSource("ics", "calendars/a b.ics"),
            CalendarSource("google", "a@example.com"),
        ]
    ),
    kinds=st.frozensets(st.sampled_from(MEETING_KINDS), min_size=1),
    mode=st.sampled_from(MEETING_MODES),
    cadence=st.sampled_from(CADENCES),
    interests=st.frozensets(list_words, max_size=4),
    seniority=st.just("") | words,
    manager=st.just("") | emails,
    wishlist=st.frozensets(wishlist_entries, max_size=4),
    blocked=st.frozensets(emails, max_size=3),
    verified_at=st.sampled_from([None, NOW]),
    lunch=st.none() | lunch_hours(),
)


@settings(max_examples=80)
@given(st.lists(people_strategy, max_size=6, unique_by=lambda person: person.email))
def test_format_then_parse_gives_the_same_people(people: list[Person]) -> None:
    assert parse(format_people_csv(people)) == (people, [])


def test_issue_zone_folder_is_a_row_error_not_a_crash() -> None:
    """Regression: a zone folder such as "Europe" raised IsADirectoryError from zoneinfo."""
    people, errors = parse_people_csv("email,name,team,timezone\na@example.com,A,T,Europe\n", source="p.csv",
                                      now=datetime(2026, 11, 22, tzinfo=UTC))
    assert people == []
    (error,) = errors
    assert error.where == "p.csv, line 2"
    assert "unknown time zone 'Europe'" in str(error)
