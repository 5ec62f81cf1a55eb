"""The public web site: home page figures without personal data, health check, error pages, CSRF, secret key.

The app runs on a SQLite file with the real storage; cycles are planned through the service layer with fake
calendars and a fixed clock (Sunday 2026-11-22, so the next window is the week of 2026-11-23).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from flask_wtf.csrf import CSRFProtect, generate_csrf

from scheduler.config import load_config
from scheduler.entrypoints.bootstrap import Services, bootstrap
from scheduler.model import Person
from scheduler.planning.run import CycleOutcome, run_cycle
from scheduler.storage.migrate import upgrade_database
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from web import create_app
from web.urls import WebUrls

SECRET_ENV = "COFFEECHAT_SECRET_KEY"
CONFIG = """
[organisation]
name = "{name}"
organizer_email = "coffee@example.com"

[mail]
backend = "file"

[[programs]]
name = "coffee"
kind = "coffee"
cadence = "weekly"
duration_minutes = 30

[[programs]]
name = "lunch"
kind = "lunch"
cadence = "monthly"
duration_minutes = 60
"""
# Six people in six teams: four in Engineering, two in Sales. The best plan pairs each Sales person with an
# engineer and the last two engineers together: 2 of 3 groups cross departments.
PEOPLE = (
    ("ines.quartz@example.com", "Ines Quartz", "Payments", "Engineering"),
    ("jonas.umber@example.com", "Jonas Umber", "Platform", "Engineering"),
    ("kemi.vermilion@example.com", "Kemi Vermilion", "Mobile", "Engineering"),
    ("liam.woad@example.com", "Liam Woad", "Data", "Engineering"),
    ("mei.xanthe@example.com", "Mei Xanthe", "EMEA Sales", "Sales"),
    ("noor.yarrow@example.com", "Noor Yarrow", "Partnerships", "Sales"),
)


class TableReader(HTMLParser):
    """The text of every table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def program_rows(html: str) -> dict[str, list[str]]:
    """The home page's program table: each row's cells by program name."""
    reader = TableReader()
    reader.feed(html)
    header, *rows = reader.rows
    assert header == ["program", "what", "cycles", "latest week", "groups", "cross-department", "with a common slot"]
    return {row[0]: row for row in rows}


@pytest.fixture
def make_services(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Services]]:
    """Services on a new, migrated SQLite database next to a config naming the organisation ``name``."""
    made: list[Services] = []

    def make(name: str = "Example Corp") -> Services:
        folder = tmp_path / f"site-{len(made)}"
        folder.mkdir()
        path = folder / "coffeechat.toml"
        path.write_text(CONFIG.format(name=name), encoding="utf-8")
        config = load_config(path)
        upgrade_database(config.database_url)
        services = bootstrap(config, site=WebUrls.from_config(config), clock=clock, calendar=FakeCalendarProvider(),
                             mailer_factory=FakeMailer)
        made.append(services)
        return services

    yield make
    for services in made:
        services.dispose()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    return make_services()


@pytest.fixture
def app(services: Services, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    app = create_app(services.config, services=services)
    app.testing = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def people(services: Services, create_person: Callable[..., Person]) -> list[Person]:
    """The six PEOPLE, stored."""
    made = [create_person(email=email, name=name, team=team, department=department)
            for email, name, team, department in PEOPLE]
    with services.uow_factory() as uow:
        for person in made:
            uow.people.save(person)
        uow.commit()
    return made


@pytest.fixture
def planned(services: Services, people: list[Person], clock: FakeClock) -> CycleOutcome:
    """A coffee cycle planned and stored through the service layer."""
    outcome = run_cycle(services.uow_factory, FakeCalendarProvider(), clock, services.program("coffee"),
                        services.settings)
    assert outcome.cycle is not None
    assert outcome.plan is not None
    return outcome


def test_home_page_lists_the_programs(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Example Corp: Coffee Chat" in html
    rows = program_rows(html)
    assert rows == {
        "coffee": ["coffee", "coffee, 30 min, weekly", "0", "not yet", "0", "–", "–"],
        "lunch": ["lunch", "lunch, 60 min, monthly", "0", "not yet", "0", "–", "–"],
    }


def test_home_page_shows_the_latest_cycle_without_personal_data(
    client: FlaskClient, planned: CycleOutcome, people: list[Person]
) -> None:
    assert planned.plan is not None
    meetings = planned.plan.meetings
    departments = {person.email: person.department for person in people}
    crossing = [m for m in meetings if len({departments[e] for e in m.group.members}) > 1]
    assert (len(meetings), len(crossing)) == (3, 2)

    html = client.get("/").get_data(as_text=True)

    rows = program_rows(html)
    assert rows["coffee"] == ["coffee", "coffee, 30 min, weekly", "1", "2026-11-23", "3 (6 people)", "67%", "100%"]
    assert rows["lunch"][2:4] == ["0", "not yet"]
    for person in people:
        assert person.name not in html
        assert person.name.split()[1] not in html
        assert person.email not in html
        assert person.email.partition("@")[0] not in html


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_unknown_url_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<h1>404 Not Found</h1>" in html
    assert '<a href="/">Home</a>' in html


def test_unknown_url_is_a_404_json_answer_when_asked(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert body["error"] == "Not Found"
    assert "not found" in body["message"].lower()


def test_csrf_protection_is_installed(app: Flask) -> None:
    assert isinstance(app.extensions["csrf"], CSRFProtect)
    assert app.config["WTF_CSRF_ENABLED"] is True


def test_post_to_the_home_page_is_405(client: FlaskClient) -> None:
    """The home page takes no POST: routing refuses it (405) before the CSRF check, which runs only for a
    matched view, would answer 400."""
    response = client.post("/", data={"name": "x"})

    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "<h1>405 Method Not Allowed</h1>" in response.get_data(as_text=True)


def test_post_without_a_csrf_token_is_refused_with_400(app: Flask) -> None:
    def probe() -> str:
        return generate_csrf() if request.method == "GET" else "accepted"

    app.add_url_rule("/csrf-probe", "csrf_probe", probe, methods=["GET", "POST"])
    client = app.test_client()

    refused = client.post("/csrf-probe", data={"name": "x"})
    forged = client.post("/csrf-probe", data={"csrf_token": "forged"})
    token = client.get("/csrf-probe").get_data(as_text=True)
    accepted = client.post("/csrf-probe", data={"name": "x"}, headers={"X-CSRFToken": token})

    assert refused.status_code == 400
    assert "The CSRF token is missing." in refused.get_data(as_text=True)
    assert forged.status_code == 400
    assert accepted.status_code == 200
    assert accepted.get_data(as_text=True) == "accepted"


def test_organisation_name_is_escaped(make_services: Callable[..., Services], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    services = make_services(name="Evil <script>alert(1)</script> & Co")
    app = create_app(services.config, services=services)
    app.testing = True

    html = app.test_client().get("/").get_data(as_text=True)

    assert "<script" not in html
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co: Coffee Chat" in html


def test_without_a_secret_key_the_app_starts_with_a_random_one(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)

    with caplog.at_level(logging.WARNING, logger="web"):
        first = create_app(services.config, services=services)
        second = create_app(services.config, services=services)

    key = first.config["SECRET_KEY"]
    assert isinstance(key, str)
    assert len(key) >= 32
    assert key != second.config["SECRET_KEY"]
    warnings = [record for record in caplog.records if record.name == "web" and record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert SECRET_ENV in warnings[0].getMessage()
    assert key not in caplog.text
    assert second.config["SECRET_KEY"] not in caplog.text
    first.testing = True
    assert first.test_client().get("/healthz").status_code == 200


def test_secret_key_comes_from_the_environment(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SECRET_ENV, "a-key-from-the-environment-0123456789")

    with caplog.at_level(logging.WARNING, logger="web"):
        app = create_app(services.config, services=services)

    assert app.config["SECRET_KEY"] == "a-key-from-the-environment-0123456789"
    assert [record for record in caplog.records if record.name == "web"] == []
