"""The match services and their storage, below the web pages: signed links, answers and ratings on SQLite and
PostgreSQL, migration 0008 up and down, decline in a trio, finding the next common slot, and snapshots of the
emails with their one-click links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from scheduler.delivery import emails
from scheduler.errors import InputError, NotFoundError, ProviderUnavailable
from scheduler.model import Attendee, Busy, Cycle, FeedbackAnswer, Group, Interval, Meeting, Person, Program, Rsvp
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.links import FEEDBACK_ACTIONS, UNSCHEDULED_ACTIONS, MatchLinkError, MatchLinks
from scheduler.planning.matches import (
    CalendarsUnreadable,
    NoCommonSlot,
    ask_for_another_time,
    find_next_slot,
    load_match,
    record_feedback,
    respond,
)
from scheduler.planning.meetings import cancel_meeting
from scheduler.storage.migrate import downgrade_database, upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock
from tests.unit.test_emails import ANA, BEN, PROGRAM, SENDER, STAMP, announce, assert_snapshot, create_meeting
from web.urls import WebUrls

KEY = "a-fixed-key-for-snapshots-0123456789"
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
SLOT = Interval(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), datetime(2026, 11, 24, 10, 30, tzinfo=UTC))
SETTINGS = PlanSettings(organizer=Attendee("coffee@example.com", "Coffee Chat"), sender=SENDER,
                        site=WebUrls("https://coffee.example.com"), links=MatchLinks(KEY))
UowFactory = Callable[[], SqlAlchemyUnitOfWork]


def store_meeting(new_uow: UowFactory, people: Sequence[Person], slot: Interval | None = SLOT,
                  program: Program | None = None) -> Meeting:
    """Store ``people``, a program and a cycle with one meeting of them; return the stored meeting."""
    program = program or Program("coffee")
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.programs.save(program)
        cycle = uow.cycles.add(Cycle(program.name, Interval(MONDAY, MONDAY + timedelta(days=5)), seed=1))
        assert cycle.id is not None
        [meeting] = uow.cycles.add_meetings(cycle.id, [Meeting(
            Group(tuple(p.email for p in people), 1.0, ("different teams",)), slot, "Video call")])
        uow.commit()
    return meeting


def meeting_id(meeting: Meeting) -> int:
    assert meeting.id is not None
    return meeting.id


# --- signed links ------------------------------------------------------------------------------------------------


def test_links_are_deterministic_and_bound_to_action_meeting_and_key() -> None:
    links = MatchLinks(KEY)
    meeting = create_meeting()
    token = links.token(meeting, "ana@example.com", "accept", STAMP)

    assert token == MatchLinks(KEY).token(meeting, "ana@example.com", "accept", STAMP)
    assert links.load("accept", token, 42, STAMP) == "ana@example.com"
    for action in ("decline", "reschedule", "met", "not-met"):
        with pytest.raises(MatchLinkError) as refused:
            links.load(action, token, 42, STAMP)
        assert refused.value.reason == "invalid"
    with pytest.raises(MatchLinkError) as other_key:
        MatchLinks("another-key-entirely-0123456789").load("accept", token, 42, STAMP)
    assert other_key.value.reason == "invalid"
    with pytest.raises(MatchLinkError) as other_meeting:
        links.load("accept", token, 43, STAMP)
    assert other_meeting.value.reason == "other-meeting"
    with pytest.raises(MatchLinkError, match="not valid"):
        links.load("accept", "x" * 2000, 42, STAMP)


def test_links_expire_a_week_after_the_meeting_or_three_weeks_after_planning_without_a_time() -> None:
    links = MatchLinks(KEY)
    token = links.token(create_meeting(), "ana@example.com", "met", STAMP)
    end = create_meeting().slot.end  # type: ignore[union-attr]
    assert links.load("met", token, 42, end + timedelta(days=7, seconds=-1)) == "ana@example.com"
    with pytest.raises(MatchLinkError) as expired:
        links.load("met", token, 42, end + timedelta(days=7))
    assert expired.value.reason == "expired"

    assert MatchLinks.expiry(create_meeting(slot=None), STAMP) == STAMP + timedelta(days=21)


def test_links_need_a_key_a_stored_meeting_and_a_known_action() -> None:
    with pytest.raises(ValueError, match="secret key"):
        MatchLinks("")
    with pytest.raises(ValueError, match="stored"):
        MatchLinks(KEY).token(create_meeting(id=None), "ana@example.com", "accept", STAMP)
    with pytest.raises(ValueError, match="not a match action"):
        MatchLinks(KEY).token(create_meeting(), "ana@example.com", "delete", STAMP)


# --- the emails with links (snapshots) ---------------------------------------------------------------------------


def test_announcement_with_links_snapshots() -> None:
    meeting = create_meeting()
    actions = SETTINGS.answer_links(meeting, ANA.email, ("accept", "decline", "reschedule"), STAMP)
    message = announce(meeting, [ANA, BEN], ANA, actions=actions)

    for body in (message.text, message.html):
        assert actions["accept"] in body
        assert actions["decline"] in body
        assert actions["reschedule"] in body
        assert "https://coffee.example.com/matches/42" in body
    assert_snapshot("announcement_links.txt", message.text)
    assert_snapshot("announcement_links.html", message.html)


def test_announcement_without_a_time_offers_to_find_one() -> None:
    meeting = create_meeting(slot=None)
    actions = SETTINGS.answer_links(meeting, BEN.email, UNSCHEDULED_ACTIONS, STAMP)
    message = announce(meeting, [ANA, BEN], BEN, actions=actions)

    assert "Find a common time" in message.text
    assert "Find a common time" in message.html
    assert "Will you be there" not in message.text
    assert actions["reschedule"] in message.text
    assert actions["decline"] in message.html


def test_feedback_request_with_links_snapshots() -> None:
    meeting = create_meeting()
    actions = SETTINGS.answer_links(meeting, BEN.email, FEEDBACK_ACTIONS, STAMP)
    message = emails.feedback_request(meeting, [ANA, BEN], BEN, PROGRAM, sender=SENDER,
                                      site=WebUrls("https://coffee.example.com/"), key="cycle-7/meeting-42/feedback",
                                      actions=actions)

    assert actions["met"] in message.text
    assert actions["not-met"] in message.html
    assert_snapshot("feedback_links.txt", message.text)
    assert_snapshot("feedback_links.html", message.html)
    with pytest.raises(ValueError, match="both"):
        emails.feedback_request(meeting, [ANA, BEN], BEN, PROGRAM, sender=SENDER, site=WebUrls("https://x/"), key="k",
                                actions={"met": actions["met"]})


def test_settings_without_links_make_no_links() -> None:
    plain = PlanSettings(organizer=SETTINGS.organizer, sender=SENDER, site=SETTINGS.site)
    assert plain.answer_links(create_meeting(), ANA.email, FEEDBACK_ACTIONS, STAMP) == {}


# --- storage: migration 0008 and the repositories ------------------------------------------------------------------


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migration_0008_adds_answers_and_ratings_and_its_downgrade_drops_only_them(
        database_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    upgrade_database(database_url)
    meeting = store_meeting(new_uow, [create_person(), create_person()])
    with new_uow() as uow:
        uow.matches.set_rsvp(Rsvp(meeting_id(meeting), meeting.group.members[0], "accepted", SUNDAY_NOON))
        uow.feedback.add(meeting_id(meeting), meeting.group.members[0], True, "good", rating=5)
        uow.commit()

    assert downgrade_database(database_url, "0007") == "0007"
    tables = table_names(database_url)
    assert "match_rsvps" not in tables
    assert "feedback_ratings" not in tables
    assert {"feedback", "meetings"} <= tables

    upgrade_database(database_url)
    assert {"match_rsvps", "feedback_ratings"} <= table_names(database_url)
    with new_uow() as uow:
        assert uow.matches.rsvps(meeting_id(meeting)) == []
        [answer] = uow.feedback.answers(meeting_id(meeting))
    assert (answer.met, answer.comment, answer.rating) == (True, "good", None)


def test_rsvps_replace_earlier_answers_and_go_with_their_meeting(
        migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    meeting = store_meeting(new_uow, [create_person(), create_person()])
    first, second = meeting.group.members
    with new_uow() as uow:
        uow.matches.set_rsvp(Rsvp(meeting_id(meeting), second, "declined", SUNDAY_NOON))
        uow.matches.set_rsvp(Rsvp(meeting_id(meeting), first.upper(), "accepted", SUNDAY_NOON))
        uow.matches.set_rsvp(Rsvp(meeting_id(meeting), second, "accepted", SUNDAY_NOON + timedelta(hours=1)))
        uow.commit()
    with new_uow() as uow:
        assert uow.matches.rsvps(meeting_id(meeting)) == [
            Rsvp(meeting_id(meeting), first, "accepted", SUNDAY_NOON),
            Rsvp(meeting_id(meeting), second, "accepted", SUNDAY_NOON + timedelta(hours=1))]
        with pytest.raises(NotFoundError):
            uow.matches.set_rsvp(Rsvp(meeting_id(meeting) + 99, first, "accepted", SUNDAY_NOON))
        with pytest.raises(NotFoundError):
            uow.matches.set_rsvp(Rsvp(meeting_id(meeting), "nobody@example.com", "accepted", SUNDAY_NOON))
        with pytest.raises(ValueError, match="not an answer"):
            uow.matches.set_rsvp(Rsvp(meeting_id(meeting), first, "maybe", SUNDAY_NOON))
        assert uow.matches.clear_rsvps(meeting_id(meeting)) == 2
        assert uow.matches.rsvps(meeting_id(meeting)) == []
        uow.rollback()
        # A deleted person's answers go with them (the address is kept nowhere else here).
        uow.session.execute(text("DELETE FROM people WHERE email = :email"), {"email": second})
        uow.commit()
    with new_uow() as uow:
        assert [r.email for r in uow.matches.rsvps(meeting_id(meeting))] == [first]
        uow.session.execute(text("DELETE FROM cycles"))
        uow.commit()
    with new_uow() as uow:
        assert uow.matches.rsvps(meeting_id(meeting)) == []


def test_feedback_ratings_are_optional_replaced_and_checked(
        migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    meeting = store_meeting(new_uow, [create_person(), create_person()])
    first, second = meeting.group.members
    with new_uow() as uow:
        uow.feedback.add(meeting_id(meeting), first, True, "lovely", rating=4)
        uow.feedback.add(meeting_id(meeting), second, False)
        uow.commit()
    with new_uow() as uow:
        answers = [(a.email, a.met, a.comment, a.rating) for a in uow.feedback.answers(meeting_id(meeting))]
        assert answers == [(first, True, "lovely", 4), (second, False, "", None)]
        uow.feedback.add(meeting_id(meeting), first, True, "lovely", rating=2)
        uow.feedback.add(meeting_id(meeting), second, True, rating=5)
        uow.commit()
    with new_uow() as uow:
        assert [a.rating for a in uow.feedback.answers(meeting_id(meeting))] == [2, 5]
        uow.feedback.add(meeting_id(meeting), first, True)  # an answer without a rating drops the earlier one
        assert [a.rating for a in uow.feedback.answers(meeting_id(meeting))] == [None, 5]
        for bad in (0, 6):
            with pytest.raises(ValueError, match="1 to 5"):
                uow.feedback.add(meeting_id(meeting), first, True, rating=bad)
        with pytest.raises(NotFoundError):
            uow.feedback.add(meeting_id(meeting) + 99, first, True, rating=3)


# --- the services -------------------------------------------------------------------------------------------------


def test_a_decline_in_a_trio_keeps_the_meeting_until_only_one_is_left(
        migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    people = [create_person(), create_person(), create_person()]
    meeting = store_meeting(new_uow, people)
    clock = FakeClock(SUNDAY_NOON)

    first = respond(new_uow, clock, SETTINGS, meeting_id(meeting), people[0].email, "declined")
    assert (first.called_off, first.cancelled) == (False, None)
    assert load_match(new_uow, meeting_id(meeting), people[1].email, clock.now()).cancelled is False

    accepted = respond(new_uow, clock, SETTINGS, meeting_id(meeting), people[1].email, "accepted")
    assert accepted.cancelled is None
    second = respond(new_uow, clock, SETTINGS, meeting_id(meeting), people[2].email, "declined")

    assert second.called_off
    assert second.cancelled is not None
    assert second.cancelled.meeting.state == "cancelled"
    page = load_match(new_uow, meeting_id(meeting), people[1].email, clock.now())
    assert page.cancelled
    assert page.rsvps == {people[0].email: "declined", people[1].email: "accepted", people[2].email: "declined"}
    with pytest.raises(InputError, match="cancelled"):
        respond(new_uow, clock, SETTINGS, meeting_id(meeting), people[1].email, "accepted")


def test_a_decline_that_another_decline_cancelled_first_says_the_meeting_is_called_off(
        migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    people = [create_person(), create_person()]
    meeting = store_meeting(new_uow, people)
    clock = FakeClock(SUNDAY_NOON)
    with new_uow() as uow:  # the other member's decline is stored; their cancellation is on its way
        uow.matches.set_rsvp(Rsvp(meeting_id(meeting), people[0].email, "declined", clock.now()))
        uow.commit()
    opened: list[int] = []

    def other_cancels_first() -> SqlAlchemyUnitOfWork:
        # respond's second transaction is its cancellation: the other member's lands just before it.
        if len(opened) == 1:
            cancel_meeting(new_uow, clock, SETTINGS, meeting_id(meeting), reason="cannot make it")
        opened.append(1)
        return new_uow()

    answer = respond(other_cancels_first, clock, SETTINGS, meeting_id(meeting), people[1].email, "declined")

    assert (answer.answer, answer.called_off, answer.cancelled) == ("declined", True, None)
    assert load_match(new_uow, meeting_id(meeting), people[1].email, clock.now()).cancelled


def test_answers_are_checked(migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    people = [create_person(), create_person()]
    meeting = store_meeting(new_uow, people)
    clock = FakeClock(SUNDAY_NOON)

    with pytest.raises(InputError, match="not an answer"):
        respond(new_uow, clock, SETTINGS, meeting_id(meeting), people[0].email, "maybe")
    with pytest.raises(NotFoundError):
        respond(new_uow, clock, SETTINGS, meeting_id(meeting), "stranger@example.com", "accepted")
    with pytest.raises(InputError, match="not happened yet"):
        record_feedback(new_uow, clock, meeting_id(meeting), people[0].email, met=True)
    clock.current = SLOT.end
    for rating, comment, where in ((0, "", "rating"), (6, "", "rating"), (None, "a\x00b", "comment"),
                                   (None, "x" * 1001, "comment")):
        with pytest.raises(InputError) as refused:
            record_feedback(new_uow, clock, meeting_id(meeting), people[0].email, met=True, rating=rating,
                            comment=comment)
        assert refused.value.where == where
    answer = record_feedback(new_uow, clock, meeting_id(meeting), people[0].email, met=False, rating=1,
                             comment="  line one\r\nline two  ")
    assert answer == FeedbackAnswer(meeting_id(meeting), people[0].email, False, "line one\nline two", 1, SLOT.end)


def test_the_next_common_slot_is_the_earliest_time_everyone_is_free(create_person: Callable[..., Person]) -> None:
    ana = create_person(email="ana@example.com")
    ben = create_person(email="ben@example.com", timezone="America/New_York")
    now = datetime(2026, 11, 24, 9, 7, tzinfo=UTC)  # a Tuesday
    program = Program("coffee")
    provider = FakeCalendarProvider(busy={"ana@example.com": [Interval(now, now + timedelta(days=1))]})

    slot = find_next_slot(provider, [ana, ben], program, SETTINGS, now, booked={})

    # Ana is free from Wednesday 09:07 UTC; the first time both are in working hours (09:00-17:00 each) is when
    # New York's day starts, 14:00 UTC.
    assert slot == Interval(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), datetime(2026, 11, 25, 14, 30, tzinfo=UTC))


def test_no_common_slot_or_an_unreadable_calendar_is_said_plainly(create_person: Callable[..., Person]) -> None:
    ana, ben = create_person(name="Ana"), create_person(name="Ben")
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    program = Program("coffee")
    always = [Interval(now - timedelta(days=1), now + timedelta(days=30))]

    with pytest.raises(NoCommonSlot, match="no common free time in the next 7 days"):
        find_next_slot(FakeCalendarProvider(busy={ana.email: always}), [ana, ben], program, SETTINGS, now,
                       booked={})
    with pytest.raises(NoCommonSlot):
        find_next_slot(FakeCalendarProvider(), [ana, ben], program, SETTINGS, now, booked={ben.email: always})
    with pytest.raises(CalendarsUnreadable, match="calendar of Ben cannot be read"):
        find_next_slot(FakeCalendarProvider(errors={ben.email: "mailbox not found"}), [ana, ben], program,
                       SETTINGS, now, booked={})

    class Down:
        def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
            raise ProviderUnavailable("google is down")

    with pytest.raises(CalendarsUnreadable):
        find_next_slot(Down(), [ana, ben], program, SETTINGS, now, booked={})


def test_another_time_for_a_meeting_without_one_books_the_next_common_slot(
        migrated_url: str, new_uow: UowFactory, create_person: Callable[..., Person]) -> None:
    people = [create_person(), create_person()]
    meeting = store_meeting(new_uow, people, slot=None)
    clock = FakeClock(SUNDAY_NOON)

    change = ask_for_another_time(new_uow, FakeCalendarProvider(), clock, SETTINGS, meeting_id(meeting),
                                  people[0].email)

    # Sunday noon plus the program's 24 hours' notice: Monday noon, inside both London working days.
    assert Program("coffee").min_notice_hours == 24
    assert change.meeting.slot == Interval(datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
                                           datetime(2026, 11, 23, 12, 30, tzinfo=UTC))
    assert change.meeting.sequence == 1
    kinds = sorted(effect.key.split("/")[3] for effect in change.planned)
    # No reminders: the meeting is less than a day away.
    assert kinds == ["feedback", "feedback", "reschedule", "reschedule"]
