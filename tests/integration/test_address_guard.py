"""Issue 13: the addresses people give (ICS feeds, CalDAV collections) reach only public servers, or the
internal ones the configuration names — checked when a URL is saved, when it is connected to, and on every
redirect. Real servers on loopback: a ``HostileDavServer`` stands for "something listening on this machine"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.caldav import CalDavCalendar
from scheduler.accounts.profile import calendar_source, check_calendar_url
from scheduler.availability.addresses import AddressPolicy
from scheduler.config import load_config
from scheduler.entrypoints.bootstrap import build_calendar, check_calendars
from scheduler.errors import ConfigError, InputError
from scheduler.model import Busy, CalendarSource, Interval, Person
from tests.fakes.hostile_dav_server import HostileDavServer

WINDOW = Interval(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))
BUSY = Interval(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC))
EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coffeechat//tests//EN\r\nBEGIN:VEVENT\r\nUID:guard@test\r\n"
         "DTSTAMP:20261101T000000Z\r\nDTSTART:20261124T100000Z\r\nDTEND:20261124T110000Z\r\nEND:VEVENT\r\n"
         "END:VCALENDAR\r\n")

# 127.0.0.1 spelled every way a connection accepts it, and this machine's name.
LOOPBACK_SPELLINGS = [("127.0.0.1", "127.0.0.1"), ("localhost", "localhost"), ("2130706433", "2130706433"),
                      ("0x7f000001", "0x7f000001"), ("127.1", "127.1"), ("0177.0.0.1", "0177.0.0.1"),
                      ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1")]


def refused(host: str) -> str:
    return f"refused: {host} is not a public address (set calendar.allowed_hosts to allow it)"


def person(url: str, kind: str = "caldav", email: str = "ana@example.com") -> Person:
    return Person(email=email, name="Ana", team="t", timezone="UTC", calendar=CalendarSource(kind, url))


@pytest.fixture(scope="module")
def dav() -> Iterator[HostileDavServer]:
    with HostileDavServer(events=[EVENT]) as server:
        yield server


@pytest.fixture(autouse=True)
def _forget_requests(dav: HostileDavServer) -> None:
    dav.requests.clear()


# --- CalDAV ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "named"), LOOPBACK_SPELLINGS)
def test_issue_13_a_caldav_source_on_this_machine_is_refused_in_every_spelling(
    dav: HostileDavServer, host: str, named: str
) -> None:
    url = f"http://{host}:{dav.port}/good/calendar/"

    answer = CalDavCalendar(timeout=2).fetch_busy([person(url)], WINDOW)

    assert answer == {"ana@example.com": Busy(error=f"{url}: {refused(named)}")}
    assert dav.requests == []  # nothing was sent


def test_issue_13_a_refused_caldav_address_reads_the_same_whatever_listens_there(dav: HostileDavServer) -> None:
    # An open port, a closed one (9, discard) and a missing collection: no way to tell them apart.
    urls = [f"http://127.0.0.1:{dav.port}/good/calendar/", "http://127.0.0.1:9/good/calendar/",
            f"http://127.0.0.1:{dav.port}/no-such/calendar/"]
    provider = CalDavCalendar(timeout=2)

    errors = [provider.fetch_busy([person(url)], WINDOW)["ana@example.com"].error for url in urls]

    assert errors == [f"{url}: {refused('127.0.0.1')}" for url in urls]


def test_issue_13_a_listed_caldav_server_is_allowed_and_its_redirects_are_checked() -> None:
    # The listed server (127.0.0.1) redirects to another loopback address where a server listens: refused
    # before connecting, so the server there never hears of it.
    try:
        inside = HostileDavServer(events=[EVENT], host="127.0.0.2")
    except OSError:
        pytest.skip("cannot listen on 127.0.0.2 here")
    with inside, HostileDavServer(events=[EVENT], redirect_to=inside.collection_url("good")) as listed:
        provider = CalDavCalendar(username="reader", password="pw", servers=[listed.url], timeout=2)

        answer = provider.fetch_busy([person(listed.collection_url("good")), person(
            listed.collection_url("redirect"), email="eve@example.com")], WINDOW)

        assert answer["ana@example.com"] == Busy(busy=(BUSY,))
        assert answer["eve@example.com"] == Busy(error=f"{listed.collection_url('redirect')}: {refused('127.0.0.2')}")
        assert inside.requests == []


def test_issue_13_a_caldav_host_allowed_by_name_is_read(dav: HostileDavServer) -> None:
    allowed = CalDavCalendar(allowed_hosts=["localhost"], timeout=2)
    url = f"http://localhost:{dav.port}/good/calendar/"

    assert allowed.fetch_busy([person(url)], WINDOW) == {"ana@example.com": Busy(busy=(BUSY,))}
    # Allowing a name allows nothing else on this machine.
    other = f"http://127.0.0.1:{dav.port}/good/calendar/"
    assert allowed.fetch_busy([person(other)], WINDOW)["ana@example.com"].error == f"{other}: {refused('127.0.0.1')}"


# --- ICS, through the configuration ---------------------------------------------------------------------


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = EVENT.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def feed() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_config(folder: Path, calendar: str) -> Path:
    path = folder / "coffeechat.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{folder / "c.db"}"\n\n[calendar]\n{calendar}\n', encoding="utf-8")
    return path


def test_issue_13_allowed_hosts_let_ics_and_caldav_reach_an_internal_server(
    tmp_path: Path, feed: int, dav: HostileDavServer
) -> None:
    config = load_config(write_config(tmp_path, 'allowed_hosts = ["127.0.0.1"]'))
    calendar = build_calendar(config)
    ics = f"http://127.0.0.1:{feed}/ana.ics"
    other = f"http://localhost:{feed}/ana.ics"  # the same server by another name: not what was allowed

    answer = calendar.fetch_busy([person(ics, kind="ics"), person(dav.collection_url("good"), email="bo@example.com"),
                                  person(other, kind="ics", email="cy@example.com")], WINDOW)

    assert answer["ana@example.com"] == Busy(busy=(BUSY,))
    assert answer["bo@example.com"] == Busy(busy=(BUSY,))
    assert answer["cy@example.com"].error is not None
    assert answer["cy@example.com"].error.endswith(refused("localhost"))


def test_issue_13_without_allowed_hosts_the_configured_providers_refuse_this_machine(
    tmp_path: Path, feed: int, dav: HostileDavServer
) -> None:
    config = load_config(write_config(tmp_path, ""))
    calendar = build_calendar(config)
    ics = f"http://127.0.0.1:{feed}/ana.ics"

    answer = calendar.fetch_busy([person(ics, kind="ics"), person(dav.collection_url("good"), email="bo@example.com")],
                                 WINDOW)

    assert answer["ana@example.com"].error == f"http://127.0.0.1:{feed}/…/ana.ics: {refused('127.0.0.1')}"
    assert answer["bo@example.com"].error == f"{dav.collection_url('good')}: {refused('127.0.0.1')}"


# --- configuration --------------------------------------------------------------------------------------


def test_issue_13_the_policies_the_configuration_gives(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, 'allowed_hosts = ["dav.corp.example", "10.0.0.5"]\n'
                                                'ics_allow_internal = false\n\n'
                                                '[calendar.caldav]\nservers = ["https://cal.corp.example:8443"]'))

    assert config.calendar.allowed_hosts == ("dav.corp.example", "10.0.0.5")
    assert config.calendar.address_policy("ics") == AddressPolicy(frozenset({"dav.corp.example", "10.0.0.5"}))
    assert config.calendar.address_policy("caldav") == AddressPolicy(
        frozenset({"dav.corp.example", "10.0.0.5", "cal.corp.example"}))
    allowing_all = load_config(write_config(tmp_path, "ics_allow_internal = true")).calendar
    assert allowing_all.address_policy("ics").allow_internal
    assert not allowing_all.address_policy("caldav").allow_internal


@pytest.mark.parametrize(("calendar", "message"), [
    ('allowed_hosts = ["https://dav.corp.example/"]', "allowed_hosts: 'https://dav.corp.example/' is not a host"),
    ('allowed_hosts = ["dav.corp.example:8443"]', "is not a host name or IP address"),
    ('allowed_hosts = "dav.corp.example"', "must be an array"),
    ("allowed_host = []", "unknown key"),
])
def test_issue_13_bad_allowed_hosts_are_config_errors(tmp_path: Path, calendar: str, message: str) -> None:
    with pytest.raises(ConfigError, match="calendar") as raised:
        load_config(write_config(tmp_path, calendar))
    assert message in str(raised.value)


def test_issue_13_a_caldav_login_without_servers_fails_the_config_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COFFEECHAT_CALDAV_USERNAME", "coffee")
    monkeypatch.setenv("COFFEECHAT_CALDAV_PASSWORD", "s3cret-value")
    without = load_config(write_config(tmp_path, ""))
    listed = load_config(write_config(tmp_path, '[calendar.caldav]\nservers = ["https://dav.corp.example"]'))

    with pytest.raises(ConfigError, match=r"calendar\.caldav\.servers") as raised:
        check_calendars(without)
    assert "s3cret-value" not in str(raised.value)
    check_calendars(listed)
    monkeypatch.delenv("COFFEECHAT_CALDAV_USERNAME")
    monkeypatch.delenv("COFFEECHAT_CALDAV_PASSWORD")
    check_calendars(without)  # anonymous: any public server will do


# --- when a URL is saved --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://10.0.0.5/dav/ana/", "http://172.20.1.1/a.ics", "http://192.168.1.10/a.ics",
                                 "http://100.64.0.1/a.ics", "http://[fd00::1]/a.ics", "http://0x7f000001/a.ics",
                                 "http://2130706433/a.ics", "http://127.1/a.ics", "http://0177.0.0.1/a.ics",
                                 "http://[::ffff:10.0.0.1]/a.ics", "http://metadata.localhost/"])
def test_issue_13_an_internal_address_is_refused_when_saved(url: str) -> None:
    with pytest.raises(InputError, match="points at the Coffee Chat server or a private network"):
        check_calendar_url(url)


def test_issue_13_an_internal_server_the_configuration_allows_may_be_saved(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, 'allowed_hosts = ["10.0.0.5"]\n\n'
                                                '[calendar.caldav]\nservers = ["https://dav.corp.example"]'))
    policy = config.calendar.address_policy

    assert calendar_source("caldav", "http://10.0.0.5/dav/ana/", policy=policy("caldav")) == CalendarSource(
        "caldav", "http://10.0.0.5/dav/ana/")
    assert calendar_source("ics", "http://10.0.0.5/a.ics", policy=policy("ics")).location == "http://10.0.0.5/a.ics"
    with pytest.raises(InputError):
        calendar_source("ics", "http://10.0.0.6/a.ics", policy=policy("ics"))

