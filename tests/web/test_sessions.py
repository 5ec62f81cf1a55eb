"""Sign-in by emailed link, server-side sessions, sign-out and disabled accounts: a replayed cookie fails.

These run on SQLite and on PostgreSQL (``db_site``), since sessions and single use are enforced by the
database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from scheduler.accounts.access import set_disabled
from scheduler.model import Person
from scheduler.storage.uow import SqlAlchemyUnitOfWork
from tests.fakes import FakeClock
from tests.web.conftest import Site, csrf_from, sign_up_and_confirm, use

COOKIE = "coffeechat_session"


def session_cookie(response: TestResponse) -> dict[str, str]:
    """The attributes of the session cookie a response sets (value under ``value``), lower-cased names."""
    for header in response.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if COOKIE in jar:
            morsel = jar[COOKIE]
            attributes = {key: str(value) for key, value in morsel.items() if value}
            # SimpleCookie reports flags without a value as True; keep their presence.
            for flag in ("httponly", "secure"):
                if f"; {flag}" in header.lower():
                    attributes[flag] = "yes"
            return {"value": morsel.value, **attributes}
    raise AssertionError(f"no {COOKIE} cookie set")


def replay(site: Site, token: str) -> FlaskClient:
    """A new browser holding a copy of the cookie ``token``."""
    client = site.new_client("198.51.100.7")
    client.set_cookie(COOKIE, token)
    return client


def request_link(site: Site, client: FlaskClient, email: str, next_path: str | None = None) -> TestResponse:
    form_page = "/sign-in" + (f"?next={next_path}" if next_path else "")
    page = client.get(form_page).get_data(as_text=True)
    data = {"email": email, "csrf_token": csrf_from(page)}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/sign-in", data=data)


@pytest.fixture
def member(db_site: Site, create_person: Callable[..., Person]) -> Person:
    """A confirmed participant, imported by an admin."""
    person = create_person(email="bo.nakamura@example.com", name="Bo Nakamura", team="Search")
    db_site.store(person)
    return person


def sign_in(site: Site, client: FlaskClient, email: str) -> TestResponse:
    assert request_link(site, client, email).status_code == 303
    return use(client, site.last_link())


def test_sign_in_by_emailed_link(db_site: Site, member: Person) -> None:
    asked = request_link(db_site, db_site.client, "Bo.Nakamura@example.com")

    assert asked.status_code == 303
    assert asked.headers["Location"] == "/check-inbox"
    [message] = db_site.mailer.sent
    assert message.to == ("Bo Nakamura <bo.nakamura@example.com>",)
    assert message.subject == "Your Example Corp Coffee Chat sign-in link"
    assert "within 15 minutes" in message.text
    link = db_site.last_link()
    assert link.startswith("/sign-in/")

    page = db_site.client.get(link)
    assert page.status_code == 200
    assert "Sign in to Coffee Chat as <strong>Bo Nakamura</strong>" in page.get_data(as_text=True)
    assert db_site.client.get("/account").status_code == 302  # the GET signed nobody in

    signed_in = db_site.client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})

    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/account"
    account = db_site.client.get("/account")
    assert account.status_code == 200
    assert "(bo.nakamura@example.com)" in account.get_data(as_text=True)


def test_session_cookie_is_opaque_httponly_lax_and_secure_on_an_https_site(db_site: Site, member: Person) -> None:
    cookie = session_cookie(sign_in(db_site, db_site.client, member.email))

    assert cookie["httponly"] == "yes"
    assert cookie["secure"] == "yes"
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == 14 * 24 * 3600
    token = cookie["value"]
    assert len(token) >= 40
    assert member.email not in token
    with db_site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        stored = uow.session.execute(text("SELECT id FROM sessions")).scalars().all()
    # Only the SHA-256 of the token is stored: a copy of the table signs nobody in.
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_cookie_is_secure_only_over_https_when_the_site_is_http(make_site: Callable[..., Site],
                                                                create_person: Callable[..., Person]) -> None:
    site = make_site(base_url="http://127.0.0.1:5000")
    site.store(create_person(email="cy@example.com"))

    plain = session_cookie(sign_in(site, site.client, "cy@example.com"))
    https_client = site.app.test_client()
    assert request_link(site, https_client, "cy@example.com").status_code == 303
    link = site.last_link()
    page = https_client.get(link, base_url="https://localhost")
    # Over HTTPS, Flask-WTF also checks that the Referer is this site, as a browser sends it (same-origin policy).
    secure = session_cookie(https_client.post(link, base_url="https://localhost",
                                              headers={"Referer": f"https://localhost{link}"},
                                              data={"csrf_token": csrf_from(page.get_data(as_text=True))}))

    assert "secure" not in plain
    assert plain["httponly"] == "yes"
    assert secure["secure"] == "yes"


def test_signing_out_makes_the_old_cookie_useless(db_site: Site, member: Person) -> None:
    token = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]
    assert replay(db_site, token).get("/account").status_code == 200

    page = db_site.client.get("/account").get_data(as_text=True)
    signed_out = db_site.client.post("/sign-out", data={"csrf_token": csrf_from(page)})

    assert signed_out.status_code == 303
    assert signed_out.headers["Location"] == "/"
    assert "coffeechat_session=;" in " ".join(signed_out.headers.getlist("Set-Cookie"))
    replayed = replay(db_site, token).get("/account")
    assert replayed.status_code == 302
    assert replayed.headers["Location"] == "/sign-in?next=/account"
    assert db_site.client.get("/account").status_code == 302


def test_sign_out_needs_a_csrf_token(db_site: Site, member: Person) -> None:
    token = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]

    forged = db_site.client.post("/sign-out")

    assert forged.status_code == 400
    assert replay(db_site, token).get("/account").status_code == 200


def test_disabling_an_account_makes_its_cookies_and_links_useless(db_site: Site, member: Person,
                                                                 clock: FakeClock) -> None:
    token = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]
    assert request_link(db_site, db_site.new_client(), member.email).status_code == 303
    unused_link = db_site.last_link()
    services = db_site.services

    set_disabled(services.uow_factory, clock, member.email, True)

    assert replay(db_site, token).get("/account").status_code == 302
    refused = db_site.new_client().get(unused_link)
    assert refused.status_code == 400
    assert "has been disabled" in refused.get_data(as_text=True)
    asked = request_link(db_site, db_site.new_client(), member.email)
    assert asked.status_code == 303  # the same answer as for anyone ...
    assert db_site.mailer.sent[-1].subject == "Your Example Corp Coffee Chat account is disabled"  # ... by email
    person = db_site.person(member.email)
    assert person is not None
    assert person.opted_out  # no longer paired

    set_disabled(services.uow_factory, clock, member.email, False)

    assert replay(db_site, token).get("/account").status_code == 302  # revoked for good
    assert sign_in(db_site, db_site.new_client(), member.email).status_code == 303


def test_a_sign_in_link_expires_after_fifteen_minutes(db_site: Site, member: Person, clock: FakeClock) -> None:
    request_link(db_site, db_site.client, member.email)
    link = db_site.last_link()
    clock.advance(timedelta(minutes=15, seconds=1))

    response = use(db_site.client, link)

    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert db_site.client.get("/account").status_code == 302


def test_a_sign_in_link_works_once(db_site: Site, member: Person) -> None:
    request_link(db_site, db_site.client, member.email)
    link = db_site.last_link()

    first = use(db_site.client, link)
    second = use(db_site.new_client(), link)

    assert first.status_code == 303
    assert second.status_code == 410


def test_sessions_end_after_their_lifetime(db_site: Site, member: Person, clock: FakeClock) -> None:
    token = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]

    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert replay(db_site, token).get("/account").status_code == 200
    clock.advance(timedelta(seconds=1))
    assert replay(db_site, token).get("/account").status_code == 302


def test_a_new_sign_in_revokes_the_browsers_previous_session(db_site: Site, member: Person) -> None:
    first = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]
    second = session_cookie(sign_in(db_site, db_site.client, member.email))["value"]

    assert first != second
    assert replay(db_site, first).get("/account").status_code == 302
    assert replay(db_site, second).get("/account").status_code == 200


def test_sign_in_returns_to_the_page_asked_for(db_site: Site, member: Person) -> None:
    redirected = db_site.client.get("/account")
    assert redirected.headers["Location"] == "/sign-in?next=/account"

    page = db_site.client.get(redirected.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account"' in page
    request_link(db_site, db_site.client, member.email, next_path="/account?tab=1")

    assert use(db_site.client, db_site.last_link()).headers["Location"] == "/account?tab=1"


@pytest.mark.parametrize("evil", ["//evil.example", "https:evil.example", "/\\evil.example", "javascript:alert(1)",
                                  "https://evil.example/", "/\t/evil.example", "\\\\evil.example"])
def test_sign_in_never_redirects_off_site(db_site: Site, member: Person, evil: str) -> None:
    page = db_site.client.get("/sign-in", query_string={"next": evil}).get_data(as_text=True)
    assert 'name="next" type="hidden" value=""' in page

    request_link(db_site, db_site.client, member.email, next_path=evil)
    response = use(db_site.client, db_site.last_link())

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


def test_unknown_and_unconfirmed_addresses_get_the_same_answer_and_an_email(db_site: Site) -> None:
    unknown = request_link(db_site, db_site.client, "nobody@example.com")
    assert sign_up_and_confirm(db_site, db_site.new_client(), email="new@example.com").status_code == 303
    with db_site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        uow.session.execute(text("UPDATE people SET verified_at = NULL WHERE email = 'new@example.com'"))
        uow.commit()
    unconfirmed = request_link(db_site, db_site.new_client(), "new@example.com")

    assert unknown.status_code == unconfirmed.status_code == 303
    assert unknown.headers["Location"] == unconfirmed.headers["Location"] == "/check-inbox"
    subjects = [(m.to, m.subject) for m in db_site.mailer.sent]
    assert subjects[0] == (("nobody@example.com",), "No Example Corp Coffee Chat account for this address")
    assert subjects[-1][1] == "Confirm your Example Corp Coffee Chat sign-up"
    assert "https://coffee.example.com/sign-up" in db_site.mailer.sent[0].text
