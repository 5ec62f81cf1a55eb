"""Fixtures of the web tests: a site (config, migrated database, services with a fake mailer, app, client) and
helpers to fill in forms the way a browser does (CSRF token included) and to follow emailed links."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from scheduler.config import load_config
from scheduler.entrypoints.bootstrap import Services, bootstrap
from scheduler.model import EmailMessage, Person
from scheduler.storage.migrate import upgrade_database
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from web import create_app
from web.urls import WebUrls

SECRET = "a-test-key-that-is-long-enough-0123456789"
BASE_URL = "https://coffee.example.com"
SITE_CONFIG = """
[organisation]
name = "{name}"
organizer_email = "coffee@example.com"
base_url = "{base_url}"

[database]
url = "{database_url}"

[mail]
backend = "file"
sender = "Coffee Chat <coffee@example.com>"

[web]
{web}

{programs}
"""
PROGRAMS = '[[programs]]\nname = "coffee"\n'

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK = re.compile(r"https?://\S+/(confirm|sign-in)/([A-Za-z0-9._-]+)")

# A complete, valid sign-up.
SIGN_UP = {
    "name": "Ana Lima",
    "email": "ana.lima@example.com",
    "team": "Payments",
    "department": "Engineering",
    "office": "London",
    "timezone": "Europe/London",
    "kinds": ["coffee"],
    "mode": "either",
    "cadence": "weekly",
    "interests": "",
    "meet_people": "",
    "meet_teams": "",
    "meet_departments": "",
}


@dataclass
class Site:
    """A running site: its services, the mailer every email goes to, the app and a browser-like client."""

    services: Services
    mailer: FakeMailer
    app: Flask
    client: FlaskClient

    def new_client(self, address: str = "127.0.0.1") -> FlaskClient:
        """Another browser (its own cookies), coming from ``address``."""
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def store(self, *people: Person) -> None:
        """Save people directly (an admin import)."""
        with self.services.uow_factory() as uow:
            for person in people:
                uow.people.save(person)
            uow.commit()

    def person(self, email: str) -> Person | None:
        """The stored person with this address."""
        with self.services.uow_factory() as uow:
            return uow.people.get(email)

    def last_link(self) -> str:
        """The path (``/confirm/…`` or ``/sign-in/…``) of the link in the latest email."""
        return link_path(self.mailer.sent[-1])


def link_path(message: EmailMessage) -> str:
    """The site path of the one link in an account email; fails when there is none."""
    found = LINK.search(message.text)
    assert found is not None, message.text
    return f"/{found.group(1)}/{found.group(2)}"


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def submit(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *,
           form_page: str | None = None) -> TestResponse:
    """GET ``form_page`` (default: ``path``) for its CSRF token, then POST ``data`` with it to ``path``."""
    page = client.get(form_page or path)
    return client.post(path, data={**(data or {}), "csrf_token": csrf_from(page.get_data(as_text=True))})


def use(client: FlaskClient, link: str) -> TestResponse:
    """Open an emailed link and press its button (a link that shows no button is posted to all the same, with the
    browser's CSRF token from another page)."""
    page = client.get(link).get_data(as_text=True)
    if not CSRF.search(page):
        page = client.get("/sign-in").get_data(as_text=True)
    return client.post(link, data={"csrf_token": csrf_from(page)})


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test run: copying it is much faster than migrating each time."""
    path = tmp_path_factory.mktemp("template") / "coffeechat.db"
    upgrade_database(f"sqlite:///{path}")
    return path


def build_site(folder: Path, clock: FakeClock, template: Path, *, database_url: str = "", web: str = "",
               name: str = "Example Corp", base_url: str = BASE_URL, mailer: FakeMailer | None = None,
               programs: str = PROGRAMS) -> Site:
    """A site in ``folder`` on a new, migrated database: a copy of ``template`` (a migrated SQLite file) unless
    ``database_url`` names another; ``programs`` is its ``[[programs]]`` TOML. $COFFEECHAT_SECRET_KEY must be
    set (to ``SECRET``) by the caller."""
    folder.mkdir(parents=True)
    path = folder / "coffeechat.toml"
    path.write_text(SITE_CONFIG.format(name=name, base_url=base_url, database_url=database_url, web=web,
                                       programs=programs),
                    encoding="utf-8")
    config = load_config(path)
    if database_url:
        upgrade_database(config.database_url)
    else:
        shutil.copyfile(template, config.resolve("coffeechat.db"))
    mail = mailer or FakeMailer()
    services = bootstrap(config, site=WebUrls.from_config(config), clock=clock, calendar=FakeCalendarProvider(),
                         mailer_factory=lambda: mail)
    app = create_app(config, services=services)
    app.testing = True
    return Site(services=services, mailer=mail, app=app, client=app.test_client())


@pytest.fixture
def make_site(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Path
              ) -> Iterator[Callable[..., Site]]:
    """Make a site on a new, migrated database (default: a SQLite file); ``web`` is extra ``[web]`` TOML."""
    made: list[Site] = []
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", SECRET)

    def make(**options: Any) -> Site:
        site = build_site(tmp_path / f"site-{len(made)}", clock, migrated_sqlite, **options)
        made.append(site)
        return site

    yield make
    for site in made:
        site.services.dispose()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """A site on SQLite with the default [web] settings."""
    return make_site()


@pytest.fixture
def db_site(make_site: Callable[..., Site], database_url: str) -> Site:
    """A site on each test database (SQLite, and PostgreSQL when configured)."""
    return make_site(database_url=database_url)


def sign_up(site: Site, client: FlaskClient | None = None, **overrides: Any) -> TestResponse:
    """Fill in and send the sign-up form."""
    return submit(client or site.client, "/sign-up", {**SIGN_UP, **overrides})


def sign_up_and_confirm(site: Site, client: FlaskClient | None = None, **overrides: Any) -> TestResponse:
    """Sign up and confirm through the emailed link, in the same browser; returns the confirmation's answer."""
    browser = client or site.client
    assert sign_up(site, browser, **overrides).status_code == 303
    return use(browser, site.last_link())
