import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.availability.calendars import CalendarRouter
from scheduler.delivery.outbox import RetryPolicy, deliver_due
from scheduler.errors import DeliveryError, ProviderUnavailable, ServiceRefused
from scheduler.model import Busy, CalendarSource, Cycle, Effect, Interval, Person, Program
from scheduler.planning.cycle import is_due, next_window
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock

WINDOW = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))


def test_retry_ladder_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(base=timedelta(minutes=1), cap=timedelta(minutes=10))
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 10)]
    assert policy.delay(1, retry_after=300) == timedelta(minutes=5)
    assert policy.delay(4, retry_after=30) == timedelta(minutes=8)


def test_next_window_starts_on_the_coming_monday_in_utc() -> None:
    coffee = Program("coffee")
    for day in range(16, 23):  # Monday 16 ... Sunday 22 November
        now = datetime(2026, 11, day, 23, 59, tzinfo=UTC)
        assert next_window(coffee, now) == WINDOW


def test_cadence_decides_when_the_next_cycle_is_due() -> None:
    monthly = Program("coffee", cadence="monthly")
    latest = Cycle("coffee", WINDOW, seed=1)
    assert is_due(monthly, None, datetime(2026, 11, 22, tzinfo=UTC))
    assert not is_due(monthly, latest, datetime(2026, 12, 6, tzinfo=UTC))  # next window: Dec 7, 2 weeks on
    assert is_due(monthly, latest, datetime(2026, 12, 20, tzinfo=UTC))  # Dec 21: 4 weeks on


def person(email: str, kind: str, location: str = "x") -> Person:
    return Person(email=email, name=email, team="t", calendar=CalendarSource(kind, location if kind != "none" else ""))


class DownProvider:
    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        raise ProviderUnavailable("Google Calendar answered 503 five times")


def test_router_sends_each_person_to_their_provider_and_contains_failures() -> None:
    ics = FakeCalendarProvider(busy={"a@example.com": [WINDOW]})
    router = CalendarRouter({"ics": ics, "google": DownProvider()})
    people = [person("a@example.com", "ics"), person("b@example.com", "google"),
              person("c@example.com", "none"), person("d@example.com", "caldav")]
    answers = router.fetch_busy(people, WINDOW)
    assert ics.calls == [["a@example.com"]]
    assert answers["a@example.com"].busy == (WINDOW,)
    assert answers["b@example.com"].error == "Google Calendar answered 503 five times"
    assert answers["c@example.com"] == Busy(known=False)
    assert answers["d@example.com"].error == "no caldav calendar connector is configured"


def test_router_reads_people_without_a_calendar_through_their_domains_provider() -> None:
    google = FakeCalendarProvider(busy={"g@corp.example": [WINDOW]})
    graph = FakeCalendarProvider()
    ics = FakeCalendarProvider()
    router = CalendarRouter({"google": google, "microsoft": graph, "ics": ics},
                            domains={"Corp.Example": "google", "subsidiary.example": "microsoft"})
    people = [person("g@corp.example", "none"), person("m@subsidiary.example", "none"),
              person("own@corp.example", "ics"), person("x@elsewhere.example", "none")]
    answers = router.fetch_busy(people, WINDOW)
    assert google.calls == [["g@corp.example"]]
    assert graph.calls == [["m@subsidiary.example"]]
    assert ics.calls == [["own@corp.example"]]  # a calendar of one's own wins over the domain's
    assert answers["g@corp.example"].busy == (WINDOW,)
    assert answers["x@elsewhere.example"] == Busy(known=False)
    assert router.route(people[0]).calendar == CalendarSource("google", "g@corp.example")


def test_retry_waits_are_full_jitter_never_under_a_second_nor_under_retry_after() -> None:
    policy = RetryPolicy(base=timedelta(minutes=1), cap=timedelta(minutes=10))
    assert policy.delay(3, draw=0.5) == timedelta(minutes=2)
    assert policy.delay(3, draw=0.0) == timedelta(seconds=1)
    assert policy.delay(3, retry_after=90, draw=0.1) == timedelta(seconds=90)
    assert policy.delay(9, draw=0.999) < timedelta(minutes=10)


# --- a service that refuses Coffee Chat pauses, it does not kill (issue 13) ----------------------------------

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
NewUow = Callable[[], UnitOfWork]
REFUSAL = "the mail server refused Coffee Chat's login (535 5.7.8): check COFFEECHAT_SMTP_PASSWORD"


def add_effects(new_uow: NewUow, *effects: Effect) -> None:
    with new_uow() as uow:
        for effect in effects:
            assert uow.outbox.add(effect)
        uow.commit()


def email(number: int, attempts: int = 0) -> Effect:
    return Effect(f"email-{number}", "email", {"n": number}, attempts=attempts)


def event(provider: str) -> Effect:
    return Effect(f"event-{provider}", "calendar_event", {"provider": provider})


def effects_by_key(new_uow: NewUow) -> dict[str, Effect]:
    with new_uow() as uow:
        return {effect.key: effect for effect in uow.outbox.list()}


class Performers:
    """Performers that record what they were asked to do; ``refuse`` maps a kind (or a provider) to the
    refusal its service answers."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refuse: dict[str, ServiceRefused] = {}

    def email(self, effect: Effect) -> None:
        self.calls.append(effect.key)
        if "email" in self.refuse:
            raise self.refuse["email"]

    def event(self, effect: Effect) -> None:
        self.calls.append(effect.key)
        provider = str(effect.payload["provider"])
        if provider in self.refuse:
            raise self.refuse[provider]

    def mapping(self) -> dict[str, Callable[[Effect], None]]:
        return {"email": self.email, "calendar_event": self.event}


def test_issue_13_a_refused_service_holds_its_effects_pending_while_the_others_go(
        new_uow: NewUow, caplog: pytest.LogCaptureFixture) -> None:
    # Seven emails ahead of the provider event, read two at a time: the held emails stay due and are read past.
    add_effects(new_uow, *(email(n) for n in range(7)), event("google"))
    performers = Performers()
    performers.refuse["email"] = ServiceRefused(REFUSAL, service="email", setting="COFFEECHAT_SMTP_PASSWORD")
    clock = FakeClock(NOW)
    caplog.set_level(logging.WARNING, logger="scheduler.delivery.outbox")

    report = deliver_due(new_uow, performers.mapping(), clock, RetryPolicy(max_attempts=1), batch_size=2)

    assert performers.calls == ["email-0", "event-google"]  # one try at the mail server, not seven
    assert (report.done, report.retried, report.dead, report.held, report.attempted) == (1, 0, 0, 7, 1)
    assert report.alerts == (f"email delivery paused: {REFUSAL}; 7 kept pending for the next pass",)
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "scheduler.delivery.outbox"] == [
        (logging.WARNING, f"email delivery paused for the rest of this pass, its effects kept pending: {REFUSAL}")]
    stored = effects_by_key(new_uow)
    assert stored["event-google"].state == "done"
    emails = [stored[f"email-{n}"] for n in range(7)]
    # max_attempts=1: had the refusal counted as the attempt, every email would be dead now.
    assert [(e.state, e.attempts) for e in emails] == [("pending", 0)] * 7
    assert (emails[0].next_attempt_at, emails[0].last_error) == (NOW, REFUSAL)  # due again at the next pass
    assert [(e.next_attempt_at, e.last_error) for e in emails[1:]] == [(None, "")] * 6  # never touched

    # The password is fixed: the next pass sends them all, as usual.
    del performers.refuse["email"]
    again = deliver_due(new_uow, performers.mapping(), clock, RetryPolicy(max_attempts=1), batch_size=2)

    assert (again.done, again.held, again.alerts) == (7, 0, ())
    assert Counter(e.state for e in effects_by_key(new_uow).values()) == Counter({"done": 8})


def test_issue_13_one_providers_refusal_does_not_hold_back_another_providers_events(new_uow: NewUow) -> None:
    add_effects(new_uow, event("google"), event("microsoft"), email(1))
    performers = Performers()
    performers.refuse["google"] = ServiceRefused("Google refused the service account's key",
                                                 service="Google Calendar", retry_after=600)

    report = deliver_due(new_uow, performers.mapping(), FakeClock(NOW), RetryPolicy())

    assert (report.done, report.held) == (2, 1)
    assert report.alerts == ("Google Calendar delivery paused: Google refused the service account's key; "
                             "1 kept pending for the next pass",)
    stored = effects_by_key(new_uow)
    assert [stored[key].state for key in ("event-google", "event-microsoft", "email-1")] == ["pending", "done",
                                                                                             "done"]
    assert stored["event-google"].next_attempt_at == NOW + timedelta(minutes=10)  # the service's Retry-After


def test_issue_13_a_refusal_does_not_count_against_an_effect_that_failed_before(new_uow: NewUow) -> None:
    add_effects(new_uow, email(1))
    clock = FakeClock(NOW)
    policy = RetryPolicy(max_attempts=5)

    def fails(effect: Effect) -> None:
        raise DeliveryError("451 4.3.0 try again later", transient=True)

    for _ in range(3):  # three transient failures before the password changed
        assert deliver_due(new_uow, {"email": fails}, clock, policy).retried == 1
        clock.advance(timedelta(days=1))
    assert effects_by_key(new_uow)["email-1"].attempts == 3
    performers = Performers()
    performers.refuse["email"] = ServiceRefused(REFUSAL, service="email")

    report = deliver_due(new_uow, performers.mapping(), clock, policy)

    assert (report.dead, report.held) == (0, 1)
    assert effects_by_key(new_uow)["email-1"].state == "pending"
    assert effects_by_key(new_uow)["email-1"].attempts == 3  # neither counted nor forgotten

    # Attempt 4 of 5 fails transiently once the login works again: had the refusal counted as attempt 4,
    # this would be the fifth and last, and the email dead.
    again = deliver_due(new_uow, {"email": fails}, clock, policy)

    assert (again.retried, again.dead) == (1, 0)
    assert effects_by_key(new_uow)["email-1"].state == "pending"
    clock.advance(timedelta(days=1))
    last = deliver_due(new_uow, {"email": fails}, clock, policy)
    assert last.dead == 1  # the fifth attempt is the last: attempts were neither lost nor gained


def test_issue_13_an_effect_superseded_while_its_service_refused_stays_superseded(new_uow: NewUow) -> None:
    add_effects(new_uow, email(1), email(2))

    def supersede_then_refuse(effect: Effect) -> None:
        with new_uow() as uow:  # a meeting change commits while the relay is talking to the server
            uow.outbox.supersede(effect.key, "meeting rescheduled")
            uow.commit()
        raise ServiceRefused(REFUSAL, service="email")

    report = deliver_due(new_uow, {"email": supersede_then_refuse}, FakeClock(NOW), RetryPolicy())

    stored = effects_by_key(new_uow)
    assert (stored["email-1"].state, stored["email-2"].state) == ("superseded", "pending")
    assert report.held == 1  # only email-2 waits for the next pass
    assert report.alerts == (f"email delivery paused: {REFUSAL}; 1 kept pending for the next pass",)
