"""People who stop answering, over several weekly cycles with a moved clock, through the real storage (SQLite,
and PostgreSQL when set): placed, silent for ``nonresponder_cycles``, asked "still in?", paused, and back at the
first sign of life."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from email.utils import parseaddr

from scheduler.accounts.still_in import answer_still_in
from scheduler.delivery.emails import email_from_payload
from scheduler.delivery.outbox import RetryPolicy, deliver_due
from scheduler.model import Attendee, Effect, EmailMessage, Person, Program, Rsvp
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.nonresponders import silence_overview
from scheduler.planning.run import CycleOutcome, run_cycle
from scheduler.planning.silence import SilenceRules, SilenceState
from scheduler.planning.still_in_links import StillInLinks
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from web.urls import WebUrls

LINKS = StillInLinks("a-test-key-that-is-long-enough-0123456789")
SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"), still_in_links=LINKS)
COFFEE = Program("coffee")
POLICY = RetryPolicy(max_attempts=3, base=timedelta(minutes=1), lease=timedelta(minutes=5))
NewUow = Callable[[], UnitOfWork]


class Org:
    """Ana never answers; Ben accepts his meetings, Cy signs in, Dee follows a link: each after every cycle."""

    def __init__(self, new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
        self.new_uow, self.clock, self.mailer = new_uow, clock, FakeMailer()
        names = ("ana", "ben", "cy", "dee", "eve")
        self.people = {name: create_person(email=f"{name}@example.com", name=name.title(), team=f"team-{name}")
                       for name in names}
        with new_uow() as uow:
            for person in self.people.values():
                uow.people.save(person)
            uow.accounts.ensure(self.people["cy"].email, clock.now())
            uow.commit()

    def cycle(self, program: Program = COFFEE, settings: PlanSettings = SETTINGS) -> CycleOutcome:
        """Plan the program's cycle now, deliver what is due, let everyone but Ana (and Eve, the quiet
        colleague from the start of the test) answer an hour later, and move the clock on a week."""
        outcome = run_cycle(self.new_uow, FakeCalendarProvider(), self.clock, program, settings)
        assert outcome.cycle is not None
        self.deliver()
        self.clock.advance(timedelta(hours=1))
        now = self.clock.now()
        with self.new_uow() as uow:
            for meeting in uow.cycles.meetings(outcome.cycle.id):  # type: ignore[arg-type]
                if "ben@example.com" in meeting.group.members:
                    uow.matches.set_rsvp(Rsvp(meeting.id, "ben@example.com", "accepted", now))  # type: ignore[arg-type]
            uow.accounts.record_sign_in("cy@example.com", now)
            uow.engagement.note_sign_of_life("dee@example.com", now)
            uow.engagement.note_sign_of_life("eve@example.com", now)
            uow.commit()
        self.clock.advance(timedelta(days=7) - timedelta(hours=1))
        return outcome

    def deliver(self) -> None:
        def send(effect: Effect) -> None:
            self.mailer.send(email_from_payload(effect.payload))

        deliver_due(self.new_uow, {"email": send}, self.clock, POLICY)

    def placed(self, outcome: CycleOutcome) -> set[str]:
        assert outcome.plan is not None
        return {email for meeting in outcome.plan.meetings for email in meeting.group.members}

    def mail_to(self, name: str) -> list[EmailMessage]:
        address = self.people[name].email
        return [message for message in self.mailer.sent if parseaddr(message.to[0])[1] == address]


def test_issue_15_a_silent_person_is_asked_then_paused_then_paired_again_after_a_sign_of_life(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    org = Org(new_uow, create_person, clock)
    ana = org.people["ana"].email
    for _ in range(3):  # three cycles place Ana; she never answers
        outcome = org.cycle()
        assert ana in org.placed(outcome)
        assert ana not in outcome.plan.ineligible  # type: ignore[union-attr]
    assert org.mail_to("ana")[-1].subject.startswith("Coffee chat with")

    asking = org.cycle()  # the fourth: "still in?", and she sits it out
    assert ana not in org.placed(asking)
    assert asking.plan.ineligible[ana] == (  # type: ignore[union-attr]
        "no answer for 3 cycles: asked now whether they still want to be paired")
    (question,) = [message for message in org.mail_to("ana") if message.subject == "Still in for coffee chats?"]
    assert "3 rounds without hearing from you" in question.text
    assert "We leave you out of this round" in question.text
    stay, pause = (f"https://coffee.example.com/still-in/{action}/" for action in ("stay", "pause"))
    assert stay in question.text
    assert pause in question.text
    assert 'href="https://coffee.example.com/still-in/stay/' in question.html
    with new_uow() as uow:
        effects = [effect for effect in uow.outbox.list(cycle_id=asking.cycle.id)  # type: ignore[union-attr]
                   if "/still-in/" in effect.key]
    assert [effect.key for effect in effects] == [f"cycle-{asking.cycle.id}/still-in/{ana}"]  # type: ignore[union-attr]

    pausing = org.cycle()  # a week later, no answer: paused and told
    assert ana not in org.placed(pausing)
    assert pausing.plan.ineligible[ana].startswith("no answer to \"still in?\"")  # type: ignore[union-attr]
    (notice,) = [message for message in org.mail_to("ana") if message.subject == "We have paused your coffee chats"]
    assert "we have paused you" in notice.text
    assert stay in notice.text
    assert "https://coffee.example.com/account" in notice.text
    overview = silence_overview(new_uow, SilenceRules(), clock.now())
    assert [(entry.person.email, entry.state) for entry in overview] == [(ana, SilenceState.PAUSED)]

    before = len(org.mail_to("ana"))
    still_paused = org.cycle()  # paused until she comes back, without another question or notice
    assert ana not in org.placed(still_paused)
    assert still_paused.plan.ineligible[ana].startswith("paused on ")  # type: ignore[union-attr]
    subjects = [message.subject for message in org.mail_to("ana")]
    assert subjects.count("Still in for coffee chats?") == subjects.count("We have paused your coffee chats") == 1
    assert not [subject for subject in subjects[before:] if subject.startswith("Coffee chat with")]

    answer_still_in(new_uow, clock, ana, "stay")  # "Yes, keep pairing me"
    back = org.cycle()
    assert ana in org.placed(back)
    assert ana not in back.plan.ineligible  # type: ignore[union-attr]
    assert silence_overview(new_uow, SilenceRules(), clock.now()) == []


def test_issue_15_a_sign_in_after_the_question_keeps_them_in_and_the_count_starts_again(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    org = Org(new_uow, create_person, clock)
    ana = org.people["ana"].email
    settings = replace(SETTINGS, silence=SilenceRules(cycles=2))  # the configuration's nonresponder_cycles
    for _ in range(2):
        assert ana in org.placed(org.cycle(settings=settings))
    assert ana not in org.placed(org.cycle(settings=settings))  # asked after two
    with new_uow() as uow:
        uow.accounts.ensure(ana, clock.now())
        uow.accounts.record_sign_in(ana, clock.now() - timedelta(hours=1))
        uow.commit()
    for _ in range(2):  # back at once, and two more silent cycles before the next question
        assert ana in org.placed(org.cycle(settings=settings))
    again = org.cycle(settings=settings)
    assert ana not in org.placed(again)
    assert "asked now" in again.plan.ineligible[ana]  # type: ignore[union-attr]


def test_issue_15_a_second_program_the_same_week_waits_for_the_answer_and_pauses_nobody(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    org = Org(new_uow, create_person, clock)
    ana = org.people["ana"].email
    for _ in range(3):
        org.cycle()
    org.cycle()  # asked
    clock.advance(timedelta(days=-6))  # back to a day after the question
    lunch = run_cycle(new_uow, FakeCalendarProvider(), clock, Program("lunch", kind="lunch"), SETTINGS)
    assert lunch.plan is not None
    assert ana not in org.placed(lunch)
    assert "waiting for the answer" in lunch.plan.ineligible[ana]
    with new_uow() as uow:
        assert uow.engagement.by_person()[ana].paused_at is None


def test_issue_15_pause_me_uses_the_account_pause_and_ends_the_silence(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    org = Org(new_uow, create_person, clock)
    ana = org.people["ana"].email
    for _ in range(4):
        org.cycle()
    person = answer_still_in(new_uow, clock, ana, "pause")
    assert person.paused_until == clock.now().date() + timedelta(weeks=12)
    outcome = org.cycle()
    assert ana not in org.placed(outcome)
    assert outcome.plan.ineligible[ana] == f"paused until {person.paused_until.isoformat()}"  # type: ignore[union-attr]
    assert [m.subject for m in org.mail_to("ana")].count("We have paused your coffee chats") == 0
    # Ending the pause (the account page's button, or the email's stay link) puts her back at once.
    with new_uow() as uow:
        uow.people.save(replace(person, paused_until=None))
        uow.commit()
    assert ana in org.placed(org.cycle())


def test_issue_15_without_a_secret_key_the_question_asks_them_to_sign_in(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    org = Org(new_uow, create_person, clock)
    settings = replace(SETTINGS, still_in_links=None)
    for _ in range(4):
        org.cycle(settings=settings)
    (question,) = [m for m in org.mail_to("ana") if m.subject == "Still in for coffee chats?"]
    assert "/still-in/" not in question.text
    assert "Sign in to Coffee Chat and we keep pairing you:\nhttps://coffee.example.com/account" in question.text
