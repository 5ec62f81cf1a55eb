"""The relay killed (SIGKILL) at each step, for each effect kind, then restarted: no effect is lost, every
provider event exists exactly once, and every person gets their invite, at most once more than planned.

Each test runs the real relay in a subprocess (``tests/crash/relay_driver.py``) against a real database
(SQLite, and PostgreSQL when set), a real SMTP server on loopback (aiosmtpd) and a file-backed event calendar.
Email is at least once (see ``scheduler/delivery/outbox.py``): a kill after the server accepted a message and before the
outcome was committed sends that one message again, with the same Message-ID; nothing else is ever repeated.
"""

from __future__ import annotations

import email
import email.policy
import json
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from scheduler.model import Attendee, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock
from web.urls import WebUrls

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
LATER = SUNDAY_NOON + timedelta(minutes=6)  # after the driver's 5-minute lease: a crashed claim is due again
NewUow = Callable[[], UnitOfWork]

pytestmark = pytest.mark.slow  # a relay subprocess (with its imports) two or three times per test


class Inbox:
    """An SMTP server's handler that keeps (recipient, Message-ID, calendar METHOD) of every message."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str | None]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        calendars = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        method = calendars[0].get_param("method") if calendars else None
        for recipient in envelope.rcpt_tos:
            self.received.append((recipient, str(message["Message-ID"]), str(method) if method else None))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def plan(new_uow: NewUow, create_person: Callable[..., Person], program: Program, people: int = 4) -> None:
    with new_uow() as uow:
        for index in range(people):
            uow.people.save(create_person(department=f"d{index % 2}"))
        uow.commit()
    run_cycle(new_uow, FakeCalendarProvider(), FakeClock(SUNDAY_NOON), program, SETTINGS)


def driver_command(database_url: str, port: int, events: Path, now: str, extra: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "tests.crash.relay_driver", "--database", database_url, "--smtp-port",
            str(port), "--events", str(events), "--now", now, *extra]


def relay(database_url: str, port: int, events: Path, *, now: str,
          extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run the relay in a process of its own until it ends (or kills itself)."""
    return subprocess.run(driver_command(database_url, port, events, now, extra), cwd=ROOT,  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)


def due_or_open(new_uow: NewUow) -> list[str]:
    """Effects that should have been performed by ``LATER`` and were not: lost ones."""
    with new_uow() as uow:
        return [e.key for e in uow.outbox.list()
                if e.state != "done" and (e.next_attempt_at is None or e.next_attempt_at <= LATER)]


@pytest.mark.parametrize("step", ["claim", "perform", "record"])
def test_an_email_relay_killed_at_each_step_loses_nothing_and_repeats_at_most_the_one_message(
        step: str, database_url: str, new_uow: NewUow, create_person: Callable[..., Person],
        inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    handler, port = inbox
    plan(new_uow, create_person, Program("coffee"))
    events = tmp_path / "events.json"

    killed = relay(database_url, port, events, now=SUNDAY_NOON.isoformat(),
                   extra=("--kill-at", step, "--kill-match", "/announce/"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before_restart = len(handler.received)
    restarted = relay(database_url, port, events, now=LATER.isoformat())
    assert restarted.returncode == 0, restarted.stderr

    assert due_or_open(new_uow) == []
    invites = Counter((recipient, message_id) for recipient, message_id, method in handler.received
                      if method == "REQUEST")
    assert sorted(recipient for recipient, _ in invites) == sorted(p.email for p in _people(new_uow))
    duplicates = sum(count - 1 for count in invites.values())
    # Killed after the send and before the record: that one message goes again (same Message-ID); otherwise none.
    assert duplicates == (1 if step == "perform" else 0)
    assert step != "claim" or before_restart == 0
    assert not events.exists()  # a program sending its own invites never creates provider events


@pytest.mark.parametrize("step", ["claim", "perform", "record"])
def test_a_provider_event_relay_killed_at_each_step_creates_each_event_exactly_once(
        step: str, database_url: str, new_uow: NewUow, create_person: Callable[..., Person],
        inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    handler, port = inbox
    plan(new_uow, create_person, Program("coffee", invites="google"))
    events = tmp_path / "events.json"

    killed = relay(database_url, port, events, now=SUNDAY_NOON.isoformat(),
                   extra=("--kill-at", step, "--kill-match", "/event/"))
    assert killed.returncode == -signal.SIGKILL
    restarted = relay(database_url, port, events, now=LATER.isoformat())
    assert restarted.returncode == 0, restarted.stderr

    assert due_or_open(new_uow) == []
    calendar = json.loads(events.read_text())
    with new_uow() as uow:
        meetings = [m for cycle in uow.cycles.list() if cycle.id for m in uow.cycles.meetings(cycle.id)]
    assert sorted(calendar["events"]) == sorted(m.uid for m in meetings)
    assert calendar["creates"] == len(meetings) == 2
    # The announcements went once each, without an iMIP invite: the provider sends the invitations.
    assert Counter(method for _, _, method in handler.received) == Counter({None: 4})


@pytest.mark.postgres
def test_two_relay_processes_never_perform_the_same_effect(
        postgres_url: str, create_person: Callable[..., Person], inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    from scheduler.storage.migrate import upgrade_database
    from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

    upgrade_database(postgres_url)
    engine = create_engine_for(postgres_url)
    try:
        sessions = make_session_factory(engine)

        def new_uow() -> UnitOfWork:
            return SqlAlchemyUnitOfWork(sessions)

        plan(new_uow, create_person, Program("coffee", invites="google"), people=30)
        handler, port = inbox
        log = tmp_path / "performed.log"
        extra = ("--slow", "0.02", "--log", str(log))
        command = driver_command(postgres_url, port, tmp_path / "events.json", SUNDAY_NOON.isoformat(), extra)
        processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                                      text=True) for _ in range(2)]
        reports = []
        for process in processes:
            with process:
                out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))

        lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
        keys = Counter(key for _, key in lines)
        assert all(count == 1 for count in keys.values()), [k for k, c in keys.items() if c > 1]
        assert len({pid for pid, _ in lines}) == 2  # both relays did some of the work
        assert sum(r["done"] for r in reports) == len(keys) == 45  # 30 announcements, 15 provider events
        with new_uow() as uow:
            assert {e.state for e in uow.outbox.list() if e.next_attempt_at is None} == {"done"}
        assert len(handler.received) == len({message_id for _, message_id, _ in handler.received}) == 30
    finally:
        engine.dispose()


def _people(new_uow: NewUow) -> list[Person]:
    with new_uow() as uow:
        return uow.people.list()


@pytest.mark.parametrize("step", ["claim", "perform", "record"])
def test_a_relay_killed_at_each_step_leaves_exactly_one_google_event_per_meeting(
        step: str, database_url: str, new_uow: NewUow, create_person: Callable[..., Person],
        inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from integrations.google_calendar import EVENTS_SCOPE, FREEBUSY_SCOPE, event_id_for
    from tests.fakes.google_server import GOOGLE_TOKEN_AUDIENCE, FakeGoogle

    handler, port = inbox
    plan(new_uow, create_person, Program("coffee", invites="google"))
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    account = "coffeechat@example-project.iam.gserviceaccount.com"
    with FakeGoogle() as google:
        google.register_service_account(account, key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
        google.add_calendar("coffee@example.com")
        settings = tmp_path / "google.json"
        settings.write_text(json.dumps({
            "key_info": {"type": "service_account", "private_key_id": "0123", "private_key": pem,
                         "client_email": account, "token_uri": GOOGLE_TOKEN_AUDIENCE},
            "organizer": "coffee@example.com", "endpoint": google.endpoint, "token_uri": google.token_uri}))
        extra = ("--google", str(settings))

        killed = relay(database_url, port, tmp_path / "unused.json", now=SUNDAY_NOON.isoformat(),
                       extra=(*extra, "--kill-at", step, "--kill-match", "/event/"))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        restarted = relay(database_url, port, tmp_path / "unused.json", now=LATER.isoformat(), extra=extra)
        assert restarted.returncode == 0, restarted.stderr

        assert due_or_open(new_uow) == []
        with new_uow() as uow:
            meetings = [m for cycle in uow.cycles.list() if cycle.id for m in uow.cycles.meetings(cycle.id)]
        events = google.live_events("coffee@example.com")
        assert sorted(event["id"] for event in events) == sorted(event_id_for(m.uid) for m in meetings)
        assert len(events) == 2
    assert Counter(method for _, _, method in handler.received) == Counter({None: 4})


@pytest.mark.parametrize("step", ["claim", "perform", "record"])
def test_a_relay_killed_at_each_step_leaves_exactly_one_graph_event_per_meeting(
        step: str, database_url: str, new_uow: NewUow, create_person: Callable[..., Person],
        inbox: tuple[Inbox, int], tmp_path: Path) -> None:
    from integrations.microsoft_graph import transaction_id
    from tests.fakes.graph_server import GraphFake, make_tls_files

    handler, port = inbox
    plan(new_uow, create_person, Program("coffee", invites="microsoft"))
    secret = "crash-test-client-secret"
    (tmp_path / "tls").mkdir()
    tls = make_tls_files(tmp_path / "tls")
    with GraphFake(tls=tls, client_secret=secret, organizer="coffee@example.com") as graph:
        settings = tmp_path / "graph.json"
        settings.write_text(json.dumps({
            "tenant_id": graph.tenant_id, "client_id": graph.client_id, "credential": secret,
            "organizer": "coffee@example.com", "authority_host": graph.authority_host,
            "graph_endpoint": graph.graph_endpoint, "verify": str(tls.cert), "timeout": 10.0}))
        extra = ("--microsoft", str(settings))

        killed = relay(database_url, port, tmp_path / "unused.json", now=SUNDAY_NOON.isoformat(),
                       extra=(*extra, "--kill-at", step, "--kill-match", "/event/"))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        restarted = relay(database_url, port, tmp_path / "unused.json", now=LATER.isoformat(), extra=extra)
        assert restarted.returncode == 0, restarted.stderr

        assert due_or_open(new_uow) == []
        with new_uow() as uow:
            meetings = [m for cycle in uow.cycles.list() if cycle.id for m in uow.cycles.meetings(cycle.id)]
        events = graph.events_of("coffee@example.com")
        assert sorted(event["transactionId"] for event in events) == sorted(transaction_id(m.uid) for m in meetings)
        assert len(events) == 2
    assert Counter(method for _, _, method in handler.received) == Counter({None: 4})
