"""Config to real connectors: a program configured for Google in TOML reads free/busy through the Google fake
for the domain's people and creates one event per meeting there, with no iMIP email of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.google_calendar import EVENTS_SCOPE, FREEBUSY_SCOPE
from scheduler.config import load_config
from scheduler.delivery.outbox import deliver_due
from scheduler.entrypoints.bootstrap import Services, bootstrap, check_calendars
from scheduler.errors import ConfigError
from scheduler.model import Interval, Person
from scheduler.planning.run import run_cycle
from scheduler.storage.migrate import upgrade_database
from tests.fakes import FakeClock, FakeMailer
from tests.fakes.google_server import GOOGLE_TOKEN_AUDIENCE, FakeGoogle
from web.urls import WebUrls

SUNDAY = datetime(2026, 11, 22, 12, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
ORGANIZER = "coffee@g.example"
KEY_VARIABLE = "COFFEECHAT_TEST_GOOGLE_KEY"


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    info = {"type": "service_account", "project_id": "wiring", "private_key_id": "02", "private_key": pem,
            "client_email": "coffeechat@wiring.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": GOOGLE_TOKEN_AUDIENCE}
    monkeypatch.setenv(KEY_VARIABLE, json.dumps(info))
    with FakeGoogle() as fake:
        fake.register_service_account(info["client_email"], key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
        fake.add_calendar(ORGANIZER)
        yield fake


def write_config(folder: Path, google: FakeGoogle, *, invites: str = "google") -> Path:
    path = folder / "coffeechat.toml"
    path.write_text(f"""
[organisation]
organizer_email = "{ORGANIZER}"

[database]
url = "sqlite:///{folder / 'coffeechat.db'}"

[calendar.google]
enabled = true
domains = ["g.example"]
organizer = "{ORGANIZER}"
service_account_key_env = "{KEY_VARIABLE}"
endpoint = "{google.endpoint}"
token_uri = "{google.token_uri}"
meet_links = true

[[programs]]
name = "coffee"
meeting_mode = "virtual"
invites = "{invites}"
""", encoding="utf-8")
    return path


@pytest.fixture
def services(tmp_path: Path, google: FakeGoogle) -> Iterator[Services]:
    config = load_config(write_config(tmp_path, google))
    upgrade_database(config.database_url)
    wired = bootstrap(config, site=WebUrls.from_config(config), clock=FakeClock(SUNDAY), mailer_factory=FakeMailer)
    yield wired
    wired.dispose()


def test_a_google_program_reads_the_domain_through_google_and_books_events_there(
        services: Services, google: FakeGoogle) -> None:
    people = [Person(f"p{n}@g.example", f"Person {n}", f"team-{n}", timezone="UTC", verified_at=SUNDAY)
              for n in range(4)]
    for person in people:  # busy every morning until 13:00 UTC
        google.add_calendar(person.email)
        for day in range(5):
            google.add_busy(person.email, MONDAY + timedelta(days=day), MONDAY + timedelta(days=day, hours=13))
    with services.uow_factory() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()

    program = services.config.programs[0]
    outcome = run_cycle(services.uow_factory, services.calendar, services.clock, program, services.settings)
    assert outcome.plan is not None
    assert not outcome.plan.calendar_problems
    assert google.calls["freeBusy"] == 1  # four people, one batch
    meetings = outcome.plan.meetings
    assert len(meetings) == 2
    for meeting in meetings:
        assert meeting.slot is not None
        assert meeting.slot.start.hour >= 13  # the mornings were read as busy

    mailer = FakeMailer()
    deliver_due(services.uow_factory, services.performers(mailer), services.clock, services.retry_policy)
    events = google.live_events(ORGANIZER)
    assert len(events) == len(meetings)
    attendees = sorted(a["email"] for e in events for a in e["attendees"])
    assert attendees == sorted(p.email for p in people)
    assert all("conferenceData" in e for e in events)  # virtual meetings with meet_links = true
    booked = sorted(Interval(datetime.fromisoformat(e["start"]["dateTime"]).astimezone(UTC),
                             datetime.fromisoformat(e["end"]["dateTime"]).astimezone(UTC)) for e in events)
    assert booked == sorted(m.slot for m in meetings if m.slot)
    announcements = [m for m in mailer.sent if m.invite is None]
    assert len(announcements) == len(people)  # one email each, and Google sends the invitations
    assert not any(m.invite for m in mailer.sent)


def test_a_missing_key_fails_the_first_call_naming_the_variable(
        tmp_path: Path, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    config = load_config(write_config(tmp_path, google))
    # builds nothing yet
    wired = bootstrap(config, site=WebUrls.from_config(config), clock=FakeClock(SUNDAY), mailer_factory=FakeMailer)
    try:
        # The router's boundary keeps it to the people of that provider: each is told, the cycle goes on.
        answers = wired.calendar.fetch_busy([Person("a@g.example", "A", "t")], Interval(MONDAY, MONDAY + timedelta(1)))
        assert KEY_VARIABLE in (answers["a@g.example"].error or "")
        with pytest.raises(ConfigError, match=KEY_VARIABLE):
            check_calendars(config)  # what `coffeechat config check` runs
    finally:
        wired.dispose()
