"""Emails as data: snapshots of the bodies and the invite, times in the reader's zone, escaping, payloads.

Snapshots live in tests/data/snapshots/ and are compared exactly. After an intended change to a template, run
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/unit/test_emails.py`` and review the diff of the snapshot files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from integrations.invites import render_invite
from scheduler.delivery import emails
from scheduler.model import Attendee, EmailMessage, Group, Interval, Invite, Meeting, Person, Program
from web.urls import WebUrls

SNAPSHOTS = Path(__file__).resolve().parent.parent / "data" / "snapshots"
LONDON = "Europe/London"
NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"

SENDER = "Coffee Chat <coffee@example.com>"
ORGANIZER = Attendee("coffee@example.com", "Coffee Chat")
BASE_URL = "https://coffee.example.com/"
SITE = WebUrls(BASE_URL)
STAMP = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
SLOT = Interval(datetime(2026, 11, 24, 10, 30, tzinfo=UTC), datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
PROGRAM = Program("Engineering coffee")
REASONS = (
    "You work in different departments (Engineering and Sales)",
    "You work in different offices (London and New York)",
    "You have never met",
)


def assert_snapshot(name: str, content: str) -> None:
    """Compare ``content`` byte for byte with the stored snapshot; rewrite it when UPDATE_SNAPSHOTS=1."""
    path = SNAPSHOTS / name
    data = content.encode("utf-8")
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # bytes, so the CRLF of iCalendar survives on every platform
        return
    if not path.exists():
        pytest.fail(f"snapshot {path} is missing: run with UPDATE_SNAPSHOTS=1 to create it, then review it")
    assert content == path.read_bytes().decode("utf-8"), (
        f"{name} differs from its snapshot; if the change is intended, run with UPDATE_SNAPSHOTS=1"
    )


def make_person(**overrides: object) -> Person:
    """A person in London with every detail filled in, with any field overridden."""
    fields: dict[str, object] = {
        "email": "ana@example.com",
        "name": "Ana López",
        "team": "Payments",
        "department": "Engineering",
        "office": "London",
        "timezone": LONDON,
    }
    fields.update(overrides)
    return Person(**fields)  # type: ignore[arg-type]


ANA = make_person()
BEN = make_person(
    email="ben@example.com",
    name="Ben Okafor",
    team="Field Sales",
    department="Sales",
    office="New York",
    timezone=NEW_YORK,
)


def create_meeting(*members: Person, **overrides: object) -> Meeting:
    """A stored meeting (id 42) of ``members`` in SLOT, with any field overridden."""
    people = members or (ANA, BEN)
    fields: dict[str, object] = {
        "group": Group(tuple(p.email for p in people), 12.5, REASONS),
        "slot": SLOT,
        "location": "Video call",
        "sequence": 0,
        "id": 42,
        "cycle_id": 7,
    }
    fields.update(overrides)
    return Meeting(**fields)  # type: ignore[arg-type]


def announce(meeting: Meeting, members: list[Person], recipient: Person, **overrides: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "sender": SENDER,
        "stamp": STAMP,
        "site": SITE,
        "key": f"cycle-7/meeting-{meeting.id}/seq-{meeting.sequence}/announce/{recipient.email}",
    }
    arguments.update(overrides)
    return emails.match_announcement(meeting, members, recipient, PROGRAM, ORGANIZER, **arguments)  # type: ignore[arg-type]


# --- snapshots ----------------------------------------------------------------------------------------------


def test_announcement_snapshots() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)

    assert message.to == ("Ana López <ana@example.com>",)
    assert message.sender == SENDER
    assert message.subject == "Coffee chat with Ben Okafor: Tuesday 24 November, 10:30"
    assert message.headers == (("Auto-Submitted", "auto-generated"),)
    assert message.invite is not None
    assert_snapshot("announcement.txt", message.text)
    assert_snapshot("announcement.html", message.html)
    assert_snapshot("announcement.ics", render_invite(message.invite))


def test_announcement_without_slot_snapshots() -> None:
    message = announce(create_meeting(slot=None), [ANA, BEN], BEN)

    assert message.invite is None
    assert message.subject == "Coffee chat with Ana López: pick a time together"
    assert "could not find a common free time" in message.text
    assert "pick a time together" in message.html.lower()
    assert_snapshot("announcement_no_slot.txt", message.text)
    assert_snapshot("announcement_no_slot.html", message.html)


def test_unmatched_notice_snapshots() -> None:
    message = emails.unmatched_notice(
        ANA,
        "an odd number of people signed up, and everyone else already had a partner",
        PROGRAM,
        sender=SENDER,
        site=SITE,
        key="cycle-7/unmatched/ana@example.com",
        window_start=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
    )

    assert message.to == ("Ana López <ana@example.com>",)
    assert message.invite is None
    assert message.subject == "No coffee chat match this time: you stay in for the next round"
    assert_snapshot("unmatched.txt", message.text)
    assert_snapshot("unmatched.html", message.html)


# --- what the announcement says -----------------------------------------------------------------------------


def test_announcement_names_the_other_person_reasons_place_and_link() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)

    for body in (message.text, message.html):
        assert "Ben Okafor" in body
        assert "Team: Field Sales · Department: Sales · Office: New York" in body
        assert all(reason in body for reason in REASONS)
        assert "Video call" in body
        assert "https://coffee.example.com/matches/42" in body
    # The reader is told about the others, not about themselves.
    assert "Payments" not in message.text


@pytest.mark.parametrize(
    ("slot_start", "london", "new_york"),
    [
        # Both on summer time: London is UTC+1, New York UTC-4.
        (
            datetime(2026, 10, 20, 9, 30, tzinfo=UTC),
            "Tuesday 20 October, 10:30–11:00 (Europe/London)",
            "Tuesday 20 October, 05:30–06:00 (America/New_York)",
        ),
        # London went back on 25 October, New York not until 1 November: the gap is four hours for a week.
        (
            datetime(2026, 10, 27, 10, 30, tzinfo=UTC),
            "Tuesday 27 October, 10:30–11:00 (Europe/London)",
            "Tuesday 27 October, 06:30–07:00 (America/New_York)",
        ),
        # Both on standard time again.
        (
            datetime(2026, 11, 3, 10, 30, tzinfo=UTC),
            "Tuesday 3 November, 10:30–11:00 (Europe/London)",
            "Tuesday 3 November, 05:30–06:00 (America/New_York)",
        ),
    ],
)
def test_times_are_shown_in_each_readers_zone_across_dst(
    slot_start: datetime, london: str, new_york: str
) -> None:
    meeting = create_meeting(slot=Interval(slot_start, slot_start + timedelta(minutes=30)))

    for_ana = announce(meeting, [ANA, BEN], ANA)
    for_ben = announce(meeting, [ANA, BEN], BEN)

    assert f"When:   {london}\n        for Ben Okafor: {new_york}\n" in for_ana.text
    assert f"When:   {new_york}\n        for Ana López: {london}\n" in for_ben.text
    assert london in for_ana.html
    assert new_york in for_ben.html
    assert for_ana.subject.endswith(london.split(" (")[0].split("–")[0])
    # The invite itself stays in UTC: each calendar shows it in its owner's zone.
    assert for_ana.invite is not None
    assert for_ana.invite.start == slot_start


def test_a_slot_crossing_midnight_names_both_days() -> None:
    slot = Interval(datetime(2026, 11, 24, 14, 45, tzinfo=UTC), datetime(2026, 11, 24, 15, 15, tzinfo=UTC))

    assert emails.format_slot(slot, TOKYO) == (
        "Tuesday 24 November, 23:45 – Wednesday 25 November, 00:15 (Asia/Tokyo)"
    )


def test_a_trio_meets_two_people_each_in_their_own_zone() -> None:
    chen = make_person(email="chen@example.com", name="Chen Wei", team="Data", office="Tokyo", timezone=TOKYO)
    meeting = create_meeting(ANA, BEN, chen)

    message = announce(meeting, [chen, BEN, ANA], ANA)  # any order: the group's order wins

    assert message.subject.startswith("Coffee chat with Ben Okafor & Chen Wei:")
    assert "for Ben Okafor: Tuesday 24 November, 05:30–06:00 (America/New_York)" in message.text
    assert "for Chen Wei: Tuesday 24 November, 19:30–20:00 (Asia/Tokyo)" in message.text
    assert message.invite is not None
    assert message.invite.summary == "Coffee chat: Ana López, Ben Okafor & Chen Wei"
    assert [a.email for a in message.invite.attendees] == [ANA.email, BEN.email, chen.email]


def test_html_escapes_a_malicious_name_and_text_shows_it_plainly() -> None:
    mallory = make_person(email="mallory@example.com", name="<script>alert(1)</script>", team='Ops "&" Co')
    meeting = create_meeting(ANA, mallory)

    message = announce(meeting, [ANA, mallory], ANA)
    for_mallory = announce(meeting, [ANA, mallory], mallory)

    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "Ops &#34;&amp;&#34; Co" in message.html
    assert "- <script>alert(1)</script> <mallory@example.com>" in message.text
    assert 'Team: Ops "&" Co' in message.text
    assert "Hi <script>alert(1)</script>," in for_mallory.text
    assert "<script>" not in for_mallory.html
    assert for_mallory.to == ('"<script>alert(1)</script>" <mallory@example.com>',)


def test_line_breaks_in_a_name_never_reach_a_header() -> None:
    sneaky = make_person(email="sneaky@example.com", name="Sneaky\r\nBcc: victim@example.com")
    meeting = create_meeting(ANA, sneaky)

    message = announce(meeting, [ANA, sneaky], sneaky)
    other = announce(meeting, [ANA, sneaky], ANA)

    assert message.to == ('"Sneaky Bcc: victim@example.com" <sneaky@example.com>',)
    assert "\n" not in other.subject
    assert "\r" not in other.subject
    assert other.invite is not None
    assert all("\n" not in a.name for a in other.invite.attendees)


def test_without_a_location_the_place_follows_the_program_mode() -> None:
    in_person = dataclasses.replace(PROGRAM, meeting_mode="in_person")
    meeting = create_meeting(location="")

    message = emails.match_announcement(
        meeting, [ANA, BEN], ANA, in_person, ORGANIZER, sender=SENDER, stamp=STAMP, site=SITE, key="k"
    )

    assert "Where:  In person: pick a place together" in message.text
    assert message.invite is not None
    assert message.invite.location == ""


def test_announcement_refuses_a_stranger_or_the_wrong_members() -> None:
    stranger = make_person(email="zed@example.com", name="Zed")
    meeting = create_meeting()

    with pytest.raises(ValueError, match="not in meeting"):
        announce(meeting, [ANA, BEN], stranger)
    with pytest.raises(ValueError, match="are not the meeting's group"):
        announce(meeting, [ANA], ANA)
    with pytest.raises(ValueError, match="only once it is stored"):
        announce(create_meeting(id=None), [ANA, BEN], ANA)


# --- the invite ---------------------------------------------------------------------------------------------


def test_build_invite_fields() -> None:
    meeting = create_meeting(sequence=2, location="Kitchen, 3rd floor")

    invite = emails.build_invite(
        meeting,
        [BEN, ANA],
        PROGRAM,
        ORGANIZER,
        stamp=STAMP,
        match_url="https://coffee.example.com/matches/42",
    )

    assert invite.uid == "coffeechat-meeting-42"
    assert invite.sequence == 2
    assert invite.method == "REQUEST"
    assert invite.organizer == ORGANIZER
    assert invite.attendees == (Attendee(ANA.email, ANA.name), Attendee(BEN.email, BEN.name))
    assert (invite.start, invite.end) == (SLOT.start, SLOT.end)
    assert invite.summary == "Coffee chat: Ana López & Ben Okafor"
    assert invite.location == "Kitchen, 3rd floor"
    assert invite.stamp == STAMP
    assert all(f"- {reason}" in invite.description for reason in REASONS)
    assert invite.description.endswith("Match page: https://coffee.example.com/matches/42")


def test_build_invite_for_lunch_and_cancel() -> None:
    lunch = Program("Lunch club", kind="lunch", duration_minutes=60)

    invite = emails.build_invite(
        create_meeting(sequence=3), [ANA, BEN], lunch, ORGANIZER, stamp=STAMP, match_url="u", method="CANCEL"
    )

    assert invite.summary == "Lunch: Ana López & Ben Okafor"
    assert (invite.method, invite.sequence) == ("CANCEL", 3)


def test_build_invite_needs_a_slot_a_stored_meeting_and_an_aware_stamp() -> None:
    with pytest.raises(ValueError, match="without a slot"):
        emails.build_invite(
            create_meeting(slot=None), [ANA, BEN], PROGRAM, ORGANIZER, stamp=STAMP, match_url="u"
        )
    with pytest.raises(ValueError, match="once it is stored"):
        emails.build_invite(
            create_meeting(id=None), [ANA, BEN], PROGRAM, ORGANIZER, stamp=STAMP, match_url="u"
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        emails.build_invite(
            create_meeting(), [ANA, BEN], PROGRAM, ORGANIZER, stamp=datetime(2026, 11, 16), match_url="u"
        )


# --- unmatched notice ---------------------------------------------------------------------------------------


def test_unmatched_notice_is_kind_and_names_the_next_round_in_the_readers_zone() -> None:
    fortnightly = dataclasses.replace(PROGRAM, cadence="fortnightly")
    chen = make_person(email="chen@example.com", name="Chen Wei", timezone=TOKYO)

    message = emails.unmatched_notice(
        chen,
        "no common free time with anyone this round",
        fortnightly,
        sender=SENDER,
        site=WebUrls("https://coffee.example.com"),
        key="k",
        # Sunday 22 November 23:00 UTC is already Monday morning in Tokyo.
        window_start=datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
    )

    for body in (message.text, message.html):
        assert "no common free time with anyone this round" in body
        assert "Monday 23 November" in body
        assert "Monday 7 December" in body
        assert "you stay in the Engineering coffee program" in body
        assert "https://coffee.example.com/account" in body


def test_unmatched_notice_escapes_the_reason_in_html() -> None:
    message = emails.unmatched_notice(
        ANA, "<b>nobody</b> & co", PROGRAM, sender=SENDER, site=SITE, key="k", window_start=STAMP
    )

    assert "&lt;b&gt;nobody&lt;/b&gt; &amp; co" in message.html
    assert "Why: <b>nobody</b> & co" in message.text


# --- message ids --------------------------------------------------------------------------------------------


def test_message_id_is_derived_from_the_key() -> None:
    first = emails.make_message_id("cycle-1/meeting-2/announce/ana@example.com", "example.com")

    assert re.fullmatch(r"<coffeechat\.[0-9a-f]{32}@example\.com>", first)
    assert first == emails.make_message_id("cycle-1/meeting-2/announce/ana@example.com", "example.com")
    assert first != emails.make_message_id("cycle-1/meeting-2/announce/ben@example.com", "example.com")


def test_message_id_domain_comes_from_the_sender() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA, sender="Coffee <coffee@mail.example.org>", key="k")

    assert message.message_id == emails.make_message_id("k", "mail.example.org")


@pytest.mark.parametrize("domain", ["", "exa mple.com", "example.com>", "a@b"])
def test_message_id_refuses_a_bad_domain(domain: str) -> None:
    with pytest.raises(ValueError, match="not a mail domain"):
        emails.make_message_id("k", domain)


def test_a_sender_without_a_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="no address with a domain"):
        announce(create_meeting(), [ANA, BEN], ANA, sender="Coffee Chat")


# --- templates ----------------------------------------------------------------------------------------------


def test_templates_refuse_undefined_variables() -> None:
    environment = emails.template_environment()

    assert environment is emails.template_environment()  # built once, on first use
    with pytest.raises(jinja2.UndefinedError):
        environment.get_template("unmatched_notice.txt").render({})


# --- payloads -----------------------------------------------------------------------------------------------


def assert_json_safe(value: object) -> None:
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for item in value.values():
            assert_json_safe(item)
    elif isinstance(value, list):
        for item in value:
            assert_json_safe(item)
    else:
        assert value is None or type(value) in (str, int), f"{value!r} is not JSON-safe"


def test_announcement_payload_round_trips_through_json() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)

    payload = emails.email_to_payload(message)

    assert_json_safe(payload)
    assert payload["invite"]["start"] == "2026-11-24T10:30:00+00:00"  # type: ignore[index]
    assert emails.email_from_payload(json.loads(json.dumps(payload))) == message


def test_payload_stores_datetimes_in_utc() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)
    assert message.invite is not None
    tokyo_start = message.invite.start.astimezone(ZoneInfo(TOKYO))
    local = dataclasses.replace(message, invite=dataclasses.replace(message.invite, start=tokyo_start))

    payload = emails.email_to_payload(local)
    back = emails.email_from_payload(payload)

    assert payload["invite"]["start"] == "2026-11-24T10:30:00+00:00"  # type: ignore[index]
    assert back.invite is not None
    assert back.invite.start == SLOT.start
    assert back.invite.start.utcoffset() == timedelta(0)


def test_payload_refuses_a_naive_datetime() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)
    assert message.invite is not None
    naive = dataclasses.replace(
        message, invite=dataclasses.replace(message.invite, stamp=datetime(2026, 1, 1))
    )

    with pytest.raises(ValueError, match="timezone-aware"):
        emails.email_to_payload(naive)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(version=2), "version"),
        (lambda p: p.update(subject=None), "'subject'"),
        (lambda p: p.update(to="ana@example.com"), "'to'"),
        (lambda p: p.update(to=[1]), "'to'"),
        (lambda p: p.update(headers=[["Only-Name"]]), "'headers'"),
        (lambda p: p["invite"].update(sequence="1"), "'sequence'"),
        (lambda p: p["invite"].update(sequence=True), "'sequence'"),
        (lambda p: p["invite"].update(start="tomorrow"), "'start'"),
        (lambda p: p["invite"].update(end="2026-11-24T11:00:00"), "timezone-aware"),
        (lambda p: p["invite"].update(organizer="coffee@example.com"), "'organizer'"),
        (lambda p: p["invite"]["attendees"][0].pop("name"), "'name'"),
    ],
)
def test_malformed_payloads_are_refused_naming_the_field(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    payload = json.loads(json.dumps(emails.email_to_payload(announce(create_meeting(), [ANA, BEN], ANA))))
    change(payload)

    with pytest.raises(ValueError, match=message):
        emails.email_from_payload(payload)


utc_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
attendees = st.builds(Attendee, email=st.emails(), name=st.text())
invites = st.builds(
    Invite,
    uid=st.text(),
    sequence=st.integers(min_value=0, max_value=2**31),
    method=st.sampled_from(["REQUEST", "CANCEL"]),
    organizer=attendees,
    attendees=st.lists(attendees, max_size=4).map(tuple),
    start=utc_datetimes,
    end=utc_datetimes,
    summary=st.text(),
    description=st.text(),
    location=st.text(),
    stamp=st.none() | utc_datetimes,
)
messages = st.builds(
    EmailMessage,
    to=st.lists(st.text(), max_size=3).map(tuple),
    subject=st.text(),
    text=st.text(),
    html=st.text(),
    sender=st.text(),
    message_id=st.text(),
    invite=st.none() | invites,
    headers=st.lists(st.tuples(st.text(), st.text()), max_size=3).map(tuple),
)


@given(messages)
def test_any_message_round_trips_through_a_json_payload(message: EmailMessage) -> None:
    payload = emails.email_to_payload(message)

    assert_json_safe(payload)
    back = emails.email_from_payload(json.loads(json.dumps(payload)))
    assert back == message
    if message.invite is not None:
        assert back.invite is not None
        assert back.invite.start.tzinfo == UTC


def test_reminder_snapshots() -> None:
    meeting = create_meeting()
    message = emails.meeting_reminder(meeting, [ANA, BEN], BEN, PROGRAM, sender=SENDER, site=SITE,
                                      key="cycle-7/meeting-42/seq-0/remind/ben@example.com")
    assert message.invite is None
    assert message.to == ("Ben Okafor <ben@example.com>",)
    assert message.subject == "Reminder: coffee chat with Ana López, Tuesday 24 November 05:30"
    assert_snapshot("reminder.txt", message.text)
    assert_snapshot("reminder.html", message.html)


def test_a_meeting_without_a_time_has_no_reminder() -> None:
    with pytest.raises(ValueError, match="no time to remind"):
        emails.meeting_reminder(create_meeting(slot=None), [ANA, BEN], ANA, PROGRAM, sender=SENDER,
                                site=SITE, key="k")


# --- feedback, cancellation, reschedule ---------------------------------------------------------------------


def calendar_part_of(message: EmailMessage) -> str:
    """The text/calendar part of the MIME message the mail adapter would send, decoded."""
    from integrations.mail import build_mime

    (part,) = [p for p in build_mime(message).walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == message.invite.method  # type: ignore[union-attr]
    # The MIME parser hands text back with bare LF; iCalendar (and the snapshots) use CRLF.
    return str(part.get_content()).replace("\r\n", "\n").replace("\n", "\r\n")


def test_match_url_is_built_in_one_place() -> None:
    assert emails.match_url(SITE, create_meeting()) == "https://coffee.example.com/matches/42"
    with pytest.raises(ValueError, match="stored"):
        emails.match_url(SITE, create_meeting(id=None))


def test_feedback_request_snapshots() -> None:
    message = emails.feedback_request(create_meeting(), [ANA, BEN], ANA, PROGRAM, sender=SENDER, site=SITE,
                                      key="cycle-7/meeting-42/seq-0/feedback/ana@example.com")
    assert message.invite is None
    assert message.subject == "Did you meet Ben Okafor?"
    assert "https://coffee.example.com/matches/42" in message.text
    assert 'href="https://coffee.example.com/matches/42"' in message.html
    assert_snapshot("feedback.txt", message.text)
    assert_snapshot("feedback.html", message.html)
    with pytest.raises(ValueError, match="no time to ask"):
        emails.feedback_request(create_meeting(slot=None), [ANA, BEN], ANA, PROGRAM, sender=SENDER,
                                site=SITE, key="k")


def test_cancellation_snapshots_with_a_cancel_invite() -> None:
    meeting = create_meeting(sequence=1, state="cancelled")
    message = emails.meeting_cancellation(
        meeting, [ANA, BEN], BEN, PROGRAM, ORGANIZER, sender=SENDER, stamp=STAMP + timedelta(days=1),
        site=SITE, key="cycle-7/meeting-42/seq-1/cancel/ben@example.com", reason="Ana is <ill> & away")
    assert message.subject == "Cancelled: coffee chat with Ana López"
    assert message.invite is not None
    assert (message.invite.method, message.invite.sequence, message.invite.uid) == ("CANCEL", 1, meeting.uid)
    assert "Ana is <ill> & away" in message.text
    assert "Ana is &lt;ill&gt; &amp; away" in message.html
    assert_snapshot("cancellation.txt", message.text)
    assert_snapshot("cancellation.html", message.html)
    calendar = calendar_part_of(message)
    assert_snapshot("cancellation.ics", calendar)
    parsed = Calendar.from_ical(calendar)
    (event,) = parsed.events
    assert (str(parsed["METHOD"]), str(event["STATUS"]), event["SEQUENCE"]) == ("CANCEL", "CANCELLED", 1)


def test_cancellation_without_invite_when_a_provider_sends_them() -> None:
    message = emails.meeting_cancellation(
        create_meeting(sequence=1), [ANA, BEN], ANA, PROGRAM, ORGANIZER, sender=SENDER, stamp=STAMP,
        site=SITE, key="k", attach_invite=False)
    assert message.invite is None
    assert "receives the cancellation separately" in message.text
    assert "Why:" not in message.text
    no_slot = emails.meeting_cancellation(create_meeting(slot=None, sequence=1), [ANA, BEN], ANA, PROGRAM, ORGANIZER,
                                          sender=SENDER, stamp=STAMP, site=SITE, key="k")
    assert no_slot.invite is None
    assert "calendar" not in no_slot.text


def test_reschedule_snapshots_with_an_updated_request() -> None:
    new_slot = Interval(SLOT.start + timedelta(days=1, hours=2), SLOT.end + timedelta(days=1, hours=2))
    meeting = create_meeting(slot=new_slot, sequence=2)
    message = emails.meeting_rescheduled(
        meeting, [ANA, BEN], ANA, PROGRAM, ORGANIZER, sender=SENDER, stamp=STAMP + timedelta(days=1),
        site=SITE, key="cycle-7/meeting-42/seq-2/reschedule/ana@example.com", previous=SLOT)
    assert message.subject == "New time: coffee chat with Ben Okafor, Wednesday 25 November 12:30"
    assert message.invite is not None
    assert (message.invite.method, message.invite.sequence) == ("REQUEST", 2)
    assert message.invite.start == new_slot.start
    assert "(was Tuesday 24 November, 10:30–11:00 (Europe/London))" in message.text
    assert_snapshot("reschedule.txt", message.text)
    assert_snapshot("reschedule.html", message.html)
    calendar = calendar_part_of(message)
    assert_snapshot("reschedule.ics", calendar)
    (event,) = Calendar.from_ical(calendar).events
    assert (str(event["UID"]), event["SEQUENCE"], event.start) == (meeting.uid, 2, new_slot.start)
    with pytest.raises(ValueError, match="no new time"):
        emails.meeting_rescheduled(create_meeting(slot=None), [ANA, BEN], ANA, PROGRAM, ORGANIZER, sender=SENDER,
                                   stamp=STAMP, site=SITE, key="k", previous=SLOT)


def test_announcement_without_invite_when_a_provider_sends_it_snapshots() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA, attach_invite=False)
    assert message.invite is None
    assert "comes separately" in message.text
    assert "attached" not in message.text
    assert_snapshot("announcement_provider.txt", message.text)
    assert_snapshot("announcement_provider.html", message.html)


def test_announcement_calendar_part_snapshot() -> None:
    message = announce(create_meeting(), [ANA, BEN], ANA)
    assert_snapshot("announcement.ics", calendar_part_of(message))


@pytest.mark.parametrize("build", ["feedback", "cancel", "reschedule"])
def test_new_emails_never_put_a_line_break_in_a_header(build: str) -> None:
    mallory = make_person(email="mal@example.com", name="Mal\r\nBcc: victim@example.com")
    meeting = create_meeting(ANA, mallory)
    common: dict[str, Any] = {"sender": SENDER, "site": SITE, "key": "k"}
    if build == "feedback":
        message = emails.feedback_request(meeting, [ANA, mallory], ANA, PROGRAM, **common)
    elif build == "cancel":
        message = emails.meeting_cancellation(meeting, [ANA, mallory], ANA, PROGRAM, ORGANIZER, stamp=STAMP,
                                              **common)
    else:
        message = emails.meeting_rescheduled(meeting, [ANA, mallory], ANA, PROGRAM, ORGANIZER, stamp=STAMP,
                                             previous=None, **common)
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert "Mal Bcc: victim@example.com" in message.subject


def test_cancel_and_reschedule_payloads_round_trip() -> None:
    cancel = emails.meeting_cancellation(create_meeting(sequence=1), [ANA, BEN], ANA, PROGRAM, ORGANIZER,
                                         sender=SENDER, stamp=STAMP, site=SITE, key="k")
    payload = json.loads(json.dumps(emails.email_to_payload(cancel)))
    assert emails.email_from_payload(payload) == cancel
