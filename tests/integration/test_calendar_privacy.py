"""Only free/busy is kept: a whole cycle against the Google and Graph fakes, whose answers carry meeting titles,
places and attendee names, leaves none of that text in the database, the logs or any email."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

from integrations.google_calendar import EVENTS_SCOPE, FREEBUSY_SCOPE, GoogleCalendar
from integrations.http import CallRetry
from integrations.invites import render_invite
from integrations.microsoft_graph import GraphCalendar
from scheduler.availability.calendars import CalendarRouter
from scheduler.delivery.emails import email_from_payload
from scheduler.delivery.outbox import RetryPolicy, deliver_due
from scheduler.model import Attendee, Effect, Interval, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.fakes import FakeClock, FakeMailer
from tests.fakes.google_server import GOOGLE_TOKEN_AUDIENCE, FakeGoogle
from tests.fakes.graph_server import GraphFake, TlsFiles, make_tls_files
from web.urls import WebUrls

SUNDAY = datetime(2026, 11, 22, 12, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
ORGANIZER = "coffee@example.com"
GRAPH_SECRET = "privacy-test-client-secret"  # the fake's own; also must not leak
SECRETS = ("Project Nightingale layoffs", "Room Everest 12", "Dr. Quentin Blackwood", "quentin.blackwood@partner")
SETTINGS = PlanSettings(Attendee(ORGANIZER, "Coffee Chat"), f"Coffee Chat <{ORGANIZER}>",
                        WebUrls("https://coffee.example.com"))


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    (tmp_path / "tls").mkdir()
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def google() -> Iterator[tuple[FakeGoogle, dict[str, str]]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    info = {"type": "service_account", "project_id": "privacy", "private_key_id": "01", "private_key": pem,
            "client_email": "coffeechat@privacy.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": GOOGLE_TOKEN_AUDIENCE}
    with FakeGoogle() as fake:
        fake.register_service_account(info["client_email"], key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
        fake.add_calendar(ORGANIZER)
        yield fake, info


@pytest.fixture
def graph(tls: TlsFiles) -> Iterator[GraphFake]:
    with GraphFake(tls=tls, client_secret=GRAPH_SECRET, organizer=ORGANIZER) as fake:
        yield fake


def every_stored_text(engine: Engine) -> str:
    """Every value in every table, as text."""
    metadata = MetaData()
    metadata.reflect(engine)
    parts = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_no_title_place_or_attendee_from_a_calendar_reaches_the_database_logs_or_email(
        google: tuple[FakeGoogle, dict[str, str]], graph: GraphFake, tls: TlsFiles, engine: Engine,
        new_uow: Callable[[], UnitOfWork], caplog: pytest.LogCaptureFixture) -> None:
    google_fake, key_info = google
    title, place, attendee_name, attendee_email = SECRETS
    people = []
    for n in range(6):
        # Their own events, detailed the way the providers answer with them; a gap at 11:00 each day.
        for domain, kind in (("g.example", "google"), ("m.example", "microsoft")):
            email = f"person{n}@{domain}"
            people.append(Person(email, f"Person {n}", f"team-{n % 3}-{kind}", department=f"D{n % 2}",
                                 timezone="UTC", verified_at=SUNDAY))
            for day in range(5):
                start, end = MONDAY + timedelta(days=day, hours=9), MONDAY + timedelta(days=day, hours=11)
                if kind == "google":
                    google_fake.add_calendar(email)
                    google_fake.add_busy(email, start, end, summary=title, location=place, description=title,
                                         attendees=[{"email": attendee_email, "displayName": attendee_name}])
                else:
                    graph.add_item(email, start, end, "busy", subject=title, location=place)
    google_calendar = GoogleCalendar(key_info, organizer=ORGANIZER, endpoint=google_fake.endpoint,
                                     token_uri=google_fake.token_uri, retry=CallRetry(attempts=2))
    graph_calendar = GraphCalendar(tenant_id=graph.tenant_id, client_id=graph.client_id, credential=GRAPH_SECRET,
                                   organizer=ORGANIZER, authority_host=graph.authority_host,
                                   graph_endpoint=graph.graph_endpoint, verify=str(tls.cert),
                                   retry=CallRetry(attempts=2))
    router = CalendarRouter({"google": google_calendar, "microsoft": graph_calendar},
                            domains={"g.example": "google", "m.example": "microsoft"})
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()
    clock = FakeClock(SUNDAY)
    mailer = FakeMailer()
    caplog.set_level(logging.DEBUG)

    outcome = run_cycle(new_uow, router, clock, Program("coffee"), SETTINGS)
    assert outcome.plan is not None
    assert not outcome.plan.calendar_problems  # every calendar was read, through both providers
    assert google_fake.calls["freeBusy"] >= 1
    assert graph.calls["getSchedule"] >= 1
    slots = [m.slot for m in outcome.plan.meetings]
    assert len(slots) == len(people) // 2
    for slot in slots:  # the busy mornings were seen
        assert slot is not None
        morning = Interval(slot.start.replace(hour=9, minute=0), slot.start.replace(hour=11, minute=0))
        assert not slot.overlaps(morning)

    def send(effect: Effect) -> None:
        mailer.send(email_from_payload(effect.payload))

    clock.advance(timedelta(days=6))  # past the reminders too
    deliver_due(new_uow, {"email": send}, clock, RetryPolicy())
    assert mailer.sent
    google_calendar.close()
    graph_calendar.close()

    mail_text = "\n".join(
        f"{m.subject}\n{m.text}\n{m.html}\n{render_invite(m.invite) if m.invite else ''}"
        for m in mailer.sent)
    stored = every_stored_text(engine)
    logged = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    for secret in (*SECRETS, GRAPH_SECRET, key_info["private_key"][40:80]):
        assert secret not in stored
        assert secret not in logged
        assert secret not in mail_text
