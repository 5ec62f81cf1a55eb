"""Introductions through the site, on SQLite and PostgreSQL (issue 15, part 4): real weekly cycles make the
history (Ana and Ben share a team, so they never meet; Cy and Dee meet both); the next cycle asks a connector once,
whose links open a page and only the button's POST (with CSRF) acts; "Introduce them by email" emails Ben at once
and Ana later; Ben's "I'd rather not" withdraws Ana's email and tells her only that it could not happen; bad links
give a clear page, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from scheduler.delivery.outbox import deliver_due
from scheduler.model import EmailMessage, Person
from scheduler.planning.introductions import ASKER_DELAY, NOT_THIS_TIME
from scheduler.planning.run import run_cycle
from tests.fakes import FakeClock
from tests.web.conftest import Site, csrf_from, use

ANA, BEN, CY, DEE = "ana@example.com", "ben@example.com", "cy@example.com", "dee@example.com"
LINK = re.compile(r"https://coffee\.example\.com(/introductions/([a-z-]+)/([A-Za-z0-9._-]+))")
WEB = "links_per_hour = 1000\nsign_in_per_hour = 1000"


def week(site: Site, clock: FakeClock) -> None:
    services = site.services
    run_cycle(services.uow_factory, services.calendar, clock, services.config.programs[0], services.settings)
    deliver_due(services.uow_factory, services.performers(site.mailer), clock, services.retry_policy)
    clock.advance(timedelta(days=7))


def deliver(site: Site, clock: FakeClock) -> None:
    services = site.services
    deliver_due(services.uow_factory, services.performers(site.mailer), clock, services.retry_policy)


def mails_to(site: Site, address: str) -> list[EmailMessage]:
    return [m for m in site.mailer.sent if address in m.to[0]]


def links_of(message: EmailMessage) -> dict[str, str]:
    return {found.group(2): found.group(1) for found in LINK.finditer(message.text)}


def request_links(site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> tuple[str, dict[str, str]]:
    """Two weeks of meetings, then the third cycle asks a connector: (connector, their links)."""
    site.store(create_person(email=ANA, name="Ana López", team="Payments", wishlist=frozenset({BEN})),
               create_person(email=BEN, name="Ben Okafor", team="Payments"),
               create_person(email=CY, name="Cy Tan", team="Sales"),
               create_person(email=DEE, name="Dee Ray", team="Design"))
    for _ in range(3):
        week(site, clock)
    asked = [m for m in site.mailer.sent if m.subject == "Would you introduce Ana López to Ben Okafor?"]
    assert len(asked) == 1, [m.subject for m in site.mailer.sent]
    connector = CY if CY in asked[0].to[0] else DEE
    with site.services.uow_factory() as uow:
        met = uow.history.last_met(clock.now())
        (introduction,) = uow.introductions.of_asker(ANA)
    assert frozenset((ANA, connector)) in met
    assert frozenset((BEN, connector)) in met
    assert frozenset((ANA, BEN)) not in met
    assert (introduction.connector, introduction.state) == (connector, "asked")
    return connector, links_of(asked[0])


def press(site: Site, path: str) -> str:
    page = site.client.get(path)
    assert page.status_code == 200
    answer = site.client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert answer.status_code == 303
    return str(site.client.get(path).get_data(as_text=True))




@pytest.fixture
def intro_site(make_site: Callable[..., Site], database_url: str) -> Site:
    return make_site(database_url=database_url, web=WEB)


def test_issue_15_a_cycle_asks_a_connector_once_and_introduces_by_email(
        intro_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    site = intro_site
    connector, links = request_links(site, clock, create_person)
    assert set(links) == {"introduce", "not-now"}
    # A GET changes nothing; a POST without CSRF is refused.
    assert site.client.get(links["introduce"]).status_code == 200
    assert site.client.post(links["introduce"]).status_code == 400
    with site.services.uow_factory() as uow:
        assert uow.introductions.of_asker(ANA)[0].state == "asked"
    page = press(site, links["introduce"])
    assert "in the outbox" in page
    assert "answered already" in page
    deliver(site, clock)
    (to_ben,) = [m for m in mails_to(site, BEN) if "introduces you" in m.subject]
    assert to_ben.subject.startswith(("Cy Tan", "Dee Ray"))
    assert "Ana López" in to_ben.text
    assert "rather-not" in links_of(to_ben)
    assert not [m for m in mails_to(site, ANA) if "introduces you" in m.subject]  # Ana's waits for Ben's "no"
    clock.advance(ASKER_DELAY)
    deliver(site, clock)
    (to_ana,) = [m for m in mails_to(site, ANA) if "introduces you" in m.subject]
    assert BEN in to_ana.text
    # The next cycle does not ask again.
    week(site, clock)
    assert len([m for m in site.mailer.sent if m.subject.startswith("Would you introduce")]) == 1
    assert connector


def test_issue_15_rather_not_tells_the_asker_nothing_about_who_said_no(
        intro_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    site = intro_site
    _, links = request_links(site, clock, create_person)
    press(site, links["introduce"])
    deliver(site, clock)
    (to_ben,) = [m for m in mails_to(site, BEN) if "introduces you" in m.subject]
    press(site, links_of(to_ben)["rather-not"])
    clock.advance(ASKER_DELAY)
    deliver(site, clock)
    ana_mails = mails_to(site, ANA)
    assert not [m for m in ana_mails if "introduces you" in m.subject]  # withdrawn unsent
    (closed,) = [m for m in ana_mails if m.subject == "Your introduction to Ben Okafor"]
    for text in (closed.text, closed.html):
        assert "could not happen this time" in text
        for telling in ("Cy", "Dee", "declin", "rather not", "not now", "said no"):
            assert telling not in text


def test_issue_15_not_now_and_rather_not_read_the_same_for_the_asker(
        make_site: Callable[..., Site], clock: FakeClock, create_person: Callable[..., Person]) -> None:
    from scheduler.planning.introductions import introductions_of
    texts = []
    for answer in ("not-now", "rather-not"):
        site = make_site(web=WEB)
        site.mailer.sent.clear()
        _, links = request_links(site, clock, create_person)
        if answer == "not-now":
            press(site, links["not-now"])
        else:
            press(site, links["introduce"])
            deliver(site, clock)
            (to_ben,) = [m for m in mails_to(site, BEN) if "introduces you" in m.subject]
            press(site, links_of(to_ben)["rather-not"])
        deliver(site, clock)
        (closed,) = [m for m in mails_to(site, ANA) if m.subject == "Your introduction to Ben Okafor"]
        (status,) = introductions_of(site.services.uow_factory, ANA, clock.now())
        assert status.words == NOT_THIS_TIME
        texts.append(closed.text.split("My introductions")[0])
    assert texts[0] == texts[1]


@pytest.mark.parametrize("mangle", [
    lambda path: path[:-6],                                   # cut short
    lambda path: path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"),  # tampered
    lambda path: path.replace("/introduce/", "/not-now/"),    # made for another action
    lambda path: path.replace("/introduce/", "/rather-not/"),
    lambda path: path.replace("/introduce/", "/explode/"),
    lambda path: path + "%00<script>",
])
def test_issue_15_bad_introduction_links_say_so_and_change_nothing(
        make_site: Callable[..., Site], clock: FakeClock, create_person: Callable[..., Person],
        mangle: Callable[[str], str]) -> None:
    site = make_site(web=WEB)
    _, links = request_links(site, clock, create_person)
    bad = mangle(links["introduce"])
    for response in (site.client.get(bad), use(site.client, bad)):  # use: POST with a valid CSRF token
        assert response.status_code in (400, 404, 410)
        if response.status_code != 404:
            assert "This link cannot be used" in response.get_data(as_text=True)
    with site.services.uow_factory() as uow:
        assert uow.introductions.of_asker(ANA)[0].state == "asked"


def test_issue_15_an_expired_introduction_link_says_so(
        make_site: Callable[..., Site], clock: FakeClock, create_person: Callable[..., Person]) -> None:
    site = make_site(web=WEB)
    _, links = request_links(site, clock, create_person)
    clock.advance(timedelta(days=31))
    response = site.client.get(links["introduce"])
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_issue_15_the_askers_page_shows_where_it_stands_without_who_said_no(
        make_site: Callable[..., Site], clock: FakeClock, create_person: Callable[..., Person]) -> None:
    from tests.web.test_sessions import sign_in
    site = make_site(web=WEB)
    _, links = request_links(site, clock, create_person)
    browser = site.new_client()
    sign_in(site, browser, ANA)
    page = browser.get("/account/introductions").get_data(as_text=True)
    assert "Ben Okafor" in page
    assert "Waiting" in page
    press(site, links["not-now"])
    page = browser.get("/account/introductions").get_data(as_text=True)
    assert "could not happen this time" in page
    for telling in ("Cy Tan", "Dee Ray", "Not now", "declin", "rather not"):
        assert telling not in page
    assert site.new_client().get("/account/introductions").status_code in (302, 303)  # needs a sign-in
