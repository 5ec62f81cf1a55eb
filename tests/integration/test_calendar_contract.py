"""One contract, every calendar provider: ICS files, CalDAV (a real Radicale), Google and Microsoft (wire-level
fakes driven through the real client libraries) and the in-process fake the unit tests use.

Each provider gets a ``World`` that can give a person a calendar holding some events, or a calendar that does not
exist. The tests then hold every provider to the ``CalendarProvider`` docstring in scheduler/ports.py, so the
adapters and the fakes cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.caldav import CalDavCalendar
from integrations.google_calendar import EVENTS_SCOPE, FREEBUSY_SCOPE, GoogleCalendar
from integrations.http import CallRetry
from integrations.ics_feed import IcsCalendarProvider
from integrations.microsoft_graph import GraphCalendar
from scheduler.model import Busy, CalendarSource, Interval, Person
from scheduler.ports import CalendarProvider
from tests.fakes import FakeCalendarProvider
from tests.fakes.google_server import GOOGLE_TOKEN_AUDIENCE, FakeGoogle
from tests.fakes.graph_server import GraphFake, TlsFiles, make_tls_files
from tests.fakes.radicale_server import RadicaleServer, running_radicale

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
SECRET_TITLE = "Merger talks with Initech"  # what a calendar must never give away
SECRET_PLACE = "Board room 7"
RETRY = CallRetry(attempts=2, base=0.01, max_wait=0.02)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Day 0 is Monday 2026-11-23, UTC."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@dataclass(frozen=True)
class Event:
    start: datetime
    end: datetime
    status: str = "busy"  # or "tentative", "oof" (out of office), "elsewhere" (working elsewhere)


# How each status is written in iCalendar (ICS files and CalDAV): Outlook's busy status beside the standard ones.
_ICS_STATUS = {"tentative": "STATUS:TENTATIVE\n", "oof": "X-MICROSOFT-CDO-BUSYSTATUS:OOF\n",
               "elsewhere": "X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\n"}
# Graph's schedule statuses.
_GRAPH_STATUS = {"busy": "busy", "tentative": "tentative", "oof": "oof", "elsewhere": "workingElsewhere"}


class World(Protocol):
    """A provider and a way to put calendars behind it."""

    tentative: bool  # whether the provider tells tentative time apart

    def person_with(self, events: Sequence[Event]) -> Person:
        """A new person whose calendar holds ``events`` (titled and placed with the secret texts)."""
        ...

    def person_without_calendar(self) -> Person:
        """A new person whose calendar does not exist at the provider."""
        ...

    def provider(self) -> CalendarProvider: ...


def new_email() -> str:
    return f"p{uuid.uuid4().hex[:10]}@example.com"


def vevent(event: Event) -> str:
    status = _ICS_STATUS.get(event.status, "")
    return (f"BEGIN:VEVENT\nUID:{uuid.uuid4()}\nDTSTAMP:20261101T000000Z\nDTSTART:{event.start:%Y%m%dT%H%M%SZ}\n"
            f"DTEND:{event.end:%Y%m%dT%H%M%SZ}\nSUMMARY:{SECRET_TITLE}\nLOCATION:{SECRET_PLACE}\n{status}"
            "END:VEVENT\n")


def vcalendar(events: Sequence[Event]) -> str:
    return ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//coffeechat//contract//EN\n"
            + "".join(vevent(e) for e in events) + "END:VCALENDAR\n")


@dataclass
class IcsWorld:
    folder: Path
    tentative: bool = True

    def person_with(self, events: Sequence[Event]) -> Person:
        name = f"{uuid.uuid4().hex}.ics"
        (self.folder / name).write_text(vcalendar(events), encoding="utf-8")
        return Person(new_email(), "ICS person", "t", calendar=CalendarSource("ics", name))

    def person_without_calendar(self) -> Person:
        return Person(new_email(), "ICS person", "t", calendar=CalendarSource("ics", "no-such-file.ics"))

    def provider(self) -> CalendarProvider:
        return IcsCalendarProvider(self.folder)


@dataclass
class CalDavWorld:
    server: RadicaleServer
    tentative: bool = True

    def person_with(self, events: Sequence[Event]) -> Person:
        name = uuid.uuid4().hex[:12]
        url = self.server.make_calendar("alice", name, [vcalendar([e]) for e in events])
        return Person(new_email(), "CalDAV person", "t", calendar=CalendarSource("caldav", url))

    def person_without_calendar(self) -> Person:
        url = self.server.collection_url("alice", "never-made")
        return Person(new_email(), "CalDAV person", "t", calendar=CalendarSource("caldav", url))

    def provider(self) -> CalendarProvider:
        return CalDavCalendar(username="alice", password=self.server.users["alice"], servers=[self.server.url],
                              retry=RETRY, sleep=lambda _: None, timeout=10)


@dataclass
class GoogleWorld:
    fake: FakeGoogle
    key_info: dict[str, str]
    tentative: bool = False  # freeBusy says busy or nothing

    def person_with(self, events: Sequence[Event]) -> Person:
        email = new_email()
        self.fake.add_calendar(email)
        for event in events:
            # Google Calendar's own kinds of event: out of office blocks time; a working location does not.
            kinds: dict[str, dict[str, Any]] = {"oof": {"eventType": "outOfOffice"},
                                                "elsewhere": {"eventType": "workingLocation", "transparent": True}}
            kind = kinds.get(event.status, {})
            self.fake.add_busy(email, event.start, event.end, summary=SECRET_TITLE, location=SECRET_PLACE, **kind)
        return Person(email, "Google person", "t", calendar=CalendarSource("google", email))

    def person_without_calendar(self) -> Person:
        email = new_email()
        return Person(email, "Google person", "t", calendar=CalendarSource("google", email))

    def provider(self) -> CalendarProvider:
        return GoogleCalendar(self.key_info, organizer="coffee@example.com", endpoint=self.fake.endpoint,
                              token_uri=self.fake.token_uri, retry=RETRY, sleep=lambda _: None, timeout=10)


@dataclass
class GraphWorld:
    fake: GraphFake
    tls: TlsFiles
    tentative: bool = True

    def person_with(self, events: Sequence[Event]) -> Person:
        email = new_email()
        self.fake.add_mailbox(email)
        for event in events:
            self.fake.add_item(email, event.start, event.end, _GRAPH_STATUS[event.status], subject=SECRET_TITLE,
                               location=SECRET_PLACE)
        return Person(email, "Graph person", "t", calendar=CalendarSource("microsoft", email))

    def person_without_calendar(self) -> Person:
        email = new_email()
        return Person(email, "Graph person", "t", calendar=CalendarSource("microsoft", email))

    def provider(self) -> CalendarProvider:
        return GraphCalendar(tenant_id=self.fake.tenant_id, client_id=self.fake.client_id, credential=GRAPH_SECRET,
                             organizer=GRAPH_ORGANIZER, authority_host=self.fake.authority_host,
                             graph_endpoint=self.fake.graph_endpoint, verify=str(self.tls.cert), retry=RETRY,
                             sleep=lambda _: None, timeout=10)


@dataclass
class InProcessWorld:
    fake: FakeCalendarProvider = field(default_factory=FakeCalendarProvider)
    tentative: bool = True

    def person_with(self, events: Sequence[Event]) -> Person:
        email = new_email()
        for event in events:
            if event.status == "elsewhere":
                continue
            target = self.fake.tentative if event.status == "tentative" else self.fake.busy
            target.setdefault(email, []).append(Interval(event.start, event.end))
        return Person(email, "Fake person", "t")

    def person_without_calendar(self) -> Person:
        email = new_email()
        self.fake.errors[email] = "no such calendar"
        return Person(email, "Fake person", "t")

    def provider(self) -> CalendarProvider:
        return self.fake


GRAPH_SECRET = "contract-test-client-secret"
GRAPH_ORGANIZER = "coffee@example.com"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with running_radicale(tmp_path_factory.mktemp("radicale"), {"alice": "alice-pw"}) as server:
        yield server


@pytest.fixture(scope="module")
def google_key() -> tuple[rsa.RSAPrivateKey, dict[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a test key
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    info = {"type": "service_account", "project_id": "contract", "private_key_id": "00ff", "private_key": pem,
            "client_email": "coffeechat@contract.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": GOOGLE_TOKEN_AUDIENCE}
    return key, info


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture(params=["ics", "caldav", "google", "microsoft", "in-process"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    kind = request.param
    if kind == "ics":
        yield IcsWorld(tmp_path)
    elif kind == "caldav":
        yield CalDavWorld(request.getfixturevalue("radicale"))
    elif kind == "google":
        key, info = request.getfixturevalue("google_key")
        with FakeGoogle() as fake:
            fake.register_service_account(info["client_email"], key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
            fake.add_calendar("coffee@example.com")
            yield GoogleWorld(fake, info)
    elif kind == "microsoft":
        tls_files = request.getfixturevalue("tls")
        with GraphFake(tls=tls_files, client_secret=GRAPH_SECRET, organizer=GRAPH_ORGANIZER) as fake:
            yield GraphWorld(fake, tls_files)
    else:
        yield InProcessWorld()


@pytest.fixture
def provider(world: World) -> Iterator[CalendarProvider]:
    """The world's provider, closed (connections released) after the test."""
    made = world.provider()
    yield made
    close = getattr(made, "close", None)
    if close is not None:
        close()


def secret_free(answer: Busy) -> bool:
    text = repr(answer)
    return SECRET_TITLE not in text and SECRET_PLACE not in text


def test_answers_every_person_asked_and_nobody_else(world: World, provider: CalendarProvider) -> None:
    people = [world.person_with([Event(at(0, 9), at(0, 10))]), world.person_with([]),
              world.person_without_calendar()]
    bystander = world.person_with([Event(at(1, 9), at(1, 10))])
    answers = provider.fetch_busy(people, WINDOW)
    assert set(answers) == {p.email for p in people}
    assert bystander.email not in answers


def test_no_people_no_answers(world: World, provider: CalendarProvider) -> None:
    assert provider.fetch_busy([], WINDOW) == {}


def test_busy_time_is_utc_merged_sorted_and_clipped_to_the_window(world: World, provider: CalendarProvider) -> None:
    person = world.person_with([
        Event(at(2, 14), at(2, 15)),
        Event(at(0, 9), at(0, 10)), Event(at(0, 9, 30), at(0, 11)),  # overlapping: one interval
        Event(at(-1, 22), at(0, 1)),  # starts before the window
        Event(at(6, 9), at(6, 10)),  # after the window
    ])
    answer = provider.fetch_busy([person], WINDOW)[person.email]
    assert answer.error is None
    assert answer.busy == (Interval(at(0, 0), at(0, 1)), Interval(at(0, 9), at(0, 11)),
                           Interval(at(2, 14), at(2, 15)))
    assert all(i.start.utcoffset() == timedelta(0) and i.end.utcoffset() == timedelta(0) for i in answer.busy)


def test_a_free_calendar_is_known_and_empty(world: World, provider: CalendarProvider) -> None:
    person = world.person_with([])
    answer = provider.fetch_busy([person], WINDOW)[person.email]
    assert answer.error is None
    assert answer.known
    assert answer.busy == ()
    assert answer.tentative == ()


def test_tentative_time_is_kept_apart_where_the_provider_tells_it_apart(world: World,
                                                                          provider: CalendarProvider) -> None:
    if not world.tentative:
        pytest.skip("this provider reports busy or free, never tentative (Google freeBusy)")
    person = world.person_with([Event(at(1, 10), at(1, 11), "tentative"), Event(at(1, 13), at(1, 14))])
    answer = provider.fetch_busy([person], WINDOW)[person.email]
    assert answer.tentative == (Interval(at(1, 10), at(1, 11)),)
    assert answer.busy == (Interval(at(1, 13), at(1, 14)),)


def test_an_unreadable_calendar_is_that_persons_error_alone(world: World, provider: CalendarProvider) -> None:
    missing = world.person_without_calendar()
    fine = world.person_with([Event(at(3, 9), at(3, 10))])
    answers = provider.fetch_busy([missing, fine], WINDOW)
    assert answers[missing.email].error
    assert answers[missing.email].busy == ()
    assert answers[fine.email].error is None
    assert answers[fine.email].busy == (Interval(at(3, 9), at(3, 10)),)


def test_nothing_but_times_leaves_the_provider(world: World, provider: CalendarProvider) -> None:
    person = world.person_with([Event(at(0, 9), at(0, 10)), Event(at(1, 9), at(1, 10), "tentative")])
    answers = provider.fetch_busy([person], WINDOW)
    assert all(secret_free(answer) for answer in answers.values())


def test_issue_13_out_of_office_is_busy_and_working_elsewhere_is_free(world: World,
                                                                      provider: CalendarProvider) -> None:
    """As each standard and provider defines it: Outlook's BUSYSTATUS in iCalendar, Graph's statuses, Google's
    out-of-office and working-location events. Working elsewhere is working (at home, at another office)."""
    person = world.person_with([Event(at(1, 0), at(2, 0), "oof"), Event(at(3, 8), at(3, 18), "elsewhere"),
                                Event(at(3, 10), at(3, 11))])
    answer = provider.fetch_busy([person], WINDOW)[person.email]
    assert answer.error is None
    assert answer.busy == (Interval(at(1, 0), at(2, 0)), Interval(at(3, 10), at(3, 11)))
    assert answer.tentative == ()
