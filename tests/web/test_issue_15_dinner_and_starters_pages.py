"""Issue 15 through the site: conversation starters on the match page (escaped), dinner among the kinds a person
chooses on the profile and sign-up forms, and a dinner program's match as its members see it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from scheduler.model import Person
from scheduler.planning.run import run_cycle
from tests.conftest import BERLIN
from tests.web.conftest import SIGN_UP, Site, sign_up_and_confirm, submit
from tests.web.test_account_pages import PROFILE
from tests.web.test_admin import ADMIN, WEB
from tests.web.test_admin_programs import save, stored_changes
from tests.web.test_match_pages import deliver, email_to
from tests.web.test_sessions import sign_in

DINNER_PROGRAM = ('[[programs]]\nname = "dinner"\nkind = "dinner"\nmeeting_mode = "in_person"\n'
                  'duration_minutes = 90\n\n[[offices]]\nname = "London"\ndinner = "18:30-21:30"\n')


def plan(site: Site, *people: Person) -> int:
    """Store ``people``, run a cycle of the site's first program, deliver; the id of the one meeting."""
    site.store(*people)
    services = site.services
    outcome = run_cycle(services.uow_factory, services.calendar, services.clock, services.config.programs[0],
                        services.settings)
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with services.uow_factory() as uow:
        (meeting,) = uow.cycles.meetings(outcome.cycle.id)
    deliver(site)
    assert meeting.id is not None
    return meeting.id


def test_issue_15_the_match_page_shows_the_viewers_starters_escaped(
        db_site: Site, create_person: Callable[..., Person]) -> None:
    ana = create_person(email="ana@example.com", name="Ana López", team="Payments",
                        interests=frozenset({"<i>climbing</i>"}))
    ben = create_person(email="ben@example.com", name="Ben Okafor", team="Field Sales", department="Sales & <b>Co</b>",
                        office="Berlin", timezone=BERLIN, interests=frozenset({"<i>climbing</i>"}))
    meeting_id = plan(db_site, ana, ben)
    browser = db_site.new_client()
    sign_in(db_site, browser, "ana@example.com")

    body = browser.get(f"/matches/{meeting_id}").get_data(as_text=True)

    starters = body.split("<h2>Something to talk about</h2>", 1)[1].split("</ul>", 1)[0]
    assert "<li>You both like &lt;i&gt;climbing&lt;/i&gt;</li>" in starters
    assert "<li>Ask Ben how Sales &amp; &lt;b&gt;Co&lt;/b&gt; works with Engineering</li>" in starters
    assert "<li>Ben is in the Berlin office: ask what it is like there</li>" in starters
    assert "<b>Co</b>" not in body
    assert "<i>climbing" not in body
    # The email Ana got says the same, and Ben's speaks to Ben.
    to_ana, to_ben = (email_to(db_site, address, "Coffee").text for address in ("ana@example.com", "ben@example.com"))
    assert "- Ask Ben how Sales & <b>Co</b> works with Engineering" in to_ana
    assert "- Ask Ana how Engineering works with Sales & <b>Co</b>" in to_ben


def test_issue_15_a_dinner_match_says_dinner_and_the_office(
        make_site: Callable[..., Site], create_person: Callable[..., Person]) -> None:
    site = make_site(programs=DINNER_PROGRAM)
    ana = create_person(email="ana@example.com", name="Ana López", team="Payments",
                        kinds=frozenset({"dinner"}))
    ben = create_person(email="ben@example.com", name="Ben Okafor", team="Field Sales", department="Sales",
                        kinds=frozenset({"coffee", "dinner"}), mode="in_person")
    online = create_person(email="online@example.com", kinds=frozenset({"dinner"}), mode="virtual")
    meeting_id = plan(site, ana, ben, online)
    browser = site.new_client()
    sign_in(site, browser, "ben@example.com")

    body = browser.get(f"/matches/{meeting_id}").get_data(as_text=True)

    assert "<h1>Dinner with Ana López</h1>" in body
    assert "Dinner, London office" in body
    assert "90 minutes (dinner program)" in body
    announcement = email_to(site, "ben@example.com", "Dinner with Ana López")
    assert "Where:  Dinner, London office" in announcement.text
    assert any(time in announcement.subject for time in ("18:30", "18:45", "19:00", "19:30", "20:00"))
    assert not any("online@example.com" in message.to[0] for message in site.mailer.sent)


# --- choosing dinner ----------------------------------------------------------------------------------------


@pytest.fixture
def ana(db_site: Site) -> FlaskClient:
    assert sign_up_and_confirm(db_site).status_code == 303
    return db_site.client


def test_issue_15_the_profile_offers_dinner_and_stores_the_choice(db_site: Site, ana: FlaskClient) -> None:
    form = ana.get("/account/profile").get_data(as_text=True)
    assert 'value="dinner"' in form
    assert "Dinner (an evening, in person at your office)" in form

    assert submit(ana, "/account/profile", {**PROFILE, "kinds": ["coffee", "dinner"]}).status_code == 303

    person = db_site.person(SIGN_UP["email"])
    assert person is not None
    assert person.kinds == {"coffee", "dinner"}
    again = ana.get("/account/profile").get_data(as_text=True)
    boxes = {found.group(2): bool(found.group(1)) for found in
             re.finditer(r'<input( checked)?[^>]* name="kinds" type="checkbox" value="([a-z]+)"', again)}
    assert boxes == {"coffee": True, "lunch": False, "dinner": True}


@pytest.mark.parametrize(("changes", "message"), [
    ({"kinds": ["dinner"], "mode": "virtual"}, "Dinner is in person"),
    ({"kinds": ["coffee", "dinner"], "mode": "either", "office": ""}, "Dinner is at your office"),
])
def test_issue_15_dinner_online_or_without_an_office_is_refused_next_to_the_kinds(
        db_site: Site, ana: FlaskClient, changes: dict[str, Any], message: str) -> None:
    before = db_site.person(SIGN_UP["email"])

    response = submit(ana, "/account/profile", {**PROFILE, **changes})

    assert response.status_code in (400, 422)
    html = response.get_data(as_text=True)
    assert message in html.split('id="kinds-error">', 1)[1].split("</p>", 1)[0]
    assert db_site.person(SIGN_UP["email"]) == before


def test_issue_15_sign_up_takes_dinner(site: Site) -> None:
    assert sign_up_and_confirm(site, kinds=["lunch", "dinner"]).status_code == 303
    person = site.person(SIGN_UP["email"])
    assert person is not None
    assert person.kinds == {"lunch", "dinner"}


def test_issue_15_an_admin_turning_a_virtual_program_into_dinner_is_told_to_meet_in_person(
        make_site: Callable[..., Site], database_url: str) -> None:
    site = make_site(database_url=database_url, web=WEB)
    assert sign_up_and_confirm(site, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303

    refused = save(site, kind="dinner")  # the file's coffee meets by video call

    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert ('<p class="error" id="meeting_mode-error">a dinner program meets in person: choose in_person, not '
            'virtual</p>') in html
    assert stored_changes(site) == {}
    assert save(site, kind="dinner", meeting_mode="in_person", group_size="3").status_code == 303
    program = site.services.program("coffee")
    assert (program.kind, program.meeting_mode, program.group_size) == ("dinner", "in_person", 3)
