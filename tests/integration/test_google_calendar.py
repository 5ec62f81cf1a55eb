"""GoogleCalendar against the wire-level Google fake, through the real google-api-python-client and google-auth.

Waits between retries are recorded by an injected ``sleep`` instead of slept; the only real waits are the two
client timeouts that the timeout tests need (under a second together).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account
from googleapiclient import discovery
from googleapiclient.errors import HttpError
from hypothesis import given
from hypothesis import strategies as st

from integrations.google_calendar import (
    CALENDAR_ERRORS,
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    USAGE_LIMIT_RETRY_AFTER,
    GoogleCalendar,
    conference_request_id,
    event_id_for,
    parse_rfc3339,
    split_window,
)
from integrations.http import CallRetry
from scheduler.config import GoogleConfig
from scheduler.delivery.outbox import RetryPolicy, deliver_due, standard_performers
from scheduler.errors import ConfigError, DeliveryError, ProviderUnavailable
from scheduler.model import Attendee, Busy, CalendarSource, Interval, Invite, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from tests.fakes.google_server import (
    GOOGLE_TOKEN_AUDIENCE,
    FakeGoogle,
    Fault,
    http_date,
    quota_exceeded,
    rate_limited,
    server_error,
    slow,
    timeout_after_write,
)
from web.urls import WebUrls

ORGANIZER = "coffee-bot@example.com"
SERVICE_ACCOUNT = "coffeechat@example-project.iam.gserviceaccount.com"
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
SUNDAY_NOON = MONDAY - timedelta(hours=12)
WEEK = Interval(MONDAY, MONDAY + timedelta(days=5))
ATTEMPTS = 4
SHORT_TIMEOUT = 0.4  # long enough for a loaded machine, short enough to keep the suite quick


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the planning week: ``day`` 0 is Monday 2026-11-23 (UTC)."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    # 1024 bits, not Google's 2048: loading a key checks it, and at 2048 bits that costs 0.1 s per connector.
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key


@pytest.fixture(scope="module")
def key_info(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """A service account's JSON key file, as Google's console downloads it."""
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
    return {
        "type": "service_account", "project_id": "example-project", "private_key_id": "0123456789abcdef",
        "private_key": pem, "client_email": SERVICE_ACCOUNT, "client_id": "104857600000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": GOOGLE_TOKEN_AUDIENCE,
    }


@pytest.fixture
def fake(private_key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        server.register_service_account(SERVICE_ACCOUNT, private_key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
        server.add_calendar(ORGANIZER)
        yield server


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_calendar(fake: FakeGoogle, key_info: dict[str, str],
                  waits: list[float]) -> Iterator[Callable[..., GoogleCalendar]]:
    """Build a GoogleCalendar against the fake; every retry wait lands in ``waits``."""
    made: list[GoogleCalendar] = []

    def make(**overrides: Any) -> GoogleCalendar:
        key = overrides.pop("key_info", key_info)
        options: dict[str, Any] = {"organizer": ORGANIZER, "endpoint": fake.endpoint, "token_uri": fake.token_uri,
                                   "retry": CallRetry(attempts=ATTEMPTS), "timeout": 5.0, "sleep": waits.append}
        options.update(overrides)
        calendar = GoogleCalendar(key, **options)
        made.append(calendar)
        return calendar

    yield make
    for calendar in made:
        calendar.close()


@pytest.fixture
def calendar(make_calendar: Callable[..., GoogleCalendar]) -> GoogleCalendar:
    return make_calendar()


def google_person(email: str, **overrides: Any) -> Person:
    fields: dict[str, Any] = {"email": email, "name": email.split("@")[0].title(), "team": "t",
                              "calendar": CalendarSource("google", email)}
    fields.update(overrides)
    return Person(**fields)


def colleagues(fake: FakeGoogle, count: int) -> list[Person]:
    """``count`` people with Google calendars, each busy Monday 09:00-10:00 under a private title."""
    people = []
    for n in range(count):
        email = f"colleague{n:03d}@example.com"
        fake.add_busy(email, at(0, 9), at(0, 10), summary=f"Secret project {n}")
        people.append(google_person(email))
    return people


def make_invite(uid: str = "coffeechat-meeting-7", *, sequence: int = 0, start: datetime | None = None,
                attendees: tuple[Attendee, ...] | None = None) -> Invite:
    start = start or at(1, 10, 30)
    return Invite(
        uid=uid, sequence=sequence, method="REQUEST", organizer=Attendee(ORGANIZER, "Coffee Chat"),
        attendees=attendees or (Attendee("ana@example.com", "Ana López"), Attendee("bo@example.com", "Bo Chen")),
        start=start, end=start + timedelta(minutes=30), summary="Coffee chat: Ana and Bo",
        description="Say hello!", location="Google Meet",
    )


def secrets_of(fake: FakeGoogle, key_info: dict[str, str]) -> list[str]:
    """Text that must never appear in a message or a log: the key's body and every token the fake issued."""
    key_lines = [line for line in key_info["private_key"].splitlines() if "PRIVATE KEY" not in line]
    return [*key_lines[:3], *fake.issued_tokens()]


# --- free/busy --------------------------------------------------------------------------------------------


def test_busy_time_is_merged_clipped_and_utc(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    ana = "ana@example.com"
    fake.add_busy(ana, at(0, 9), at(0, 10))
    fake.add_busy(ana, at(0, 9, 30), at(0, 11))  # overlaps the first
    fake.add_busy(ana, at(0, 11), at(0, 12))  # touches it
    fake.add_busy(ana, at(0, 15), at(0, 16), transparent=True)  # "show as free"
    fake.add_busy(ana, MONDAY - timedelta(hours=2), MONDAY + timedelta(hours=1))  # starts before the window
    fake.add_busy(ana, at(4, 23), at(5, 2))  # ends after it

    busy = calendar.fetch_busy([google_person(ana)], WEEK)

    assert busy[ana] == Busy(busy=(Interval(MONDAY, at(0, 1)), Interval(at(0, 9), at(0, 12)),
                                   Interval(at(4, 23), WEEK.end)))
    assert all(i.start.tzinfo is UTC and i.end.tzinfo is UTC for i in busy[ana].busy)
    request = fake.freebusy_requests[0]
    assert (request["timeMin"], request["timeMax"], request["timeZone"]) == (
        "2026-11-23T00:00:00Z", "2026-11-28T00:00:00Z", "UTC")


def test_answers_keep_nothing_but_times(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    ana = "ana@example.com"
    fake.add_busy(ana, at(0, 9), at(0, 10), summary="Redundancy talks", location="HR room",
                  description="Confidential", attendees=[{"email": "hr@example.com", "displayName": "Hana HR"}])

    busy = calendar.fetch_busy([google_person(ana)], WEEK)[ana]

    assert busy == Busy(busy=(Interval(at(0, 9), at(0, 10)),))  # no tentative, warnings, working hours
    assert not any(word in repr(busy) for word in ("Redundancy", "HR room", "Confidential", "Hana"))


def test_people_without_a_calendar_of_their_own_are_read_by_their_address(
        fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    """The router sends people of a Google domain with calendar kind ``none``: their address is the calendar."""
    fake.add_busy("bo@example.com", at(1, 14), at(1, 15))
    bo = Person(email="bo@example.com", name="Bo", team="t")
    alias = google_person("carla@example.com", calendar=CalendarSource("google", "Bo@Example.com"))

    busy = calendar.fetch_busy([bo, alias], WEEK)

    assert busy[bo.email].busy == busy[alias.email].busy == (Interval(at(1, 14), at(1, 15)),)
    assert [item["id"] for item in fake.freebusy_requests[0]["items"]] == ["bo@example.com"]  # asked once


def test_120_people_take_three_calls_of_at_most_50(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    people = colleagues(fake, 120)

    busy = calendar.fetch_busy(people, WEEK)

    assert fake.calls["freeBusy"] == 3
    assert sorted(len(r["items"]) for r in fake.freebusy_requests) == [20, 50, 50]
    assert set(busy) == {p.email for p in people}
    assert all(b == Busy(busy=(Interval(at(0, 9), at(0, 10)),)) for b in busy.values())


def test_long_windows_are_split_and_joined_again(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    """A 150-day window is asked in pieces under Google's 90 days; an event across a seam comes back whole."""
    window = Interval(MONDAY, MONDAY + timedelta(days=150))
    seam = MONDAY + timedelta(days=60)
    fake.add_busy("ana@example.com", seam - timedelta(hours=1), seam + timedelta(hours=1))
    people = [google_person("ana@example.com"), *colleagues(fake, 59)]

    busy = calendar.fetch_busy(people, window)

    assert busy["ana@example.com"].busy == (Interval(seam - timedelta(hours=1), seam + timedelta(hours=1)),)
    assert fake.calls["freeBusy"] == 2 * 3  # two batches × three pieces
    spans = {(r["timeMin"], r["timeMax"]) for r in fake.freebusy_requests}
    assert len(spans) == 3
    assert all(parse_rfc3339(b) - parse_rfc3339(a) < timedelta(days=90) for a, b in spans)


def test_an_empty_window_asks_nothing(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    busy = calendar.fetch_busy([google_person("ana@example.com")], Interval(MONDAY, MONDAY))
    assert busy == {"ana@example.com": Busy()}
    assert fake.calls["freeBusy"] == 0


def test_a_calendar_google_cannot_read_is_that_persons_error(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    people = colleagues(fake, 2)
    fake.calendar_errors["colleague001@example.com"] = "internalError"
    ghost = google_person("ghost@example.com")  # no such user
    ics = google_person("ics@example.com", calendar=CalendarSource("ics", "ics.ics"))

    busy = calendar.fetch_busy([*people, ghost, ics], WEEK)

    assert busy["colleague000@example.com"].busy == (Interval(at(0, 9), at(0, 10)),)
    assert busy["colleague001@example.com"] == Busy(error=CALENDAR_ERRORS["internalError"])
    assert busy[ghost.email] == Busy(error="Google says this calendar does not exist or is not shared with the "
                                           "organisation")
    assert busy[ics.email].error == "a ics calendar cannot be read through Google"


def test_issue_13_a_calendar_google_could_not_read_just_now_is_asked_again_alone(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float]) -> None:
    people = colleagues(fake, 3)
    flaky = "colleague001@example.com"
    fake.inject_calendar_errors(flaky, "internalError", "backendError")  # Google's own passing trouble, twice
    ghost = google_person("ghost@example.com")  # notFound: permanent, not asked again

    busy = calendar.fetch_busy([*people, ghost], WEEK)

    assert all(busy[p.email] == Busy(busy=(Interval(at(0, 9), at(0, 10)),)) for p in people)
    assert busy[ghost.email].error == CALENDAR_ERRORS["notFound"]
    assert [[item["id"] for item in r["items"]] for r in fake.freebusy_requests[1:]] == [[flaky], [flaky]]
    assert len(waits) == 2  # with backoff between the asks


def test_issue_13_a_calendar_that_keeps_failing_inside_google_is_given_up_after_bounded_attempts(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float]) -> None:
    people = colleagues(fake, 2)
    fake.calendar_errors["colleague000@example.com"] = "backendError"

    busy = calendar.fetch_busy(people, WEEK)

    assert busy["colleague000@example.com"] == Busy(error=CALENDAR_ERRORS["backendError"])
    assert busy["colleague001@example.com"].busy == (Interval(at(0, 9), at(0, 10)),)
    assert fake.calls["freeBusy"] == ATTEMPTS
    assert len(waits) == ATTEMPTS - 1


BAD = "colleague007@example.com"  # in the first of two batches (50 and 10 calendars)


def _when_bad_is_asked(hostile: object) -> Callable[[Any, Any], Any]:
    """A rewrite answering ``hostile`` to every freeBusy call that asks for ``BAD``."""
    def change(request: Any, answer: Any) -> Any:
        return hostile if BAD in [item["id"] for item in request["items"]] else answer
    return change


def _bad_calendar(change: Callable[[dict[str, Any]], Any]) -> Callable[[Any, Any], Any]:
    """A rewrite replacing ``BAD``'s part of each answer by ``change(part)`` (``...`` removes it)."""
    def rewrite(request: Any, answer: Any) -> Any:
        calendars = answer["calendars"]
        if BAD in calendars:
            changed = change(dict(calendars[BAD]))
            if changed is ...:
                del calendars[BAD]
            else:
                calendars[BAD] = changed
        return answer
    return rewrite


def _period(start: object = "2026-11-23T09:00:00Z", end: object = "2026-11-23T10:00:00Z") -> dict[str, Any]:
    return {"busy": [{"start": start, "end": end}]}


@pytest.mark.parametrize(("rewrite", "error"), [
    # The whole answer is unusable: retried, then the batch is asked in halves down to BAD alone.
    pytest.param(_when_bad_is_asked(b"<html><body>Sign in to the proxy</body></html>"), "not a JSON object",
                 id="not-json"),
    pytest.param(_when_bad_is_asked(b'{"kind": "calendar#freeBusy", "calendars": {'), "not a JSON object",
                 id="truncated"),
    pytest.param(_when_bad_is_asked(b'{"calendars": "\xff\xfe"}'), "cannot read (UnicodeDecodeError)",
                 id="not-utf-8"),
    pytest.param(_when_bad_is_asked([]), "not a JSON object", id="a-list"),
    pytest.param(_when_bad_is_asked({"kind": "calendar#freeBusy"}), "without the calendars", id="no-calendars"),
    pytest.param(_when_bad_is_asked({"calendars": [BAD]}), "without the calendars", id="calendars-a-list"),
    # BAD's own part of the answer is malformed: BAD's error, the rest of the answer is read.
    pytest.param(_bad_calendar(lambda part: ...), "did not answer for this calendar", id="calendar-missing"),
    pytest.param(_bad_calendar(lambda part: "busy"), "not a calendar", id="calendar-a-string"),
    pytest.param(_bad_calendar(lambda part: {}), "without its busy times", id="no-busy"),
    pytest.param(_bad_calendar(lambda part: {"busy": {"start": "2026-11-23T09:00:00Z"}}), "without its busy times",
                 id="busy-an-object"),
    pytest.param(_bad_calendar(lambda part: {"busy": ["09:00-10:00"]}), "busy time that cannot be read",
                 id="period-a-string"),
    pytest.param(_bad_calendar(lambda part: {"busy": [{"start": "2026-11-23T09:00:00Z"}]}),
                 "busy time that cannot be read", id="no-end"),
    pytest.param(_bad_calendar(lambda part: {"busy": [{"end": "2026-11-23T09:00:00Z"}]}),
                 "busy time that cannot be read", id="no-start"),
    pytest.param(_bad_calendar(lambda part: _period(start="next tuesday")), "busy time that cannot be read",
                 id="unparsable-time"),
    pytest.param(_bad_calendar(lambda part: _period(start="2026-11-23T09:00:00")), "busy time that cannot be read",
                 id="time-without-offset"),
    pytest.param(_bad_calendar(lambda part: _period(end=1764000000)),
                 "busy time that cannot be read", id="time-a-number"),
    pytest.param(_bad_calendar(lambda part: _period(end="9999-12-31T23:00:00-12:00")),
                 "busy time that cannot be read", id="time-out-of-range"),
    pytest.param(_bad_calendar(lambda part: {"errors": "notFound", "busy": []}), "could not read this calendar",
                 id="errors-a-string"),
    pytest.param(_bad_calendar(lambda part: {"errors": [7], "busy": []}), "could not read this calendar",
                 id="error-a-number"),
])
def test_issue_13_a_hostile_freebusy_answer_is_its_peoples_error_alone(
        fake: FakeGoogle, calendar: GoogleCalendar, rewrite: Callable[[Any, Any], Any], error: str) -> None:
    people = colleagues(fake, 60)
    fake.rewrite("freeBusy", rewrite)

    busy = calendar.fetch_busy(people, WEEK)

    assert set(busy) == {p.email for p in people}
    assert error in (busy[BAD].error or "")
    assert busy[BAD].busy == ()
    # Everyone else, in the other batch and in BAD's own, is read.
    assert all(b == Busy(busy=(Interval(at(0, 9), at(0, 10)),)) for email, b in busy.items() if email != BAD)


def test_issue_13_a_batch_that_keeps_failing_is_asked_in_halves_down_to_its_person(
        fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    people = colleagues(fake, 60)
    fake.rewrite("freeBusy", _when_bad_is_asked(server_error(500)))  # only the calls that ask for BAD fail

    busy = calendar.fetch_busy(people, WEEK)

    assert busy[BAD] == Busy(error="Google Calendar is unavailable (freeBusy): HTTP 500 backendError: Backend Error")
    assert all(b.busy == (Interval(at(0, 9), at(0, 10)),) for email, b in busy.items() if email != BAD)
    # Bounded: the failing batch with its retries, then at each of the 6 halvings (50 → 25 → 12 → 6 → 3 → 2 → 1)
    # the failing half with its retries and the other half once; the second batch once.
    assert fake.calls["freeBusy"] == ATTEMPTS + 6 * (ATTEMPTS + 1) + 1


def test_issue_13_an_unforeseen_failure_reading_a_batch_is_its_peoples_error_logged_once(
        fake: FakeGoogle, calendar: GoogleCalendar, caplog: pytest.LogCaptureFixture) -> None:
    """A JSON bomb (nesting deeper than Python's parser goes) raises RecursionError, which no code foresees: the
    per-batch boundary makes it the batch's error, and the halving narrows it down to BAD."""
    people = colleagues(fake, 60)
    fake.rewrite("freeBusy", _when_bad_is_asked(b"[" * 200_000 + b"]" * 200_000))
    caplog.set_level(logging.WARNING, logger="integrations.google_calendar")

    busy = calendar.fetch_busy(people, WEEK)

    assert busy[BAD].error == ("Google Calendar gave an answer Coffee Chat could not make sense of (RecursionError); "
                               "the administrators have the details in the log")
    assert all(b.busy == (Interval(at(0, 9), at(0, 10)),) for email, b in busy.items() if email != BAD)
    with_traceback = [r for r in caplog.records if r.exc_info]
    [record] = with_traceback
    assert record.exc_info is not None
    assert record.exc_info[0] is RecursionError
    assert any("as above" in r.getMessage() for r in caplog.records)


def test_issue_13_provider_unavailable_only_when_nothing_at_all_could_be_read(
        fake: FakeGoogle, make_calendar: Callable[..., GoogleCalendar]) -> None:
    calendar = make_calendar(concurrency=1)
    people = colleagues(fake, 120)
    second_batch = {p.email for p in people[50:100]}

    def fail_second_batch(request: Any, answer: Any) -> Any:
        return server_error(503) if {item["id"] for item in request["items"]} & second_batch else answer

    fake.rewrite("freeBusy", fail_second_batch)

    busy = calendar.fetch_busy(people, WEEK)  # no ProviderUnavailable: two batches were read

    assert all(busy[p.email].busy == (Interval(at(0, 9), at(0, 10)),) for p in people[:50] + people[100:])
    assert all((busy[email].error or "").startswith("Google Calendar is unavailable (freeBusy): HTTP 503")
               for email in second_batch)


# --- retries ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected_wait"),
    [
        pytest.param(lambda: rate_limited("7"), (7.0, 7.0), id="429-retry-after-seconds"),
        pytest.param(lambda: rate_limited(http_date(60)), (58.0, 61.0), id="429-retry-after-date"),
        pytest.param(lambda: rate_limited(status=403), (0.0, 0.5), id="403-rateLimitExceeded"),
        pytest.param(lambda: rate_limited("3", status=403, reason="userRateLimitExceeded"), (3.0, 3.0),
                     id="403-userRateLimitExceeded"),
        pytest.param(lambda: server_error(500), (0.0, 0.5), id="500"),
        pytest.param(lambda: server_error(503), (0.0, 0.5), id="503"),
    ],
)
def test_transient_freebusy_failures_are_retried(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float], fault: Callable[[], Fault],
        expected_wait: tuple[float, float]) -> None:
    people = colleagues(fake, 3)
    fake.inject("freeBusy", fault())  # made here: an HTTP date must be fresh

    busy = calendar.fetch_busy(people, WEEK)

    assert fake.calls["freeBusy"] == 2
    assert len(waits) == 1
    assert expected_wait[0] <= waits[0] <= expected_wait[1]
    assert all(b.busy == (Interval(at(0, 9), at(0, 10)),) for b in busy.values())


def test_a_slow_answer_past_the_timeout_is_retried(fake: FakeGoogle, make_calendar: Callable[..., GoogleCalendar],
                                                   waits: list[float]) -> None:
    calendar = make_calendar(timeout=SHORT_TIMEOUT)
    calendar.fetch_busy(colleagues(fake, 1), WEEK)  # sign in first, so that only freeBusy is slow
    fake.inject("freeBusy", slow(2.0))

    busy = calendar.fetch_busy([google_person("colleague000@example.com")], WEEK)

    assert busy["colleague000@example.com"].busy == (Interval(at(0, 9), at(0, 10)),)
    assert fake.calls["freeBusy"] == 3
    assert len(waits) == 1


def test_quota_exceeded_is_not_retried(fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float]) -> None:
    fake.inject("freeBusy", quota_exceeded())

    with pytest.raises(ProviderUnavailable, match="refused freeBusy: HTTP 403 quotaExceeded") as caught:
        calendar.fetch_busy(colleagues(fake, 2), WEEK)

    assert fake.calls["freeBusy"] == 1
    assert waits == []
    assert "Calendar usage limits exceeded" in str(caught.value)


def test_a_service_that_stays_down_is_unavailable_after_bounded_retries(
        fake: FakeGoogle, make_calendar: Callable[..., GoogleCalendar], key_info: dict[str, str],
        waits: list[float]) -> None:
    calendar = make_calendar(concurrency=1)
    fake.set_outage("freeBusy", server_error(503))

    with pytest.raises(ProviderUnavailable) as caught:
        calendar.fetch_busy(colleagues(fake, 120), WEEK)  # three batches: the first one and its halves decide

    message = str(caught.value)
    assert message == ("Google Calendar is unavailable (freeBusy): HTTP 503 backendError: The service is "
                       "currently unavailable.")
    # The first batch, then each of its halves, with their retries: both halves failing the same way is the
    # provider's failure, so nothing is split further and the other two batches are not asked.
    assert fake.calls["freeBusy"] == 3 * ATTEMPTS
    assert len(waits) == 3 * (ATTEMPTS - 1)
    assert not any(secret in message for secret in secrets_of(fake, key_info))


def test_an_unreachable_service_is_unavailable(make_calendar: Callable[..., GoogleCalendar],
                                               waits: list[float]) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    calendar = make_calendar(endpoint=f"http://127.0.0.1:{port}/calendar/v3/",
                             token_uri=f"http://127.0.0.1:{port}/token")

    with pytest.raises(ProviderUnavailable, match=re.escape("(freeBusy): cannot reach Google (Connection refused)")):
        calendar.fetch_busy([google_person("ana@example.com")], WEEK)

    assert len(waits) == ATTEMPTS - 1


def test_a_retry_after_too_long_to_wait_fails_at_once(fake: FakeGoogle, calendar: GoogleCalendar,
                                                      waits: list[float]) -> None:
    fake.inject("freeBusy", rate_limited("3600"))

    with pytest.raises(ProviderUnavailable, match="HTTP 429 rateLimitExceeded"):
        calendar.fetch_busy(colleagues(fake, 1), WEEK)

    assert (fake.calls["freeBusy"], waits) == (1, [])


def test_batches_run_concurrently_up_to_the_limit(fake: FakeGoogle, make_calendar: Callable[..., GoogleCalendar],
                                                  waits: list[float]) -> None:
    calendar = make_calendar(concurrency=3)
    people = colleagues(fake, 300)
    fake.set_outage("freeBusy", slow(0.1))  # hold each answer so that calls overlap

    busy = calendar.fetch_busy(people, WEEK)

    assert len(busy) == 300
    assert fake.calls["freeBusy"] == 6
    assert 2 <= fake.max_in_flight["freeBusy"] <= 3
    assert waits == []


# --- sign-in and scopes -----------------------------------------------------------------------------------


def test_each_call_uses_its_own_least_scope_and_impersonates_the_organizer(
        fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    calendar.fetch_busy(colleagues(fake, 1), WEEK)
    calendar.create_event(make_invite())

    scopes = {claims["scope"] for claims in fake.token_requests}
    assert scopes == {FREEBUSY_SCOPE, EVENTS_SCOPE}
    assert {(c["iss"], c["sub"], c["aud"]) for c in fake.token_requests} == {
        (SERVICE_ACCOUNT, ORGANIZER, GOOGLE_TOKEN_AUDIENCE)}


def test_without_delegation_of_the_events_scope_creating_fails_for_good(
        fake: FakeGoogle, calendar: GoogleCalendar, key_info: dict[str, str], waits: list[float]) -> None:
    fake.delegated[SERVICE_ACCOUNT] = {FREEBUSY_SCOPE}

    with pytest.raises(DeliveryError, match=r"unauthorized_client.*domain-wide delegation") as caught:
        calendar.create_event(make_invite())

    assert caught.value.transient is False
    assert waits == []
    assert not any(secret in str(caught.value) for secret in secrets_of(fake, key_info))
    # Reading still works: the free/busy scope is granted on its own.
    assert calendar.fetch_busy(colleagues(fake, 1), WEEK)["colleague000@example.com"].error is None


def test_without_delegation_of_the_freebusy_scope_reading_is_refused_at_once(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float]) -> None:
    fake.delegated[SERVICE_ACCOUNT] = {EVENTS_SCOPE}  # the events scope does not read other people's free/busy

    with pytest.raises(ProviderUnavailable, match="refused freeBusy: the service account's sign-in was refused: "
                                                  "unauthorized_client"):
        calendar.fetch_busy(colleagues(fake, 1), WEEK)

    assert (fake.calls["token"], fake.calls["freeBusy"], waits) == (1, 0, [])


def test_the_fake_refuses_event_calls_with_a_freebusy_token(fake: FakeGoogle, key_info: dict[str, str]) -> None:
    """A token for calendar.freebusy cannot write events, as the discovery document's scopes say."""
    service = raw_service(fake, key_info, FREEBUSY_SCOPE)
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body=make_event_body("abcdef")).execute()
    assert caught.value.resp.status == 403
    assert json.loads(caught.value.content)["error"]["errors"][0]["reason"] == "insufficientPermissions"
    service.close()


def test_credentials_appear_in_no_log_and_no_repr(fake: FakeGoogle, calendar: GoogleCalendar,
                                                  key_info: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    calendar.fetch_busy(colleagues(fake, 1), WEEK)
    calendar.create_event(make_invite())

    assert fake.issued_tokens()
    assert caplog.records  # the libraries did log, at debug level
    for secret in secrets_of(fake, key_info):
        assert secret not in caplog.text
        assert secret not in repr(calendar)
    assert repr(calendar) == f"GoogleCalendar(organizer={ORGANIZER!r}, endpoint={fake.endpoint!r})"


# --- events -----------------------------------------------------------------------------------------------


def test_create_books_the_event_and_lets_google_invite(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    invite = make_invite()

    event_id = calendar.create_event(invite)

    assert event_id == event_id_for(invite.uid)
    [event] = fake.live_events(ORGANIZER)
    assert event["id"] == event_id
    assert (event["summary"], event["description"], event["location"]) == (
        "Coffee chat: Ana and Bo", "Say hello!", "Google Meet")
    assert event["start"] == {"dateTime": "2026-11-24T10:30:00Z", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-11-24T11:00:00Z", "timeZone": "UTC"}
    assert [(a["email"], a["displayName"]) for a in event["attendees"]] == [
        ("ana@example.com", "Ana López"), ("bo@example.com", "Bo Chen")]
    assert "conferenceData" not in event
    assert [(n.action, n.send_updates) for n in fake.notifications] == [("insert", "all")]


def test_creating_twice_returns_the_first_event(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    first = calendar.create_event(make_invite())
    second = calendar.create_event(make_invite())

    assert first == second
    assert len(fake.live_events(ORGANIZER)) == 1
    assert fake.calls["events.insert"] == 2  # the second was answered 409
    assert fake.calls["events.patch"] == 0  # and the live event it found was left alone


def test_a_timeout_after_the_write_still_gives_exactly_one_event(
        fake: FakeGoogle, make_calendar: Callable[..., GoogleCalendar], waits: list[float]) -> None:
    calendar = make_calendar(timeout=SHORT_TIMEOUT)
    calendar.create_event(make_invite("coffeechat-meeting-1"))  # sign in first: only the insert is late
    fake.inject("events.insert", timeout_after_write(2.0))

    event_id = calendar.create_event(make_invite())

    assert event_id == event_id_for("coffeechat-meeting-7")
    assert [e["id"] for e in fake.live_events(ORGANIZER)].count(event_id) == 1
    assert fake.calls["events.insert"] == 3
    assert len(waits) == 1
    assert sum(n.event_id == event_id for n in fake.notifications) == 1  # the attendees were invited once


def test_a_meet_link_is_requested_with_a_stable_request_id(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    invite = make_invite()

    calendar.create_event(invite, online_meeting=True)

    [event] = fake.live_events(ORGANIZER)
    request = event["conferenceData"]["createRequest"]
    assert request["requestId"] == conference_request_id(invite.uid)
    assert request["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
    assert event["hangoutLink"].startswith("https://meet.google.com/")  # only given with conferenceDataVersion=1


def test_update_moves_the_event_and_replaces_the_attendees(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    calendar.create_event(make_invite())
    moved = make_invite(sequence=1, start=at(2, 15), attendees=(Attendee("ana@example.com", "Ana López"),
                                                                 Attendee("dee@example.com", "Dee Park")))

    calendar.update_event(moved)

    [event] = fake.live_events(ORGANIZER)
    assert event["start"]["dateTime"] == "2026-11-25T15:00:00Z"
    assert event["sequence"] == 1
    assert [a["email"] for a in event["attendees"]] == ["ana@example.com", "dee@example.com"]
    assert [(n.action, n.send_updates) for n in fake.notifications] == [("insert", "all"), ("patch", "all")]


def test_updating_an_event_that_was_never_created_fails_for_good(calendar: GoogleCalendar) -> None:
    with pytest.raises(DeliveryError, match="it does not exist") as caught:
        calendar.update_event(make_invite())
    assert caught.value.transient is False


def test_cancel_deletes_with_notice_and_is_idempotent(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    calendar.create_event(make_invite())

    calendar.cancel_event(make_invite(sequence=1))
    calendar.cancel_event(make_invite(sequence=1))  # 410: already deleted
    calendar.cancel_event(make_invite("coffeechat-meeting-404"))  # 404: never existed

    assert fake.live_events(ORGANIZER) == []
    assert [(n.action, n.send_updates) for n in fake.notifications] == [("insert", "all"), ("delete", "all")]
    assert fake.calls["events.delete"] == 3


def test_creating_a_cancelled_meeting_again_restores_its_event(fake: FakeGoogle, calendar: GoogleCalendar) -> None:
    """Google keeps a deleted event's id, so the insert answers 409: the event is brought back, not left deleted."""
    event_id = calendar.create_event(make_invite())
    calendar.cancel_event(make_invite(sequence=1))

    again = calendar.create_event(make_invite(sequence=2, start=at(3, 11)))

    assert again == event_id
    [event] = fake.live_events(ORGANIZER)
    assert (event["id"], event["status"], event["start"]["dateTime"]) == (event_id, "confirmed", "2026-11-26T11:00:00Z")
    assert [(n.action, n.send_updates) for n in fake.notifications] == [
        ("insert", "all"), ("delete", "all"), ("patch", "all")]


def test_transient_event_failures_are_retried_then_reported_as_transient(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float]) -> None:
    fake.inject("events.insert", server_error(503), rate_limited("2", status=403))
    calendar.create_event(make_invite("coffeechat-meeting-1"))
    assert len(fake.live_events(ORGANIZER)) == 1
    assert waits[1] == 2.0

    fake.set_outage("events.patch", server_error(500))
    with pytest.raises(DeliveryError, match="could not update") as caught:
        calendar.update_event(make_invite("coffeechat-meeting-1", sequence=1))
    assert (caught.value.transient, fake.calls["events.patch"]) == (True, ATTEMPTS)


def test_a_long_retry_after_is_handed_to_the_outbox(fake: FakeGoogle, calendar: GoogleCalendar,
                                                    waits: list[float]) -> None:
    fake.inject("events.insert", rate_limited("3600"))

    with pytest.raises(DeliveryError) as caught:
        calendar.create_event(make_invite())

    assert (caught.value.transient, caught.value.retry_after) == (True, 3600.0)
    assert waits == []


@pytest.mark.parametrize("reason", ["quotaExceeded", "dailyLimitExceeded"])
def test_issue_13_a_spent_usage_limit_on_events_is_tried_again_an_hour_later(
        fake: FakeGoogle, calendar: GoogleCalendar, waits: list[float], reason: str) -> None:
    """Google's "Calendar usage limits exceeded" for the organizer lifts after hours: the outbox is told to wait
    an hour and try again (its max_attempts still bound the tries), not to give the invitation up."""
    fake.inject("events.insert", quota_exceeded(reason))

    with pytest.raises(DeliveryError, match=reason) as caught:
        calendar.create_event(make_invite())

    assert (caught.value.transient, caught.value.retry_after) == (True, USAGE_LIMIT_RETRY_AFTER)
    assert USAGE_LIMIT_RETRY_AFTER >= 3600
    assert fake.calls["events.insert"] == 1  # not waited for in-process
    assert waits == []


def test_issue_13_the_outbox_delivers_a_quota_limited_event_once_the_limit_lifts(
        fake: FakeGoogle, calendar: GoogleCalendar, new_uow: Callable[[], UnitOfWork]) -> None:
    clock = FakeClock(SUNDAY_NOON)
    with new_uow() as uow:
        for n in range(2):
            uow.people.save(Person(f"p{n}@example.com", f"P{n}", f"team-{n}", verified_at=SUNDAY_NOON))
        uow.commit()
    settings = PlanSettings(Attendee(ORGANIZER, "Coffee Chat"), f"Coffee Chat <{ORGANIZER}>",
                            WebUrls("https://coffee.example.com"))
    run_cycle(new_uow, FakeCalendarProvider(), clock, Program("coffee", invites="google"), settings)
    performers = standard_performers(FakeMailer(), {"google": calendar})
    policy = RetryPolicy(max_attempts=4)
    fake.set_outage("events.insert", quota_exceeded())

    first = deliver_due(new_uow, performers, clock, policy)
    clock.advance(timedelta(minutes=59))
    too_soon = deliver_due(new_uow, performers, clock, policy)
    fake.set_outage("events.insert", None)  # the limit lifted
    clock.advance(timedelta(minutes=2))
    later = deliver_due(new_uow, performers, clock, policy)

    assert (first.retried, first.dead) == (1, 0)
    assert too_soon.attempted == 0  # the hour is waited out on the outbox's clock
    assert (later.done, later.dead) == (1, 0)
    assert len(fake.live_events(ORGANIZER)) == 1


# --- configuration ----------------------------------------------------------------------------------------


def test_from_config_reads_the_key_from_the_named_variable(fake: FakeGoogle, key_info: dict[str, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GOOGLE_KEY", json.dumps(key_info))
    config = GoogleConfig(enabled=True, domains=("example.com",), organizer=ORGANIZER,
                          service_account_key_env="TEST_GOOGLE_KEY", endpoint=fake.endpoint,
                          token_uri=fake.token_uri, concurrency=2, timeout_seconds=5.0)

    calendar = GoogleCalendar.from_config(config)
    try:
        assert calendar.fetch_busy(colleagues(fake, 1), WEEK)["colleague000@example.com"].error is None
        assert calendar.concurrency == 2
    finally:
        calendar.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "set the environment variable TEST_GOOGLE_KEY", id="unset"),
        pytest.param("-----BEGIN PRIVATE KEY----- not json", "does not hold JSON", id="not-json"),
        pytest.param('["a list"]', "a JSON object", id="not-an-object"),
        pytest.param('{"client_email": "x@example.com"}', "has no private_key", id="no-key"),
        pytest.param('{"client_email": "x@example.com", "private_key": "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0\\n"}',
                     "private key cannot be read", id="bad-key"),
    ],
)
def test_from_config_names_the_problem_without_showing_the_key(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                                               message: str) -> None:
    if value is None:
        monkeypatch.delenv("TEST_GOOGLE_KEY", raising=False)
    else:
        monkeypatch.setenv("TEST_GOOGLE_KEY", value)
    config = GoogleConfig(enabled=True, organizer=ORGANIZER, service_account_key_env="TEST_GOOGLE_KEY")

    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        GoogleCalendar.from_config(config)

    assert "c2VjcmV0" not in str(caught.value)
    assert "BEGIN PRIVATE KEY" not in str(caught.value)
    assert caught.value.key == "calendar.google.service_account_key_env"


# --- the fake enforces Google's limits (so that the tests above mean something) ---------------------------


def raw_service(fake: FakeGoogle, key_info: dict[str, str], scope: str) -> Any:
    """The Calendar client built by hand, to send requests the connector never would."""
    credentials = service_account.Credentials.from_service_account_info(
        {**key_info, "token_uri": fake.token_uri}, scopes=[scope], subject=ORGANIZER)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=5))
    return discovery.build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                           client_options={"api_endpoint": fake.endpoint})


def make_event_body(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "summary": "x", "start": {"dateTime": "2026-11-24T10:00:00Z"},
            "end": {"dateTime": "2026-11-24T10:30:00Z"}}


def reason_of(error: HttpError) -> tuple[int, str]:
    return error.resp.status, json.loads(error.content)["error"]["errors"][0]["reason"]


def test_the_fake_enforces_freebusy_limits(fake: FakeGoogle, key_info: dict[str, str]) -> None:
    service = raw_service(fake, key_info, FREEBUSY_SCOPE)
    too_many = {"timeMin": "2026-11-23T00:00:00Z", "timeMax": "2026-11-28T00:00:00Z",
                "items": [{"id": f"p{n}@example.com"} for n in range(51)]}
    too_long = {"timeMin": "2026-11-23T00:00:00Z", "timeMax": "2027-02-21T00:00:00Z", "items": [{"id": ORGANIZER}]}

    with pytest.raises(HttpError) as many:
        service.freebusy().query(body=too_many).execute()
    with pytest.raises(HttpError) as long:
        service.freebusy().query(body=too_long).execute()

    assert reason_of(many.value) == (400, "tooManyCalendarsRequested")
    assert reason_of(long.value) == (400, "timeRangeTooLong")
    service.close()


def test_the_fake_enforces_event_ids(fake: FakeGoogle, key_info: dict[str, str]) -> None:
    service = raw_service(fake, key_info, EVENTS_SCOPE)
    events = service.events()

    with pytest.raises(HttpError) as invalid:
        events.insert(calendarId="primary", body=make_event_body("coffeechat-meeting-1")).execute()
    events.insert(calendarId="primary", body=make_event_body("abcdef")).execute()
    events.delete(calendarId="primary", eventId="abcdef").execute()
    with pytest.raises(HttpError) as duplicate:  # a deleted event keeps its id
        events.insert(calendarId="primary", body=make_event_body("abcdef")).execute()

    assert reason_of(invalid.value) == (400, "invalid")
    assert reason_of(duplicate.value) == (409, "duplicate")
    service.close()


# --- pure helpers -----------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=200))
def test_event_ids_are_stable_base32hex(uid: str) -> None:
    event_id = event_id_for(uid)
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id)
    assert event_id == event_id_for(uid)
    assert event_id != event_id_for(uid + " ")


@given(st.integers(min_value=0, max_value=400 * 24), st.integers(min_value=1, max_value=100 * 24))
def test_windows_split_into_contiguous_pieces_under_the_limit(hours: int, span_hours: int) -> None:
    window = Interval(MONDAY, MONDAY + timedelta(hours=hours))
    span = timedelta(hours=span_hours)

    pieces = split_window(window, span)

    assert all(p.duration <= span and p.start < p.end for p in pieces)
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    if hours:
        assert (pieces[0].start, pieces[-1].end) == (window.start, window.end)
    else:
        assert pieces == []


def test_google_times_with_offsets_are_read_as_utc() -> None:
    assert parse_rfc3339("2026-11-23T10:00:00+01:00") == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert parse_rfc3339("2026-11-23T09:00:00.000Z") == datetime(2026, 11, 23, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="without an offset"):
        parse_rfc3339("2026-11-23T09:00:00")
