"""Sign-up with double opt-in: the form, its errors in plain words, the one "check your inbox" answer, the
confirmation email and link, and that nobody is paired before confirming."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import template_rendered
from jinja2 import Template

from scheduler.model import Person
from scheduler.planning.run import run_cycle
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock
from tests.web.conftest import SIGN_UP, Site, csrf_from, sign_up, sign_up_and_confirm, submit, use


def field_error(html: str, field: str) -> str:
    """The error shown right after ``field``'s control."""
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found is not None, f"no error shown for {field}"
    return found.group(1)


def test_sign_up_page_labels_every_field(site: Site) -> None:
    html = site.client.get("/sign-up").get_data(as_text=True)

    for field in ("name", "email", "team", "department", "office", "timezone", "interests", "meet_people",
                  "meet_teams", "meet_departments"):
        assert f'<label for="{field}">' in html, field
    for legend in ("I would like to meet for", "Meet", "How often"):
        assert f"<legend>{legend}</legend>" in html
    assert '<option value="Europe/London">Europe/London</option>' in html
    assert '<option selected value="UTC">UTC</option>' in html
    # The time zone is pre-filled by a same-origin script file, never inline script.
    assert '<script src="/static/timezone.js" defer></script>' in html
    assert 'data-browser-zone="fill"' in html
    assert len(re.findall(r"<script", html)) == 1


def test_the_blank_form_is_drawn_once_and_each_visitor_gets_a_token_of_their_own(site: Site) -> None:
    drawn: list[str] = []

    def note(sender: object, template: Template, **extra: object) -> None:
        drawn.append(template.name or "")

    visitors = [site.new_client(f"192.0.2.{n}") for n in range(1, 4)]
    with template_rendered.connected_to(note, site.app):
        pages = [visitor.get("/sign-up").get_data(as_text=True) for visitor in visitors]
    tokens = [csrf_from(page) for page in pages]

    assert drawn.count("sign_up.html") == 1
    assert len(set(tokens)) == 3
    assert "csrf-token-slot" not in "".join(pages)
    assert len({page.replace(token, "") for page, token in zip(pages, tokens, strict=True)}) == 1
    for n, (visitor, token) in enumerate(zip(visitors, tokens, strict=True)):
        data = {**SIGN_UP, "email": f"visitor{n}@example.com", "csrf_token": token}
        assert visitor.post("/sign-up", data=data).status_code == 303
    # A stored page is never shown with someone else's token: the first visitor's token fails for the second.
    stolen = visitors[1].post("/sign-up", data={**SIGN_UP, "email": "x@example.com", "csrf_token": tokens[0]})
    assert stolen.status_code == 400


def test_a_signed_in_visitor_or_a_waiting_message_gets_the_sign_up_page_drawn_for_them(site: Site) -> None:
    assert site.client.get("/sign-up").status_code == 200  # the blank page is stored
    member = site.new_client()
    assert sign_up_and_confirm(site, member, email="member@example.com").status_code == 303

    signed_in = member.get("/sign-up").get_data(as_text=True)  # the confirmation's message is still waiting
    again = member.get("/sign-up").get_data(as_text=True)

    assert "Your address is confirmed" in signed_in
    assert "Your address is confirmed" not in again
    for page in (signed_in, again):
        assert "My account" in page
        assert "Sign out" in page
        csrf_from(page)


def test_valid_sign_up_stores_an_unconfirmed_person_and_emails_a_confirmation(site: Site) -> None:
    response = sign_up(site, interests="Jazz, climbing", meet_people="Bo@Example.com",
                       meet_teams="Search", meet_departments="Sales, Legal", kinds=["coffee", "lunch"],
                       mode="virtual", cadence="monthly")

    assert response.status_code == 303
    assert response.headers["Location"] == "/check-inbox"
    person = site.person("ana.lima@example.com")
    assert person is not None
    assert person.verified_at is None
    assert (person.name, person.team, person.department, person.office, person.timezone) == (
        "Ana Lima", "Payments", "Engineering", "London", "Europe/London")
    assert person.kinds == frozenset({"coffee", "lunch"})
    assert (person.mode, person.cadence) == ("virtual", "monthly")
    assert person.interests == frozenset({"jazz", "climbing"})
    assert person.wishlist == frozenset({"bo@example.com", "team:Search", "department:Sales", "department:Legal"})
    [message] = site.mailer.sent
    assert message.to == ("Ana Lima <ana.lima@example.com>",)
    assert message.subject == "Confirm your Example Corp Coffee Chat sign-up"
    assert re.search(r"https://coffee\.example\.com/confirm/[A-Za-z0-9._-]+\n", message.text)
    assert "within 48 hours" in message.text


def test_check_inbox_page_says_the_same_whatever_was_entered(site: Site, create_person: Callable[..., Person]
                                                            ) -> None:
    site.store(create_person(email="known@example.com"))

    new = sign_up(site)
    known = sign_up(site, site.new_client(), email="known@example.com")

    assert new.status_code == known.status_code == 303
    assert new.headers["Location"] == known.headers["Location"] == "/check-inbox"
    page = site.client.get("/check-inbox")
    assert page.status_code == 200
    assert "<h1>Check your inbox</h1>" in page.get_data(as_text=True)


def test_an_existing_address_gets_a_sign_in_email_and_keeps_its_profile(site: Site,
                                                                        create_person: Callable[..., Person]
                                                                        ) -> None:
    existing = create_person(email="known@example.com", name="Known Person", team="Search")
    site.store(existing)

    sign_up(site, email="Known@Example.com", name="Somebody Else", team="Other")

    assert site.person("known@example.com") == existing
    [message] = site.mailer.sent
    assert message.subject == "Your Example Corp Coffee Chat sign-in link"
    assert message.to == ("Known Person <known@example.com>",)
    assert "/sign-in/" in message.text


def test_signing_up_again_before_confirming_replaces_the_pending_sign_up(site: Site) -> None:
    sign_up(site, name="First Try")
    sign_up(site, site.new_client(), name="Second Try")

    person = site.person("ana.lima@example.com")
    assert person is not None
    assert person.name == "Second Try"
    assert [m.subject for m in site.mailer.sent] == ["Confirm your Example Corp Coffee Chat sign-up"] * 2


def test_form_errors_are_shown_next_to_their_fields_and_what_was_typed_stays(site: Site) -> None:
    response = submit(site.client, "/sign-up", {**SIGN_UP, "name": "", "email": "not-an-address",
                                                "team": "Payments & <Co>", "kinds": [], "mode": "in_person",
                                                "office": "", "interests": "a;b", "meet_people": "bo@",
                                                "timezone": "Mars/Olympus"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "name") == "Enter your name."
    assert field_error(html, "email") == "Enter an email address like name@example.com."
    assert field_error(html, "kinds") == "Choose at least one of coffee, lunch and dinner."
    assert field_error(html, "mode") == "To meet in person only, enter your office above."
    assert field_error(html, "interests") == "Separate them with commas, not semicolons."
    assert "is not an email address like name@example.com." in field_error(html, "meet_people")
    assert field_error(html, "timezone") == "Choose a time zone from the list."
    assert 'value="not-an-address"' in html
    assert 'value="Payments &amp; &lt;Co&gt;"' in html
    assert 'aria-invalid="true"' in html
    assert '<div class="problems" role="alert">' in html
    # The typed zone is not pre-filled over by the browser script after an error.
    assert 'data-browser-zone="fill"' not in html
    assert site.mailer.sent == []
    assert site.person("not-an-address") is None


def test_allowed_domains_limit_sign_up(make_site: Callable[..., Site]) -> None:
    site = make_site(web='allowed_domains = ["example.com", "example.org"]')

    outside = sign_up(site, email="ana@elsewhere.net")
    inside = sign_up(site, site.new_client(), email="ana@EXAMPLE.org")

    assert outside.status_code == 422
    assert field_error(outside.get_data(as_text=True), "email") == (
        "Use your work address (@example.com, @example.org).")
    assert inside.status_code == 303
    assert [m.to for m in site.mailer.sent] == [("Ana Lima <ana@example.org>",)]


@pytest.mark.parametrize("bad", ["Ana\x00Lima", "Ana\nLima", "Ana\rBcc: x@evil.com", "Ana\tLima", "Ana\u2028Lima",
                                 "Ana\x1b[31m"])
def test_control_characters_are_refused(site: Site, bad: str) -> None:
    response = sign_up(site, name=bad)

    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "name") == (
        "Remove the special characters (such as line breaks or tabs) from this field.")
    assert site.mailer.sent == []


def test_nul_in_any_text_field_is_refused(site: Site) -> None:
    for field in ("name", "team", "department", "office", "interests", "meet_teams", "meet_departments"):
        response = sign_up(site, site.new_client(), **{field: "x\x00y"})
        assert response.status_code == 422, field
    assert site.mailer.sent == []


def test_confirmation_link_get_changes_nothing_and_post_confirms_and_signs_in(site: Site) -> None:
    sign_up(site)
    link = site.last_link()
    assert link.startswith("/confirm/")

    page = site.client.get(link)
    head = site.client.head(link)

    assert page.status_code == head.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Confirm your sign-up</h1>" in html
    assert "ana.lima@example.com" in html
    assert "<button type=\"submit\">Confirm and sign in</button>" in html
    person = site.person("ana.lima@example.com")
    assert person is not None
    assert person.verified_at is None

    confirmed = site.client.post(link, data={"csrf_token": csrf_from(html)})

    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/account"
    person = site.person("ana.lima@example.com")
    assert person is not None
    assert person.verified_at == SUNDAY_NOON
    account = site.client.get("/account")
    assert account.status_code == 200
    assert "You are signed in as <strong>Ana Lima</strong> (ana.lima@example.com)" in account.get_data(as_text=True)
    assert "Your address is confirmed" in account.get_data(as_text=True)


def test_a_link_works_once(site: Site) -> None:
    sign_up(site)
    link = site.last_link()
    assert use(site.client, link).status_code == 303

    other = site.new_client()
    again_get = other.get(link)
    again_post = other.post(link, data={"csrf_token": csrf_from(other.get("/sign-up").get_data(as_text=True))})

    assert again_get.status_code == again_post.status_code == 410
    assert "already been used" in again_get.get_data(as_text=True)
    assert "coffeechat_session" not in again_post.headers.get("Set-Cookie", "")
    assert other.get("/account").status_code == 302


def test_an_expired_confirmation_link_is_refused(site: Site, clock: FakeClock) -> None:
    sign_up(site)
    link = site.last_link()
    clock.advance(timedelta(hours=48, seconds=1))

    response = site.client.get(link)

    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    person = site.person("ana.lima@example.com")
    assert person is not None
    assert person.verified_at is None


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: "x" + token,
    lambda token: "not-a-token",
    lambda token: token.split(".")[0],
])
def test_a_tampered_link_is_refused(site: Site, mangle: Callable[[str], str]) -> None:
    sign_up(site)
    token = site.last_link().rsplit("/", 1)[1]

    response = site.client.get(f"/confirm/{mangle(token)}")

    assert response.status_code == 400
    assert "This link is not valid" in response.get_data(as_text=True)


def test_a_confirmation_token_does_not_work_as_a_sign_in_token(site: Site) -> None:
    sign_up(site)
    token = site.last_link().rsplit("/", 1)[1]

    response = site.client.get(f"/sign-in/{token}")

    assert response.status_code == 400


def test_the_cycle_pairs_nobody_before_they_confirm(site: Site, clock: FakeClock,
                                                   create_person: Callable[..., Person]) -> None:
    site.store(create_person(email="bo@example.com", team="Search"))
    sign_up(site)
    services = site.services
    calendar = FakeCalendarProvider()

    dry = run_cycle(services.uow_factory, calendar, clock, services.program("coffee"), services.settings,
                    dry_run=True)

    assert dry.plan is not None
    assert dry.plan.ineligible == {"ana.lima@example.com": "email address not yet confirmed"}
    assert dry.plan.meetings == ()
    # Nobody's calendar is read before they confirm.
    assert calendar.calls == [["bo@example.com"]]

    use(site.client, site.last_link())
    confirmed = run_cycle(services.uow_factory, calendar, clock, services.program("coffee"),
                          services.settings, dry_run=True)

    assert confirmed.plan is not None
    assert [set(m.group.members) for m in confirmed.plan.meetings] == [{"bo@example.com", "ana.lima@example.com"}]


def test_sign_up_with_a_mail_server_down_says_to_try_again(site: Site) -> None:
    from scheduler.errors import DeliveryError

    site.mailer.fail_with = DeliveryError("connection refused", transient=True)

    response = sign_up(site)

    assert response.status_code == 503
    assert "We could not send the email just now" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "60"


def test_confirmed_people_signing_up_again_do_not_lose_their_settings(site: Site) -> None:
    sign_up_and_confirm(site)
    before = site.person("ana.lima@example.com")
    assert before is not None

    sign_up(site, site.new_client(), name="Impostor", team="Evil")

    assert site.person("ana.lima@example.com") == before
    assert site.mailer.sent[-1].subject == "Your Example Corp Coffee Chat sign-in link"
