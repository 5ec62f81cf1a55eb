"""CalDavCalendar against a real Radicale server on loopback (started once for the module), and against a
small hostile CalDAV server (``tests.fakes.hostile_dav_server``) for the answers Radicale never gives.

Both paths are driven through the real ``caldav`` client: the calendar-query REPORT whose events the connector
expands itself, and the free-busy-query fallback for accounts that may not read events (Radicale's "f"
permission) or servers that refuse calendar-query, forced by a proxy in front of Radicale (403, 405, 501).
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from integrations.caldav import CalDavCalendar, build_caldav_calendar, parse_free_busy
from integrations.http import CallRetry
from scheduler.config import CalDavConfig
from scheduler.errors import ConfigError, ProviderUnavailable
from scheduler.model import Busy, CalendarSource, Interval, Person
from tests.conftest import LONDON
from tests.fakes.hostile_dav_server import HostileDavServer
from tests.fakes.radicale_server import (
    READER,
    READER_PASSWORD,
    RadicaleProxy,
    RadicaleServer,
    free_port,
    running_radicale,
    silent_port,
)

TOKYO = "Asia/Tokyo"
WINDOW = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
SECRET_TEXT = "Quarterly layoffs with Bob"  # must never leave the connector


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def span(day: int, hour: int, minute: int, end_day: int, end_hour: int, end_minute: int = 0) -> Interval:
    return Interval(utc(day, hour, minute), utc(end_day, end_hour, end_minute))


def vcalendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\n{event.strip()}\nEND:VEVENT\n" for event in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//coffeechat//tests//EN\n{body}END:VCALENDAR\n"


def event(uid: str, *lines: str) -> str:
    return "\n".join([f"UID:{uid}@test", "DTSTAMP:20261101T000000Z", f"SUMMARY:{SECRET_TEXT}", *lines])


WORK_EVENTS = [
    # Daily 09:00–10:00 Berlin (08:00Z): the 25th is excluded, the 26th moved to 14:00 Berlin and tentative.
    vcalendar(
        event(
            "daily",
            "DTSTART;TZID=Europe/Berlin:20261102T090000",
            "DTEND;TZID=Europe/Berlin:20261102T100000",
            "RRULE:FREQ=DAILY",
            "EXDATE;TZID=Europe/Berlin:20261125T090000",
            "LOCATION:Room 101",
        ),
        event(
            "daily",
            "RECURRENCE-ID;TZID=Europe/Berlin:20261126T090000",
            "DTSTART;TZID=Europe/Berlin:20261126T140000",
            "DTEND;TZID=Europe/Berlin:20261126T150000",
            "STATUS:TENTATIVE",
        ),
    ),
    vcalendar(event("overlap", "DTSTART:20261123T083000Z", "DTEND:20261123T093000Z")),
    vcalendar(event("tentative", "DTSTART:20261124T130000Z", "DTEND:20261124T140000Z", "STATUS:TENTATIVE")),
    vcalendar(event("transparent", "DTSTART:20261124T150000Z", "DTEND:20261124T160000Z", "TRANSP:TRANSPARENT")),
    vcalendar(event("cancelled", "DTSTART:20261124T170000Z", "DTEND:20261124T180000Z", "STATUS:CANCELLED")),
    vcalendar(event("all-day", "DTSTART;VALUE=DATE:20261125", "DTEND;VALUE=DATE:20261126")),
    vcalendar(
        event(
            "new-york", "DTSTART;TZID=America/New_York:20261127T090000", "DTEND;TZID=America/New_York:20261127T103000"
        )
    ),
    vcalendar(event("before-window", "DTSTART:20261122T230000Z", "DTEND:20261123T010000Z")),
    vcalendar(event("after-window", "DTSTART:20261127T230000Z", "DTEND:20261128T020000Z")),
    vcalendar(event("long-before", "DTSTART:20261101T090000Z", "DTEND:20261101T100000Z")),
]

# London is on UTC in November, so all-day events land on the same hours on both paths.
EXPECTED_BUSY = (
    span(23, 0, 0, 23, 1),  # clipped at the window's start
    span(23, 8, 0, 23, 9, 30),  # the daily event merged with the overlapping one
    span(24, 8, 0, 24, 9),
    span(25, 0, 0, 26, 0),  # all day (the daily occurrence of the 25th is excluded anyway)
    span(27, 8, 0, 27, 9),
    span(27, 14, 0, 27, 15, 30),  # 09:00–10:30 in New York
    span(27, 23, 0, 28, 0),  # clipped at the window's end
)
EXPECTED_TENTATIVE = (span(24, 13, 0, 24, 14), span(26, 13, 0, 26, 14))

QUICK = CallRetry(attempts=3, base=0.5, max_wait=2.0, max_retry_after=60.0)


class Sleeps(list[float]):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    root = tmp_path_factory.mktemp("radicale")
    users = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
    with running_radicale(root, users, freebusy_only=["carol"]) as server:
        server.make_calendar("alice", "work", WORK_EVENTS)
        server.make_calendar("alice", "empty")
        server.make_calendar(
            "bob", "home", [vcalendar(event("bob", "DTSTART:20261124T100000Z", "DTEND:20261124T110000Z"))]
        )
        server.make_calendar(
            "carol", "work", [vcalendar(event("carol", "DTSTART:20261125T100000Z", "DTEND:20261125T120000Z"))]
        )
        server.make_calendar(
            "alice",
            "floating",
            [
                vcalendar(event("tokyo-day", "DTSTART;VALUE=DATE:20261124", "DTEND;VALUE=DATE:20261125")),
                # On a UTC clock the 28th is after the window; in Tokyo it starts at 15:00Z on the 27th.
                vcalendar(event("tokyo-last-day", "DTSTART;VALUE=DATE:20261128", "DTEND;VALUE=DATE:20261129")),
            ],
        )
        yield server


@pytest.fixture(scope="module")
def proxy(radicale: RadicaleServer) -> Iterator[RadicaleProxy]:
    with RadicaleProxy(radicale) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_proxy(request: pytest.FixtureRequest) -> None:
    if "proxy" in request.fixturenames:
        request.getfixturevalue("proxy").reset()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connector(sleeps: Sleeps, radicale: RadicaleServer, proxy: RadicaleProxy) -> Callable[..., CalDavCalendar]:
    # Radicale and its proxy are listed: a login needs the list, and listing them allows their address
    # (127.0.0.1, not public) by name. Tests that read other servers pass their own list.
    def make(**overrides: Any) -> CalDavCalendar:
        options: dict[str, Any] = {
            "username": READER,
            "password": READER_PASSWORD,
            "concurrency": 4,
            "timeout": 5.0,
            "retry": QUICK,
            "sleep": sleeps,
            "jitter": lambda: 1.0,
            "login_hint": "COFFEECHAT_CALDAV_USERNAME and COFFEECHAT_CALDAV_PASSWORD",
            "servers": [radicale.url, proxy.url],
        }
        options.update(overrides)
        return CalDavCalendar(**options)

    return make


def person(email: str, url: str, zone: str = LONDON) -> Person:
    return Person(email=email, name=email, team="t", timezone=zone, calendar=CalendarSource("caldav", url))


def test_events_give_busy_and_tentative_time(
    radicale: RadicaleServer, proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]
) -> None:
    alice = person("alice@example.com", proxy.collection_url("alice", "work"))

    answer = connector().fetch_busy([alice], WINDOW)

    assert answer == {"alice@example.com": Busy(busy=EXPECTED_BUSY, tentative=EXPECTED_TENTATIVE)}
    assert proxy.kinds() == ["calendar-query"]  # one request: the events, no free-busy-query


@pytest.mark.parametrize("refusal", [403, 405, 501])
def test_issue_13_free_busy_query_only_where_events_may_not_be_read(
    proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar], refusal: int
) -> None:
    proxy.calendar_query_answer = refusal
    alice = person("alice@example.com", proxy.collection_url("alice", "work"))

    answer = connector().fetch_busy([alice], WINDOW)

    # London is on UTC in November: Radicale's free-busy answer is right here, and equals the events'.
    assert answer == {"alice@example.com": Busy(busy=EXPECTED_BUSY, tentative=EXPECTED_TENTATIVE)}
    assert proxy.kinds() == ["calendar-query", "free-busy"]


def test_all_day_events_are_placed_in_the_persons_zone(
    proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]
) -> None:
    # An all-day event on the 24th in Tokyo is 15:00Z on the 23rd to 15:00Z on the 24th; the one on the 28th
    # is found although the server, comparing on UTC days, would place it after the window.
    tokyo = person("kenji@example.com", proxy.collection_url("alice", "floating"), zone=TOKYO)

    answer = connector().fetch_busy([tokyo], WINDOW)

    assert answer["kenji@example.com"].busy == (span(23, 15, 0, 24, 15), span(27, 15, 0, 28, 0))


def test_answers_hold_nothing_but_utc_times(proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]) -> None:
    people = [person("alice@example.com", proxy.collection_url("alice", "work"))]
    direct = connector().fetch_busy(people, WINDOW)["alice@example.com"]
    proxy.calendar_query_answer = 501
    fallback = connector().fetch_busy(people, WINDOW)["alice@example.com"]

    for busy in (direct, fallback):
        assert busy.error is None
        assert busy.warnings == ()
        assert busy.working_hours is None
        assert busy.working_zone is None
        assert SECRET_TEXT not in repr(busy)
        assert "Room 101" not in repr(busy)
        for interval in (*busy.busy, *busy.tentative):
            assert interval.start.utcoffset() == timedelta(0)
            assert WINDOW.start <= interval.start < interval.end <= WINDOW.end


def test_an_empty_calendar_is_free(proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]) -> None:
    people = [person("alice@example.com", proxy.collection_url("alice", "empty"))]
    assert connector().fetch_busy(people, WINDOW) == {"alice@example.com": Busy()}
    proxy.calendar_query_answer = 405
    assert connector().fetch_busy(people, WINDOW) == {"alice@example.com": Busy()}


def test_many_people_on_one_call_each_get_their_own_answer(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar]
) -> None:
    people = [
        person("alice@example.com", radicale.collection_url("alice", "work")),
        person("bob@example.com", radicale.collection_url("bob", "home")),
        person("nobody@example.com", radicale.collection_url("alice", "missing")),
    ]

    answer = connector().fetch_busy(people, WINDOW)

    assert set(answer) == {"alice@example.com", "bob@example.com", "nobody@example.com"}
    assert answer["alice@example.com"].busy == EXPECTED_BUSY
    assert answer["bob@example.com"] == Busy(busy=(span(24, 10, 0, 24, 11),))
    assert answer["nobody@example.com"].error is not None


def test_a_missing_collection_is_that_persons_error(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar]
) -> None:
    missing = person("alice@example.com", radicale.collection_url("alice", "no-such-calendar"))

    answer = connector().fetch_busy([missing], WINDOW)["alice@example.com"]

    assert answer.busy == ()
    assert (
        answer.error == f"{radicale.collection_url('alice', 'no-such-calendar')}: no calendar collection at this "
        "address (HTTP 404)"
    )


def test_a_wrong_password_is_that_persons_error_and_never_shown(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-password-271828"
    alice = person("alice@example.com", radicale.collection_url("alice", "work"))

    with caplog.at_level(logging.DEBUG):
        answer = connector(password=wrong).fetch_busy([alice], WINDOW)["alice@example.com"]

    assert answer.error is not None
    assert "refused the CalDAV login (HTTP 401)" in answer.error
    assert "COFFEECHAT_CALDAV_PASSWORD" in answer.error
    for secret in (wrong, base64.b64encode(f"{READER}:{wrong}".encode()).decode()):
        assert secret not in answer.error
        assert secret not in caplog.text


def test_no_permission_is_that_persons_error(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar]
) -> None:
    # Logged in as alice, bob's calendar is out of reach: 403 on the events, then on free-busy-query too.
    bob = person("bob@example.com", radicale.collection_url("bob", "home"))

    answer = connector(username="alice", password="alice-pw").fetch_busy([bob], WINDOW)["bob@example.com"]

    assert answer.error is not None
    assert answer.error.endswith("no permission to read this calendar (HTTP 403)")


def test_free_busy_permission_alone_is_enough(
    radicale: RadicaleServer, proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]
) -> None:
    # The reader may only ask free-busy of carol's calendar (least privilege): her events are refused (403),
    # free-busy-query works. Where free-busy-query is not supported either, she is told why the events failed.
    carol = person("carol@example.com", proxy.collection_url("carol", "work"))

    assert connector().fetch_busy([carol], WINDOW) == {"carol@example.com": Busy(busy=(span(25, 10, 0, 25, 12),))}
    assert proxy.kinds() == ["calendar-query", "free-busy"]
    proxy.free_busy_answer = 501
    refused = connector().fetch_busy([carol], WINDOW)["carol@example.com"]
    assert refused.error is not None
    assert "no permission to read this calendar (HTTP 403)" in refused.error


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://calendar.example.com/alice/", "needs an http or https URL"),
        ("webcal://calendar.example.com/alice/", "use https:// instead of webcal://"),
        ("/alice/work/", "needs an http or https URL"),
        ("https:///alice/work/", "the URL names no server"),
        ("http://127.0.0.1:99999/alice/", "not a valid URL"),
    ],
)
def test_unusable_urls_are_refused_without_a_request(
    connector: Callable[..., CalDavCalendar], sleeps: Sleeps, location: str, message: str
) -> None:
    answer = connector().fetch_busy([person("ann@example.com", location)], WINDOW)["ann@example.com"]

    assert answer.error is not None
    assert message in answer.error
    assert sleeps == []


def test_a_url_with_credentials_is_refused_and_masked(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar]
) -> None:
    url = radicale.collection_url("alice", "work").replace("http://", "http://alice:alice-pw@")

    answer = connector().fetch_busy([person("alice@example.com", url)], WINDOW)["alice@example.com"]

    assert answer.error is not None
    assert "must not carry a user name or password" in answer.error
    assert "alice-pw" not in answer.error
    assert "alice:***@" in answer.error


def test_a_server_down_for_everyone_raises_after_bounded_retries(
    connector: Callable[..., CalDavCalendar], sleeps: Sleeps
) -> None:
    port = free_port()
    people = [
        person("ann@example.com", f"http://127.0.0.1:{port}/ann/work/"),
        person("ben@example.com", f"http://127.0.0.1:{port}/ben/work/"),
    ]

    with pytest.raises(ProviderUnavailable) as raised:
        connector(concurrency=1, servers=[f"http://127.0.0.1:{port}"]).fetch_busy(people, WINDOW)

    assert f"http://127.0.0.1:{port}: server unavailable (connection refused) after 3 attempts" in str(raised.value)
    assert READER_PASSWORD not in str(raised.value)
    # Three attempts for the first person (two waits: 0.5 s, 1 s with jitter 1); the second is not tried again.
    assert sleeps == [0.5, 1.0]


def test_a_server_down_for_some_is_an_error_for_its_people_only(
    radicale: RadicaleServer, connector: Callable[..., CalDavCalendar], sleeps: Sleeps
) -> None:
    port = free_port()
    people = [
        person("alice@example.com", radicale.collection_url("alice", "work")),
        person("ann@example.com", f"http://127.0.0.1:{port}/ann/work/"),
    ]

    answer = connector(servers=[radicale.url, f"http://127.0.0.1:{port}"]).fetch_busy(people, WINDOW)

    assert answer["alice@example.com"].busy == EXPECTED_BUSY
    assert answer["ann@example.com"] == Busy(
        error=f"http://127.0.0.1:{port}/ann/work/: server unavailable (connection refused) after 3 attempts"
    )
    assert len(sleeps) == 2


def test_a_server_that_never_answers_times_out(connector: Callable[..., CalDavCalendar], sleeps: Sleeps) -> None:
    with silent_port() as url:
        provider = connector(timeout=0.2, retry=CallRetry(attempts=2, base=0.1), servers=[url])
        with pytest.raises(ProviderUnavailable, match=r"no answer within 0.2 s\) after 2 attempts"):
            provider.fetch_busy([person("ann@example.com", url + "ann/work/")], WINDOW)
    assert len(sleeps) == 1


def test_busy_servers_are_retried_honouring_retry_after(
    proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar], sleeps: Sleeps
) -> None:
    proxy.fail_next(503, times=1, headers={"Retry-After": "7"})
    proxy.fail_next(429, times=1, headers={"Retry-After": "3"})
    alice = person("alice@example.com", proxy.collection_url("alice", "work"))

    answer = connector().fetch_busy([alice], WINDOW)

    assert answer["alice@example.com"] == Busy(busy=EXPECTED_BUSY, tentative=EXPECTED_TENTATIVE)
    # Jitter 1: backoffs 0.5 and 1 s, each raised to the server's Retry-After.
    assert sleeps == [7.0, 3.0]
    assert proxy.kinds() == ["calendar-query", "calendar-query", "calendar-query"]


def test_server_errors_are_retried_a_bounded_number_of_times(
    proxy: RadicaleProxy, radicale: RadicaleServer, connector: Callable[..., CalDavCalendar], sleeps: Sleeps
) -> None:
    proxy.fail_next(500, times=10)
    people = [
        person("alice@example.com", proxy.collection_url("alice", "work")),
        person("bob@example.com", radicale.collection_url("bob", "home")),
    ]

    answer = connector(concurrency=1).fetch_busy(people, WINDOW)

    # A 500 is the collection's trouble, not proof the server is down: retried three times, then given up.
    assert answer["alice@example.com"].error == (
        f"{proxy.collection_url('alice', 'work')}: server unavailable (HTTP 500) after 3 attempts"
    )
    assert answer["bob@example.com"].busy == (span(24, 10, 0, 24, 11),)
    assert len(proxy.kinds()) == 3
    assert sleeps == [0.5, 1.0]


def test_a_retry_after_too_long_to_wait_gives_up_at_once(
    proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar], sleeps: Sleeps
) -> None:
    proxy.fail_next(429, times=1, headers={"Retry-After": "3600"})

    with pytest.raises(ProviderUnavailable, match=r"HTTP 429, asked to wait 3600 s\) after 1 attempt\b"):
        connector().fetch_busy([person("alice@example.com", proxy.collection_url("alice", "work"))], WINDOW)
    assert sleeps == []


def test_calls_run_concurrently_up_to_the_limit(proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]) -> None:
    proxy.delay = 0.15
    people = [person(f"p{n}@example.com", proxy.collection_url("alice", "work")) for n in range(8)]

    answer = connector(concurrency=3).fetch_busy(people, WINDOW)

    assert all(busy.busy == EXPECTED_BUSY for busy in answer.values())
    assert 2 <= proxy.max_in_flight <= 3


def test_a_thread_logs_in_once_per_server(proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]) -> None:
    people = [person(f"p{n}@example.com", proxy.collection_url("alice", "work")) for n in range(6)]

    connector(concurrency=1).fetch_busy(people, WINDOW)

    # One request refused for want of credentials, then one calendar-query per person on the same client.
    assert [status for _, _, status in proxy.requests] == [401] + [207] * 6
    assert proxy.kinds() == ["calendar-query"] * 6


def test_people_of_other_kinds_are_answered_without_a_request(connector: Callable[..., CalDavCalendar]) -> None:
    nobody = Person(email="none@example.com", name="n", team="t")
    google = Person(email="g@example.com", name="g", team="t", calendar=CalendarSource("google", "g@example.com"))

    answer = connector().fetch_busy([nobody, google], WINDOW)

    assert answer["none@example.com"] == Busy(known=False)
    assert answer["g@example.com"].error is not None
    assert "not a CalDAV calendar" in answer["g@example.com"].error


def test_only_the_listed_servers_are_contacted(
    radicale: RadicaleServer, proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]
) -> None:
    # Without the list, a profile pointing at someone's own server would receive the shared login.
    provider = connector(servers=[radicale.url.rstrip("/").upper().replace("HTTP://", "http://")])
    people = [
        person("alice@example.com", radicale.collection_url("alice", "work")),
        person("eve@example.com", proxy.collection_url("alice", "work")),
    ]

    answer = provider.fetch_busy(people, WINDOW)

    assert answer["alice@example.com"].busy == EXPECTED_BUSY
    assert answer["eve@example.com"] == Busy(
        error=f"{proxy.collection_url('alice', 'work')}: not on a CalDAV server this instance reads "
        f"(only {radicale.url.rstrip('/')})"
    )
    assert proxy.requests == []


def test_build_reads_credentials_from_the_environment(
    radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = CalDavConfig(
        username_env="TEST_CALDAV_USER", password_env="TEST_CALDAV_PASSWORD", concurrency=2, servers=(radicale.url,)
    )
    monkeypatch.setenv("TEST_CALDAV_USER", READER)
    monkeypatch.setenv("TEST_CALDAV_PASSWORD", READER_PASSWORD)

    with caplog.at_level(logging.WARNING):
        provider = build_caldav_calendar(config)

    assert caplog.records == []
    assert READER_PASSWORD not in repr(provider)
    assert provider.concurrency == 2
    alice = person("alice@example.com", radicale.collection_url("alice", "work"))
    assert provider.fetch_busy([alice], WINDOW)["alice@example.com"].busy == EXPECTED_BUSY


def test_build_without_credentials_logs_in_anonymously(
    radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COFFEECHAT_CALDAV_USERNAME", raising=False)
    monkeypatch.delenv("COFFEECHAT_CALDAV_PASSWORD", raising=False)
    provider = build_caldav_calendar(CalDavConfig(servers=(radicale.url,)), retry=QUICK)

    answer = provider.fetch_busy([person("alice@example.com", radicale.collection_url("alice", "work"))], WINDOW)

    # This Radicale wants a login: the person is told none is configured, and where to set it.
    error = answer["alice@example.com"].error
    assert error is not None
    assert "no CalDAV login is configured" in error
    assert "COFFEECHAT_CALDAV_USERNAME and COFFEECHAT_CALDAV_PASSWORD" in error


def test_issue_13_a_login_without_a_list_of_servers_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The login would go to whatever server a profile names: a configuration error, not a warning.
    monkeypatch.setenv("COFFEECHAT_CALDAV_USERNAME", "coffee")
    monkeypatch.setenv("COFFEECHAT_CALDAV_PASSWORD", "s3cret-value")

    with pytest.raises(ConfigError, match=r"key 'calendar\.caldav\.servers': a CalDAV login is configured") as raised:
        build_caldav_calendar(CalDavConfig())
    assert "s3cret-value" not in str(raised.value)
    with pytest.raises(ValueError, match="needs the list of servers"):
        CalDavCalendar(username="coffee", password="s3cret-value")


@pytest.mark.parametrize("server", ["dav.example.com", "ftp://dav.example.com", "https://u:hunter2@dav.example.com"])
def test_build_refuses_servers_that_are_not_http_urls(server: str) -> None:
    with pytest.raises(ConfigError, match=r"calendar\.caldav\.servers\[1\]") as raised:
        build_caldav_calendar(CalDavConfig(servers=("https://ok.example.com", server)))
    assert "hunter2" not in str(raised.value)


def test_build_refuses_half_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFEECHAT_CALDAV_PASSWORD", "s3cret-value")
    monkeypatch.delenv("COFFEECHAT_CALDAV_USERNAME", raising=False)

    with pytest.raises(
        ConfigError, match="COFFEECHAT_CALDAV_PASSWORD is set but COFFEECHAT_CALDAV_USERNAME is not"
    ) as raised:
        build_caldav_calendar(CalDavConfig())
    assert "s3cret-value" not in str(raised.value)


# --- issue 13: events as their standard defines them, hostile servers -------------------------------------

LOS_ANGELES = "America/Los_Angeles"
# Mondays 2 and 9 March 2026, either side of the US change to summer time (Sunday 8 March).
AROUND_US_DST = Interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC))


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def pacific(radicale: RadicaleServer) -> str:
    """A calendar with a weekly Monday 09:00 Los Angeles meeting created in winter (a TZID and no VTIMEZONE, as
    clients that use IANA names send it) and a floating 10:00 on Tuesday 3 March; returns its URL."""
    return radicale.make_calendar("alice", "pacific", [
        vcalendar(event("weekly", f"DTSTART;TZID={LOS_ANGELES}:20260105T090000",
                        f"DTEND;TZID={LOS_ANGELES}:20260105T100000", "RRULE:FREQ=WEEKLY;BYDAY=MO")),
        vcalendar(event("floating", "DTSTART:20260303T100000", "DTEND:20260303T110000")),
    ])


def test_issue_13_a_weekly_meeting_keeps_its_local_time_across_the_dst_change(
    pacific: str, proxy: RadicaleProxy, connector: Callable[..., CalDavCalendar]
) -> None:
    dana = person("dana@example.com", proxy.collection_url("alice", "pacific"), zone=LOS_ANGELES)

    answer = connector().fetch_busy([dana], AROUND_US_DST)["dana@example.com"]

    # 09:00 PST is 17:00Z, 09:00 PDT is 16:00Z; the floating 10:00 is read on dana's clock (18:00Z). Radicale's
    # own free-busy answer says 17:00Z on the 9th and 10:00Z on the 3rd.
    assert answer == Busy(busy=(Interval(at(3, 2, 17), at(3, 2, 18)), Interval(at(3, 3, 18), at(3, 3, 19)),
                                Interval(at(3, 9, 16), at(3, 9, 17))))
    assert proxy.kinds() == ["calendar-query"]


HOSTILE_EVENT = vcalendar(event("hostile-good", "DTSTART:20261126T090000Z", "DTEND:20261126T100000Z"))
HOSTILE_FREE_BUSY = (span(26, 9, 0, 26, 10),)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileDavServer]:
    with HostileDavServer(events=[HOSTILE_EVENT],
                          free_busy=[(i.start, i.end) for i in HOSTILE_FREE_BUSY]) as server:
        yield server


def test_issue_13_events_that_may_not_be_read_fall_back_to_free_busy_query(
    hostile: HostileDavServer, connector: Callable[..., CalDavCalendar]
) -> None:
    people = [person("good@example.com", hostile.collection_url("good", "a")),
              person("limited@example.com", hostile.collection_url("events-forbidden", "b"))]

    answer = connector(servers=[hostile.url]).fetch_busy(people, WINDOW)

    assert answer == {"good@example.com": Busy(busy=HOSTILE_FREE_BUSY),
                      "limited@example.com": Busy(busy=HOSTILE_FREE_BUSY)}
    kinds = [(path.split("/")[1], kind) for _, path, kind in hostile.requests if kind]
    assert ("good", "free-busy") not in kinds  # events first, and only where they are refused free-busy-query
    assert kinds.count(("events-forbidden", "calendar-query")) == 1
    assert kinds.count(("events-forbidden", "free-busy")) == 1


@pytest.mark.parametrize(("behaviour", "problem"), [
    ("empty", "the server sent an empty answer (HTTP 200) to a calendar-query"),
    ("not-xml", "the CalDAV server's answer could not be read: it is not XML (XMLSyntaxError)"),
    ("no-calendar-data", "the server's calendar-query answer leaves out the data (calendar-data) of 1 of the 1 "
                         "events it lists"),
    ("redirect-loop", "the server redirects in a loop (too many redirects)"),
    ("silent", "server unavailable (no answer within 0.3 s) after 3 attempts"),
    ("broken-login", "the CalDAV server's answer could not be read (KeyError)"),
])
def test_issue_13_a_hostile_server_is_one_persons_error(
    hostile: HostileDavServer, radicale: RadicaleServer, connector: Callable[..., CalDavCalendar],
    behaviour: str, problem: str,
) -> None:
    url = hostile.collection_url(behaviour)
    people = [person("eve@example.com", url), person("bob@example.com", radicale.collection_url("bob", "home")),
              person("good@example.com", hostile.collection_url("good", behaviour))]

    answer = connector(servers=[radicale.url, hostile.url], timeout=0.3, concurrency=1).fetch_busy(people, WINDOW)

    assert answer["eve@example.com"] == Busy(error=f"{url}: {problem}")
    assert answer["bob@example.com"] == Busy(busy=(span(24, 10, 0, 24, 11),))
    if behaviour != "silent":  # a server that never answers is down for everyone on it during the call
        assert answer["good@example.com"] == Busy(busy=(span(26, 9, 0, 26, 10),))


def test_issue_13_a_failure_the_library_does_not_declare_is_logged_once(
    hostile: HostileDavServer, radicale: RadicaleServer, connector: Callable[..., CalDavCalendar],
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = [person("eve@example.com", hostile.collection_url("broken-login")),
              person("bob@example.com", radicale.collection_url("bob", "home"))]

    with caplog.at_level(logging.WARNING, logger="integrations.caldav"):
        answer = connector(servers=[radicale.url, hostile.url]).fetch_busy(people, WINDOW)

    assert answer["bob@example.com"].busy == (span(24, 10, 0, 24, 11),)
    logged = [r for r in caplog.records if r.name == "integrations.caldav"]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[0] is KeyError
    assert READER_PASSWORD not in caplog.text


# --- parse_free_busy, without a server --------------------------------------------------------------------


def test_free_busy_types_and_period_forms() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\n"
        "FREEBUSY:20261123T090000Z/20261123T100000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20261123T120000Z/PT30M,20261124T080000Z/20261124T083000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261125T090000Z/PT1H\r\n"
        "FREEBUSY;FBTYPE=FREE:20261126T090000Z/PT8H\r\n"
        "FREEBUSY;FBTYPE=X-OUT-TO-LUNCH:20261126T120000Z/PT1H\r\n"
        "FREEBUSY:20261127T090000/PT1H\r\n"  # floating (not allowed, but seen): the person's zone
        "FREEBUSY:20261122T220000Z/PT4H\r\n"
        "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )

    busy = parse_free_busy(text, WINDOW, TOKYO)

    assert busy == Busy(
        busy=(
            span(23, 0, 0, 23, 2),
            span(23, 9, 0, 23, 10),
            span(23, 12, 0, 23, 12, 30),
            span(24, 8, 0, 24, 8, 30),
            span(26, 12, 0, 26, 13),  # an unknown type counts as busy
            span(27, 0, 0, 27, 1),  # 09:00 in Tokyo
        ),
        tentative=(span(25, 9, 0, 25, 10),),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a calendar",
        '<?xml version="1.0"?><multistatus xmlns="DAV:"/>',
        vcalendar(event("x", "DTSTART:20261123T090000Z")),
    ],
)
def test_answers_without_vfreebusy_are_not_free_busy(text: str) -> None:
    assert parse_free_busy(text, WINDOW, LONDON) is None


_periods = st.lists(
    st.tuples(
        st.integers(min_value=-3 * 24 * 60, max_value=8 * 24 * 60),  # start, minutes after the window's start
        st.integers(min_value=0, max_value=3 * 24 * 60),  # length in minutes
        st.sampled_from(["BUSY", "BUSY-UNAVAILABLE", "BUSY-TENTATIVE", "FREE"]),
        st.booleans(),  # written with an end (True) or a duration
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(periods=_periods)
def test_parsed_free_busy_covers_exactly_the_busy_minutes(periods: list[tuple[int, int, str, bool]]) -> None:
    lines = []
    for start_minute, length, kind, with_end in periods:
        start = WINDOW.start + timedelta(minutes=start_minute)
        end = start + timedelta(minutes=length)
        value = f"{start:%Y%m%dT%H%M%SZ}/" + (f"{end:%Y%m%dT%H%M%SZ}" if with_end else f"PT{length}M")
        lines.append(f"FREEBUSY;FBTYPE={kind}:{value}\r\n")
    text = f"BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\n{''.join(lines)}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"

    busy = parse_free_busy(text, WINDOW, LONDON)

    assert busy is not None
    window_minutes = int(WINDOW.duration.total_seconds() // 60)

    def minutes(kinds: set[str]) -> set[int]:
        return {
            m
            for start_minute, length, kind, _ in periods
            if kind in kinds
            for m in range(max(0, start_minute), min(window_minutes, start_minute + length))
        }

    def covered(intervals: tuple[Interval, ...]) -> set[int]:
        for earlier, later in itertools.pairwise(intervals):
            assert earlier.end < later.start  # merged and sorted
        return {
            m
            for i in intervals
            for m in range(
                int((i.start - WINDOW.start).total_seconds() // 60), int((i.end - WINDOW.start).total_seconds() // 60)
            )
        }

    assert covered(busy.busy) == minutes({"BUSY", "BUSY-UNAVAILABLE"})
    assert covered(busy.tentative) == minutes({"BUSY-TENTATIVE"})
    assert all(i.start.tzinfo is UTC or i.start.utcoffset() == timedelta(0) for i in (*busy.busy, *busy.tentative))


def test_module_name_does_not_hide_the_caldav_package() -> None:
    import caldav

    import integrations.caldav

    assert integrations.caldav.__name__ == "integrations.caldav"
    assert caldav.__file__ is not None
    assert Path(caldav.__file__).parent.name == "caldav"
    assert hasattr(caldav, "DAVClient")
