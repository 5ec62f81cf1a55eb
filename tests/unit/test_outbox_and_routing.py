from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from scheduler.availability import CalendarRouter
from scheduler.cycle import is_due, next_window
from scheduler.errors import ProviderUnavailable
from scheduler.model import Busy, CalendarSource, Cycle, Interval, Person, Program
from scheduler.outbox import RetryPolicy
from tests.fakes import FakeCalendarProvider

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
