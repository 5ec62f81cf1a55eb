"""The addresses emails link to (``web.urls.WebUrls``) are routes of the app, each to the view it is meant for."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.web.conftest import BASE_URL, Site
from web.urls import WebUrls

URLS = WebUrls(BASE_URL + "/")  # a trailing slash in the config is ignored
TOKEN = "eyJtIjo0Mn0.c2lnbmF0dXJl-_"  # the alphabet of an itsdangerous token: URL-safe base64 and dots


def route_of(app: Flask, url: str) -> tuple[str, dict[str, object]]:
    """The endpoint and arguments a GET of ``url`` reaches on ``app``; werkzeug's ``NotFound`` when none."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    assert not parts.query
    assert not parts.fragment
    endpoint, arguments = app.url_map.bind(parts.netloc, url_scheme=parts.scheme).match(parts.path, method="GET")
    return str(endpoint), dict(arguments)


@pytest.mark.parametrize(("url", "endpoint", "arguments"), [
    (URLS.match_page(42), "matches.page", {"meeting_id": 42}),
    (URLS.match_action(42, "not-met", TOKEN), "matches.link",
     {"meeting_id": 42, "action": "not-met", "token": TOKEN}),
    (URLS.account_settings(), "account.home", {}),
    (URLS.sign_up(), "auth.sign_up", {}),
    (URLS.confirm_sign_up(TOKEN), "auth.use_link", {"kind": "confirm", "token": TOKEN}),
    (URLS.sign_in(TOKEN), "auth.use_link", {"kind": "sign-in", "token": TOKEN}),
])
def test_every_address_emails_link_to_is_a_route_of_the_site(
        site: Site, url: str, endpoint: str, arguments: dict[str, object]) -> None:
    assert route_of(site.app, url) == (endpoint, arguments)


def test_the_addresses_are_the_ones_emails_have_always_carried() -> None:
    assert URLS.match_page(42) == "https://coffee.example.com/matches/42"
    assert URLS.match_action(42, "accept", "t.k") == "https://coffee.example.com/matches/42/accept/t.k"
    assert URLS.account_settings() == "https://coffee.example.com/account"
    assert URLS.sign_up() == "https://coffee.example.com/sign-up"
    assert URLS.confirm_sign_up("t.k") == "https://coffee.example.com/confirm/t.k"
    assert URLS.sign_in("t.k") == "https://coffee.example.com/sign-in/t.k"


def test_the_app_wires_the_addresses_of_its_own_base_url(site: Site) -> None:
    assert site.services.site == WebUrls.from_config(site.services.config) == WebUrls(BASE_URL)
    assert site.services.settings.site == site.services.site
