"""Busy time from CalDAV calendar collections (RFC 4791), through the python ``caldav`` client.

``CalDavCalendar`` is the ``CalendarProvider`` for people whose calendar is ``caldav:<collection URL>``
(Nextcloud, Radicale, Baïkal, SOGo, iCloud, Fastmail…). For each person it asks the collection a
``free-busy-query`` REPORT and reads the VFREEBUSY answer; a server that lacks free-busy-query (it answers 400,
403, 404, 405, 415 or 501, or answers without a VFREEBUSY) is asked a ``calendar-query`` for the events in the
window instead, which are expanded and classified by ``integrations.ics_feed.read_busy`` exactly like an ICS
feed. A real 403/404 (no permission, no such collection) then shows up on that second request, so the person's
error says what is really wrong.

Only start and end times leave this module: the free-busy answer holds nothing else, and event texts are read
by ``read_busy``, which keeps nothing but times.

Where the two paths differ: in a free-busy answer the server has already placed all-day and floating events
(Radicale puts them on UTC days), whereas events read by the fallback are placed in the person's zone, as for
ICS feeds.

This module is named like the ``caldav`` package it uses; ``from caldav… import`` below still finds the
package, because imports are absolute and ``integrations/`` itself is never on ``sys.path``.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import icalendar
import lxml.etree
from caldav.calendarobjectresource import CalendarObjectResource, FreeBusy
from caldav.collection import Calendar as DavCollection
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http_library

from integrations.http import (
    TRANSIENT_STATUSES,
    CallRetry,
    Transient,
    call_with_retries,
    retry_after_seconds,
    run_concurrently,
)
from integrations.ics_feed import MAX_CALENDAR_BYTES, read_busy
from scheduler.config import CalDavConfig, mask_url, secret
from scheduler.errors import CalendarError, ConfigError, ProviderUnavailable
from scheduler.model import Busy, Interval, Person, merge_intervals

logger = logging.getLogger(__name__)

# Statuses with which a server says "I do not do free-busy-query here" (or refuses it while it may still allow
# reading the events): the events are read instead, and their answer decides what the person is told.
_FREE_BUSY_UNSUPPORTED = frozenset({400, 403, 404, 405, 415, 501})

# Events are asked for over the window widened by this much: servers compare all-day and floating events on
# their own clock (usually UTC), while read_busy places them in the person's zone, up to 14 hours away.
# read_busy clips the result to the window.
_QUERY_MARGIN = timedelta(days=2)

# FBTYPE values (RFC 5545 §3.2.9). Unknown values must be treated as BUSY.
_TENTATIVE_TYPES = frozenset({"BUSY-TENTATIVE"})
_FREE_TYPES = frozenset({"FREE"})


class _Unreachable(Transient):
    """The server could not be reached at all (refused, unknown host, timed out): every collection on it fails
    alike, so once retries are spent nobody else is sent there during this call."""


@dataclass(frozen=True)
class _Outcome:
    """One person's answer, and whether it failed because their server stayed unavailable."""

    busy: Busy
    unavailable: bool = False
    server: str = ""
    reason: str = ""


class _Call:
    """What the worker threads of one ``fetch_busy`` call share: the servers found unreachable (with the
    reason), and one client per thread and server.

    A client is reused for every collection its thread reads on that server, so the connection is kept alive
    and the login is negotiated once (a first request without credentials, answered 401) instead of once per
    person. Clients are not shared between threads: their HTTP session is not made for it.
    """

    def __init__(self, make_client: Callable[[str], DAVClient]) -> None:
        self._make_client = make_client
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}
        self._clients: dict[tuple[int, str], DAVClient] = {}

    def reason(self, server: str) -> str | None:
        with self._lock:
            return self._reasons.get(server)

    def mark_down(self, server: str, reason: str) -> None:
        with self._lock:
            self._reasons.setdefault(server, reason)

    def client(self, server: str, url: str) -> DAVClient:
        key = (threading.get_ident(), server)
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            client = self._make_client(url)
            with self._lock:
                self._clients[key] = client
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


class CalDavCalendar:
    """``CalendarProvider`` for ``caldav`` calendars: ``person.calendar.location`` is a calendar collection URL.

    Contract (see ``CalendarProvider``): answers for every person given, keyed by email; intervals are UTC,
    merged, sorted and clipped to the window, tentative time apart; nothing but times is kept.

    - Every server is logged in to with the same account (``username`` / ``password``, from the environment),
      or anonymously when none is set. A URL with a user name or password in it is refused: credentials live
      in the environment, never in a profile (nor, through it, in the database).
    - ``servers`` (``https://dav.example.com``, ``http://127.0.0.1:5232``) lists the only servers collections
      may be on; a collection elsewhere is that person's error and is never contacted. Set it whenever a login
      is configured: people write their own collection URL, and without the list a URL pointing at a server
      of their own would receive the login.
    - Per person: a URL that is not http(s), 401 (the login was refused), 403 (no permission), 404 (no such
      collection), or events that cannot be read give that person a ``Busy(error=...)`` in plain words.
    - 429, 5xx, timeouts and connection failures are retried through ``integrations.http.call_with_retries``
      (honouring Retry-After). Calls for different people run concurrently, at most ``concurrency`` at once.

    "The provider is down", for CalDAV: every person's collection can live on a different server, so a server
    that stays unavailable after the retries is an error for the people on it only (and once it was found
    unreachable, the others on it are not tried again during the same call). ``ProviderUnavailable`` is raised
    only when no calendar at all could be read because every person's server was unavailable — with one
    server for the whole organisation (the usual set-up) that is exactly "the CalDAV server is down".
    Messages name the server by scheme, host and port, never credentials.
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        retry: CallRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        login_hint: str = "",
        servers: Sequence[str] = (),
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("a CalDAV user name needs a password and a password needs a user name")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._username = username
        self._password = password
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry or CallRetry()
        self._sleep = sleep
        self._jitter = jitter
        # Appended to the message of a refused login: which variables to check (never their values).
        self._login_hint = login_hint
        self.servers = frozenset(server_of(server) for server in servers)

    def __repr__(self) -> str:
        # Never the password, even in a debugger or a log line that prints the provider.
        login = "anonymous" if self._username is None else "with a login"
        return f"CalDavCalendar({login}, concurrency={self.concurrency}, timeout={self.timeout:g})"

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see the class docstring).

        Raises ``ProviderUnavailable`` when every person's server stayed unavailable after the retries.
        """
        call = _Call(self._client)
        try:
            outcomes = run_concurrently(
                lambda person: self._answer(person, window, call), people, limit=self.concurrency
            )
        finally:
            call.close()
        answers = {person.email: outcome.busy for person, outcome in zip(people, outcomes, strict=True)}
        caldav_outcomes = [o for p, o in zip(people, outcomes, strict=True) if p.calendar.kind == "caldav"]
        if caldav_outcomes and all(o.unavailable for o in caldav_outcomes):
            reasons = "; ".join(sorted({f"{o.server}: {o.reason}" for o in caldav_outcomes}))
            raise ProviderUnavailable(f"CalDAV: no calendar could be read, every server is unavailable ({reasons})")
        return answers

    # --- one person ----------------------------------------------------------------------------------------

    def _answer(self, person: Person, window: Interval, call: _Call) -> _Outcome:
        calendar = person.calendar
        if calendar.kind == "none":
            return _Outcome(Busy(known=False))
        if calendar.kind != "caldav":
            return _Outcome(Busy(error=f"not a CalDAV calendar (kind {calendar.kind}): no connector for it here"))
        source = mask_url(calendar.location)
        try:
            url, server = _check_url(calendar.location)
        except CalendarError as exc:
            return _Outcome(Busy(error=str(exc)))
        if self.servers and server not in self.servers:
            allowed = ", ".join(sorted(self.servers))
            return _Outcome(Busy(error=f"{source}: not on a CalDAV server this instance reads (only {allowed})"))
        known_down = call.reason(server)
        if known_down is not None:
            return _Outcome(Busy(error=f"{source}: {known_down}"), unavailable=True, server=server, reason=known_down)
        attempts = 0

        def attempt() -> Busy:
            nonlocal attempts
            attempts += 1
            with self._translated(source):
                client = call.client(server, url)
            return self._read(client, url, window, person.timezone, source)

        try:
            busy = call_with_retries(attempt, self.retry, sleep=self._sleep, jitter=self._jitter)
        except Transient as exc:
            asked = f", asked to wait {exc.retry_after:g} s" if exc.retry_after else ""
            reason = f"server unavailable ({exc}{asked}) after {attempts} attempt{'s' if attempts != 1 else ''}"
            if isinstance(exc, _Unreachable):
                call.mark_down(server, reason)
            logger.warning("CalDAV %s: %s", server, reason)
            return _Outcome(Busy(error=f"{source}: {reason}"), unavailable=True, server=server, reason=reason)
        except CalendarError as exc:
            return _Outcome(Busy(error=str(exc)))
        return _Outcome(busy)

    def _client(self, url: str) -> DAVClient:
        return DAVClient(
            url=url,
            username=self._username,
            password=self._password,
            timeout=self.timeout,  # type: ignore[arg-type]
            # Retries are ours (bounded, Retry-After capped, injectable sleep), not the library's.
            rate_limit_handle=False,
        )

    def _read(self, client: DAVClient, url: str, window: Interval, zone: str, source: str) -> Busy:
        """One attempt: free-busy-query, else the events. Raises ``Transient`` or ``CalendarError``."""
        collection = client.calendar(url=url)
        busy = self._free_busy(collection, window, zone, source)
        if busy is None:
            logger.debug("CalDAV %s: no free-busy-query; reading events", source)
            busy = self._events(collection, window, zone, source)
        return busy

    def _free_busy(self, collection: DavCollection, window: Interval, zone: str, source: str) -> Busy | None:
        """The collection's free-busy answer, or ``None`` when the server does not give one."""
        try:
            with self._translated(source):
                # A sync client's calls return values, never the coroutines an async client's would.
                answer = cast(FreeBusy, collection.freebusy_request(window.start, window.end))
                text = answer.data
        except _StatusError as exc:
            if exc.status in _FREE_BUSY_UNSUPPORTED:
                return None
            raise
        if not isinstance(text, str) or not text.strip():
            return None
        return parse_free_busy(text, window, zone)

    def _events(self, collection: DavCollection, window: Interval, zone: str, source: str) -> Busy:
        """Busy time from the events overlapping the window (calendar-query), expanded and classified as ICS."""
        with self._translated(source):
            found: object = collection.search(
                start=window.start - _QUERY_MARGIN,
                end=window.end + _QUERY_MARGIN,
                event=True,
                # The client would filter all-day and floating events on this process's clock; read_busy
                # places them in the person's zone and clips to the window itself.
                post_filter=False,
            )
            texts = [item.data for item in cast(list[CalendarObjectResource], found)]
        parts = [text if text.endswith("\n") else text + "\n" for text in texts if isinstance(text, str) and text]
        if not parts:
            return Busy()
        if sum(len(part) for part in parts) > MAX_CALENDAR_BYTES:
            raise CalendarError(f"the events of the window exceed {MAX_CALENDAR_BYTES // 2**20} MB", source=source)
        # read_busy reads several VCALENDARs in one text: each object the server sent is one of them.
        return read_busy("".join(parts), window, zone, source=source)

    @contextmanager
    def _translated(self, source: str) -> Iterator[None]:
        """Turn the client library's failures into ``Transient`` (try again) or ``_StatusError`` (this person's)."""
        try:
            yield
        except dav_error.RateLimitError as exc:
            # The raw header, read by the shared parser like every connector's (seconds or an HTTP date).
            raise Transient(f"HTTP {exc.status or 429}", retry_after=retry_after_seconds(exc.retry_after)) from None
        except dav_error.AuthorizationError as exc:
            if exc.status == 401:
                hint = f"; check {self._login_hint}" if self._login_hint else ""
                login = "" if self._username is not None else " (no CalDAV login is configured)"
                message = f"the server refused the CalDAV login{login} (HTTP 401){hint}"
                raise _StatusError(message, 401, source) from None
            raise _StatusError("no permission to read this calendar (HTTP 403)", 403, source) from None
        except dav_error.NotFoundError:
            raise _StatusError("no calendar collection at this address (HTTP 404)", 404, source) from None
        except dav_error.DAVError as exc:
            status = exc.status
            if status is not None and (status in TRANSIENT_STATUSES or status >= 500) and status != 501:
                raise Transient(f"HTTP {status}") from None
            what = f"HTTP {status}" if status is not None else _short(exc.reason)
            raise _StatusError(f"the server refused the request ({what})", status, source) from None
        except http_library.exceptions.Timeout:
            raise _Unreachable(f"no answer within {self.timeout:g} s") from None
        except http_library.exceptions.ConnectionError as exc:
            raise _Unreachable(_connection_reason(exc)) from None
        except http_library.exceptions.RequestException as exc:
            # Redirect loops, invalid URLs, broken chunked bodies: nothing a retry would fix.
            raise CalendarError(f"the request failed ({type(exc).__name__})", source=source) from None
        except (lxml.etree.LxmlError, ValueError) as exc:
            # The server's answer is not the XML (or iCalendar) CalDAV prescribes.
            raise CalendarError(f"the server's answer cannot be read ({type(exc).__name__})", source=source) from None


class _StatusError(CalendarError):
    """A person's error that came with an HTTP status, so the free-busy step can tell "unsupported" apart."""

    def __init__(self, message: str, status: int | None, source: str) -> None:
        self.status = status
        super().__init__(message, source=source)


def parse_free_busy(text: str, window: Interval, zone: str) -> Busy | None:
    """Busy and tentative time of a free-busy answer (VCALENDAR with VFREEBUSY components), clipped to
    ``window``; ``None`` when the text is not iCalendar or holds no VFREEBUSY.

    FBTYPE ``BUSY`` and ``BUSY-UNAVAILABLE`` (and any unknown type, as RFC 5545 asks) are busy,
    ``BUSY-TENTATIVE`` is tentative, ``FREE`` is nothing. Periods may end with a time or a duration. Times
    should be UTC; a floating one is read in ``zone``.
    """
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except ValueError:
        return None
    components = [c for calendar in calendars for c in calendar.walk("VFREEBUSY")]
    if not components:
        return None
    person_zone = ZoneInfo(zone)
    busy: list[Interval] = []
    tentative: list[Interval] = []
    for component in components:
        values = component.get("FREEBUSY", [])
        for period in values if isinstance(values, list) else [values]:
            kind = str(period.params.get("FBTYPE", "BUSY")).upper()
            if kind in _FREE_TYPES:
                continue
            start, end = _utc(period.start, person_zone), _utc(period.end, person_zone)
            clipped = Interval(start, max(start, end)).clip(window)
            if clipped is not None:
                (tentative if kind in _TENTATIVE_TYPES else busy).append(clipped)
    return Busy(busy=merge_intervals(busy), tentative=merge_intervals(tentative))


def _utc(moment: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def server_of(url: str) -> str:
    """The server of an http(s) URL as ``scheme://host:port`` (default port filled in, lower case).

    Raises ``ValueError`` naming the problem for anything else, or for a URL carrying credentials.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        hint = " (use https:// instead of webcal://)" if scheme == "webcal" else ""
        raise ValueError(f"a CalDAV calendar needs an http or https URL{hint}")
    if not parts.hostname:
        raise ValueError("the URL names no server")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL must not carry a user name or password: CalDAV credentials come from the environment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


def _check_url(location: str) -> tuple[str, str]:
    """The collection URL and its server; ``CalendarError`` naming the (masked) URL when it is unusable."""
    try:
        return location.strip(), server_of(location)
    except ValueError as exc:
        raise CalendarError(str(exc), source=mask_url(location)) from None


def _connection_reason(exc: BaseException) -> str:
    """A short, credential-free reason for a connection failure, from the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, TimeoutError):
            return "connection timed out"
        current = current.__cause__ or current.__context__
    text = str(exc)
    for marker, reason in (
        ("refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("timed out", "connection timed out"),
        ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate is not trusted"),
    ):
        if marker in text:
            return reason
    return "cannot connect"


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_caldav_calendar(config: CalDavConfig, *, retry: CallRetry | None = None) -> CalDavCalendar:
    """The CalDAV provider for ``config``: credentials from the variables it names (both set, or neither).

    Raises ``ConfigError`` when only one of the two variables is set, or a server in ``servers`` is not an
    http(s) URL. Warns (in the log) when a login is configured without a list of servers.
    """
    username, password = secret(config.username_env), secret(config.password_env)
    if (username is None) != (password is None):
        names = (config.username_env, config.password_env)
        present, missing = names if password is None else names[::-1]
        raise ConfigError(f"{present} is set but {missing} is not: set both for a CalDAV login, or neither")
    for index, server in enumerate(config.servers):
        try:
            server_of(server)
        except ValueError as exc:
            raise ConfigError(f"{mask_url(server)!r}: {exc}", key=f"calendar.caldav.servers[{index}]") from None
    if username is not None and not config.servers:
        logger.warning(
            "a CalDAV login is configured but calendar.caldav.servers is empty: the login goes to any server a "
            "profile names; list your CalDAV servers there"
        )
    return CalDavCalendar(
        username=username,
        password=password,
        concurrency=config.concurrency,
        timeout=config.timeout_seconds,
        retry=retry,
        login_hint=f"{config.username_env} and {config.password_env}",
        servers=config.servers,
    )
