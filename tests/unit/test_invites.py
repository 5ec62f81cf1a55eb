"""Invites rendered as iCalendar and parsed back with icalendar: every property, CANCEL, escaping."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from integrations.invites import PRODID, render_invite
from scheduler.model import Attendee, Invite

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
STAMP = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def make_invite(**overrides: object) -> Invite:
    """A REQUEST for a pair, with any field overridden."""
    fields: dict[str, object] = {
        "uid": "coffeechat-meeting-42",
        "sequence": 0,
        "method": "REQUEST",
        "organizer": Attendee("coffee@example.com", "Coffee Chat"),
        "attendees": (
            Attendee("ana@example.com", "Ana López"),
            Attendee("ben@example.com", "Ben Okafor"),
        ),
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "Coffee chat: Ana López & Ben Okafor",
        "description": "Why you two: different departments.\n\nhttps://coffee.example.com/matches/42",
        "location": "Kitchen, 3rd floor",
        "stamp": STAMP,
    }
    fields.update(overrides)
    return Invite(**fields)  # type: ignore[arg-type]


def parse_event(text: str):
    calendar = Calendar.from_ical(text)
    events = calendar.events
    assert len(events) == 1
    return calendar, events[0]


def test_request_carries_every_property() -> None:
    calendar, event = parse_event(render_invite(make_invite()))

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    assert "UID" not in calendar  # no random calendar-level UID
    assert str(event["UID"]) == "coffeechat-meeting-42"
    assert event["SEQUENCE"] == 0
    assert event.DTSTAMP == STAMP
    assert event.start == START
    assert event.end == START + timedelta(minutes=30)
    assert str(event["SUMMARY"]) == "Coffee chat: Ana López & Ben Okafor"
    assert str(event["DESCRIPTION"]).endswith("https://coffee.example.com/matches/42")
    assert str(event["LOCATION"]) == "Kitchen, 3rd floor"
    assert "STATUS" not in event
    assert str(event["ORGANIZER"]) == "mailto:coffee@example.com"
    assert event["ORGANIZER"].params["CN"] == "Coffee Chat"

    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:ana@example.com", "mailto:ben@example.com"]
    for attendee, name in zip(attendees, ["Ana López", "Ben Okafor"], strict=True):
        assert dict(attendee.params) == {
            "CN": name,
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        }


def test_times_are_utc_so_no_vtimezone_is_needed() -> None:
    local_start = START.astimezone(LONDON)
    text = render_invite(make_invite(start=local_start, end=local_start + timedelta(minutes=30)))

    assert "DTSTART:20261124T103000Z\r\n" in text
    assert "DTEND:20261124T110000Z\r\n" in text
    assert "DTSTAMP:20261116T080000Z\r\n" in text
    assert "TZID" not in text
    assert "VTIMEZONE" not in text


def test_cancel_keeps_uid_and_marks_cancelled() -> None:
    calendar, event = parse_event(render_invite(make_invite(method="CANCEL", sequence=3)))

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == "coffeechat-meeting-42"
    assert event["SEQUENCE"] == 3


def test_output_is_deterministic_and_crlf_folded() -> None:
    invite = make_invite(description="word " * 100)
    first, second = render_invite(invite), render_invite(invite)

    assert first == second
    lines = first.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == ""  # the text ends with CRLF
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)


def test_without_location_or_description_those_lines_are_absent() -> None:
    _, event = parse_event(render_invite(make_invite(location="", description="")))

    assert "LOCATION" not in event
    assert "DESCRIPTION" not in event


def test_special_characters_are_escaped_and_round_trip() -> None:
    tricky_name = 'Zoë "Z" Ødegård-Nakamura, PhD; 佐藤\nsecond line ^ caret'
    summary = "Coffee, lunch; and\nmore \\ backslash"
    description = "Reasons:\n- same interests, maybe; more\n\nLink: https://x.example/matches/1?a=1;b=2"
    location = "Café Müller; table 3, by the window"
    invite = make_invite(
        attendees=(Attendee("zoe@example.com", tricky_name), Attendee("ben@example.com", "Ben")),
        organizer=Attendee("coffee@example.com", "Coffee Chat; HR, People"),
        summary=summary,
        description=description,
        location=location,
    )
    text = render_invite(invite)

    assert "SUMMARY:Coffee\\, lunch\\; and\\nmore \\\\ backslash\r\n" in text
    assert "LOCATION:Café Müller\\; table 3\\, by the window\r\n" in text
    _, event = parse_event(text)
    assert str(event["SUMMARY"]) == summary
    assert str(event["DESCRIPTION"]) == description
    assert str(event["LOCATION"]) == location
    assert event["ATTENDEE"][0].params["CN"] == tricky_name
    assert event["ORGANIZER"].params["CN"] == "Coffee Chat; HR, People"


def test_long_non_ascii_names_fold_without_splitting_characters() -> None:
    name = "Łukasz Żółć-Gęślą " * 8
    text = render_invite(make_invite(attendees=(Attendee("l@example.com", name),)))

    text.encode("utf-8")  # every folded line is still valid UTF-8
    _, event = parse_event(text)
    assert event["ATTENDEE"].params["CN"] == name


def test_an_invite_without_attendees_has_no_attendee_lines() -> None:
    _, event = parse_event(render_invite(make_invite(attendees=())))
    assert "ATTENDEE" not in event


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stamp": None}, "stamp is required"),
        ({"method": "PUBLISH"}, "method must be one of"),
        ({"start": datetime(2026, 11, 24, 10, 30)}, "timezone-aware"),  # naive on purpose
        ({"end": START}, "ends before it starts"),
    ],
)
def test_invalid_invites_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_invite(dataclasses.replace(make_invite(), **overrides))  # type: ignore[arg-type]
