"""Issue 15, part 4, "Thanks", through the site: after "we met" the match page (signed in, or the page of a signed
"we met" link) offers "Say thank you to <partner>" with an optional note and, when the partner's manager is
stored, "Also tell <partner>'s manager"; one POST with its CSRF token queues the emails (the page says they
"will be emailed"); the admin's analytics count the notes, never show them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from scheduler.model import Person, Thanks
from tests.fakes import FakeClock
from tests.web.conftest import Site, csrf_from, sign_up_and_confirm, submit
from tests.web.test_admin import ADMIN, WEB
from tests.web.test_match_pages import Match, deliver, email_to, html, links_in, plan_pair
from tests.web.test_sessions import sign_in

NOTE = "Thanks for explaining <script>alert(1)</script> Payments!"


def thanks_rows(site: Site, meeting_id: int) -> list[Thanks]:
    with site.services.uow_factory() as uow:
        return list(uow.thanks.of_meeting(meeting_id))


def pair_with_manager(site: Site, create_person: Callable[..., Person], clock: FakeClock) -> Match:
    """Ana and Ben planned and past their meeting; Ben's manager Carol is stored."""
    match = plan_pair(site, create_person)
    carol = create_person(email="carol@example.com", name="Carol <Chief>")
    site.store(carol, replace(match.ben, manager="carol@example.com"))
    assert match.meeting.slot is not None
    clock.current = match.meeting.slot.end + timedelta(hours=1)
    return match


def said_we_met(site: Site, match: Match) -> FlaskClient:
    """Ana, signed in, answers "we met" on her match page."""
    browser = site.new_client()
    sign_in(site, browser, "ana@example.com")
    answered = submit(browser, f"/matches/{match.id}/feedback", {"met": "yes", "rating": "", "comment": ""},
                      form_page=f"/matches/{match.id}")
    assert answered.status_code == 303
    return browser


@pytest.fixture
def past(db_site: Site, create_person: Callable[..., Person], clock: FakeClock) -> Match:
    return pair_with_manager(db_site, create_person, clock)


def test_issue_15_thanks_offered_only_after_we_met_then_queued_and_emailed(db_site: Site, past: Match) -> None:
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")
    assert "Say thank you" not in html(browser.get(f"/matches/{past.id}"))
    # Not offered, and refused when forged, before "we met".
    page = html(browser.get(f"/matches/{past.id}"))
    forged = browser.post(f"/matches/{past.id}/thanks", data={"csrf_token": csrf_from(page),
                                                               "partner": "ben@example.com"})
    assert forged.status_code == 303
    assert thanks_rows(db_site, past.id) == []

    browser = said_we_met(db_site, past)
    page = html(browser.get(f"/matches/{past.id}"))
    assert "Say thank you to Ben Okafor" in page
    assert "Also tell Ben Okafor's manager (Carol &lt;Chief&gt;)" in page

    done = browser.post(f"/matches/{past.id}/thanks", data={"csrf_token": csrf_from(page),
                                                             "partner": "ben@example.com", "note": NOTE,
                                                             "tell_manager": "y"})

    assert done.status_code == 303
    shown = html(browser.get(f"/matches/{past.id}"))
    assert "Your thank-you note will be emailed to Ben Okafor, and so will Ben Okafor&#39;s manager." in shown
    assert "sent" not in shown.lower().split("thank-you note", 1)[1].split("</", 1)[0]
    assert "You thanked Ben Okafor and told their manager." in shown
    assert "Say thank you to Ben Okafor" not in shown
    assert len(thanks_rows(db_site, past.id)) == 1

    sent = deliver(db_site)
    to_ben = email_to(db_site, "ben@example.com", "Ana López says thank you")
    to_carol = email_to(db_site, "carol@example.com", "Ana López thanked Ben Okafor")
    assert {to_ben.subject, to_carol.subject} <= {m.subject for m in sent}
    for message in (to_ben, to_carol):
        assert NOTE in message.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
        assert "<script>" not in message.html

    # Once per meeting, writer and partner: a second POST is refused in words, nothing more is queued.
    again = browser.post(f"/matches/{past.id}/thanks", data={"csrf_token": csrf_from(shown),
                                                              "partner": "ben@example.com", "note": "again"})
    assert again.status_code == 303
    assert "already thanked Ben Okafor" in html(browser.get(f"/matches/{past.id}"))
    assert len(thanks_rows(db_site, past.id)) == 1
    assert [m for m in deliver(db_site) if "thank" in m.subject] == []


def test_issue_15_thanks_without_csrf_is_refused(db_site: Site, past: Match) -> None:
    browser = said_we_met(db_site, past)

    refused = browser.post(f"/matches/{past.id}/thanks", data={"partner": "ben@example.com", "note": "hi"})

    assert refused.status_code == 400
    assert thanks_rows(db_site, past.id) == []


def test_issue_15_thanks_a_bad_form_is_shown_again_escaped_and_a_stranger_gets_404(
        db_site: Site, past: Match) -> None:
    browser = said_we_met(db_site, past)
    page = html(browser.get(f"/matches/{past.id}"))
    long_note = "<b>" + "x" * 500

    answer = browser.post(f"/matches/{past.id}/thanks", data={"csrf_token": csrf_from(page),
                                                               "partner": "ben@example.com", "note": long_note})

    assert answer.status_code == 422
    body = html(answer)
    assert "Keep your note under 500 characters." in body
    assert "&lt;b&gt;xxx" in body
    assert "<b>xxx" not in body
    assert thanks_rows(db_site, past.id) == []
    # Someone else's partner, and a meeting that is not yours.
    bad = browser.post(f"/matches/{past.id}/thanks", data={"csrf_token": csrf_from(page),
                                                            "partner": "carol@example.com"})
    assert bad.status_code == 303
    assert "choose a partner of this meeting" in html(browser.get(f"/matches/{past.id}"))
    carol = db_site.new_client()
    sign_in(db_site, carol, "carol@example.com")
    own_token = csrf_from(html(carol.get("/account")))
    stranger = carol.post(f"/matches/{past.id}/thanks", data={"csrf_token": own_token, "partner": "ben@example.com"})
    assert stranger.status_code == 404  # as for a match that does not exist: nothing learnt
    assert thanks_rows(db_site, past.id) == []


def test_issue_15_thanks_from_the_signed_we_met_link(db_site: Site, past: Match, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=4))  # the "did you meet?" email goes out a few hours after the meeting
    deliver(db_site)
    met = links_in(email_to(db_site, "ben@example.com", "Did you meet"))["met"]
    browser = db_site.new_client()
    page = html(browser.get(met))
    assert "Say thank you" not in page  # not before the button says "we met"
    assert browser.post(met, data={"csrf_token": csrf_from(page), "rating": "5"}).status_code == 303
    page = html(browser.get(met))
    assert "Say thank you to Ana López" in page
    assert "Also tell" not in page  # Ana has no manager stored
    token = met.rsplit("/", 1)[1]
    thanks_url = f"/matches/{past.id}/thanks/{token}"
    assert thanks_url in page

    tampered = browser.post(f"/matches/{past.id}/thanks/{token[:-2]}xx",
                            data={"csrf_token": csrf_from(page), "partner": "ana@example.com"})
    assert tampered.status_code == 400
    assert thanks_rows(db_site, past.id) == []
    done = browser.post(thanks_url, data={"csrf_token": csrf_from(page), "partner": "ana@example.com"})

    assert done.status_code == 303
    assert done.headers["Location"].endswith(met)
    assert "will be emailed to Ana López." in html(browser.get(met))
    [row] = thanks_rows(db_site, past.id)
    assert (row.writer, row.recipient, row.shared_with_manager) == ("ben@example.com", "ana@example.com", False)


def test_issue_15_thanks_admin_sees_counts_never_text(make_site: Callable[..., Site], database_url: str,
                                                      create_person: Callable[..., Person], clock: FakeClock
                                                      ) -> None:
    site = make_site(database_url=database_url, web=WEB)
    match = pair_with_manager(site, create_person, clock)
    browser = said_we_met(site, match)
    page = html(browser.get(f"/matches/{match.id}"))
    browser.post(f"/matches/{match.id}/thanks", data={"csrf_token": csrf_from(page), "partner": "ben@example.com",
                                                       "note": "a very private note", "tell_manager": "y"})
    admin = site.new_client("127.0.0.9")
    assert sign_up_and_confirm(site, admin, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303

    shown = html(admin.get("/admin/analytics"))

    section = shown.split('id="thanks-heading"', 1)[1].split("</section>", 1)[0]
    assert "<th scope=\"row\">coffee</th><td>1</td><td>1</td>" in section
    assert "a very private note" not in shown
