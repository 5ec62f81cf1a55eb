"""GraphCalendar against the wire-level Graph fake (tests/fakes/graph_server.py), through the real msal and
requests over TLS: batching, window splitting, statuses, per-person errors, working hours, privacy, retries,
throttling, sign-in failures, concurrency, and idempotent meeting events."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.http import CallRetry
from integrations.microsoft_graph import (
    MAX_WINDOW,
    MSAL_THROTTLE_SECONDS,
    GraphCalendar,
    build_graph_calendar,
    parse_schedule_answer,
    read_availability_view,
    split_window,
    transaction_id,
)
from scheduler.config import MicrosoftConfig
from scheduler.errors import ConfigError, DeliveryError, ProviderUnavailable
from scheduler.model import Attendee, CalendarSource, Interval, Invite, Person, WorkingHours, merge_intervals
from tests.fakes.graph_server import Fault, GraphFake, TlsFiles, make_tls_files

UTC = dt.UTC
SECRET = "Zq8~fake.client-secret_do-not-log"
ORGANIZER = "coffee@contoso.example"
MONDAY = dt.datetime(2026, 11, 23, tzinfo=UTC)
WEEK = Interval(MONDAY, MONDAY + dt.timedelta(days=7))
SUBJECT = "Confidential: acquisition of Fabrikam"
LOCATION = "Boardroom Sapphire"


def at(day: int, hour: float) -> dt.datetime:
    """A moment in the test week: ``day`` 0 = Monday, ``hour`` may have a fraction."""
    return MONDAY + dt.timedelta(days=day, hours=hour)


def person(email: str, **overrides: Any) -> Person:
    return Person(email=email, name=email.split("@")[0].title(), team="team", **overrides)


def mailbox_person(graph: GraphFake, email: str) -> Person:
    graph.add_mailbox(email)
    return person(email)


def make_invite(uid: str = "coffeechat-cycle-7-meeting-3", *, start: dt.datetime | None = None,
                attendees: tuple[Attendee, ...] | None = None) -> Invite:
    start = start or at(1, 10.5)
    return Invite(
        uid=uid,
        sequence=0,
        method="REQUEST",
        organizer=Attendee(ORGANIZER, "Coffee Chat"),
        attendees=attendees or (Attendee("ana@contoso.example", "Ana López"),
                                Attendee("bo@contoso.example", "Bo Chen"),
                                Attendee(ORGANIZER, "Coffee Chat")),
        start=start,
        end=start + dt.timedelta(minutes=30),
        summary="Coffee chat: Ana and Bo",
        description="You two have been matched for a coffee chat.",
        location="Kitchen, 3rd floor",
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture
def graph(tls: TlsFiles) -> Iterator[GraphFake]:
    with GraphFake(tls=tls, client_secret=SECRET, organizer=ORGANIZER) as fake:
        yield fake


@pytest.fixture
def waits() -> list[float]:
    """The waits of every retry, recorded instead of slept."""
    return []


@pytest.fixture
def connect(graph: GraphFake, tls: TlsFiles, waits: list[float]) -> Iterator[Callable[..., GraphCalendar]]:
    made: list[GraphCalendar] = []

    def make(**overrides: Any) -> GraphCalendar:
        options: dict[str, Any] = {
            "tenant_id": graph.tenant_id, "client_id": graph.client_id, "credential": SECRET,
            "organizer": ORGANIZER, "authority_host": graph.authority_host, "graph_endpoint": graph.graph_endpoint,
            "verify": str(tls.cert), "retry": CallRetry(attempts=4, base=0.01, max_wait=0.05),
            "sleep": waits.append, "timeout": 2.0,
        }
        options.update(overrides)
        calendar = GraphCalendar(**options)
        made.append(calendar)
        return calendar

    yield make
    for calendar in made:
        calendar.close()


# --- free/busy ---------------------------------------------------------------------------------------------


def test_45_people_take_three_get_schedule_calls_of_at_most_twenty(graph, connect):
    people = [mailbox_person(graph, f"p{n:02}@contoso.example") for n in range(45)]
    graph.add_item("p07@contoso.example", at(1, 9), at(1, 10))

    answers = connect().fetch_busy(people, WEEK)

    assert set(answers) == {p.email for p in people}
    assert all(busy.error is None for busy in answers.values())
    assert answers["p07@contoso.example"].busy == (Interval(at(1, 9), at(1, 10)),)
    assert graph.calls["getSchedule"] == 3
    assert sorted(len(r["schedules"]) for r in graph.schedule_requests) == [5, 20, 20]
    asked = [s for r in graph.schedule_requests for s in r["schedules"]]
    assert sorted(asked) == sorted(p.email for p in people)  # each mailbox once
    for sent in graph.schedule_requests:
        assert (sent["start"], sent["end"]) == (WEEK.start, WEEK.end)
        assert sent["prefer"] == "UTC"
        assert 5 <= sent["interval"] <= 1440
        assert sent["organizer"] == ORGANIZER


def test_a_window_of_100_days_is_split_under_62_days_and_merged_back(graph, connect):
    window = Interval(MONDAY, MONDAY + dt.timedelta(days=100))
    boundary = MONDAY + MAX_WINDOW
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.add_item(ana.email, boundary - dt.timedelta(hours=1), boundary + dt.timedelta(hours=1))
    graph.add_item(ana.email, MONDAY - dt.timedelta(hours=2), MONDAY + dt.timedelta(hours=1))  # clipped

    busy = connect().fetch_busy([ana], window)[ana.email]

    assert busy.busy == (Interval(MONDAY, MONDAY + dt.timedelta(hours=1)),
                         Interval(boundary - dt.timedelta(hours=1), boundary + dt.timedelta(hours=1)))
    spans = sorted((r["start"], r["end"]) for r in graph.schedule_requests)
    assert spans == [(MONDAY, boundary), (boundary, window.end)]
    assert all(end - start < dt.timedelta(days=62) for start, end in spans)


def test_statuses_are_read_case_insensitively_and_tentative_is_kept_apart(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    for hour, status in [(8, "busy"), (10, "OOF"), (12, "workingElsewhere"), (14, "Tentative"), (16, "free"),
                         (18, "unknown")]:
        graph.add_item(ana.email, at(0, hour), at(0, hour + 1), status)
    graph.add_item(ana.email, at(0, 8.5), at(0, 9.5), "Busy")  # overlaps the first: merged

    busy = connect().fetch_busy([ana], WEEK)[ana.email]

    assert busy.busy == (Interval(at(0, 8), at(0, 9.5)), Interval(at(0, 10), at(0, 11)))  # busy, out of office
    assert busy.tentative == (Interval(at(0, 14), at(0, 15)),)
    assert all(i.start.tzinfo is UTC for i in busy.busy + busy.tentative)


def test_unknown_and_private_mailboxes_get_their_own_errors(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.add_mailbox("hidden@contoso.example", free_busy_denied=True)
    ghost, hidden = person("ghost@contoso.example"), person("hidden@contoso.example")

    answers = connect().fetch_busy([ana, ghost, hidden], WEEK)

    assert answers[ana.email].error is None
    assert "no Microsoft 365 mailbox" in (answers[ghost.email].error or "")
    assert "does not share this calendar" in (answers[hidden.email].error or "")
    assert answers[ghost.email].busy == ()


def test_a_microsoft_location_is_the_mailbox_asked_and_a_bad_one_fails_alone(graph, connect):
    graph.add_item("ana.lopez@contoso.example", at(2, 9), at(2, 10))
    ana = person("ana@contoso.example", calendar=CalendarSource("microsoft", "Ana.Lopez@contoso.example"))
    odd = person("odd@contoso.example", calendar=CalendarSource("microsoft", "not a mailbox"))

    answers = connect().fetch_busy([ana, odd], WEEK)

    assert answers[ana.email].busy == (Interval(at(2, 9), at(2, 10)),)
    assert "not a Microsoft 365 mailbox address" in (answers[odd.email].error or "")
    assert graph.schedule_requests[0]["schedules"] == ["ana.lopez@contoso.example"]


def test_working_hours_come_back_with_iana_zones(graph, connect):
    graph.add_mailbox("berlin@contoso.example", working_days=("monday", "tuesday", "wednesday", "thursday"),
                      working_start="07:30:00.0000000", working_end="16:00:00.0000000",
                      working_zone="W. Europe Standard Time")
    graph.add_mailbox("ny@contoso.example", working_zone="America/New_York")
    graph.add_mailbox("custom@contoso.example", working_zone={
        "@odata.type": "#microsoft.graph.customTimeZone", "bias": 480, "name": "Customized Time Zone"})
    people = [person(f"{name}@contoso.example") for name in ("berlin", "ny", "custom")]

    answers = connect().fetch_busy(people, WEEK)

    berlin = answers["berlin@contoso.example"]
    assert berlin.working_hours == WorkingHours(days=frozenset({0, 1, 2, 3}), start=dt.time(7, 30),
                                                end=dt.time(16, 0))
    assert berlin.working_zone == "Europe/Berlin"
    assert answers["ny@contoso.example"].working_zone == "America/New_York"
    assert answers["ny@contoso.example"].working_hours == WorkingHours(start=dt.time(8), end=dt.time(17))
    custom = answers["custom@contoso.example"]
    assert (custom.working_hours, custom.working_zone) == (None, None)
    assert custom.error is None
    assert "Customized Time Zone" in custom.warnings[0]


def test_a_schedule_without_items_is_read_from_the_availability_view(graph, connect):
    graph.add_mailbox("terse@contoso.example", details_hidden=True)
    graph.add_item("terse@contoso.example", at(0, 9), at(0, 9 + 40 / 60), "busy")
    graph.add_item("terse@contoso.example", at(0, 11), at(0, 11.5), "tentative")

    busy = connect().fetch_busy([person("terse@contoso.example")], WEEK)["terse@contoso.example"]

    assert busy.busy == (Interval(at(0, 9), at(0, 9.75)),)  # rounded out to the 15-minute slots
    assert busy.tentative == (Interval(at(0, 11), at(0, 11.5)),)


def test_issue_13_working_elsewhere_is_free_and_out_of_office_is_busy(graph, connect):
    """Graph's own view counts "working elsewhere" (a day at home, at another office) as free; out of office is
    away. Both from schedule items and from the availability view of a mailbox that shares less detail."""
    people = []
    for name, hidden in (("detailed", False), ("terse", True)):
        address = f"{name}@contoso.example"
        graph.add_mailbox(address, details_hidden=hidden)
        graph.add_item(address, at(0, 0), at(0, 24), "workingElsewhere")  # all day at home
        graph.add_item(address, at(0, 10), at(0, 11), "busy")
        graph.add_item(address, at(1, 0), at(2, 0), "oof")
        people.append(person(address))
    views: list[str] = []

    def record(request: Any, answer: Any) -> Any:
        views.extend(info["availabilityView"] for info in answer["value"])
        return answer

    graph.rewrite("getSchedule", record)

    answers = connect().fetch_busy(people, WEEK)

    for address in ("detailed@contoso.example", "terse@contoso.example"):
        assert answers[address].error is None
        assert answers[address].busy == (Interval(at(0, 10), at(0, 11)), Interval(at(1, 0), at(2, 0)))
        assert answers[address].tentative == ()
    assert all(set(view[:40]) == {"4"} and set(view[96:192]) == {"3"} for view in views)  # what Graph said


def test_subjects_and_locations_never_reach_answers_or_logs(graph, connect, caplog):
    caplog.set_level(logging.DEBUG)
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.add_item(ana.email, at(1, 9), at(1, 10), subject=SUBJECT, location=LOCATION)
    graph.add_item(ana.email, at(1, 13), at(1, 14), "tentative", subject=SUBJECT, location=LOCATION)

    answers = connect().fetch_busy([ana], WEEK)

    assert answers[ana.email].busy
    assert answers[ana.email].tentative
    text = repr(answers) + caplog.text
    assert SUBJECT not in text
    assert LOCATION not in text
    assert SECRET not in caplog.text
    assert any(record.name == "integrations.microsoft_graph" for record in caplog.records)


def test_private_fields_are_dropped_while_the_answer_is_parsed():
    answer = parse_schedule_answer(json.dumps({"value": [{
        "scheduleId": "ana@contoso.example", "availabilityView": "02",
        "scheduleItems": [{"status": "busy", "subject": SUBJECT, "location": LOCATION, "isPrivate": True,
                           "attendees": [{"name": "Fabrikam CEO"}],
                           "start": {"dateTime": "2026-11-23T09:00:00.0000000", "timeZone": "UTC"},
                           "end": {"dateTime": "2026-11-23T10:00:00.0000000", "timeZone": "UTC"}}],
    }]}))

    assert answer == {"value": [{
        "scheduleId": "ana@contoso.example", "availabilityView": "02",
        "scheduleItems": [{"status": "busy",
                           "start": {"dateTime": "2026-11-23T09:00:00.0000000", "timeZone": "UTC"},
                           "end": {"dateTime": "2026-11-23T10:00:00.0000000", "timeZone": "UTC"}}],
    }]}


# --- hostile answers and batches that fail (issue 13) ---------------------------------------------------------

BAD = "p07@contoso.example"  # in the first of two batches (20 and 10 mailboxes)


def thirty_busy_people(graph: GraphFake) -> list[Person]:
    """30 mailboxes (two getSchedule batches), each busy Monday 09:00-10:00."""
    people = [mailbox_person(graph, f"p{n:02}@contoso.example") for n in range(30)]
    for p in people:
        graph.add_item(p.email, at(0, 9), at(0, 10))
    return people


def when_bad_is_asked(hostile: object) -> Callable[[Any, Any], Any]:
    """A rewrite answering ``hostile`` to every getSchedule call that asks for ``BAD``."""
    def change(request: Any, answer: Any) -> Any:
        return hostile if BAD in request["schedules"] else answer
    return change


def bad_schedule(change: Callable[[dict[str, Any]], Any]) -> Callable[[Any, Any], Any]:
    """A rewrite replacing ``BAD``'s scheduleInformation by ``change(info)`` (``...`` removes it)."""
    def rewrite(request: Any, answer: Any) -> Any:
        values = []
        for info in answer["value"]:
            if info["scheduleId"] == BAD:
                info = change(dict(info))
                if info is ...:
                    continue
            values.append(info)
        return {**answer, "value": values}
    return rewrite


def with_item(info: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``info`` whose first schedule item has ``fields`` replaced (``None`` removes one)."""
    item = {**info["scheduleItems"][0], **fields}
    return {**info, "scheduleItems": [{k: v for k, v in item.items() if v is not None}]}


@pytest.mark.parametrize(("rewrite", "error"), [
    # The whole answer is unusable: retried, then the batch is asked in halves down to BAD alone.
    pytest.param(when_bad_is_asked(b"<html><body>Sign in to the proxy</body></html>"), "not JSON", id="not-json"),
    pytest.param(when_bad_is_asked(b'{"value": [{"scheduleId": "p07@con'), "not JSON", id="truncated"),
    pytest.param(when_bad_is_asked([]), "without a 'value' list", id="a-list"),
    pytest.param(when_bad_is_asked({"@odata.context": "x"}), "without a 'value' list", id="no-value"),
    pytest.param(when_bad_is_asked({"value": {"scheduleId": BAD}}), "without a 'value' list", id="value-an-object"),
    # BAD's own scheduleInformation is malformed: BAD's error, the rest of the answer is read.
    pytest.param(bad_schedule(lambda info: ...), "gave no answer", id="schedule-missing"),
    pytest.param(bad_schedule(lambda info: "busy"), "gave no answer", id="schedule-a-string"),
    pytest.param(bad_schedule(lambda info: {k: v for k, v in info.items() if k != "scheduleId"}), "gave no answer",
                 id="no-schedule-id"),
    pytest.param(bad_schedule(lambda info: {**info, "scheduleId": 7}), "gave no answer", id="schedule-id-a-number"),
    pytest.param(bad_schedule(lambda info: with_item(info, start=None)), "cannot read", id="item-without-start"),
    pytest.param(bad_schedule(lambda info: with_item(info, end="2026-11-23T10:00:00")), "cannot read",
                 id="end-a-string"),
    pytest.param(bad_schedule(lambda info: with_item(info, start={"dateTime": "Monday 9am", "timeZone": "UTC"})),
                 "cannot read", id="unparsable-time"),
    pytest.param(bad_schedule(lambda info: with_item(info, start={"dateTime": "2026-11-23T09:00:00",
                                                                    "timeZone": "Mars Standard Time"})),
                 "cannot read", id="unknown-zone"),
    pytest.param(bad_schedule(lambda info: with_item(info, end={"dateTime": "9999-12-31T23:00:00",
                                                                  "timeZone": "Etc/GMT+12"})),
                 "cannot read", id="time-out-of-range"),
    pytest.param(bad_schedule(lambda info: with_item(info, status=2)), "cannot read", id="status-a-number"),
    pytest.param(bad_schedule(lambda info: {**info, "scheduleItems": ["busy"]}), "cannot read", id="item-a-string"),
    pytest.param(bad_schedule(lambda info: {**info, "scheduleItems": {"status": "busy"}}), "cannot read",
                 id="items-an-object"),
    pytest.param(bad_schedule(lambda info: {"scheduleId": BAD}), "without this mailbox's schedule",
                 id="no-items-no-view"),
    pytest.param(bad_schedule(lambda info: {"scheduleId": BAD, "availabilityView": 2}),
                 "without this mailbox's schedule", id="view-a-number"),
    pytest.param(bad_schedule(lambda info: {"scheduleId": BAD, "error": "ErrorInvalidUser"}),
                 "no Microsoft 365 mailbox", id="error-a-string"),
    pytest.param(bad_schedule(lambda info: {**info, "error": {}}), "could not read this calendar", id="error-empty"),
])
def test_issue_13_a_hostile_get_schedule_answer_is_its_peoples_error_alone(graph, connect, rewrite, error):
    people = thirty_busy_people(graph)
    graph.rewrite("getSchedule", rewrite)

    answers = connect().fetch_busy(people, WEEK)

    assert set(answers) == {p.email for p in people}
    assert error in (answers[BAD].error or "")
    assert answers[BAD].busy == ()
    # Everyone else, in the other batch and in BAD's own, is read.
    assert all(busy.error is None and busy.busy == (Interval(at(0, 9), at(0, 10)),)
               for email, busy in answers.items() if email != BAD)


def test_issue_13_a_get_schedule_batch_that_keeps_failing_is_asked_in_halves_down_to_its_person(graph, connect):
    people = thirty_busy_people(graph)
    graph.rewrite("getSchedule", when_bad_is_asked(Fault(status=500, code="ErrorInternalServerError")))

    answers = connect(concurrency=1).fetch_busy(people, WEEK)

    assert answers[BAD].error == ("Microsoft Graph getSchedule is unavailable: HTTP 500 ErrorInternalServerError: "
                                  "Injected fault.")
    assert all(busy.busy == (Interval(at(0, 9), at(0, 10)),) for email, busy in answers.items() if email != BAD)
    # Bounded: the failing batch with its 4 attempts, then at each of the 4 halvings (20 → 10 → 5 → 3 → 1) the
    # failing half with its attempts and the other half once; the second batch once.
    assert graph.calls["getSchedule"] == 4 + 4 * (4 + 1) + 1


def test_issue_13_an_unforeseen_failure_reading_a_get_schedule_batch_is_its_peoples_error_logged_once(
        graph, connect, caplog):
    """A JSON bomb (nesting deeper than Python's parser goes) raises RecursionError, which no code foresees: the
    per-batch boundary makes it the batch's error, and the halving narrows it down to BAD."""
    people = thirty_busy_people(graph)
    graph.rewrite("getSchedule", when_bad_is_asked(b"[" * 200_000 + b"]" * 200_000))
    caplog.set_level(logging.WARNING, logger="integrations.microsoft_graph")

    answers = connect().fetch_busy(people, WEEK)

    assert answers[BAD].error == ("Microsoft Graph gave an answer Coffee Chat could not make sense of "
                                  "(RecursionError); the administrators have the details in the log")
    assert all(busy.busy == (Interval(at(0, 9), at(0, 10)),) for email, busy in answers.items() if email != BAD)
    with_traceback = [r for r in caplog.records if r.exc_info]
    [record] = with_traceback
    assert record.exc_info is not None
    assert record.exc_info[0] is RecursionError
    assert any("as above" in r.getMessage() for r in caplog.records)


def test_issue_13_provider_unavailable_only_when_nothing_at_all_could_be_read(graph, connect):
    people = [mailbox_person(graph, f"p{n:02}@contoso.example") for n in range(45)]
    second_batch = {p.email for p in people[20:40]}

    def fail_second_batch(request: Any, answer: Any) -> Any:
        return Fault(status=503) if set(request["schedules"]) & second_batch else answer

    graph.rewrite("getSchedule", fail_second_batch)
    answers = connect(concurrency=1).fetch_busy(people, WEEK)  # two batches read: no ProviderUnavailable

    assert all(answers[p.email].error is None for p in people[:20] + people[40:])
    assert all((answers[email].error or "").startswith("Microsoft Graph getSchedule is unavailable: HTTP 503")
               for email in second_batch)

    graph.rewrite("getSchedule", None)
    graph.fail_always("getSchedule", Fault(status=503, code="ServiceUnavailable"))
    calls = graph.calls["getSchedule"]
    with pytest.raises(ProviderUnavailable, match="Microsoft Graph getSchedule is unavailable: HTTP 503"):
        connect(concurrency=1).fetch_busy(people, WEEK)
    # Down: the first batch and its two halves, with their attempts; the other batches are not asked.
    assert graph.calls["getSchedule"] - calls == 3 * 4


@pytest.mark.parametrize(("settings", "rewrite", "why"), [
    pytest.param({"working_days": ()}, None, "no working days", id="no-days"),
    pytest.param({"working_start": "17:00:00.0000000", "working_end": "08:00:00.0000000"}, None,
                 "ends at 08:00, not after it starts at 17:00", id="end-before-start"),
    pytest.param({"working_start": "00:00:00.0000000", "working_end": "00:00:00.0000000"}, None,
                 "ends at 00:00, not after it starts at 00:00", id="no-hours"),
    pytest.param({}, {"daysOfWeek": 5}, "not a list of weekdays", id="days-a-number"),
    pytest.param({}, {"daysOfWeek": "monday"}, "not a list of weekdays", id="days-a-string"),
    pytest.param({}, {"daysOfWeek": ["funday"]}, "unknown weekday 'funday'", id="unknown-day"),
    pytest.param({}, {"startTime": None}, "no start or end time", id="no-start"),
    pytest.param({}, {"endTime": "5pm"}, "cannot be used", id="unreadable-end"),
])
def test_issue_13_unusable_exchange_working_hours_leave_the_profiles_in_place(graph, connect, settings, rewrite,
                                                                             why):
    ana = person("ana@contoso.example")
    graph.add_mailbox(ana.email, **settings)
    graph.add_item(ana.email, at(0, 9), at(0, 10))

    def change(request: Any, answer: Any) -> Any:
        for info in answer["value"]:
            info["workingHours"].update(rewrite)
        return answer

    if rewrite is not None:
        graph.rewrite("getSchedule", change)

    busy = connect().fetch_busy([ana], WEEK)[ana.email]

    assert busy.error is None
    assert busy.busy == (Interval(at(0, 9), at(0, 10)),)  # the calendar itself is read
    assert (busy.working_hours, busy.working_zone) == (None, None)  # so the profile's hours apply
    assert len(busy.warnings) == 1
    assert why in busy.warnings[0]
    assert "the profile's working hours apply" in busy.warnings[0]


def test_issue_13_working_hours_that_are_not_an_object_are_left_out_with_a_warning(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.rewrite("getSchedule", lambda request, answer: {"value": [{**answer["value"][0],
                                                                     "workingHours": "mon-fri 08:00-17:00"}]})

    busy = connect().fetch_busy([ana], WEEK)[ana.email]

    assert (busy.error, busy.working_hours) == (None, None)
    assert "cannot be used (not an object)" in busy.warnings[0]


# --- retries, failures and sign-in ---------------------------------------------------------------------------


def test_429_with_retry_after_in_seconds_is_waited_out(graph, connect, waits):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.inject("getSchedule", Fault(status=429, retry_after="7", code="ApplicationThrottled"))

    busy = connect().fetch_busy([ana], WEEK)[ana.email]

    assert busy.error is None
    assert graph.calls["getSchedule"] == 2
    assert waits == [7.0]


def test_429_with_retry_after_as_an_http_date_is_waited_out(graph, connect, waits):
    ana = mailbox_person(graph, "ana@contoso.example")
    later = dt.datetime.now(UTC) + dt.timedelta(seconds=30)
    graph.inject("getSchedule", Fault(status=429, retry_after=format_datetime(later, usegmt=True)))

    connect().fetch_busy([ana], WEEK)

    assert len(waits) == 1
    assert 25 <= waits[0] <= 30


def test_5xx_and_slow_answers_are_retried(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.add_item(ana.email, at(3, 9), at(3, 10))
    graph.inject("getSchedule", Fault(status=503), Fault(status=500), Fault(delay=1.0))

    busy = connect(timeout=0.3).fetch_busy([ana], WEEK)[ana.email]

    assert busy.busy == (Interval(at(3, 9), at(3, 10)),)
    assert graph.calls["getSchedule"] == 4


def test_a_service_that_stays_down_raises_provider_unavailable_after_bounded_attempts(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.fail_always("getSchedule", Fault(status=503, code="ServiceUnavailable"))

    with pytest.raises(ProviderUnavailable, match=r"Microsoft Graph .*503") as caught:
        connect().fetch_busy([ana], WEEK)

    assert graph.calls["getSchedule"] == 4
    assert SECRET not in str(caught.value)


def test_a_refused_secret_is_a_clear_permanent_error_without_the_secret(graph, connect, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-VALUE-never-print-me"
    calendar = connect(credential=wrong)
    ana = mailbox_person(graph, "ana@contoso.example")

    with pytest.raises(ProviderUnavailable, match="invalid_client") as caught:
        calendar.fetch_busy([ana], WEEK)
    with pytest.raises(DeliveryError) as delivery:
        calendar.create_event(make_invite())

    for message in (str(caught.value), str(delivery.value)):
        assert wrong not in message
        assert SECRET not in message
        assert "client secret or certificate" in message
    assert wrong not in caplog.text
    assert delivery.value.transient is False
    assert graph.calls["getSchedule"] == 0
    assert graph.calls["events.create"] == 0
    assert graph.calls["token"] <= 2  # not retried: a refused secret stays refused


def test_an_unknown_tenant_or_organizer_is_permanent(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    with pytest.raises(ProviderUnavailable, match="check tenant_id"):
        connect(tenant_id="no-such-tenant").fetch_busy([ana], WEEK)

    with pytest.raises(ProviderUnavailable, match=r"nobody@contoso\.example exists"):
        connect(organizer="nobody@contoso.example").fetch_busy([ana], WEEK)
    assert graph.calls["getSchedule"] == 1  # a 404 is not retried


def test_the_server_certificate_is_checked(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    with pytest.raises(ProviderUnavailable, match="TLS"):
        connect(verify=True).fetch_busy([ana], WEEK)  # the system's CAs do not know the fake
    assert graph.tokens_issued == 0


def test_one_token_serves_many_calls(graph, connect):
    people = [mailbox_person(graph, f"p{n:02}@contoso.example") for n in range(45)]
    calendar = connect()

    calendar.fetch_busy(people, WEEK)
    calendar.fetch_busy(people, WEEK)
    calendar.create_event(make_invite())

    assert graph.calls["getSchedule"] == 6
    assert graph.calls["token"] == 1
    assert graph.tokens_issued == 1


def test_a_certificate_signs_in_with_a_client_assertion(tls, tmp_path, waits):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffee-chat")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    thumbprint = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - the thumbprint Entra shows is SHA-1

    with GraphFake(tls=tls, certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
                   organizer=ORGANIZER) as graph:
        ana = mailbox_person(graph, "ana@contoso.example")

        def connect_with(private_key: str) -> GraphCalendar:
            return GraphCalendar(tenant_id=graph.tenant_id, client_id=graph.client_id,
                                 credential={"private_key": private_key, "thumbprint": thumbprint},
                                 organizer=ORGANIZER, authority_host=graph.authority_host,
                                 graph_endpoint=graph.graph_endpoint, verify=str(tls.cert), sleep=waits.append)

        with closing(connect_with(pem)) as calendar:
            assert calendar.fetch_busy([ana], WEEK)[ana.email].error is None
        assert graph.tokens_issued == 1
        with closing(connect_with(other)) as calendar, pytest.raises(ProviderUnavailable, match="invalid_client") \
                as caught:
            calendar.fetch_busy([ana], WEEK)
        assert "PRIVATE KEY" not in str(caught.value)


# --- concurrency -------------------------------------------------------------------------------------------


def test_never_more_than_four_requests_at_once_even_from_two_threads(graph, connect):
    graph.latency = 0.03  # long enough for calls to overlap
    people = [mailbox_person(graph, f"p{n:03}@contoso.example") for n in range(100)]
    calendar = connect(concurrency=4)
    window = Interval(MONDAY, MONDAY + dt.timedelta(days=90))  # 5 batches x 2 pieces per call

    threads = [threading.Thread(target=calendar.fetch_busy, args=(people, window)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert graph.calls["getSchedule"] == 20
    assert 2 <= graph.max_in_flight[ORGANIZER] <= 4
    assert graph.throttled == 0


def test_a_lower_concurrency_is_kept(graph, connect):
    graph.latency = 0.02
    people = [mailbox_person(graph, f"p{n:03}@contoso.example") for n in range(100)]

    connect(concurrency=2).fetch_busy(people, WEEK)

    assert graph.max_in_flight[ORGANIZER] <= 2


def test_the_fake_throttles_a_fifth_concurrent_request_like_graph(graph, connect):
    graph.latency = 0.4  # all six must arrive while the first four are still being answered
    token = connect()._token()
    barrier = threading.Barrier(6)
    answers: list[requests.Response] = []

    def call() -> None:
        barrier.wait()
        answers.append(requests.post(f"{graph.graph_endpoint}/users/{ORGANIZER}/calendar/getSchedule",
                                     json={"schedules": ["x@contoso.example"],
                                           "startTime": {"dateTime": "2026-11-23T00:00:00", "timeZone": "UTC"},
                                           "endTime": {"dateTime": "2026-11-24T00:00:00", "timeZone": "UTC"}},
                                     headers={"Authorization": f"Bearer {token}"}, verify=graph.tls.cert,
                                     timeout=5))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    throttled = [a for a in answers if a.status_code == 429]
    assert len(throttled) == 2
    assert sum(a.status_code == 200 for a in answers) == 4
    assert throttled[0].json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled[0].json()["error"]["message"]
    assert throttled[0].headers["Retry-After"]


@pytest.mark.parametrize(("schedules", "days", "code"), [
    (21, 1, "ErrorInvalidParameter"),
    (20, 62, "ErrorInvalidTimeInterval"),
])
def test_the_fake_refuses_what_graph_refuses(graph, connect, schedules, days, code):
    token = connect()._token()
    body = {"schedules": [f"p{n}@contoso.example" for n in range(schedules)],
            "startTime": {"dateTime": "2026-11-23T00:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": (MONDAY + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S"),
                        "timeZone": "UTC"},
            "availabilityViewInterval": 15}

    answer = requests.post(f"{graph.graph_endpoint}/users/{ORGANIZER}/calendar/getSchedule", json=body,
                           headers={"Authorization": f"Bearer {token}"}, verify=graph.tls.cert, timeout=5)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code


# --- meeting events ----------------------------------------------------------------------------------------


def test_create_event_books_the_meeting_from_the_organizer(graph, connect):
    invite = make_invite()

    event_id = connect().create_event(invite)

    [event] = graph.events_of(ORGANIZER)
    assert event["id"] == event_id
    assert event["subject"] == invite.summary
    assert event["body"] == {"contentType": "text", "content": invite.description}
    assert event["location"] == {"displayName": invite.location}
    assert event["start"] == {"dateTime": "2026-11-24T10:30:00", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-11-24T11:00:00", "timeZone": "UTC"}
    assert [(a["emailAddress"], a["type"]) for a in event["attendees"]] == [
        ({"address": "ana@contoso.example", "name": "Ana López"}, "required"),
        ({"address": "bo@contoso.example", "name": "Bo Chen"}, "required"),
    ]
    assert event["transactionId"] == transaction_id(invite.uid)
    assert event["isOnlineMeeting"] is False


def test_creating_twice_returns_the_first_event(graph, connect):
    calendar = connect()
    first = calendar.create_event(make_invite())
    second = calendar.create_event(make_invite())

    assert first == second
    assert len(graph.events_of(ORGANIZER)) == 1
    assert graph.calls["events.create"] == 1


def test_a_timeout_after_a_successful_create_leaves_exactly_one_event(graph, connect):
    graph.inject("events.create", Fault(after_write=True, delay=1.0))

    event_id = connect(timeout=0.3).create_event(make_invite())

    assert [event["id"] for event in graph.events_of(ORGANIZER)] == [event_id]


def test_graph_folds_a_repeated_transaction_id_into_the_first_event(graph, connect):
    token = connect()._token()
    body = {"subject": "x", "transactionId": transaction_id("meeting-1"),
            "start": {"dateTime": "2026-11-24T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-24T10:30:00", "timeZone": "UTC"}}

    ids = {requests.post(f"{graph.graph_endpoint}/users/{ORGANIZER}/events", json=body, verify=graph.tls.cert,
                         headers={"Authorization": f"Bearer {token}"}, timeout=5).json()["id"] for _ in range(2)}

    assert len(ids) == 1
    assert len(graph.events_of(ORGANIZER)) == 1


def test_teams_is_asked_for_when_online_meeting_is_wanted(graph, connect):
    connect().create_event(make_invite(), online_meeting=True)

    [event] = graph.events_of(ORGANIZER)
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/")


def test_update_moves_the_same_event(graph, connect):
    calendar = connect()
    event_id = calendar.create_event(make_invite())
    moved = make_invite(start=at(2, 14), attendees=(Attendee("ana@contoso.example", "Ana López"),
                                                      Attendee("cy@contoso.example", "Cy")))

    calendar.update_event(moved)

    [event] = graph.events_of(ORGANIZER)
    assert event["id"] == event_id
    assert event["_updates"] == 1
    assert event["start"] == {"dateTime": "2026-11-25T14:00:00", "timeZone": "UTC"}
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["ana@contoso.example", "cy@contoso.example"]


def test_updating_a_meeting_that_has_no_event_is_permanent(graph, connect):
    with pytest.raises(DeliveryError, match="no event exists for meeting never-created") as caught:
        connect().update_event(make_invite("never-created"))
    assert caught.value.transient is False


def test_cancel_tells_attendees_once_and_a_second_cancel_is_fine(graph, connect):
    calendar = connect()
    calendar.create_event(make_invite())

    calendar.cancel_event(make_invite())
    calendar.cancel_event(make_invite())

    assert graph.events_of(ORGANIZER) == []
    assert len(graph.cancelled) == 1
    assert graph.calls["events.cancel"] == 1
    assert graph.cancelled[0]["_comment"]


def test_a_uid_with_quotes_is_found_again(graph, connect):
    calendar = connect()
    uid = "meeting-'quoted'-7"
    assert calendar.create_event(make_invite(uid)) == calendar.create_event(make_invite(uid))
    assert len(graph.events_of(ORGANIZER)) == 1


def test_event_calls_retry_5xx_and_hand_long_throttling_back_as_transient(graph, connect, waits):
    calendar = connect()
    graph.inject("events.create", Fault(status=503), Fault(status=502))
    assert calendar.create_event(make_invite("meeting-a"))
    assert len(graph.events_of(ORGANIZER)) == 1

    graph.fail_always("events.create", Fault(status=429, retry_after="3000", code="ApplicationThrottled"))
    with pytest.raises(DeliveryError) as caught:
        calendar.create_event(make_invite("meeting-b"))

    assert caught.value.transient is True
    assert caught.value.retry_after == 3000
    assert graph.calls["events.create"] == 4  # 3 for meeting-a, 1 for meeting-b: too long to wait in-process
    assert 3000 not in waits


# --- configuration -----------------------------------------------------------------------------------------


def test_built_from_config_with_the_secret_from_the_environment(graph, tls, monkeypatch):
    monkeypatch.setenv("TEST_GRAPH_SECRET", SECRET)
    config = MicrosoftConfig(enabled=True, domains=("contoso.example",), organizer=ORGANIZER,
                             tenant_id=graph.tenant_id, client_id=graph.client_id,
                             client_secret_env="TEST_GRAPH_SECRET", concurrency=2, timeout_seconds=5,
                             authority_host=graph.authority_host, graph_endpoint=graph.graph_endpoint)
    ana = mailbox_person(graph, "ana@contoso.example")

    with closing(build_graph_calendar(config, verify=str(tls.cert))) as calendar:
        assert calendar.concurrency == 2
        assert calendar.fetch_busy([ana], WEEK)[ana.email].error is None


@pytest.mark.parametrize(("overrides", "named"), [
    ({"client_secret_env": "TEST_GRAPH_UNSET"}, "TEST_GRAPH_UNSET"),
    ({"tenant_id": ""}, "calendar.microsoft.tenant_id"),
    ({"organizer": ""}, "calendar.microsoft.organizer"),
    ({"certificate_env": "TEST_GRAPH_KEY"}, "calendar.microsoft.certificate_thumbprint"),
    ({"graph_endpoint": "http://graph.example/v1.0"}, "must be an https:// URL"),
])
def test_config_problems_name_the_key_or_variable(monkeypatch, overrides, named):
    monkeypatch.delenv("TEST_GRAPH_UNSET", raising=False)
    monkeypatch.setenv("TEST_GRAPH_SECRET", SECRET)
    monkeypatch.setenv("TEST_GRAPH_KEY", "-----BEGIN PRIVATE KEY-----")
    fields: dict[str, Any] = {"enabled": True, "organizer": ORGANIZER, "tenant_id": "tenant", "client_id": "app",
                              "client_secret_env": "TEST_GRAPH_SECRET", **overrides}

    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as caught:
        build_graph_calendar(MicrosoftConfig(**fields))
    assert SECRET not in str(caught.value)


# --- properties of the pure helpers, and of the whole read path ---------------------------------------------

moments = st.integers(min_value=0, max_value=400 * 24 * 4).map(lambda q: MONDAY + dt.timedelta(minutes=15 * q))


@given(start=moments, length=st.integers(min_value=0, max_value=400 * 24 * 60))
def test_split_window_covers_the_window_with_pieces_under_62_days(start, length):
    window = Interval(start, start + dt.timedelta(minutes=length))
    pieces = split_window(window)
    assert all(dt.timedelta(0) < p.duration < dt.timedelta(days=62) for p in pieces)
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    if pieces:
        assert (pieces[0].start, pieces[-1].end) == (window.start, window.end)
    else:
        assert window.duration == dt.timedelta(0)


@given(st.text(alphabet="012345", max_size=200))
def test_availability_view_marks_exactly_the_busy_and_tentative_slots(view):
    busy, tentative = read_availability_view(view, MONDAY, 15)
    for index, digit in enumerate(view):
        middle = MONDAY + dt.timedelta(minutes=15 * index + 7)
        assert any(i.start <= middle < i.end for i in busy) == (digit in "23")
        assert any(i.start <= middle < i.end for i in tentative) == (digit == "1")


statuses = st.sampled_from(["busy", "Busy", "oof", "workingElsewhere", "tentative", "Tentative", "free", "unknown"])
items = st.lists(st.tuples(st.integers(-48, 8 * 24 * 4), st.integers(1, 24 * 4), statuses), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=items)
def test_busy_matches_the_calendar_for_any_items(tls, tmp_path: Path, entries):
    with GraphFake(tls=tls, client_secret=SECRET, organizer=ORGANIZER) as graph:
        expected_busy, expected_tentative = [], []
        graph.add_mailbox("ana@contoso.example")
        for offset, length, status in entries:
            start = MONDAY + dt.timedelta(minutes=15 * offset)
            end = start + dt.timedelta(minutes=15 * length)
            graph.add_item("ana@contoso.example", start, end, status, subject=SUBJECT, location=LOCATION)
            clipped = Interval(start, end).clip(WEEK)
            if clipped and status.lower() in {"busy", "oof"}:
                expected_busy.append(clipped)
            elif clipped and status.lower() == "tentative":
                expected_tentative.append(clipped)
        with closing(GraphCalendar(tenant_id=graph.tenant_id, client_id=graph.client_id, credential=SECRET,
                                   organizer=ORGANIZER, authority_host=graph.authority_host,
                                   graph_endpoint=graph.graph_endpoint, verify=str(tls.cert))) as calendar:
            busy = calendar.fetch_busy([person("ana@contoso.example")], WEEK)["ana@contoso.example"]

    assert busy.busy == merge_intervals(expected_busy)
    assert busy.tentative == merge_intervals(expected_tentative)
    assert SUBJECT not in repr(busy)
    assert LOCATION not in repr(busy)


def test_a_sign_in_outage_is_retried_after_msal_throttle_window(graph, connect, waits):
    ana = mailbox_person(graph, "ana@contoso.example")
    graph.inject("token", Fault(status=503))

    with pytest.raises(ProviderUnavailable, match="sign-in is unavailable"):
        connect().fetch_busy([ana], WEEK)

    # Every retry waited out msal's throttle window; the recorded sleeps let no real time pass, so msal answered
    # the retries from its cache and the sign-in service saw one request.
    assert waits == [MSAL_THROTTLE_SECONDS] * 3
    assert graph.calls["token"] == 1
    assert graph.calls["getSchedule"] == 0


def test_a_revoked_token_is_replaced_once(graph, connect):
    ana = mailbox_person(graph, "ana@contoso.example")
    calendar = connect()
    calendar.fetch_busy([ana], WEEK)

    graph.revoke_tokens()
    assert calendar.fetch_busy([ana], WEEK)[ana.email].error is None
    assert graph.tokens_issued == 2

    graph.revoke_tokens()
    graph.token_lifetime = -1  # every new token is born expired: Graph keeps saying 401
    with pytest.raises(ProviderUnavailable, match="401"):
        calendar.fetch_busy([ana], WEEK)
