"""The account pages through the test client: profile and preferences, wishlist and block list, pause, leaving
and coming back, calendar source with "check my calendar", meeting history, data export and account deletion.

Each page: a visitor who is not signed in is sent to sign in, a POST needs its CSRF token, a GET changes
nothing, user text is escaped. They run on SQLite and PostgreSQL (``db_site``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from scheduler.availability.calendars import CalendarRouter
from scheduler.model import (
    CalendarSource,
    Cycle,
    CycleState,
    Group,
    Interval,
    Meeting,
    Person,
    Rsvp,
    Unmatched,
    WorkingHours,
)
from scheduler.planning.run import run_cycle
from scheduler.storage.orm import OutboxEffectRow
from scheduler.storage.uow import SqlAlchemyUnitOfWork
from tests.conftest import BERLIN, SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock
from tests.web.conftest import SIGN_UP, Site, csrf_from, sign_up_and_confirm, submit

ANA = SIGN_UP["email"]
PROFILE = {
    "name": "Ana Maria Lima",
    "team": "Checkout",
    "department": "Product",
    "office": "Berlin",
    "timezone": BERLIN,
    "work_days": ["0", "1", "2", "3"],
    "work_start": "08:30",
    "work_end": "16:00",
    "lunch_start": "12:00",
    "lunch_end": "13:00",
    "kinds": ["coffee", "lunch"],
    "mode": "in_person",
    "cadence": "fortnightly",
    "interests": "Chess, climbing",
}
PAGES = ["/account", "/account/profile", "/account/wishes", "/account/calendar", "/account/history",
         "/account/export", "/account/delete"]
POSTS = ["/account/profile", "/account/wishes", "/account/pause", "/account/participation", "/account/calendar",
         "/account/calendar/check", "/account/delete"]


@pytest.fixture
def ana(db_site: Site) -> FlaskClient:
    """Ana, signed up, confirmed and signed in (in ``db_site.client``)."""
    assert sign_up_and_confirm(db_site).status_code == 303
    return db_site.client


def stored(site: Site) -> Person:
    person = site.person(ANA)
    assert person is not None
    return person


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# --- every page -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_visitor_who_is_not_signed_in_to_sign_in(db_site: Site, path: str) -> None:
    response = db_site.client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("path", POSTS)
def test_posts_without_a_csrf_token_are_refused_and_change_nothing(db_site: Site, ana: FlaskClient,
                                                                   path: str) -> None:
    before = stored(db_site)

    response = ana.post(path, data={**PROFILE, "action": "leave", "confirm": ANA, "kind": "ics",
                                    "url": "https://cal.example.com/a.ics", "until": "2027-01-05"})

    assert response.status_code == 400
    assert stored(db_site) == before


@pytest.mark.parametrize("path", POSTS)
def test_posts_from_a_visitor_who_is_not_signed_in_change_nothing(db_site: Site, ana: FlaskClient,
                                                                  path: str) -> None:
    stranger = db_site.new_client("198.51.100.9")
    token = csrf_from(stranger.get("/sign-in").get_data(as_text=True))
    before = stored(db_site)

    response = stranger.post(path, data={**PROFILE, "action": "leave", "confirm": ANA, "csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert stored(db_site) == before


@pytest.mark.parametrize("path", PAGES)
def test_a_get_with_form_data_in_the_query_changes_nothing(db_site: Site, ana: FlaskClient, path: str) -> None:
    before = stored(db_site)

    ana.get(path, query_string={**PROFILE, "action": "leave", "confirm": ANA})
    ana.head(path)

    assert stored(db_site) == before
    assert db_site.person(ANA) is not None


@pytest.mark.parametrize("path", ["/account/pause", "/account/participation", "/account/calendar/check"])
def test_post_only_routes_refuse_a_get(db_site: Site, ana: FlaskClient, path: str) -> None:
    assert ana.get(path).status_code == 405


# --- profile and preferences ------------------------------------------------------------------------------


def test_profile_page_shows_the_stored_profile_with_a_label_for_every_field(db_site: Site,
                                                                            ana: FlaskClient) -> None:
    html = page(ana, "/account/profile")

    assert 'value="Ana Lima"' in html
    assert 'value="Payments"' in html
    assert '<option selected value="Europe/London">' in html
    assert 'value="09:00"' in html
    assert 'value="17:00"' in html
    for field in ("name", "team", "department", "office", "timezone", "work_start", "work_end", "lunch_start",
                  "lunch_end", "interests"):
        assert f'for="{field}"' in html, field
    for legend in ("Working days", "I would like to meet for", "Meet", "How often"):
        assert f"<legend>{legend}</legend>" in html


def test_saving_the_profile_stores_every_preference(db_site: Site, ana: FlaskClient) -> None:
    response = submit(ana, "/account/profile", PROFILE)

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/profile"
    person = stored(db_site)
    assert (person.name, person.team, person.department, person.office) == (
        "Ana Maria Lima", "Checkout", "Product", "Berlin")
    assert person.timezone == BERLIN
    assert person.working_hours == WorkingHours(frozenset({0, 1, 2, 3}), time(8, 30), time(16))
    assert person.lunch == (time(12), time(13))
    assert person.kinds == frozenset({"coffee", "lunch"})
    assert (person.mode, person.cadence) == ("in_person", "fortnightly")
    assert person.interests == frozenset({"chess", "climbing"})
    assert person.verified_at is not None
    assert "Your profile is saved." in page(ana, "/account/profile")


def test_emptying_the_lunch_times_goes_back_to_the_offices_hours(db_site: Site, ana: FlaskClient) -> None:
    submit(ana, "/account/profile", PROFILE)

    assert submit(ana, "/account/profile", {**PROFILE, "lunch_start": "", "lunch_end": ""}).status_code == 303

    assert stored(db_site).lunch is None


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": " "}, "name", "Enter your name."),
    ({"team": ""}, "team", "Enter your team"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Choose a time zone from the list."),
    ({"timezone": "../../etc/passwd"}, "timezone", "Choose a time zone from the list."),
    ({"work_days": []}, "work_days", "Choose the days you work"),
    ({"work_days": ["7"]}, "work_days", "Choose the days you work"),
    ({"work_start": "9am"}, "work_start", "Give a time like 09:00."),
    ({"work_end": "08:00"}, "work_end", "Working hours must end after they start."),
    ({"lunch_end": ""}, "lunch_start", "Give both lunch times, or neither."),
    ({"lunch_end": "11:00"}, "lunch_end", "Lunch must end after it starts."),
    ({"kinds": []}, "kinds", "Choose at least one of coffee, lunch and dinner."),
    ({"kinds": ["tea"]}, "kinds", "Choose at least one of coffee, lunch and dinner."),
    ({"mode": "in_person", "office": ""}, "mode", "enter your office"),
    ({"cadence": "daily"}, "cadence", "Choose how often"),
    ({"name": "Ana\nBcc: x"}, "name", "Remove the special characters"),
    ({"office": "Ber\x00lin"}, "office", "Remove the special characters"),
    ({"interests": "a;b"}, "interests", "not semicolons"),
])
def test_a_refused_profile_shows_the_error_next_to_the_field_and_keeps_the_input(
        db_site: Site, ana: FlaskClient, changes: dict[str, Any], field: str, message: str) -> None:
    before = stored(db_site)

    response = submit(ana, "/account/profile", {**PROFILE, **changes})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    error = html.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert 'value="Checkout"' in html or field == "team"  # what was typed is kept
    assert stored(db_site) == before


def test_profile_text_is_escaped_wherever_it_appears(db_site: Site, ana: FlaskClient) -> None:
    hostile = '<script>alert("x")</script>'
    assert submit(ana, "/account/profile", {**PROFILE, "name": hostile, "team": "<b>T</b>"}).status_code == 303

    for path in ("/account", "/account/profile"):
        html = page(ana, path)
        assert "<script>alert" not in html
        assert "&lt;script&gt;" in html
        assert "<b>T</b>" not in html


def test_the_name_change_shows_at_once_in_my_account(db_site: Site, ana: FlaskClient) -> None:
    submit(ana, "/account/profile", PROFILE)

    assert "Ana Maria Lima" in page(ana, "/account")


# --- wishlist and block list ------------------------------------------------------------------------------


def test_wishes_and_blocks_are_stored_and_shown_again(db_site: Site, ana: FlaskClient) -> None:
    response = submit(ana, "/account/wishes", {"meet_people": "Bo@Example.com, cy@example.com",
                                               "meet_teams": "Search", "meet_departments": "Sales, Legal",
                                               "blocked": "dee@example.com"})

    assert response.status_code == 303
    person = stored(db_site)
    assert person.wishlist == frozenset({"bo@example.com", "cy@example.com", "team:Search", "department:Sales",
                                         "department:Legal"})
    assert person.blocked == frozenset({"dee@example.com"})
    html = page(ana, "/account/wishes")
    assert 'value="bo@example.com, cy@example.com"' in html
    assert 'value="Legal, Sales"' in html
    assert 'value="dee@example.com"' in html


def test_emptying_the_lists_clears_them(db_site: Site, ana: FlaskClient) -> None:
    submit(ana, "/account/wishes", {"meet_teams": "Search", "blocked": "dee@example.com"})

    submit(ana, "/account/wishes", {"meet_teams": "", "blocked": ""})

    assert (stored(db_site).wishlist, stored(db_site).blocked) == (frozenset(), frozenset())


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"meet_people": ANA}, "meet_people", "You cannot wish to meet yourself."),
    ({"blocked": ANA.upper()}, "blocked", "You cannot block yourself."),
    ({"meet_people": "bo@example.com", "blocked": "bo@example.com"}, "blocked", "both wished for and blocked"),
    ({"blocked": "not an address"}, "blocked", "is not an email address"),
    ({"meet_teams": "x" * 61}, "meet_teams", "Keep each one under 60 characters"),
])
def test_refused_lists_say_why_next_to_the_field(db_site: Site, ana: FlaskClient, data: dict[str, str],
                                                 field: str, message: str) -> None:
    response = submit(ana, "/account/wishes", data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert (stored(db_site).wishlist, stored(db_site).blocked) == (frozenset(), frozenset())


# --- pause, leave, come back ------------------------------------------------------------------------------


def test_pausing_until_a_day_and_ending_the_pause(db_site: Site, ana: FlaskClient) -> None:
    assert submit(ana, "/account/pause", {"action": "pause", "until": "2026-12-24"},
                  form_page="/account").status_code == 303

    assert stored(db_site).paused_until == date(2026, 12, 24)
    assert "You are paused until" in page(ana, "/account")

    assert submit(ana, "/account/pause", {"action": "resume"}, form_page="/account").status_code == 303
    assert stored(db_site).paused_until is None


@pytest.mark.parametrize(("until", "message"), [
    ("2026-11-22", "Choose a day after today."),  # today (the clock's Sunday)
    ("2020-01-01", "Choose a day after today."),
    ("2028-01-01", "Choose a day within a year"),
    ("next week", "Give a date like 2026-12-24."),
    ("", "Give a date like 2026-12-24."),
])
def test_a_refused_pause_says_why(db_site: Site, ana: FlaskClient, until: str, message: str) -> None:
    response = submit(ana, "/account/pause", {"action": "pause", "until": until}, form_page="/account")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.split('id="until-error">', 1)[1].split("</p>", 1)[0]
    assert stored(db_site).paused_until is None


def test_leaving_and_coming_back(db_site: Site, ana: FlaskClient) -> None:
    assert submit(ana, "/account/participation", {"action": "leave"}, form_page="/account").status_code == 303
    assert stored(db_site).opted_out is True
    assert "You have left Coffee Chat" in page(ana, "/account")

    assert submit(ana, "/account/participation", {"action": "rejoin"}, form_page="/account").status_code == 303
    assert stored(db_site).opted_out is False


def planned_meeting_of_ana(site: Site, clock: FakeClock) -> tuple[Meeting, str]:
    """Run a coffee cycle with Ana in it: her meeting (still ahead) and her partner's address."""
    outcome = run_cycle(site.services.uow_factory, FakeCalendarProvider(), clock, site.services.program("coffee"),
                        site.services.settings)
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with site.services.uow_factory() as uow:
        [meeting] = [m for m in uow.cycles.meetings(outcome.cycle.id) if ANA in m.group.members]
    [partner] = [email for email in meeting.group.members if email != ANA]
    return meeting, partner


def partner_cancellations(site: Site, meeting: Meeting, partner: str) -> list[str]:
    with site.services.uow_factory() as uow:
        pending = uow.outbox.list(cycle_id=meeting.cycle_id, state="pending")
    return [e.key for e in pending if "/cancel/" in e.key and e.key.endswith(f"/{partner}")]


def test_issue_15_leaving_cancels_my_planned_meetings_and_tells_my_partner(
        db_site: Site, ana: FlaskClient, colleagues: list[Person], clock: FakeClock) -> None:
    meeting, partner = planned_meeting_of_ana(db_site, clock)
    response = submit(ana, "/account/participation", {"action": "leave"}, form_page="/account")
    assert response.status_code == 303
    html = page(ana, "/account")
    assert "Your planned meeting is cancelled: your partners will get an email saying so." in html
    with db_site.services.uow_factory() as uow:
        stored_meeting = uow.cycles.meeting(meeting.id or 0)
        held = [e.key for e in uow.outbox.list(cycle_id=meeting.cycle_id, state="pending")
                if e.key.endswith(f"/{partner}") and ("/remind/" in e.key or "/feedback/" in e.key)
                and "/seq-0/" in e.key]
    assert stored_meeting is not None
    assert stored_meeting.state == "cancelled"
    assert partner_cancellations(db_site, meeting, partner)
    assert held == []  # the reminder and "did you meet?" of the old meeting are no longer queued


def test_issue_15_pausing_cancels_only_the_meetings_inside_the_pause(
        db_site: Site, ana: FlaskClient, colleagues: list[Person], clock: FakeClock) -> None:
    meeting, partner = planned_meeting_of_ana(db_site, clock)
    assert meeting.slot is not None
    # A pause that ends on the meeting's day (in Ana's zone) or earlier leaves it standing ...
    first_day = meeting.slot.start.astimezone(stored(db_site).zone).date()
    assert submit(ana, "/account/pause", {"action": "pause", "until": first_day.isoformat()},
                  form_page="/account").status_code == 303
    assert partner_cancellations(db_site, meeting, partner) == []
    # ... one that covers it cancels it.
    later = first_day + timedelta(days=1)
    assert submit(ana, "/account/pause", {"action": "pause", "until": later.isoformat()},
                  form_page="/account").status_code == 303
    assert partner_cancellations(db_site, meeting, partner)
    assert "Your planned meeting is cancelled" in page(ana, "/account")


def test_an_unknown_participation_action_is_refused(db_site: Site, ana: FlaskClient) -> None:
    response = submit(ana, "/account/participation", {"action": "delete"}, form_page="/account")

    assert response.status_code == 422
    assert stored(db_site).opted_out is False


# --- calendar ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "url", "expected"), [
    ("ics", "https://calendar.example.com/private/abc.ics", CalendarSource("ics",
                                                                          "https://calendar.example.com/private/abc.ics")),
    ("ics", "webcal://calendar.example.com/a.ics", CalendarSource("ics", "https://calendar.example.com/a.ics")),
    ("caldav", "http://dav.example.com/cal/ana/", CalendarSource("caldav", "http://dav.example.com/cal/ana/")),
    ("none", "https://ignored.example.com/", CalendarSource()),
])
def test_choosing_a_calendar_source(db_site: Site, ana: FlaskClient, kind: str, url: str,
                                    expected: CalendarSource) -> None:
    response = submit(ana, "/account/calendar", {"kind": kind, "url": url})

    assert response.status_code == 303
    assert stored(db_site).calendar == expected


@pytest.mark.parametrize(("kind", "url", "message"), [
    ("ics", "/etc/passwd", "give an http:// or https:// address"),
    ("ics", "file:///etc/passwd", "give an http:// or https:// address"),
    ("ics", "calendar.ics", "give an http:// or https:// address"),
    ("ics", "ftp://example.com/a.ics", "give an http:// or https:// address"),
    ("caldav", "javascript:alert(1)", "give an http:// or https:// address"),
    ("ics", "", "enter the address of your calendar"),
    ("ics", "https://", "has no server name"),
    ("ics", "https://ana:secret@cal.example.com/a.ics", "leave the user name and password out"),
    ("ics", "http://localhost:8080/a.ics", "points at the Coffee Chat server"),
    ("ics", "http://127.0.0.1/a.ics", "points at the Coffee Chat server"),
    ("caldav", "http://169.254.169.254/latest/meta-data/", "points at the Coffee Chat server"),
    ("caldav", "http://[::1]/dav/", "points at the Coffee Chat server"),
    ("ics", "https://cal.example.com:99999/a.ics", "not a web address"),
    ("ics", "https://cal.example.com/a b.ics", "not a web address"),
    ("google", "ana.lima@example.com", "Choose one of the offered calendars."),
    ("ics", "https://cal.example.com/\x00.ics", "Remove the special characters"),
])
def test_a_refused_calendar_source_says_why_and_keeps_the_old_one(db_site: Site, ana: FlaskClient, kind: str,
                                                                  url: str, message: str) -> None:
    response = submit(ana, "/account/calendar", {"kind": kind, "url": url})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="error"' in html
    assert message.lower() in html.lower()
    assert stored(db_site).calendar == CalendarSource()


def test_check_my_calendar_shows_counts_never_titles(db_site: Site, ana: FlaskClient) -> None:
    calendar = db_site.services.calendar
    assert isinstance(calendar, FakeCalendarProvider)
    monday = datetime(2026, 11, 23, 9, tzinfo=UTC)
    calendar.busy[ANA] = [Interval(monday, monday + timedelta(hours=1)),
                          Interval(monday + timedelta(days=1), monday + timedelta(days=1, hours=2))]
    calendar.tentative[ANA] = [Interval(monday + timedelta(hours=3), monday + timedelta(hours=4))]

    response = submit(ana, "/account/calendar/check", form_page="/account/calendar")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<strong>2</strong> busy times (3.0 hours)" in html
    assert "<strong>1</strong> tentative one" in html
    assert "2026-11-22 12:00 to 2026-11-29 12:00 (Europe/London)" in html
    assert calendar.calls[-1] == [ANA]


def test_the_calendar_page_says_what_a_cycle_reads_through_the_organisations_routing(db_site: Site,
                                                                                       ana: FlaskClient) -> None:
    fake = FakeCalendarProvider()
    monday = datetime(2026, 11, 23, 9, tzinfo=UTC)
    fake.busy[ANA] = [Interval(monday, monday + timedelta(minutes=30))]
    db_site.services.calendar = CalendarRouter({"google": fake}, {"example.com": "google"})

    assert "A cycle reads your organisation's Google calendar for ana.lima@example.com." in page(
        ana, "/account/calendar")
    checked = submit(ana, "/account/calendar/check", form_page="/account/calendar").get_data(as_text=True)

    assert "Read from your organisation's Google calendar for ana.lima@example.com." in checked
    assert "<strong>1</strong> busy time (0.5 hours)" in checked
    assert fake.calls == [[ANA]]


def test_the_calendar_page_names_my_own_feed_and_no_calendar(db_site: Site, ana: FlaskClient) -> None:
    assert "A cycle reads no calendar: you are planned on your working hours alone." in page(ana, "/account/calendar")
    submit(ana, "/account/calendar", {"kind": "ics", "url": "https://cal.example.com/a.ics?x=<b>"})

    html = page(ana, "/account/calendar")

    assert "A cycle reads the calendar feed at <code>https://cal.example.com/a.ics?x=&lt;b&gt;</code>." in html
    assert 'value="https://cal.example.com/a.ics?x=&lt;b&gt;"' in html
    assert '<input checked id="kind-1" name="kind" type="radio" value="ics">' in html


def test_check_my_calendar_explains_an_error_in_plain_words(db_site: Site, ana: FlaskClient) -> None:
    calendar = db_site.services.calendar
    assert isinstance(calendar, FakeCalendarProvider)
    calendar.errors[ANA] = "the feed answered 404 Not Found <br>"

    response = submit(ana, "/account/calendar/check", form_page="/account/calendar")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "We could not read your calendar: the feed answered 404 Not Found &lt;br&gt;" in html
    assert "planned on your working hours alone" in html


def test_check_my_calendar_is_rate_limited(db_site: Site, ana: FlaskClient) -> None:
    token = csrf_from(page(ana, "/account/calendar"))

    answers = [ana.post("/account/calendar/check", data={"csrf_token": token}).status_code for _ in range(21)]

    assert answers == [200] * 20 + [429]


def test_check_my_calendar_needs_a_csrf_token(db_site: Site, ana: FlaskClient) -> None:
    calendar = db_site.services.calendar
    assert isinstance(calendar, FakeCalendarProvider)

    assert ana.post("/account/calendar/check").status_code == 400
    assert calendar.calls == []


# --- history, export, deletion ----------------------------------------------------------------------------


@pytest.fixture
def colleagues(db_site: Site, ana: FlaskClient, create_person: Callable[..., Person]) -> list[Person]:
    """Three confirmed colleagues in other teams; Bo wishes to meet Ana, Cy blocks her, Di is managed by her."""
    people = [create_person(email="bo@example.com", name="Bo Nakamura", team="Search", wishlist=frozenset({ANA})),
              create_person(email="cy@example.com", name="Cy Okafor", team="Sales", blocked=frozenset({ANA})),
              create_person(email="di@example.com", name="Di Ruiz", team="Legal", manager=ANA)]
    db_site.store(*people)
    return people


def past_meeting(site: Site, partner: str) -> Meeting:
    """A meeting of Ana and ``partner`` three weeks ago, with history, feedback, a calendar gap and an
    unmatched row of Ana."""
    start = SUNDAY_NOON - timedelta(days=20)
    with site.services.uow_factory() as uow:
        uow.programs.save(site.services.program("coffee"))
        cycle = uow.cycles.add(Cycle("coffee", Interval(start - timedelta(hours=3), start + timedelta(days=4)),
                                     seed=7, state=CycleState.DELIVERED))
        assert cycle.id is not None
        [meeting] = uow.cycles.add_meetings(cycle.id, [Meeting(Group((ANA, partner), 5.0, ("different teams",)),
                                                               Interval(start, start + timedelta(minutes=30)),
                                                               state="confirmed")])
        assert meeting.id is not None
        uow.history.record(cycle.id, "coffee", start.date(), [meeting.group])
        uow.feedback.add(meeting.id, ANA, met=True, comment="Lovely chat", rating=5)
        uow.feedback.add(meeting.id, partner, met=True, rating=2)
        uow.matches.set_rsvp(Rsvp(meeting.id, ANA, "accepted", start - timedelta(days=2)))
        uow.matches.set_rsvp(Rsvp(meeting.id, partner, "declined", start - timedelta(days=1)))
        uow.cycles.add_calendar_gaps(cycle.id, {ANA: "feed of ana.lima@example.com answered 404"})
        uow.cycles.add_unmatched(cycle.id, [Unmatched(ANA, "odd one out")])
        uow.commit()
    return meeting


def test_history_lists_my_meetings_with_partner_names_and_my_local_time(db_site: Site, ana: FlaskClient,
                                                                        colleagues: list[Person]) -> None:
    past_meeting(db_site, "di@example.com")
    submit(ana, "/account/profile", {**PROFILE, "timezone": BERLIN})

    html = page(ana, "/account/history")

    assert "Di Ruiz" in html
    assert "Mon 2026-11-02 13:00" in html  # 12:00 UTC seen in Berlin
    assert "coffee" in html
    assert "di@example.com" not in html


def test_history_of_someone_never_paired(db_site: Site, ana: FlaskClient) -> None:
    assert "You have not been paired yet." in page(ana, "/account/history")


def test_export_downloads_everything_stored_about_me(db_site: Site, ana: FlaskClient,
                                                     colleagues: list[Person]) -> None:
    meeting = past_meeting(db_site, "di@example.com")
    submit(ana, "/account/wishes", {"meet_teams": "Search", "blocked": "cy@example.com"})

    response = ana.get("/account/export")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="coffeechat-my-data.json"'
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == ANA
    assert data["profile"]["wishlist"] == ["team:Search"]
    assert data["profile"]["blocked"] == ["cy@example.com"]
    assert data["account"]["created_at"] == SUNDAY_NOON.isoformat()
    start = SUNDAY_NOON - timedelta(days=20)
    # Ana's own answers only: Di's decline and rating are Di's data, not hers.
    assert data["meetings"] == [{"id": meeting.id, "program": "coffee", "partners": ["Di Ruiz"],
                                 "start": start.isoformat(), "state": "confirmed", "location": "",
                                 "my_answer": {"answer": "accepted",
                                               "answered_at": (start - timedelta(days=2)).isoformat()}}]
    assert [(answer["meeting_id"], answer["met"], answer["rating"], answer["comment"])
            for answer in data["feedback"]] == [(meeting.id, True, 5, "Lovely chat")]


def test_delete_page_asks_for_confirmation_and_a_wrong_one_deletes_nothing(db_site: Site,
                                                                           ana: FlaskClient) -> None:
    html = page(ana, "/account/delete")
    assert 'for="confirm"' in html

    response = submit(ana, "/account/delete", {"confirm": "someone@example.com"})

    assert response.status_code == 422
    assert "This is not your email address" in response.get_data(as_text=True)
    assert db_site.person(ANA) is not None
    assert page(ana, "/account")


def dump_every_table(site: Site) -> dict[str, list[str]]:
    """Every row of every table, as text (lower case), by table."""
    with site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        session: Session = uow.session
        schema = MetaData()
        schema.reflect(bind=session.connection())
        assert {"people", "outbox_effects", "pairing_history", "sessions"} <= set(schema.tables)
        return {name: [repr(tuple(row)).lower() for row in session.execute(select(table))]
                for name, table in schema.tables.items()}


def test_deleting_my_account_cancels_my_meetings_and_leaves_my_address_nowhere(
        db_site: Site, ana: FlaskClient, colleagues: list[Person], clock: FakeClock) -> None:
    past_meeting(db_site, "di@example.com")
    outcome = run_cycle(db_site.services.uow_factory, FakeCalendarProvider(), clock,
                        db_site.services.program("coffee"), db_site.services.settings)
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with db_site.services.uow_factory() as uow:
        [upcoming] = [m for m in uow.cycles.meetings(outcome.cycle.id) if ANA in m.group.members]
    [partner] = [email for email in upcoming.group.members if email != ANA]
    assert any(ANA in repr(rows) for rows in dump_every_table(db_site).values())
    cookie = ana.get_cookie("coffeechat_session")
    assert cookie is not None

    response = submit(ana, "/account/delete", {"confirm": " Ana.Lima@Example.com "})

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    farewell = page(ana, "/")
    assert "Your account and everything stored about you are deleted." in farewell
    assert "1 upcoming meeting was cancelled and your partners told." in farewell
    # The address is nowhere, in any table.
    dump = dump_every_table(db_site)
    leftovers = {table: [row for row in rows if ANA in row] for table, rows in dump.items()}
    assert {table: rows for table, rows in leftovers.items() if rows} == {}
    # Her account and sessions went with her (nobody else here ever signed in).
    assert (dump["accounts"], dump["sessions"]) == ([], [])
    assert len(dump["people"]) == 3
    # The partner's meeting is cancelled and their CANCEL waits in the outbox.
    with db_site.services.uow_factory() as uow:
        meeting = uow.cycles.meeting(upcoming.id or 0)
        assert meeting is not None
        assert meeting.state == "cancelled"
        pending = uow.outbox.list(cycle_id=outcome.cycle.id, state="pending")
    cancels = [effect for effect in pending if effect.key.endswith(f"/{partner}") and "/seq-1/" in effect.key]
    assert cancels, [effect.key for effect in pending]
    invite = cancels[0].payload["invite"]
    assert isinstance(invite, dict)
    assert invite["method"] == "CANCEL"
    assert [attendee["email"] for attendee in invite["attendees"]] == [partner]
    # Other people keep their profiles, without Ana in them.
    bo, cy, di = (db_site.person(email) for email in ("bo@example.com", "cy@example.com", "di@example.com"))
    assert bo is not None
    assert cy is not None
    assert di is not None
    assert (bo.wishlist, cy.blocked, di.manager) == (frozenset(), frozenset(), "")
    # The old cookie is useless, and signing in finds no account.
    replayed = db_site.new_client("198.51.100.8")
    replayed.set_cookie("coffeechat_session", cookie.value)
    assert replayed.get("/account").status_code == 302
    sent = len(db_site.mailer.sent)
    assert submit(db_site.new_client("198.51.100.10"), "/sign-in", {"email": ANA}).status_code == 303
    assert len(db_site.mailer.sent) == sent + 1
    assert "/sign-in/" not in db_site.mailer.sent[-1].text


def test_deleting_needs_a_csrf_token(db_site: Site, ana: FlaskClient) -> None:
    assert ana.post("/account/delete", data={"confirm": ANA}).status_code == 400
    assert db_site.person(ANA) is not None


def test_deletion_scrubs_only_the_whole_address_from_other_peoples_emails(db_site: Site, ana: FlaskClient) -> None:
    with db_site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        uow.session.add_all([
            OutboxEffectRow(key="x/email/jimana.lima@example.com", kind="email", state="pending",
                            payload={"to": ["jimana.lima@example.com"], "text": f"You meet {ANA}.",
                                     "invite": {"attendees": [{"email": ANA, "name": "Ana"},
                                                              {"email": "jimana.lima@example.com", "name": "Jim"}]}}),
            OutboxEffectRow(key=f"x/email/{ANA}", kind="email", state="done", payload={"to": [ANA]}),
        ])
        uow.commit()

    assert submit(ana, "/account/delete", {"confirm": ANA}).status_code == 303

    with db_site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        rows = uow.session.execute(select(OutboxEffectRow.key, OutboxEffectRow.payload)).all()
    assert [(key, payload) for key, payload in rows] == [
        ("x/email/jimana.lima@example.com",
         {"to": ["jimana.lima@example.com"], "text": "You meet former-participant@coffeechat.invalid.",
          "invite": {"attendees": [{"email": "jimana.lima@example.com", "name": "Jim"}]}})]

