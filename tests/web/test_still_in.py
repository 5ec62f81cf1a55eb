"""The "still in?" links through the site: a GET shows a button and changes nothing, only the button's POST (with
its CSRF token) keeps someone in or pauses them; every bad link (tampered, cut short, made for the other action,
expired, of a deleted person) gives a clear page and never a 500; a match link's button is a sign of life; and the
admin sees who was asked and who was paused for silence, and since when.

Ana never answers; real weekly cycles (``run_cycle`` with the site's settings, so the emails carry signed links)
place her three times, the fourth asks her, the fifth pauses her."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from scheduler.delivery.outbox import deliver_due
from scheduler.model import EmailMessage, Person
from scheduler.planning.run import CycleOutcome, run_cycle
from tests.fakes import FakeClock
from tests.web.conftest import BASE_URL, Site, csrf_from, sign_up_and_confirm, use
from tests.web.test_urls import TOKEN, route_of
from web.urls import WebUrls

ADMIN = "ada.admin@example.com"
WEB = f'admins = ["{ADMIN}"]\nsign_up_per_hour = 1000\nsign_in_per_hour = 1000\nlinks_per_hour = 1000'
STILL_IN_LINK = re.compile(r"https://coffee\.example\.com(/still-in/(stay|pause)/([A-Za-z0-9._-]+))")
MATCH_LINK = re.compile(r"https://coffee\.example\.com(/matches/\d+/accept/[A-Za-z0-9._-]+)")
ANA = "ana@example.com"


def run_week(site: Site, clock: FakeClock) -> CycleOutcome:
    """Plan this week's coffee cycle, deliver its emails, let everyone but Ana use a link, move on a week."""
    services = site.services
    outcome = run_cycle(services.uow_factory, services.calendar, clock, services.config.programs[0],
                        services.settings)
    deliver_due(services.uow_factory, services.performers(site.mailer), clock, services.retry_policy)
    clock.advance(timedelta(hours=1))
    with services.uow_factory() as uow:
        for person in uow.people.list():
            if person.email != ANA:
                uow.engagement.note_sign_of_life(person.email, clock.now())
        uow.commit()
    clock.advance(timedelta(days=7) - timedelta(hours=1))
    return outcome


def ask_ana(site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> dict[str, str]:
    """Three cycles place silent Ana, the fourth asks her "still in?": that email's links by action (site paths)."""
    site.store(create_person(email=ANA, name="Ana López", team="Payments"),
               create_person(email="ben@example.com", name="Ben Okafor", team="Sales"),
               create_person(email="cy@example.com", name="Cy Tan", team="Design"))
    for _ in range(4):
        run_week(site, clock)
    question = last_email(site, ANA, "Still in for coffee chats?")
    return {found.group(2): found.group(1) for found in STILL_IN_LINK.finditer(question.text)}


def last_email(site: Site, address: str, subject: str) -> EmailMessage:
    for message in reversed(site.mailer.sent):
        if address in message.to[0] and message.subject == subject:
            return message
    raise AssertionError(f"no email {subject!r} to {address}")


def placed(outcome: CycleOutcome) -> set[str]:
    assert outcome.plan is not None
    return {email for meeting in outcome.plan.meetings for email in meeting.group.members}


def silence_of(site: Site) -> tuple[object, object, object]:
    with site.services.uow_factory() as uow:
        known = uow.engagement.by_person()[ANA]
    return known.last_sign_of_life, known.asked_at, known.paused_at


@pytest.fixture
def links_site(make_site: Callable[..., Site]) -> Site:
    return make_site(web=WEB)


def test_issue_15_the_stay_link_shows_a_button_and_only_its_post_keeps_ana_in(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    links = ask_ana(links_site, clock, create_person)
    assert set(links) == {"stay", "pause"}
    before = silence_of(links_site)
    for method in (links_site.client.get, links_site.client.head):
        page = method(links["stay"])
        assert page.status_code == 200
    assert silence_of(links_site) == before  # a mail scanner's GET changes nothing
    html = links_site.client.get(links["stay"]).get_data(as_text=True)
    assert "Yes, keep pairing me" in html
    assert "For Ana López (ana@example.com)" in html
    assert links_site.client.post(links["stay"]).status_code == 400  # no CSRF token, nothing done
    assert silence_of(links_site) == before

    answered = use(links_site.client, links["stay"])
    assert answered.status_code == 303
    shown = links_site.client.get(answered.headers["Location"]).get_data(as_text=True)
    assert "you stay in, and the next cycle can pair you again" in shown
    assert silence_of(links_site)[0] == clock.now()
    assert ANA in placed(run_week(links_site, clock))


def test_issue_15_the_pause_link_pauses_ana_for_twelve_weeks_and_a_second_use_is_harmless(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    links = ask_ana(links_site, clock, create_person)
    assert "Pause me for 12 weeks" in links_site.client.get(links["pause"]).get_data(as_text=True)
    for _ in range(2):
        answered = use(links_site.client, links["pause"])
        assert answered.status_code == 303
    until = clock.now().date() + timedelta(weeks=12)
    person = links_site.person(ANA)
    assert person is not None
    assert person.paused_until == until
    shown = links_site.client.get(answered.headers["Location"]).get_data(as_text=True)
    assert f"You are paused until {until.isoformat()}" in shown
    outcome = run_week(links_site, clock)
    assert ANA not in placed(outcome)
    assert outcome.plan is not None
    assert outcome.plan.ineligible[ANA] == f"paused until {until.isoformat()}"  # the account page's pause
    assert not [m for m in links_site.mailer.sent if m.subject == "We have paused your coffee chats"]


def tampered(token: str) -> str:
    body, _, signature = token.rpartition(".")
    return f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


@pytest.mark.parametrize(("change", "status", "words"), [
    (lambda links: links["stay"].rsplit("/", 1)[0] + "/" + tampered(links["stay"].rsplit("/", 1)[1]), 400,
     "This link is not valid"),
    (lambda links: links["stay"][:-6], 400, "This link is not valid"),
    (lambda links: links["stay"].replace("/still-in/stay/", "/still-in/pause/"), 400, "This link is not valid"),
    (lambda links: links["stay"].replace("/still-in/stay/", "/still-in/leave/"), 400, "This link is not valid"),
    (lambda links: "/still-in/stay/" + "x" * 2000, 400, "This link is not valid"),
    (lambda links: "/still-in/stay/not-a-token", 400, "This link is not valid"),
    (lambda links: "/still-in/stay/" + TOKEN, 400, "This link is not valid"),
])
def test_issue_15_bad_still_in_links_say_so_and_change_nothing(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person],
        change: Callable[[dict[str, str]], str], status: int, words: str) -> None:
    links = ask_ana(links_site, clock, create_person)
    before = silence_of(links_site)
    bad = change(links)
    page = links_site.client.get(bad)
    assert page.status_code == status
    assert words in page.get_data(as_text=True)
    assert "Nothing was changed." in page.get_data(as_text=True)
    token = csrf_from(links_site.client.get("/sign-in").get_data(as_text=True))
    assert links_site.client.post(bad, data={"csrf_token": token}).status_code == status
    assert silence_of(links_site) == before
    person = links_site.person(ANA)
    assert person is not None
    assert person.paused_until is None


def test_issue_15_an_expired_link_gets_410(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    links = ask_ana(links_site, clock, create_person)
    clock.advance(timedelta(days=52))  # the question was planned a week ago
    assert links_site.client.get(links["stay"]).status_code == 200  # within its 60 days
    clock.advance(timedelta(days=2))
    page = links_site.client.get(links["stay"])
    assert page.status_code == 410
    assert "This link has expired. Sign in to Coffee Chat" in page.get_data(as_text=True)
    assert "Nothing was changed." in page.get_data(as_text=True)


def test_issue_15_the_link_of_a_deleted_person_gets_410(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    links = ask_ana(links_site, clock, create_person)
    page = links_site.client.get(links["pause"])
    token = csrf_from(page.get_data(as_text=True))
    with links_site.services.uow_factory() as uow:
        uow.accounts.delete_person(ANA, lambda payload: payload)
        uow.commit()
    for gone in (links_site.client.get(links["pause"]),
                 links_site.client.post(links["pause"], data={"csrf_token": token})):
        assert gone.status_code == 410
        assert "This link belongs to an account that no longer exists." in gone.get_data(as_text=True)


def test_issue_15_the_still_in_address_is_a_route_of_the_site(links_site: Site) -> None:
    url = WebUrls(BASE_URL).still_in("pause", TOKEN)
    assert url == f"{BASE_URL}/still-in/pause/{TOKEN}"
    assert route_of(links_site.app, url) == ("still_in.link", {"action": "pause", "token": TOKEN})


def test_issue_15_pressing_a_match_links_button_is_a_sign_of_life_but_opening_it_is_not(
        links_site: Site, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    site = links_site
    site.store(create_person(email=ANA, name="Ana López", team="Payments"),
               create_person(email="ben@example.com", name="Ben Okafor", team="Sales"))
    run_cycle(site.services.uow_factory, site.services.calendar, clock, site.services.config.programs[0],
              site.services.settings)
    deliver_due(site.services.uow_factory, site.services.performers(site.mailer), clock, site.services.retry_policy)
    announcement = next(m for m in site.mailer.sent if ANA in m.to[0] and m.subject.startswith("Coffee chat"))
    found = MATCH_LINK.search(announcement.text)
    assert found is not None
    clock.advance(timedelta(hours=2))
    assert site.client.get(found.group(1)).status_code == 200
    with site.services.uow_factory() as uow:
        assert uow.engagement.by_person()[ANA].last_sign_of_life is None
    assert use(site.client, found.group(1)).status_code == 303
    with site.services.uow_factory() as uow:
        assert uow.engagement.by_person()[ANA].last_sign_of_life == clock.now()


def test_issue_15_with_nobody_silent_the_admin_page_says_so(make_site: Callable[..., Site]) -> None:
    site = make_site(web=WEB)
    page = admin_client(site).get("/admin").get_data(as_text=True)
    assert "nobody is asked “still in?” or paused for silence" in page


def admin_client(site: Site) -> FlaskClient:
    client = site.new_client("127.0.0.9")
    assert sign_up_and_confirm(site, client, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return client


def test_issue_15_the_admin_sees_who_was_asked_and_who_was_paused_and_since_when(
        make_site: Callable[..., Site], database_url: str, clock: FakeClock,
        create_person: Callable[..., Person]) -> None:
    site = make_site(database_url=database_url, web=WEB)
    asked_on = (clock.now() + timedelta(weeks=3)).date().isoformat()
    ask_ana(site, clock, create_person)
    admin = admin_client(site)  # signed in now: a sign-in lasts two weeks
    page = admin.get("/admin").get_data(as_text=True)
    section = page[page.index('id="silence"'):page.index('id="import"')]
    assert "Ana López" in section
    assert "asked “still in?”" in section
    assert f"<time datetime=\"{asked_on}" in section
    assert "ben@example.com" not in section
    assert "Ada Admin" not in section
    run_week(site, clock)  # no answer: paused
    paused_on = (clock.now() - timedelta(weeks=1)).date().isoformat()
    section = admin.get("/admin").get_data(as_text=True)
    section = section[section.index('id="silence"'):section.index('id="import"')]
    assert "paused for silence" in section
    assert f"paused on {paused_on} after no answer to &#34;still in?&#34;" in section
    assert admin.get("/admin").status_code == 200
