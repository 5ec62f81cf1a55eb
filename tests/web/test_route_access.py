"""Who may use every route: each endpoint of the app is listed here with its kind of access, so a new route fails
this module until someone decides who may use it; then each kind is checked on every route of that kind, for a
visitor, a signed-in member and an admin, with GET and with a POST that carries a valid CSRF token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import Site, csrf_from, sign_up_and_confirm
from tests.web.test_admin import ADMIN, WEB

# public: anyone; link: anyone holding a signed link (a bad one is refused); signed_in: a member (visitors are
# sent to sign in); member_of_match: a member of that meeting (others get 404); admin: admins (members get 403).
ACCESS = {
    "static": "public",
    "public.index": "public",
    "public.health": "public",
    "auth.sign_up": "public",
    "auth.sign_in": "public",
    "auth.check_inbox": "public",
    "auth.use_link": "link",
    "auth.sign_out": "public",  # signing out when not signed in does nothing
    "account.home": "signed_in",
    "account.edit_profile": "signed_in",
    "account.wishes": "signed_in",
    "account.reports": "signed_in",
    "account.calendar": "signed_in",
    "account.check_calendar": "signed_in",
    "account.participation": "signed_in",
    "account.program_choice": "signed_in",
    "account.pause": "signed_in",
    "account.history": "signed_in",
    "account.export": "signed_in",
    "account.delete": "signed_in",
    "matches.page": "member_of_match",
    "matches.act": "member_of_match",
    "matches.link": "link",
    "matches.thank": "member_of_match",
    "matches.thank_link": "link",
    "still_in.link": "link",
    "introductions.link": "link",
    "introductions.mine": "signed_in",
    "admin.participants": "admin",
    "admin.import_csv": "admin",
    "admin.pause": "admin",
    "admin.access": "admin",
    "admin.cycles": "admin",
    "admin.preview": "admin",
    "admin.run": "admin",
    "admin.deliveries": "admin",
    "admin.requeue": "admin",
    "admin.programs": "admin",
    "admin.program": "admin",
    "admin.audience": "admin",
    "admin.analytics": "admin",
    "admin.cycle": "admin",
    "admin.remove_from_cycle": "admin",
    "admin.swap_in_cycle": "admin",
}
# A real value for each URL argument: a program that exists, a meeting nobody is in, a link that is not ours.
ARGUMENTS = {"name": "coffee", "meeting_id": "999", "action": "accept", "token": "not-a-real-link",
             "filename": "style.css", "cycle_id": "999"}
# Admin pages whose argument names nothing stored (cycle 999): an admin gets 404 rather than the page.
ABSENT_FOR_ADMINS = ("/admin/cycle/999",)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """A site whose ``client`` is signed in as the admin."""
    made = make_site(web=WEB)
    assert sign_up_and_confirm(made, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return made


def routes(site: Site, kind: str) -> list[tuple[str, str]]:
    """(method, URL) of every route of ``kind``, with real arguments."""
    found = []
    for rule in site.app.url_map.iter_rules():
        if ACCESS.get(rule.endpoint) != kind:
            continue
        defaults = rule.defaults or {}
        url = rule.build({**defaults, **{name: ARGUMENTS[name] for name in rule.arguments - defaults.keys()}})[1]
        found += [(method, url) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    return found


def get(client: FlaskClient, url: str) -> int:
    """The status of a GET of ``url`` (the response closed: a static file is streamed)."""
    with client.get(url) as response:
        return response.status_code


def request(client: FlaskClient, method: str, url: str) -> int:
    """The status of ``method`` on ``url``; a POST carries the client's own valid CSRF token."""
    if method == "GET":
        return get(client, url)
    token = csrf_from(client.get("/sign-in").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}).status_code


def member(site: Site) -> FlaskClient:
    client = site.new_client("127.0.0.5")
    assert sign_up_and_confirm(site, client, email="bo.member@example.com", name="Bo Member").status_code == 303
    return client


def test_every_route_says_who_may_use_it(site: Site) -> None:
    endpoints = {rule.endpoint for rule in site.app.url_map.iter_rules()}
    assert endpoints - ACCESS.keys() == set(), "a new route: add it to ACCESS with who may use it"
    assert ACCESS.keys() - endpoints == set(), "a route is gone: remove it from ACCESS"


def test_public_routes_answer_everyone(site: Site) -> None:
    visitor = site.new_client("127.0.0.9")
    for method, url in routes(site, "public"):
        if method == "GET":
            assert get(visitor, url) == 200, url
            assert get(site.client, url) in (200, 302), url  # sign-up/sign-in send members home
        else:  # an empty form: its errors, or sign-out's redirect; never a crash, never a sign-in
            assert request(visitor, method, url) in (303, 400, 422), url


def test_signed_in_routes_send_visitors_to_sign_in_and_answer_members(site: Site) -> None:
    visitor, bo = site.new_client("127.0.0.9"), member(site)
    for method, url in routes(site, "signed_in"):
        answer = visitor.get(url) if method == "GET" else visitor.post(
            url, data={"csrf_token": csrf_from(visitor.get("/sign-in").get_data(as_text=True))})
        assert answer.status_code == 302, (method, url)
        assert answer.headers["Location"].startswith("/sign-in"), (method, url)
        if method == "GET":
            assert bo.get(url).status_code == 200, url


def test_admin_routes_refuse_members_and_visitors(site: Site) -> None:
    visitor, bo = site.new_client("127.0.0.9"), member(site)
    for method, url in routes(site, "admin"):
        answer = visitor.get(url) if method == "GET" else visitor.post(url)
        assert answer.status_code in (302, 400), (method, url)  # off to sign in, or no CSRF token
        assert request(bo, method, url) == 403, (method, url)
        if method == "GET":
            assert site.client.get(url).status_code == (404 if url in ABSENT_FOR_ADMINS else 200), url


def test_a_match_that_is_not_yours_is_not_found(site: Site) -> None:
    bo = member(site)
    for method, url in routes(site, "member_of_match"):
        assert request(bo, method, url) == 404, (method, url)
        assert request(site.client, method, url) == 404, (method, url)  # an admin is no member either


def test_a_link_that_is_not_ours_is_refused_and_changes_nothing(site: Site) -> None:
    visitor = site.new_client("127.0.0.9")
    for method, url in routes(site, "link"):
        status = request(visitor, method, url)
        assert status in (400, 404), (method, url, status)
