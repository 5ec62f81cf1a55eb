"""A hypothesis state machine interleaving delivery, crashes, retries, reschedules and cancellations.

Invariant, checked whenever the outbox has settled: what exists at the destinations equals what the plan says.
For a program sending its own invites, each member's latest invite for a meeting is the meeting as stored
(REQUEST at its time, or CANCEL once cancelled, with its SEQUENCE); for a provider program, the provider holds
one live event per meeting that is not cancelled, at its time, and none for a cancelled one. At every step:
no reminder or feedback request of an earlier generation is sent after its meeting changed, and no email is
sent twice except the one a crash between sending and recording repeats.

The database is SQLite, copied from a migrated template for speed; a "crash" is an exception that escapes
the relay between two of its steps, leaving the effect claimed exactly as a killed process would.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scheduler.delivery.outbox import Performer, RetryPolicy, deliver_due, standard_performers
from scheduler.errors import DeliveryError, InputError, ServiceRefused
from scheduler.model import Attendee, Effect, EmailMessage, Interval, Meeting, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.meetings import cancel_meeting, reschedule_meeting
from scheduler.planning.run import run_cycle
from scheduler.storage.migrate import upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeCalendarProvider, FakeClock, FakeEventCalendar, FakeMailer
from web.urls import WebUrls

SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
POLICY = RetryPolicy(max_attempts=50, base=timedelta(minutes=1), cap=timedelta(minutes=10),
                     lease=timedelta(minutes=5))
_TEMPLATE: list[Path] = []

pytestmark = pytest.mark.slow


class Crash(BaseException):
    """Escapes the relay like a kill: nothing after it runs, no outcome is recorded."""


def template_database() -> Path:
    """A migrated, empty SQLite file, made once per test session."""
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp()) / "template.db"
        upgrade_database(f"sqlite:///{path}")
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


class DeliveryMachine(RuleBasedStateMachine):
    invites = "email"

    @initialize()
    def plan(self) -> None:
        self.directory = Path(tempfile.mkdtemp())
        shutil.copy(template_database(), self.directory / "db.sqlite")
        self.engine = create_engine_for(f"sqlite:///{self.directory / 'db.sqlite'}")
        sessions = make_session_factory(self.engine)
        self.new_uow = lambda: SqlAlchemyUnitOfWork(sessions)
        self.clock = FakeClock(SUNDAY_NOON)
        self.mailer = FakeMailer()
        self.calendar = FakeEventCalendar()
        self.crash: str | None = None
        self.crashed_after_send = 0
        self.stale: list[str] = []
        self.performed: list[tuple[str, str]] = []  # (kind, key)
        with self.new_uow() as uow:
            for index in range(4):
                uow.people.save(Person(f"p{index}@example.com", f"Person {index}", f"team-{index}",
                                       department=f"d{index % 2}", verified_at=SUNDAY_NOON))
            uow.commit()
        outcome = run_cycle(self.new_uow, FakeCalendarProvider(), self.clock, Program("coffee", invites=self.invites),
                            SETTINGS)
        assert outcome.cycle is not None
        self.cycle_id = outcome.cycle.id

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self.engine.dispose()
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- helpers ------------------------------------------------------------------------------------------

    def meetings(self) -> list[Meeting]:
        with self.new_uow() as uow:
            return uow.cycles.meetings(self.cycle_id)  # type: ignore[arg-type]

    def performers(self) -> dict[str, Performer]:
        real = standard_performers(self.mailer, {"google": self.calendar})
        generations = {m.id: m.sequence for m in self.meetings()}

        def wrap(perform: Performer) -> Performer:
            def run(effect: Effect) -> None:
                if self.crash == "before":
                    self.crash = None
                    raise Crash
                parts = effect.key.split("/")
                if parts[1].startswith("meeting-") and parts[3] in ("remind", "feedback"):
                    meeting_id, generation = int(parts[1][8:]), int(parts[2][4:])
                    if generations[meeting_id] != generation:
                        self.stale.append(effect.key)
                perform(effect)
                self.performed.append((effect.kind, effect.key))
                if self.crash == "after":
                    self.crash = None
                    self.crashed_after_send += effect.kind == "email"
                    raise Crash

            return run

        return {kind: wrap(perform) for kind, perform in real.items()}

    def deliver_once(self) -> int:
        try:
            return deliver_due(self.new_uow, self.performers(), self.clock, POLICY).attempted
        except Crash:
            return 1

    # --- rules ----------------------------------------------------------------------------------------------

    @rule()
    def deliver(self) -> None:
        self.deliver_once()

    @rule(point=st.sampled_from(["before", "after"]))
    def crash_at_the_next_effect(self, point: str) -> None:
        self.crash = point

    @rule()
    def the_destinations_fail_once(self) -> None:
        # Transient only: a permanent failure parks an effect as dead, which an admin handles by hand.
        self.mailer.fail_with = DeliveryError("421 try later", transient=True)
        self.calendar.failures = [DeliveryError("503", transient=True)]
        self.deliver_once()
        self.mailer.fail_with = None
        self.calendar.failures = []

    @precondition(lambda self: hasattr(self, "cycle_id"))
    @rule()
    def the_mail_server_refuses_the_login_once(self) -> None:
        """Issue 13: a refused login pauses email for one pass; nothing dies, and no attempt is used up (the
        settling afterwards checks that everything still arrives)."""
        self.crash = None  # a crash would count its attempt: this rule is about the refusal alone
        with self.new_uow() as uow:
            before = {e.key: e for e in uow.outbox.list()}
        sent = len(self.mailer.sent)
        self.mailer.fail_with = ServiceRefused("535 5.7.8 Authentication credentials invalid", service="email")
        self.deliver_once()
        self.mailer.fail_with = None
        with self.new_uow() as uow:
            after = {e.key: e for e in uow.outbox.list()}
        assert len(self.mailer.sent) == sent
        for key, effect in after.items():
            assert effect.state != "dead", key
            if effect.kind == "email" and effect.state in ("pending", "in_flight"):
                assert effect.attempts <= before[key].attempts, key

    @rule(hours=st.integers(min_value=1, max_value=30))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule(index=st.integers(0, 1))
    def cancel(self, index: int) -> None:
        meeting = self.meetings()[index]
        assert meeting.id is not None
        try:
            cancel_meeting(self.new_uow, self.clock, SETTINGS, meeting.id, reason="changed plans")
        except InputError:
            assert meeting.state == "cancelled"

    @rule(index=st.integers(0, 1), hours_ahead=st.integers(min_value=1, max_value=72))
    def reschedule(self, index: int, hours_ahead: int) -> None:
        meeting = self.meetings()[index]
        assert meeting.id is not None
        start = self.clock.now() + timedelta(hours=hours_ahead)
        try:
            reschedule_meeting(self.new_uow, self.clock, SETTINGS, meeting.id,
                               Interval(start, start + timedelta(minutes=30)))
        except InputError:
            assert meeting.state == "cancelled"

    @precondition(lambda self: hasattr(self, "cycle_id"))
    @rule()
    def settle(self) -> None:
        """Let every claim expire and deliver until nothing is due; then the destinations must match."""
        self.crash = None
        for _ in range(20):
            self.clock.advance(POLICY.lease + timedelta(minutes=1))
            if self.deliver_once() == 0:
                break
        with self.new_uow() as uow:
            open_effects = [e.key for e in uow.outbox.list()
                            if e.state in ("pending", "in_flight")
                            and (e.next_attempt_at is None or e.next_attempt_at <= self.clock.now())]
        assert open_effects == []
        self.check_destinations()

    def check_destinations(self) -> None:
        meetings = self.meetings()
        if self.invites == "email":
            latest: dict[tuple[str, str], EmailMessage] = {}
            for message in self.mailer.sent:
                if message.invite is None:
                    continue
                for attendee in message.invite.attendees:
                    if attendee.email in message.to[0]:
                        known = latest.get((attendee.email, message.invite.uid))
                        if known is None or known.invite.sequence <= message.invite.sequence:  # type: ignore[union-attr]
                            latest[(attendee.email, message.invite.uid)] = message
            for meeting in meetings:
                for email in meeting.group.members:
                    invite = latest[(email, meeting.uid)].invite
                    assert invite is not None
                    assert invite.sequence == meeting.sequence
                    assert invite.method == ("CANCEL" if meeting.state == "cancelled" else "REQUEST")
                    assert meeting.slot is not None
                    assert invite.start == meeting.slot.start
            assert self.calendar.calls == []
        else:
            assert all(message.invite is None for message in self.mailer.sent)
            for meeting in meetings:
                assert meeting.slot is not None
                if meeting.state == "cancelled":
                    assert meeting.uid not in self.calendar.events
                else:
                    event = self.calendar.events[meeting.uid]
                    assert (event.start, event.sequence) == (meeting.slot.start, meeting.sequence)

    # --- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def no_stale_reminder_or_feedback_is_ever_sent(self) -> None:
        assert self.stale == []

    @invariant()
    def no_email_is_sent_twice_but_the_one_a_crash_repeats(self) -> None:
        if not hasattr(self, "mailer"):
            return
        counts = Counter(message.message_id for message in self.mailer.sent)
        assert sum(count - 1 for count in counts.values()) <= self.crashed_after_send


class ProviderDeliveryMachine(DeliveryMachine):
    invites = "google"


TestEmailDelivery = DeliveryMachine.TestCase
TestEmailDelivery.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
TestProviderDelivery = ProviderDeliveryMachine.TestCase
TestProviderDelivery.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
