"""Cancelling and rescheduling meetings, provider-sent invitations and the relay's faults, through the real
storage (SQLite, and PostgreSQL when set) with in-process fakes of the mailer and the event calendar; a mail
server that refuses the login is a real SMTP server (aiosmtpd) on loopback, reached by the real SmtpMailer
and, at the end, by the ``coffeechat deliver`` command."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from integrations.mail import SmtpMailer
from scheduler.clock import SystemClock
from scheduler.delivery.emails import email_from_payload
from scheduler.delivery.outbox import DeliveryReport, RetryPolicy, deliver_due, standard_performers
from scheduler.entrypoints.cli import main
from scheduler.errors import DeliveryError, InputError, NotFoundError
from scheduler.model import Attendee, EmailMessage, Interval, Meeting, Person, Program
from scheduler.planning.cycle import PlanSettings, next_window
from scheduler.planning.meetings import cancel_meeting, reschedule_meeting
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.e2e.org import ANSI, COFFEE, HEADER, PEOPLE, Org, busy_calendar, person_row
from tests.fakes import FakeCalendarProvider, FakeClock, FakeEventCalendar, FakeMailer
from web.urls import WebUrls

SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, base=timedelta(minutes=1), cap=timedelta(hours=1), lease=timedelta(minutes=5))
NewUow = Callable[[], UnitOfWork]


class World:
    """A stored organisation with one planned cycle, a mailer and an event calendar, and the relay."""

    def __init__(self, new_uow: NewUow, clock: FakeClock, people: list[Person], program: Program) -> None:
        self.new_uow, self.clock, self.program = new_uow, clock, program
        self.mailer = FakeMailer()
        self.calendar = FakeEventCalendar()
        with new_uow() as uow:
            for person in people:
                uow.people.save(person)
            uow.commit()
        outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, program, SETTINGS)
        assert outcome.cycle is not None
        assert outcome.cycle.id is not None
        self.cycle_id = outcome.cycle.id

    def deliver(self) -> DeliveryReport:
        return deliver_due(self.new_uow, standard_performers(self.mailer, {"google": self.calendar}), self.clock,
                           POLICY)

    def meetings(self) -> list[Meeting]:
        with self.new_uow() as uow:
            return uow.cycles.meetings(self.cycle_id)

    def sent_to(self, email: str) -> list[EmailMessage]:
        return [m for m in self.mailer.sent if parseaddr(m.to[0])[1] == email]

    def states(self) -> Counter[str]:
        with self.new_uow() as uow:
            return Counter(effect.state for effect in uow.outbox.list())


@pytest.fixture
def world(new_uow: NewUow, clock: FakeClock, create_person: Callable[..., Person]) -> World:
    return World(new_uow, clock, [create_person(department=f"d{i % 2}") for i in range(4)], Program("coffee"))


@pytest.fixture
def google_world(new_uow: NewUow, clock: FakeClock, create_person: Callable[..., Person]) -> World:
    return World(new_uow, clock, [create_person(department=f"d{i % 2}") for i in range(4)],
                 Program("coffee", invites="google"))


def later(slot: Interval, days: int = 1) -> Interval:
    return Interval(slot.start + timedelta(days=days), slot.end + timedelta(days=days))


def test_cancelling_sends_a_cancel_invite_and_nothing_stale_afterwards(world: World) -> None:
    world.deliver()
    first, second = world.meetings()
    assert first.id is not None
    assert first.slot is not None

    change = cancel_meeting(world.new_uow, world.clock, SETTINGS, first.id, reason="Ana is ill")

    assert (change.meeting.state, change.meeting.sequence) == ("cancelled", 1)
    assert change.superseded == 4  # two reminders and two feedback requests of generation 0
    assert world.meetings()[0] == change.meeting
    assert world.deliver().done == 2
    for email in first.group.members:
        (announcement, cancellation) = world.sent_to(email)
        assert announcement.invite is not None
        assert cancellation.invite is not None
        assert (cancellation.invite.method, cancellation.invite.sequence) == ("CANCEL", 1)
        assert cancellation.invite.uid == announcement.invite.uid == first.uid
        assert "Ana is ill" in cancellation.text
    # Through the week (the relay runs every hour): the other pair gets its reminder and feedback request; the
    # cancelled pair nothing.
    done = 0
    while world.clock.current < MONDAY + timedelta(days=6):
        world.clock.advance(timedelta(hours=1))
        done += world.deliver().done
    assert done == 4
    assert all(len(world.sent_to(email)) == 2 for email in first.group.members)
    assert all(len(world.sent_to(email)) == 3 for email in second.group.members)
    assert world.states() == Counter({"done": 10, "superseded": 4})


def test_rescheduling_sends_an_updated_request_and_moves_reminder_and_feedback(world: World) -> None:
    world.deliver()
    meeting = world.meetings()[0]
    assert meeting.id is not None
    assert meeting.slot is not None
    new_slot = later(meeting.slot, 2)

    change = reschedule_meeting(world.new_uow, world.clock, SETTINGS, meeting.id, new_slot)

    assert (change.meeting.slot, change.meeting.sequence, change.meeting.state) == (new_slot, 1, "proposed")
    with world.new_uow() as uow:
        planned = {e.key.split("/")[3]: e for e in uow.outbox.list() if "/seq-1/" in e.key}
    assert planned["remind"].next_attempt_at == new_slot.start - timedelta(hours=24)
    assert planned["feedback"].next_attempt_at == new_slot.end + timedelta(hours=3)
    assert world.deliver().done == 2
    for email in meeting.group.members:
        notice = world.sent_to(email)[-1]
        assert notice.invite is not None
        assert (notice.invite.method, notice.invite.sequence, notice.invite.start) == ("REQUEST", 1,
                                                                                        new_slot.start)
    # Cancelling afterwards raises the sequence again and supersedes the new generation's reminders.
    change = cancel_meeting(world.new_uow, world.clock, SETTINGS, meeting.id)
    assert (change.meeting.sequence, change.superseded) == (2, 4)
    world.deliver()
    last = world.sent_to(meeting.group.members[0])[-1]
    assert last.invite is not None
    assert (last.invite.method, last.invite.sequence) == ("CANCEL", 2)
    assert "Why:" not in last.text  # no reason given


def test_meeting_changes_refuse_what_cannot_be(world: World) -> None:
    meeting = world.meetings()[0]
    assert meeting.id is not None
    assert meeting.slot is not None
    with pytest.raises(NotFoundError, match="no meeting with id 999"):
        cancel_meeting(world.new_uow, world.clock, SETTINGS, 999)
    begun = Interval(world.clock.now() - timedelta(minutes=10), world.clock.now() + timedelta(minutes=20))
    with pytest.raises(InputError, match="has begun"):
        reschedule_meeting(world.new_uow, world.clock, SETTINGS, meeting.id, begun)
    with pytest.raises(InputError, match="lasts 30 minutes"):
        reschedule_meeting(world.new_uow, world.clock, SETTINGS, meeting.id,
                           Interval(meeting.slot.start, meeting.slot.end + timedelta(minutes=30)))
    cancel_meeting(world.new_uow, world.clock, SETTINGS, meeting.id)
    with pytest.raises(InputError, match="is cancelled"):
        cancel_meeting(world.new_uow, world.clock, SETTINGS, meeting.id)
    with pytest.raises(InputError, match="is cancelled"):
        reschedule_meeting(world.new_uow, world.clock, SETTINGS, meeting.id, later(meeting.slot))


def test_a_provider_sends_the_invitations_and_emails_carry_none(google_world: World) -> None:
    world = google_world
    with world.new_uow() as uow:
        kinds = Counter(e.kind for e in uow.outbox.list())
    assert kinds["calendar_event"] == 2  # one per meeting, not per person
    world.deliver()
    meetings = world.meetings()
    assert all(m.invite is None for m in world.mailer.sent)
    assert sorted(world.calendar.events) == sorted(m.uid for m in meetings)
    assert all(invite.method == "REQUEST" for invite in world.calendar.events.values())
    assert "comes separately" in world.mailer.sent[0].text

    first, second = meetings
    assert first.id is not None
    assert first.slot is not None
    assert second.id is not None
    reschedule_meeting(world.new_uow, world.clock, SETTINGS, first.id, later(first.slot))
    cancel_meeting(world.new_uow, world.clock, SETTINGS, second.id)
    world.deliver()

    assert list(world.calendar.events) == [first.uid]
    assert world.calendar.events[first.uid].start == later(first.slot).start
    assert world.calendar.events[first.uid].sequence == 1
    assert list(world.calendar.cancelled) == [second.uid]
    assert all(m.invite is None for m in world.mailer.sent)
    creates = [call for call in world.calendar.calls if call[0] == "create"]
    assert len({uid for _, uid, _ in creates}) == 2


def test_an_event_calendar_that_is_not_configured_leaves_the_effect_dead_with_the_reason(
        new_uow: NewUow, clock: FakeClock, create_person: Callable[..., Person]) -> None:
    world = World(new_uow, clock, [create_person(), create_person()], Program("coffee", invites="microsoft"))
    report = world.deliver()
    assert report.dead == 1
    with new_uow() as uow:
        (dead,) = uow.outbox.list(state="dead")
    assert dead.kind == "calendar_event"
    assert "no event calendar 'microsoft' is configured" in dead.last_error


def test_a_429_with_retry_after_waits_that_long_on_the_clock(google_world: World) -> None:
    world = google_world
    world.calendar.failures = [DeliveryError("429 Too Many Requests", transient=True, retry_after=600)]
    assert world.deliver().retried == 1
    assert len(world.calendar.events) == 1  # the second meeting's event was not limited
    world.clock.advance(timedelta(minutes=9))
    assert world.deliver().attempted == 0  # the ladder says 1 minute; the server said 10
    world.clock.advance(timedelta(minutes=1))
    assert world.deliver().done == 1
    assert len(world.calendar.events) == 2


def test_503s_retry_on_the_ladder_then_succeed(google_world: World) -> None:
    world = google_world
    world.calendar.failures = [DeliveryError("503 Service Unavailable", transient=True)] * 2
    assert world.deliver().retried == 2
    world.clock.advance(timedelta(minutes=1))
    world.deliver()
    with world.new_uow() as uow:
        events = [e for e in uow.outbox.list() if e.kind == "calendar_event"]
    assert [(e.state, e.attempts) for e in events] == [("done", 2), ("done", 2)]
    assert len(world.calendar.events) == 2


def test_503s_until_the_attempts_run_out_leave_the_effect_dead(google_world: World) -> None:
    world = google_world
    world.calendar.failures = [DeliveryError("503 Service Unavailable", transient=True)] * (2 * POLICY.max_attempts)
    for _ in range(POLICY.max_attempts):
        world.deliver()
        world.clock.advance(POLICY.cap)
    with world.new_uow() as uow:
        dead = uow.outbox.list(state="dead")
    assert [e.kind for e in dead] == ["calendar_event", "calendar_event"]
    assert all(e.last_error.startswith(f"gave up after {POLICY.max_attempts} attempts: 503") for e in dead)
    assert world.calendar.events == {}


def test_the_mail_server_down_for_a_while_then_back_delivers_everything_once(world: World) -> None:
    world.mailer.fail_with = DeliveryError("connection refused", transient=True)
    assert world.deliver().retried == 4
    world.clock.advance(timedelta(minutes=30))
    world.deliver()
    world.mailer.fail_with = None
    world.clock.advance(timedelta(hours=1))
    world.deliver()
    assert sum(m.invite is not None for m in world.mailer.sent) == 4  # every announcement, with its invite
    assert len({m.message_id for m in world.mailer.sent}) == len(world.mailer.sent)


def test_a_dead_effect_requeued_is_delivered(world: World) -> None:
    world.mailer.fail_with = DeliveryError("550 mailbox unavailable", transient=False)
    assert world.deliver().dead == 4
    world.mailer.fail_with = None
    with world.new_uow() as uow:
        for effect in uow.outbox.list(state="dead"):
            uow.outbox.requeue(effect.key, world.clock.now())
        uow.commit()
    assert world.deliver().done == 4


def test_an_unknown_meeting_payload_is_dead_not_crashing(world: World) -> None:
    with world.new_uow() as uow:
        effect = uow.outbox.list()[0]
        uow.outbox.add(replace(effect, key="broken", payload={"version": 99}))
        uow.commit()
    world.deliver()
    with world.new_uow() as uow:
        (dead,) = uow.outbox.list(state="dead")
    assert dead.key == "broken"
    assert "version" in dead.last_error


# --- a mail server that refuses the login (issue 13) ---------------------------------------------------------

HOST = "127.0.0.1"
USERNAME = "coffee"
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "last year's password"
# aiosmtpd warns against AUTH without TLS, rightly for a real server; this one is on loopback, and in clear so
# that the CLI's own SmtpMailer (which trusts only the system's CAs) can reach it.
plain_login = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


class LoginServer:
    """A real SMTP server on loopback that wants USERNAME/PASSWORD (in clear: loopback only) and keeps what it
    accepted; ``login_sessions`` are the connections that tried to log in."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.login_sessions: list[Session] = []
        with socket.socket() as probe:  # the Controller needs a concrete port
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        self.controller = Controller(self, hostname=HOST, port=port, auth_required=True, auth_require_tls=False,
                                     authenticator=self.authenticate)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     data: Any) -> AuthResult:
        if not any(known is session for known in self.login_sessions):
            self.login_sessions.append(session)
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USERNAME.encode(),
                                                                                  PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK: queued"


@pytest.fixture
def login_server() -> Iterator[LoginServer]:
    server = LoginServer()
    server.controller.start()
    yield server
    server.controller.stop()


def smtp_mailer(server: LoginServer, password: str) -> SmtpMailer:
    return SmtpMailer(HOST, server.port, security="none", username=USERNAME, password=password,
                      password_name="COFFEECHAT_SMTP_PASSWORD", timeout=5.0, local_hostname="localhost")


def refusal(server: LoginServer) -> str:
    return (f"SMTP {HOST}:{server.port}: the mail server refused Coffee Chat's login (535 5.7.8 Authentication "
            "credentials invalid): check the username 'coffee' and the password in COFFEECHAT_SMTP_PASSWORD")


@plain_login
def test_issue_13_a_refused_smtp_login_pauses_a_cycles_emails_with_one_alert_and_loses_none(
        new_uow: NewUow, clock: FakeClock, create_person: Callable[..., Person], login_server: LoginServer,
        caplog: pytest.LogCaptureFixture) -> None:
    World(new_uow, clock, [create_person(department=f"d{i % 2}") for i in range(24)], Program("coffee"))
    with new_uow() as uow:
        due = uow.outbox.due(clock.now(), limit=1000)
    assert [e.kind for e in due] == ["email"] * 24  # every member's announcement, with its invite
    caplog.set_level(logging.WARNING, logger="scheduler.delivery.outbox")

    with smtp_mailer(login_server, WRONG_PASSWORD) as mailer:
        report = deliver_due(new_uow, standard_performers(mailer, {}), clock, POLICY)

    assert (report.done, report.retried, report.dead, report.held) == (0, 0, 0, 24)
    assert report.alerts == (f"email delivery paused: {refusal(login_server)}; 24 kept pending for the next pass",)
    assert [r.getMessage() for r in caplog.records if r.name == "scheduler.delivery.outbox"] == [
        f"email delivery paused for the rest of this pass, its effects kept pending: {refusal(login_server)}"]
    assert all(WRONG_PASSWORD not in r.getMessage() for r in caplog.records)
    assert len(login_server.login_sessions) == 1  # one refused login, not one per email
    assert login_server.envelopes == []
    with new_uow() as uow:
        after = {e.key: e for e in uow.outbox.list()}
    assert [(after[e.key].state, after[e.key].attempts) for e in due] == [("pending", 0)] * 24
    assert Counter(e.state for e in after.values()) == Counter({"pending": 24 + 48})  # no dead letter at all

    # The admin fixes the password; the next pass sends them all, each once.
    clock.advance(timedelta(minutes=5))
    with smtp_mailer(login_server, PASSWORD) as mailer:
        fixed = deliver_due(new_uow, standard_performers(mailer, {}), clock, POLICY)

    assert (fixed.done, fixed.held, fixed.alerts) == (24, 0, ())
    assert sorted(rcpt for e in login_server.envelopes for rcpt in e.rcpt_tos) == sorted(
        parseaddr(to)[1] for e in due for to in email_from_payload(e.payload).to)
    with new_uow() as uow:
        assert [e.state for e in uow.outbox.list() if e.key in {d.key for d in due}] == ["done"] * 24


@plain_login
def test_issue_13_provider_events_go_while_email_is_paused(google_world: World, login_server: LoginServer) -> None:
    world = google_world

    with smtp_mailer(login_server, WRONG_PASSWORD) as mailer:
        report = deliver_due(world.new_uow, standard_performers(mailer, {"google": world.calendar}), world.clock,
                             POLICY)

    assert (report.done, report.held, len(report.alerts)) == (2, 4, 1)
    assert sorted(world.calendar.events) == sorted(m.uid for m in world.meetings())
    assert world.states() == Counter({"done": 2, "pending": 4 + 8})


SMTP_CONFIG = """
[organisation]
name = "Test Org"
organizer_email = "coffee@test.example.com"
organizer_name = "Coffee Chat"

[mail]
backend = "smtp"
sender = "Coffee Chat <coffee@test.example.com>"

[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "coffee"
password_env = "COFFEECHAT_TEST_SMTP_PASSWORD"
timeout_seconds = 5

[calendar]
ics_dir = "."
"""


@plain_login
def test_issue_13_coffeechat_deliver_prints_the_pause_as_one_line_and_exits_4(
        tmp_path: Path, login_server: LoginServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    org = Org(tmp_path / "org")
    (org.directory / "calendars").mkdir(parents=True)
    org.config.write_text(SMTP_CONFIG.format(port=login_server.port) + COFFEE, encoding="utf-8")
    org.people_csv.write_text("\n".join([HEADER, *(person_row(*person) for person in PEOPLE)]) + "\n",
                              encoding="utf-8")
    first = next_window(Program("coffee"), SystemClock().now()).start
    for email, *_ in PEOPLE:
        (org.directory / "calendars" / f"{email.partition('@')[0]}.ics").write_text(
            busy_calendar(email, [first, first + timedelta(days=7)]), encoding="utf-8", newline="")
    monkeypatch.delenv("COFFEECHAT_CONFIG", raising=False)
    monkeypatch.setenv("COFFEECHAT_TEST_SMTP_PASSWORD", WRONG_PASSWORD)

    def run(*args: str) -> tuple[int, list[str]]:
        """The exit code and the lines printed, without the progress lines."""
        capsys.readouterr()
        code = main(["--config", str(org.config), *args])
        out, err = capsys.readouterr()
        return code, [line for line in ANSI.sub("", out + err).splitlines() if not line.startswith("delivering:")]

    for args in (("init",), ("import-people", str(org.people_csv)), ("run-cycle",)):
        code, lines = run(*args)
    assert code == 0, lines  # run-cycle planned, and delivered nothing: the login was refused
    paused = [line for line in lines if "delivery paused" in line]
    assert len(paused) == 1

    code, lines = run("deliver")

    alert = (f"email delivery paused: SMTP {HOST}:{login_server.port}: the mail server refused Coffee Chat's "
             "login (535 5.7.8 Authentication credentials invalid): check the username 'coffee' and the password "
             "in COFFEECHAT_TEST_SMTP_PASSWORD")
    assert code == 4
    assert lines[0] == "delivery: 0 sent, 0 to retry, 0 failed, 6 held"
    assert [line for line in lines[1:] if line.strip()] == [lines[1]]  # the alert, on one line, and nothing else
    assert lines[1].startswith(alert)
    assert lines[1].endswith("; 6 kept pending for the next pass")
    assert WRONG_PASSWORD not in "\n".join(lines)
    assert login_server.envelopes == []

    monkeypatch.setenv("COFFEECHAT_TEST_SMTP_PASSWORD", PASSWORD)
    code, lines = run("deliver")

    assert (code, lines) == (0, ["delivery: 6 sent, 0 to retry, 0 failed"])
    assert len(login_server.envelopes) == 6
