"""The match page and the signed links of the match emails: what a GET shows, what only a POST with a CSRF token
changes, who may see a match (its members; anyone else gets 404), and the error page of every bad link.

A real cycle plans each match (``run_cycle`` with the site's settings, so the emails carry signed links), and the
outbox relay delivers its emails to the site's ``FakeMailer``. Tests that depend on the database run on SQLite
and on PostgreSQL (``db_site``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from scheduler.delivery.outbox import deliver_due
from scheduler.model import EmailMessage, FeedbackAnswer, Interval, Meeting, Person, Rsvp
from scheduler.planning.run import run_cycle
from tests.fakes import FakeClock
from tests.web.conftest import Site, csrf_from, submit, use
from tests.web.test_sessions import sign_in
from web.urls import WebUrls

MATCH_LINK = re.compile(r"https://coffee\.example\.com(/matches/(\d+)/([a-z-]+)/([A-Za-z0-9._-]+))")


@dataclass
class Match:
    """A planned pair: the stored meeting and its two members."""

    meeting: Meeting
    ana: Person
    ben: Person

    @property
    def id(self) -> int:
        assert self.meeting.id is not None
        return self.meeting.id


def deliver(site: Site) -> list[EmailMessage]:
    """Run the outbox relay once; return the emails it sent."""
    before = len(site.mailer.sent)
    services = site.services
    deliver_due(services.uow_factory, services.performers(site.mailer), services.clock, services.retry_policy)
    return site.mailer.sent[before:]


def plan_pair(site: Site, create_person: Callable[..., Person]) -> Match:
    """Store Ana (London) and Ben (New York), run a cycle of the site's program, deliver the announcements."""
    ana = create_person(email="ana@example.com", name="Ana López", team="Payments")
    ben = create_person(email="ben@example.com", name="Ben Okafor", team="Field Sales", department="Sales",
                        office="New York", timezone="America/New_York")
    site.store(ana, ben)
    services = site.services
    outcome = run_cycle(services.uow_factory, services.calendar, services.clock, services.config.programs[0],
                        services.settings)
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with services.uow_factory() as uow:
        meetings = uow.cycles.meetings(outcome.cycle.id)
    assert len(meetings) == 1
    assert meetings[0].slot is not None
    deliver(site)
    return Match(meetings[0], ana, ben)


def links_in(message: EmailMessage) -> dict[str, str]:
    """The signed links of an email by action, as site paths."""
    return {found.group(3): found.group(1) for found in MATCH_LINK.finditer(message.text)}


def email_to(site: Site, address: str, subject_start: str) -> EmailMessage:
    for message in reversed(site.mailer.sent):
        if address in message.to[0] and message.subject.startswith(subject_start):
            return message
    raise AssertionError(f"no email to {address} starting {subject_start!r}")


def rsvps(site: Site, meeting_id: int) -> list[Rsvp]:
    with site.services.uow_factory() as uow:
        return uow.matches.rsvps(meeting_id)


def feedback(site: Site, meeting_id: int) -> list[FeedbackAnswer]:
    with site.services.uow_factory() as uow:
        return uow.feedback.answers(meeting_id)


def stored(site: Site, meeting_id: int) -> Meeting:
    with site.services.uow_factory() as uow:
        meeting = uow.cycles.meeting(meeting_id)
    assert meeting is not None
    return meeting


def html(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def match(db_site: Site, create_person: Callable[..., Person]) -> Match:
    return plan_pair(db_site, create_person)


# --- the links in the emails -----------------------------------------------------------------------------------


def test_announcement_carries_a_signed_link_per_answer(db_site: Site, match: Match) -> None:
    to_ana = links_in(email_to(db_site, "ana@example.com", "Coffee chat with Ben"))
    to_ben = links_in(email_to(db_site, "ben@example.com", "Coffee chat with Ana"))

    assert set(to_ana) == set(to_ben) == {"accept", "decline", "reschedule"}
    assert all(path.startswith(f"/matches/{match.id}/") for path in (*to_ana.values(), *to_ben.values()))
    # One token per action and per reader: none opens another's answer.
    tokens = {path.rsplit("/", 1)[1] for path in (*to_ana.values(), *to_ben.values())}
    assert len(tokens) == 6
    # Deterministic: the same key signs the same link again.
    links = db_site.services.settings.links
    assert links is not None
    issued = db_site.services.clock.now()
    assert links.url(WebUrls("https://x"), match.meeting, "ana@example.com", "accept", issued) == \
        links.url(WebUrls("https://x"), match.meeting, "ana@example.com", "accept", issued)


def test_opening_a_link_changes_nothing_and_its_button_accepts(db_site: Site, match: Match) -> None:
    path = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))["accept"]
    browser = db_site.new_client()

    for _ in range(2):  # a mail scanner, then the person
        page = browser.get(path)
        assert page.status_code == 200
        assert browser.head(path).status_code == 200
    body = html(page)
    assert "Ben Okafor" in body
    assert "Yes, I&#39;ll be there" in body
    # The time in the reader's own zone, and why they were paired.
    assert "(Europe/London)" in body
    assert all(reason.replace("'", "&#39;") in body for reason in match.meeting.group.reasons)
    assert rsvps(db_site, match.id) == []

    done = browser.post(path, data={"csrf_token": csrf_from(body)})

    assert done.status_code == 303
    assert [(r.email, r.answer) for r in rsvps(db_site, match.id)] == [("ana@example.com", "accepted")]
    assert "shows your partners that you will be there" in html(browser.get(path))


def test_a_link_without_its_csrf_token_changes_nothing(db_site: Site, match: Match) -> None:
    path = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))["decline"]
    browser = db_site.new_client()
    browser.get(path)

    refused = browser.post(path, data={})
    forged = browser.post(path, data={"csrf_token": "forged"})

    assert refused.status_code == forged.status_code == 400
    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state != "cancelled"


def _tampered(path: str) -> str:
    head, token = path.rsplit("/", 1)
    payload, _, signature = token.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}/{payload}.{flipped}"


@pytest.mark.parametrize("case", ["wrong action", "tampered", "payload swapped", "cut short", "unknown action"])
def test_bad_links_show_an_error_page_and_change_nothing(db_site: Site, match: Match, case: str) -> None:
    links = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))
    accept, decline = links["accept"], links["decline"]
    path = {
        "wrong action": accept.replace("/accept/", "/decline/"),  # an accept token offered as a decline
        "tampered": _tampered(accept),
        # Ben's signature on Ana's payload.
        "payload swapped": accept.rsplit(".", 1)[0] + "." + links_in(email_to(
            db_site, "ben@example.com", "Coffee chat"))["accept"].rsplit(".", 1)[1],
        "cut short": decline[:-6],
        "unknown action": accept.replace("/accept/", "/delete/"),
    }[case]
    browser = db_site.new_client()
    token_page = browser.get("/sign-in")

    shown = browser.get(path)
    posted = browser.post(path, data={"csrf_token": csrf_from(html(token_page))})

    for response in (shown, posted):
        assert response.status_code == 400
        assert "This link cannot be used" in html(response)
        assert "not valid" in html(response)
        assert "Nothing was changed" in html(response)
    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state != "cancelled"


def test_a_link_for_another_match_is_refused(db_site: Site, match: Match, create_person: Callable[..., Person],
                                             clock: FakeClock) -> None:
    path = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))["decline"]
    other = path.replace(f"/matches/{match.id}/", f"/matches/{match.id + 1}/")
    browser = db_site.new_client()

    shown = browser.get(other)
    posted = browser.post(other, data={"csrf_token": csrf_from(html(browser.get("/sign-in")))})

    for response in (shown, posted):
        assert response.status_code == 400
        assert "belongs to another match" in html(response)
    assert rsvps(db_site, match.id) == []


def test_links_expire_a_week_after_the_meeting(db_site: Site, match: Match, clock: FakeClock) -> None:
    path = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))["accept"]
    assert match.meeting.slot is not None
    browser = db_site.new_client()
    clock.current = match.meeting.slot.end + timedelta(days=7) - timedelta(minutes=1)
    assert browser.get(path).status_code == 200
    token = csrf_from(html(browser.get("/sign-in")))

    clock.current += timedelta(minutes=1)
    shown = browser.get(path)
    posted = browser.post(path, data={"csrf_token": token})

    for response in (shown, posted):
        assert response.status_code == 410
        assert "expired" in html(response)
    assert rsvps(db_site, match.id) == []


def test_without_a_secret_key_emails_link_only_to_the_plain_match_page(
        db_site: Site, create_person: Callable[..., Person], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COFFEECHAT_SECRET_KEY")
    assert db_site.services.settings.links is None

    plan_pair(db_site, create_person)

    announcement = email_to(db_site, "ana@example.com", "Coffee chat")
    assert links_in(announcement) == {}
    assert re.search(r"https://coffee\.example\.com/matches/\d+\n", announcement.text)


# --- the match page, signed in -----------------------------------------------------------------------------------


def test_a_member_sees_the_match_in_their_own_zone(db_site: Site, match: Match) -> None:
    browser = db_site.new_client()
    sign_in(db_site, browser, "ben@example.com")

    page = browser.get(f"/matches/{match.id}")

    assert page.status_code == 200
    body = html(page)
    assert "Ana López" in body
    assert "(America/New_York)" in body
    assert "For them:" in body
    assert "Video call" in body or "In person" in body
    assert "Has not answered yet" in body


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(db_site: Site, match: Match) -> None:
    response = db_site.new_client().get(f"/matches/{match.id}")

    assert response.status_code == 302
    assert "/sign-in?next=" in response.headers["Location"]


def test_someone_else_gets_404_for_a_match_that_exists_and_one_that_does_not(
        db_site: Site, match: Match, create_person: Callable[..., Person]) -> None:
    db_site.store(create_person(email="cleo@example.com", name="Cleo", team="Legal"))
    browser = db_site.new_client()
    sign_in(db_site, browser, "cleo@example.com")
    token = csrf_from(html(browser.get("/account")))

    for meeting_id in (match.id, match.id + 100):
        assert browser.get(f"/matches/{meeting_id}").status_code == 404
        for action in ("accept", "decline", "reschedule", "feedback"):
            answer = browser.post(f"/matches/{meeting_id}/{action}", data={"csrf_token": token, "met": "yes"})
            assert answer.status_code == 404
    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state != "cancelled"


def test_every_button_needs_its_csrf_token(db_site: Site, match: Match) -> None:
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")

    for action in ("accept", "decline", "reschedule", "feedback"):
        assert browser.post(f"/matches/{match.id}/{action}", data={"met": "yes"}).status_code == 400

    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id) == match.meeting


def test_declining_a_pair_cancels_it_and_tells_the_partner(db_site: Site, match: Match) -> None:
    browser = db_site.new_client()
    sign_in(db_site, browser, "ben@example.com")

    done = submit(browser, f"/matches/{match.id}/decline", {"confirmed": "yes"}, form_page=f"/matches/{match.id}")

    assert done.status_code == 303
    assert "cancelled" in html(browser.get(f"/matches/{match.id}"))
    assert stored(db_site, match.id).state == "cancelled"
    sent = deliver(db_site)
    cancellation = [m for m in sent if m.subject.startswith("Cancelled") and "ana@example.com" in m.to[0]]
    assert len(cancellation) == 1
    assert "Ben Okafor cannot make it" in cancellation[0].text
    assert cancellation[0].invite is not None
    assert cancellation[0].invite.method == "CANCEL"
    assert cancellation[0].invite.sequence == 1


def move_to_the_time_offered(browser: FlaskClient, meeting_id: int) -> TestResponse:
    """Ask for another time on the match page, then confirm the time offered; the confirmation's answer."""
    offer = submit(browser, f"/matches/{meeting_id}/reschedule", form_page=f"/matches/{meeting_id}")
    assert offer.status_code == 200, offer.status_code
    start = re.search(r'name="start" value="([^"]+)"', html(offer))
    assert start is not None, "the page offers no time"
    return browser.post(f"/matches/{meeting_id}/reschedule",
                        data={"start": start.group(1), "csrf_token": csrf_from(html(offer))})


def test_reschedule_sends_updated_invites_with_a_higher_sequence(db_site: Site, match: Match) -> None:
    announced = email_to(db_site, "ana@example.com", "Coffee chat").invite
    assert announced is not None
    assert announced.sequence == 0
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")
    submit(browser, f"/matches/{match.id}/accept", form_page=f"/matches/{match.id}")
    assert [r.answer for r in rsvps(db_site, match.id)] == ["accepted"]

    done = move_to_the_time_offered(browser, match.id)

    assert done.status_code == 303
    moved = stored(db_site, match.id)
    assert moved.sequence == 1
    assert moved.slot is not None
    assert moved.slot != match.meeting.slot
    assert moved.slot.start > db_site.services.clock.now()
    assert "The meeting moved to" in html(browser.get(f"/matches/{match.id}"))
    # The answers were about the old time.
    assert rsvps(db_site, match.id) == []
    updates = [m for m in deliver(db_site) if m.subject.startswith("New time")]
    assert sorted(m.to[0].split("<")[1] for m in updates) == ["ana@example.com>", "ben@example.com>"]
    for message in updates:
        assert message.invite is not None
        assert (message.invite.method, message.invite.sequence, message.invite.uid) == ("REQUEST", 1, announced.uid)
        assert message.invite.start == moved.slot.start
        assert set(links_in(message)) == {"accept", "decline", "reschedule"}


def test_reschedule_avoids_busy_time(db_site: Site, match: Match) -> None:
    assert match.meeting.slot is not None
    calendar = db_site.services.calendar
    start = db_site.services.clock.now()
    # Ben is busy for the next two days: the new time must come after.
    calendar.busy["ben@example.com"] = [Interval(start, start + timedelta(days=2))]  # type: ignore[attr-defined]
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")

    move_to_the_time_offered(browser, match.id)

    moved = stored(db_site, match.id)
    assert moved.slot is not None
    assert moved.slot.start >= start + timedelta(days=2)


def test_reschedule_says_so_when_a_calendar_cannot_be_read(db_site: Site, match: Match) -> None:
    db_site.services.calendar.errors["ben@example.com"] = "mailbox not found"  # type: ignore[attr-defined]
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")

    submit(browser, f"/matches/{match.id}/reschedule", form_page=f"/matches/{match.id}")

    page = html(browser.get(f"/matches/{match.id}"))
    assert "We could not look for another time" in page
    assert "Ben Okafor" in page
    assert "mailbox not found" not in page  # the partner's calendar trouble is theirs
    assert stored(db_site, match.id) == match.meeting
    assert [m for m in deliver(db_site) if m.subject.startswith("New time")] == []


# --- did we meet? ------------------------------------------------------------------------------------------------


def test_feedback_link_stores_the_answer_with_a_rating_and_the_page_shows_it(
        db_site: Site, match: Match, clock: FakeClock) -> None:
    assert match.meeting.slot is not None
    clock.current = match.meeting.slot.end + timedelta(hours=4)
    deliver(db_site)
    request = email_to(db_site, "ana@example.com", "Did you meet")
    links = links_in(request)
    assert set(links) == {"met", "not-met"}
    browser = db_site.new_client()
    page = browser.get(links["met"])
    assert page.status_code == 200
    assert "How was it?" in html(page)
    assert feedback(db_site, match.id) == []

    done = browser.post(links["met"], data={"csrf_token": csrf_from(html(page)), "rating": "4",
                                            "comment": "Lovely <b>chat</b>"})

    assert done.status_code == 303
    [answer] = feedback(db_site, match.id)
    assert (answer.email, answer.met, answer.rating, answer.comment) == ("ana@example.com", True, 4,
                                                                          "Lovely <b>chat</b>")
    sign_in(db_site, browser, "ana@example.com")
    shown = html(browser.get(f"/matches/{match.id}"))
    assert "You told us: you met, 4 of 5" in shown
    assert "Lovely &lt;b&gt;chat&lt;/b&gt;" in shown
    assert "<b>chat</b>" not in shown

    # A later answer replaces the earlier one, its rating too.
    submit(browser, f"/matches/{match.id}/feedback", {"met": "no", "rating": "", "comment": ""},
           form_page=f"/matches/{match.id}")
    [answer] = feedback(db_site, match.id)
    assert (answer.met, answer.rating, answer.comment) == (False, None, "")


def test_feedback_before_the_meeting_is_refused(db_site: Site, match: Match) -> None:
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")
    page = html(browser.get(f"/matches/{match.id}"))
    assert "Did you meet?" not in page

    browser.post(f"/matches/{match.id}/feedback", data={"csrf_token": csrf_from(page), "met": "yes"})

    assert feedback(db_site, match.id) == []
    assert "has not happened yet" in html(browser.get(f"/matches/{match.id}"))


def test_a_bad_feedback_form_is_shown_again_with_its_errors(db_site: Site, match: Match, clock: FakeClock) -> None:
    assert match.meeting.slot is not None
    clock.current = match.meeting.slot.end
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")

    answer = submit(browser, f"/matches/{match.id}/feedback", {"met": "perhaps", "rating": "9",
                                                               "comment": "x" * 1001},
                    form_page=f"/matches/{match.id}")

    assert answer.status_code == 422
    body = html(answer)
    assert "Keep it under 1000 characters." in body
    assert "Not a valid choice" in body
    assert feedback(db_site, match.id) == []


@pytest.fixture
def past_match(site: Site, create_person: Callable[..., Person], clock: FakeClock) -> tuple[Match, FlaskClient]:
    found = plan_pair(site, create_person)
    assert found.meeting.slot is not None
    clock.current = found.meeting.slot.end + timedelta(hours=1)
    browser = site.new_client()
    sign_in(site, browser, "ana@example.com")
    return found, browser


feedback_forms = st.fixed_dictionaries({}, optional={
    "met": st.one_of(st.sampled_from(["yes", "no", "", "YES", "maybe"]), st.text(max_size=20)),
    # White space (NEL included) once slipped past an Optional() validator into int().
    "rating": st.one_of(st.sampled_from(["", "1", "5", "0", "6", "-1", "3.5", "1e3", "١", " ", "\x85", " 4"]),
                        st.text(max_size=10)),
    "comment": st.one_of(st.text(max_size=300), st.sampled_from(["\x00", "a\r\nb", "x" * 1001, "\ud7ff",
                                                                   "<script>alert(1)</script>"])),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=feedback_forms)
def test_fuzzing_the_feedback_form_never_gives_a_500(site: Site, past_match: tuple[Match, FlaskClient],
                                                     form: dict[str, str]) -> None:
    found, browser = past_match
    token = csrf_from(html(browser.get(f"/matches/{found.id}")))

    answer = browser.post(f"/matches/{found.id}/feedback", data={**form, "csrf_token": token})

    assert answer.status_code in (303, 422)
    stored_answers = feedback(site, found.id)
    if answer.status_code == 303 and stored_answers:
        [given_answer] = stored_answers
        assert given_answer.rating in (None, 1, 2, 3, 4, 5)
        assert "\x00" not in given_answer.comment


def test_signed_in_buttons_are_refused_once_the_meeting_has_begun(db_site: Site, match: Match,
                                                                  clock: FakeClock) -> None:
    assert match.meeting.slot is not None
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")
    token = csrf_from(html(browser.get(f"/matches/{match.id}")))
    clock.current = match.meeting.slot.start

    browser.post(f"/matches/{match.id}/decline", data={"csrf_token": token})

    assert rsvps(db_site, match.id) == []
    assert stored(db_site, match.id).state != "cancelled"
    assert "already begun" in html(browser.get(f"/matches/{match.id}"))


def test_the_link_page_of_a_cancelled_match_offers_no_button(db_site: Site, match: Match) -> None:
    path = links_in(email_to(db_site, "ana@example.com", "Coffee chat"))["accept"]
    ben = db_site.new_client()
    sign_in(db_site, ben, "ben@example.com")
    submit(ben, f"/matches/{match.id}/decline", {"confirmed": "yes"}, form_page=f"/matches/{match.id}")
    browser = db_site.new_client()

    page = html(browser.get(path))

    assert "This meeting was cancelled." in page
    assert "<button type=\"submit\">Yes" not in page
    use(browser, path)  # pressing anyway
    assert [(r.email, r.answer) for r in rsvps(db_site, match.id)] == [("ben@example.com", "declined")]
