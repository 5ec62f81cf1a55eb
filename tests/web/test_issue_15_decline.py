"""Issue 15: "I can't make it" asks first and offers another time before it cancels; a decline can be taken back
while nothing it set in motion has been sent; "another time" is shown before the meeting moves, and is never
earlier than the current time. Through the site (signed in, and through the emails' signed links) and the
services below it, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from scheduler.accounts import profile
from scheduler.errors import InputError
from scheduler.model import Person
from scheduler.planning.matches import move_meeting, propose_another_time, respond, undo_decline
from tests.web.conftest import Site, csrf_from, submit
from tests.web.test_match_pages import Match, deliver, email_to, html, links_in, plan_pair, rsvps, stored
from tests.web.test_sessions import sign_in


@pytest.fixture
def match(db_site: Site, create_person: Callable[..., Person]) -> Match:
    return plan_pair(db_site, create_person)


def signed_in(site: Site, email: str) -> FlaskClient:
    browser = site.new_client()
    sign_in(site, browser, email)
    return browser


def pending_keys(site: Site, match: Match, kind: str) -> list[str]:
    with site.services.uow_factory() as uow:
        return [e.key for e in uow.outbox.list(cycle_id=match.meeting.cycle_id, state="pending")
                if f"/{kind}/" in e.key]


def test_issue_15_i_cant_make_it_asks_first_and_offers_another_time_before_declining(
        db_site: Site, match: Match) -> None:
    ben = signed_in(db_site, "ben@example.com")

    asked = submit(ben, f"/matches/{match.id}/decline", form_page=f"/matches/{match.id}")

    assert asked.status_code == 200
    page = html(asked)
    assert "Declining cancels the meeting: Ana López will get an email saying so." in page
    assert "You can undo it until that email is sent." in page
    # Another time is offered first, then the decline itself.
    assert page.index("Ask for another time") < page.index("Yes, decline")
    assert f'action="/matches/{match.id}/reschedule"' in page
    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state != "cancelled"


def test_issue_15_a_decline_is_undone_while_the_cancellation_is_unsent(db_site: Site, match: Match) -> None:
    ben = signed_in(db_site, "ben@example.com")
    submit(ben, f"/matches/{match.id}/decline", {"confirmed": "yes"}, form_page=f"/matches/{match.id}")
    assert stored(db_site, match.id).state == "cancelled"
    assert pending_keys(db_site, match, "cancel")
    assert pending_keys(db_site, match, "remind") == []
    page = html(ben.get(f"/matches/{match.id}"))
    assert "Undo my decline" in page
    # The flash says what is true: the cancellation waits; it has not been sent.
    assert "will get an email saying so" in page

    done = submit(ben, f"/matches/{match.id}/undo", form_page=f"/matches/{match.id}")

    assert done.status_code == 303
    assert "Your decline is taken back" in html(ben.get(f"/matches/{match.id}"))
    meeting = stored(db_site, match.id)
    assert meeting.state == "proposed"
    assert meeting.slot == match.meeting.slot
    assert rsvps(db_site, match.id) == []
    assert pending_keys(db_site, match, "cancel") == []
    # The reminders and "did you meet?" requests the cancellation had superseded are queued again.
    assert len(pending_keys(db_site, match, "remind")) == 2
    assert len(pending_keys(db_site, match, "feedback")) == 2
    assert [m for m in deliver(db_site) if m.subject.startswith("Cancelled")] == []


def test_issue_15_a_decline_cannot_be_undone_once_the_cancellation_went_out(
        db_site: Site, match: Match) -> None:
    ben = signed_in(db_site, "ben@example.com")
    submit(ben, f"/matches/{match.id}/decline", {"confirmed": "yes"}, form_page=f"/matches/{match.id}")
    assert [m for m in deliver(db_site) if m.subject.startswith("Cancelled")]
    assert "Undo my decline" not in html(ben.get(f"/matches/{match.id}"))

    submit(ben, f"/matches/{match.id}/undo", form_page=f"/matches/{match.id}")

    assert "cannot be taken back" in html(ben.get(f"/matches/{match.id}"))
    assert stored(db_site, match.id).state == "cancelled"


def test_issue_15_the_decline_link_offers_another_time_declines_and_can_be_undone(
        db_site: Site, match: Match) -> None:
    path = links_in(email_to(db_site, "ben@example.com", "Coffee chat"))["decline"]
    browser = db_site.new_client()

    page = html(browser.get(path))

    assert "Ask for another time" in page
    assert "Yes, decline" in page
    reschedule = re.search(r'<form method="post" action="([^"]+)">', page)
    assert reschedule is not None
    assert "/reschedule/" in reschedule.group(1)
    declined = browser.post(path, data={"csrf_token": csrf_from(page)})
    assert declined.status_code == 303
    assert stored(db_site, match.id).state == "cancelled"
    again = html(browser.get(path))
    assert "You said you cannot make it" in again
    assert "Undo my decline" in again

    browser.post(path, data={"undo": "yes", "csrf_token": csrf_from(again)})

    assert stored(db_site, match.id).state == "proposed"
    assert rsvps(db_site, match.id) == []


def test_issue_15_another_time_is_shown_before_the_meeting_moves_and_comes_after_the_current_one(
        db_site: Site, match: Match) -> None:
    assert match.meeting.slot is not None
    ana = signed_in(db_site, "ana@example.com")

    offer = submit(ana, f"/matches/{match.id}/reschedule", form_page=f"/matches/{match.id}")

    assert offer.status_code == 200
    assert stored(db_site, match.id) == match.meeting  # nothing moved yet
    start = re.search(r'name="start" value="([^"]+)"', html(offer))
    assert start is not None
    assert "Move it to this time" in html(offer)
    # Everyone was free all week from now: the earliest common time would come before the current one.
    moved = ana.post(f"/matches/{match.id}/reschedule", data={"start": start.group(1),
                                                             "csrf_token": csrf_from(html(offer))})
    assert moved.status_code == 303
    meeting = stored(db_site, match.id)
    assert meeting.slot is not None
    assert meeting.slot.start >= match.meeting.slot.end


def test_issue_15_a_time_before_the_current_one_or_unreadable_is_refused(db_site: Site, match: Match) -> None:
    assert match.meeting.slot is not None
    services = db_site.services
    with pytest.raises(InputError, match="comes after the current one"):
        move_meeting(services.uow_factory, services.calendar, services.clock, services.settings, match.id,
                     "ana@example.com", match.meeting.slot.start - timedelta(hours=2))
    ana = signed_in(db_site, "ana@example.com")
    token = csrf_from(html(ana.get(f"/matches/{match.id}")))
    answer = ana.post(f"/matches/{match.id}/reschedule", data={"start": "next tuesday", "csrf_token": token})
    assert answer.status_code == 303
    assert "could not be read" in html(ana.get(f"/matches/{match.id}"))
    assert stored(db_site, match.id) == match.meeting


def test_issue_15_the_proposal_never_precedes_the_current_time(db_site: Site, match: Match) -> None:
    assert match.meeting.slot is not None
    services = db_site.services
    slot = propose_another_time(services.uow_factory, services.calendar, services.clock, services.settings,
                                match.id, "ben@example.com")
    assert slot.start >= match.meeting.slot.end
    assert slot.start - match.meeting.slot.end < timedelta(days=2)  # the next free time, not one far away


def test_issue_15_a_meeting_cancelled_because_someone_left_is_not_brought_back_by_an_undo(
        db_site: Site, create_person: Callable[..., Person]) -> None:
    cy = create_person(email="cy@example.com", name="Cy Okafor", team="Legal", department="Legal")
    db_site.store(cy)
    match = plan_pair(db_site, create_person)  # Ana, Ben and Cy: a trio
    assert len(match.meeting.group.members) == 3
    services = db_site.services
    respond(services.uow_factory, services.clock, services.settings, match.id, "ana@example.com", "declined")
    assert stored(db_site, match.id).state != "cancelled"  # two are still in
    profile.set_opted_out(services.uow_factory, services.clock, services.settings, "cy@example.com", True)
    assert stored(db_site, match.id).state == "cancelled"

    with pytest.raises(InputError, match="called off for another reason"):
        undo_decline(services.uow_factory, services.clock, match.id, "ana@example.com")
    assert stored(db_site, match.id).state == "cancelled"


def test_issue_15_in_a_trio_undo_takes_the_decline_back_and_the_meeting_never_stopped(
        db_site: Site, create_person: Callable[..., Person]) -> None:
    db_site.store(create_person(email="cy@example.com", name="Cy Okafor", team="Legal", department="Legal"))
    match = plan_pair(db_site, create_person)
    services = db_site.services
    respond(services.uow_factory, services.clock, services.settings, match.id, "ana@example.com", "declined")

    undo_decline(services.uow_factory, services.clock, match.id, "ana@example.com")

    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state == "proposed"
    with pytest.raises(InputError, match="not declined"):
        undo_decline(services.uow_factory, services.clock, match.id, "ana@example.com")
