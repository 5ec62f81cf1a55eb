"""Security of the site, one test (at least) per promise: CSRF on every state-changing request, no state change
on GET or HEAD, autoescaping, redirect targets, security headers on every response, rate limits per client
address that a made-up X-Forwarded-For does not reset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.test import TestResponse

from scheduler.errors import DeliveryError
from scheduler.model import Person
from scheduler.storage.orm import Base
from scheduler.storage.uow import SqlAlchemyUnitOfWork
from tests.web.conftest import SIGN_UP, Site, csrf_from, sign_up, sign_up_and_confirm, submit, use
from web.security import client_key, safe_next

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def database_state(site: Site) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the rate-limit buckets, sorted: to prove that a request changed nothing.
    (Opening an emailed link is counted against the ``links`` allowance even by GET: that count is the limiter's
    bookkeeping, not a change the request asked for.)"""
    with site.services.uow_factory() as uow:
        assert isinstance(uow, SqlAlchemyUnitOfWork)
        return {table.name: sorted((tuple(row) for row in uow.session.execute(select(table))), key=repr)
                for table in Base.metadata.sorted_tables if table.name != "rate_limits"}


def route_examples(site: Site) -> dict[str, str]:
    """A real value for every kind of URL argument: valid, unused links, so only the method is under test."""
    sign_up(site, site.new_client(), email="pending@example.com")
    confirm = site.last_link()
    sign_up_and_confirm(site, site.new_client(), email="member@example.com")
    asked = submit(site.new_client(), "/sign-in", {"email": "member@example.com"})
    assert asked.status_code == 303
    sign_in = site.last_link()
    return {"confirm": confirm, "sign-in": sign_in}


def urls_of(site: Site, methods: set[str]) -> list[tuple[str, str]]:
    """(method, URL) for every route of the app that takes one of ``methods``, with real arguments."""
    examples = route_examples(site)
    found = []
    for rule in site.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & methods):
            if rule.endpoint == "static":
                url = "/static/style.css"
            elif rule.arguments - set(rule.defaults or {}):
                kind = (rule.defaults or {}).get("kind", "")
                # Other arguments (a program's name, a meeting's id): "1" has the shape of any of them.
                url = examples[kind] if kind else rule.build(dict.fromkeys(rule.arguments, "1"))[1]
            else:
                url = rule.rule
            found.append((method, url))
    assert found, "no routes found"
    return found


def test_every_state_changing_request_needs_a_csrf_token(site: Site) -> None:
    signed_in = site.new_client()
    assert sign_up_and_confirm(site, signed_in, email="csrf@example.com").status_code == 303
    targets = urls_of(site, STATE_CHANGING)
    before, sent = database_state(site), len(site.mailer.sent)

    for method, url in targets:
        for client in (site.new_client(), signed_in):
            missing = client.open(url, method=method, data={**SIGN_UP, "email": "x@example.com"})
            forged = client.open(url, method=method, data={**SIGN_UP, "csrf_token": "forged"})
            assert missing.status_code == 400, (method, url)
            assert forged.status_code == 400, (method, url)
            assert "CSRF" in missing.get_data(as_text=True)

    assert database_state(site) == before
    assert len(site.mailer.sent) == sent
    assert {url.split("/")[1] for _, url in targets} >= {"sign-up", "sign-in", "confirm", "sign-out"}


def test_get_and_head_change_nothing(site: Site) -> None:
    signed_in = site.new_client()
    assert sign_up_and_confirm(site, signed_in, email="reader@example.com").status_code == 303
    targets = urls_of(site, {"GET", "HEAD"})
    before, sent = database_state(site), len(site.mailer.sent)

    for method, url in targets:
        for client in (site.new_client(), signed_in):
            with client.open(url, method=method, query_string={"email": "x@example.com"}) as response:
                assert response.status_code < 500, (method, url)

    assert database_state(site) == before
    assert len(site.mailer.sent) == sent
    # The links were opened by every client above and still work: opening is not using.
    for url in sorted({url for _, url in targets}):
        if url.startswith(("/confirm/", "/sign-in/")):
            assert use(site.new_client(), url).status_code == 303, url


def test_user_text_is_escaped_on_pages_and_in_html_email(site: Site) -> None:
    evil = "<script>alert(1)</script>"
    assert sign_up(site, name=f"Ana {evil}", team=f"T {evil}", department="R&D <b>").status_code == 303
    [message] = site.mailer.sent

    confirm_page = site.client.get(site.last_link()).get_data(as_text=True)
    use(site.client, site.last_link())
    account_page = site.client.get("/account").get_data(as_text=True)

    for html in (confirm_page, account_page, message.html):
        assert "<script>alert" not in html
        assert "Ana &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "R&amp;D &lt;b&gt;" in message.html
    # Plain text shows what was typed, as typed.
    assert f"Name: Ana {evil}" in message.text


def test_form_values_are_escaped_when_shown_again(site: Site) -> None:
    response = submit(site.client, "/sign-up", {**SIGN_UP, "name": '"><script>alert(1)</script>', "email": ""})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert" not in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


@pytest.mark.parametrize("target", ["//evil.example", "https:evil.example", "/\\evil.example", "javascript:alert(1)",
                                    "https://evil.example/x", "///evil.example", "/\t/evil.example", "/\n/evil",
                                    "evil.example", "", None, " /account", "/%0a/evil"])
def test_unsafe_redirect_targets_fall_back_to_the_default(target: str | None) -> None:
    expected = "/%0a/evil" if target == "/%0a/evil" else "/account"
    assert safe_next(target) == expected


@pytest.mark.parametrize("target", ["/account", "/account?tab=1", "/matches/3#when", "/"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@given(st.text(alphabet=st.sampled_from("/\\:.@?#%a1 \t\nj"), max_size=12)
       | st.text(max_size=30).map(lambda text: "/" + text))
def test_an_accepted_redirect_target_always_stays_on_the_site(target: str) -> None:
    kept = safe_next(target, default="/account")

    resolved = urlsplit(urljoin("https://coffee.example.com/sign-in/abc", kept))
    assert (resolved.scheme, resolved.netloc) == ("https", "coffee.example.com")
    assert kept.startswith("/")
    assert not kept.startswith(("//", "/\\"))


def assert_security_headers(response: TestResponse, *, https: bool = False) -> None:
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    if https:
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in headers


def test_security_headers_on_every_kind_of_response(make_site: Callable[..., Site]) -> None:
    site = make_site(web="sign_up_per_hour = 1")

    def boom() -> str:
        raise RuntimeError("a bug")

    site.app.add_url_rule("/boom", "boom", boom)
    site.app.config["PROPAGATE_EXCEPTIONS"] = False
    client = site.client
    responses = {
        "home": client.get("/"),
        "sign-up": client.get("/sign-up"),
        "static": client.get("/static/style.css"),
        "script": client.get("/static/timezone.js"),
        "404": client.get("/no/such/page"),
        "404 json": client.get("/nothing", headers={"Accept": "application/json"}),
        "405": client.post("/"),
        "400 csrf": client.post("/sign-up"),
        "400 link": client.get("/confirm/nonsense"),
        "500": client.get("/boom"),
    }
    submit(client, "/sign-up", SIGN_UP)
    responses["429"] = submit(client, "/sign-up", SIGN_UP)
    site.mailer.fail_with = DeliveryError("down", transient=True)
    responses["503"] = submit(site.new_client("192.0.2.9"), "/sign-up", SIGN_UP)

    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {"home": 200, "sign-up": 200, "static": 200, "script": 200, "404": 404, "404 json": 404,
                        "405": 405, "400 csrf": 400, "400 link": 400, "500": 500, "429": 429, "503": 503}
    for name, response in responses.items():
        response.close()  # static files are streamed from an open file
        try:
            assert_security_headers(response)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    assert responses["script"].mimetype == "text/javascript"
    assert responses["sign-up"].headers["Cache-Control"] == "no-store"


def test_hsts_only_over_https(site: Site) -> None:
    assert_security_headers(site.client.get("/", base_url="https://localhost"), https=True)
    assert_security_headers(site.client.get("/"), https=False)


@pytest.mark.parametrize(("area", "request_once"), [
    ("sign_up_per_hour", lambda site, client: submit(client, "/sign-up", SIGN_UP)),
    ("sign_in_per_hour", lambda site, client: submit(client, "/sign-in", {"email": "nobody@example.com"})),
    ("links_per_hour", lambda site, client: client.get("/confirm/not-a-token")),
])
def test_rate_limits_per_client_address_ignore_a_made_up_forwarded_for(
    make_site: Callable[..., Site], area: str, request_once: Callable[[Site, FlaskClient], TestResponse]
) -> None:
    site = make_site(web=f"{area} = 3")
    client = site.new_client("203.0.113.5")

    answers = []
    for n in range(4):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{n}"  # a new "address" every time: ignored
        answers.append(request_once(site, client).status_code)
    other = request_once(site, site.new_client("203.0.113.6")).status_code

    assert 429 not in answers[:3]
    assert answers[3] == 429
    assert other != 429
    limited = request_once(site, client)
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many requests" in limited.get_data(as_text=True)


def test_a_trusted_proxy_forwarded_address_is_believed(make_site: Callable[..., Site]) -> None:
    site = make_site(web="trusted_proxies = 1\nsign_in_per_hour = 1")
    proxy = site.new_client("10.0.0.1")

    answers = []
    for client_address in ("203.0.113.5", "203.0.113.6", "203.0.113.5"):
        proxy.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        answers.append(submit(proxy, "/sign-in", {"email": "nobody@example.com"}).status_code)
    fresh = site.new_client("10.0.0.1")  # no cookie yet, so the page sets one
    over_https = fresh.get("/sign-up", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})

    assert answers == [303, 303, 429]
    assert_security_headers(over_https, https=True)
    assert "Secure" in over_https.headers["Set-Cookie"]


def test_without_a_trusted_proxy_forwarded_proto_is_ignored(make_site: Callable[..., Site]) -> None:
    site = make_site(base_url="http://127.0.0.1:5000")

    response = site.client.get("/sign-up", headers={"X-Forwarded-Proto": "https"})

    assert_security_headers(response, https=False)
    assert "Secure" not in response.headers["Set-Cookie"]


def test_links_in_pages_never_leave_in_a_referer(site: Site, create_person: Callable[..., Person]) -> None:
    sign_up(site)
    page = site.client.get(site.last_link())

    assert page.headers["Referrer-Policy"] == "same-origin"
    assert csrf_from(page.get_data(as_text=True))


def test_an_unreachable_database_is_a_503_page_with_the_headers(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler.errors import StorageError

    def unreachable() -> SqlAlchemyUnitOfWork:
        raise StorageError("cannot use the database at postgresql://coffee:***@db/coffee: connection refused")

    site.client.set_cookie("coffeechat_session", "some-token")
    monkeypatch.setattr(site.services, "uow_factory", unreachable)

    response = site.client.get("/healthz")

    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "cannot reach its database" in html
    assert "postgresql://" not in html
    assert response.headers["Retry-After"] == "30"
    assert_security_headers(response)


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.5", "203.0.113.5"),
    (None, "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_rate_limits_count_ipv6_hosts_by_their_network(address: str | None, key: str) -> None:
    assert client_key(address) == key
