"""Busy time from CalDAV calendar collections (RFC 4791), through the python ``caldav`` client.

``CalDavCalendar`` is the ``CalendarProvider`` for people whose calendar is ``caldav:<collection URL>``
(Nextcloud, Radicale, Baïkal, SOGo, iCloud, Fastmail…). For each person it reads the events of the window with a
``calendar-query`` REPORT (a time-range filter, calendar-data asked for), and expands and classifies them with
``integrations.ics_feed.read_busy`` exactly like an ICS feed: recurrences across DST changes, floating and all-day
times in the person's zone, TRANSP, STATUS and Outlook's BUSYSTATUS. Only where the events may not be read — the
server answers calendar-query with 403 (an account allowed free/busy only) or does not support it (400, 405,
415, 501) — is the collection asked a ``free-busy-query`` REPORT and its VFREEBUSY answer read instead.

Events come first because free-busy answers are computed by the server, and servers get them wrong: Radicale
3.9 moves a weekly 09:00 America/Los_Angeles meeting created in winter to 17:00Z after the March change (it is
at 16:00Z), reads floating times as UTC, puts all-day events on UTC days and counts Outlook's "show as free"
as busy. So a free-busy answer is the second best, used only when it is all there is.

Only start and end times leave this module: event texts are read by ``read_busy``, which keeps nothing but
times, and the free-busy answer holds nothing else.

Whatever a server answers, it is that person's problem alone: an empty or non-XML body, a multistatus that
lists events without their data, a redirect loop, no answer, or an address that is not public
(``integrations.public_http`` checks every connection, redirects included) each become the person's
``Busy(error=...)`` in plain words, and a failure the client library was not made for is logged once with its
traceback and becomes their error too, never an exception out of ``fetch_busy``.

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
from datetime import datetime, timedelta
from typing import Any, cast

import lxml.etree
from caldav.calendarobjectresource import FreeBusy
from caldav.collection import Calendar as DavCollection
from caldav.davclient import DAVClient
from caldav.elements import cdav, dav
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
from integrations.ics_feed import MAX_CALENDAR_BYTES, read_busy, read_free_busy
from integrations.public_http import AddressRefused, guard_session
from scheduler.availability.addresses import AddressPolicy
from scheduler.config import CalDavConfig, mask_url, secret
from scheduler.errors import CalendarError, ConfigError, ProviderUnavailable
from scheduler.model import Busy, Interval, Person

logger = logging.getLogger(__name__)

# Statuses with which a server refuses calendar-query while it may still answer free-busy-query: 403 (the
# account may read free/busy only: Radicale's "f" permission, Exchange-style publishing) or "I do not do this
# REPORT here" (400, 405, 415, 501). 404 is not one: it means there is no such collection.
_EVENTS_REFUSED = frozenset({400, 403, 405, 415, 501})

# Statuses with which a server says it does not answer free-busy-query either: the person is then told why
# their events could not be read, which is the real problem.
_FREE_BUSY_UNSUPPORTED = frozenset({400, 403, 404, 405, 415, 501})

_MULTISTATUS = "{DAV:}multistatus"

# Events are asked for over the window widened by this much: servers compare all-day and floating events on
# their own clock (usually UTC), while read_busy places them in the person's zone, up to 14 hours away.
# read_busy clips the result to the window.
_QUERY_MARGIN = timedelta(days=2)


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
    merged, sorted and clipped to the window, tentative time apart; nothing but times is kept. How a calendar
    is read (events first, free-busy-query where events may not be read) is in the module docstring.

    - Every server is logged in to with the same account (``username`` / ``password``, from the environment),
      or anonymously when none is set. A URL with a user name or password in it is refused: credentials live
      in the environment, never in a profile (nor, through it, in the database).
    - ``servers`` (``https://dav.example.com``, ``http://127.0.0.1:5232``) lists the only servers collections
      may be on; a collection elsewhere is that person's error and is never contacted. It is required with a
      login (``ValueError`` otherwise): people write their own collection URL, and without the list a URL
      pointing at a server of their own would receive the login. Listing a server also allows its host name
      although its address is not public.
    - Every connection, redirects included, goes only to public addresses (``scheduler.availability.addresses``)
      or to the hosts of ``servers`` and ``allowed_hosts``; anything else is refused before it is connected to,
      with the same message whatever listens there.
    - Per person: a URL that is not http(s), 401 (the login was refused), 403 (no permission), 404 (no such
      collection), a refused address, an answer that cannot be read, or events that cannot be read give that
      person a ``Busy(error=...)`` in plain words.
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
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("a CalDAV user name needs a password and a password needs a user name")
        if username is not None and not servers:
            raise ValueError("a CalDAV login needs the list of servers it may be sent to")
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
        # Listing a server is allowing it by name: an intranet CalDAV server is what the list is for.
        hosts = [urllib.parse.urlsplit(server).hostname or "" for server in self.servers]
        self.addresses = AddressPolicy.allowing([*allowed_hosts, *hosts])

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
        except Exception as exc:  # the boundary of one person: nothing their server answers stops the others
            # The client library failed in a way it does not declare (caldav 3.6 raises AttributeError on some
            # bodies, niquests KeyError on a broken Digest challenge): a server's answer it was not made for.
            # Logged here, once, with the traceback, for whoever reports it upstream; the person gets a sentence.
            logger.exception("CalDAV %s: the client library failed on the server's answer", source)
            return _Outcome(Busy(error=f"{source}: the CalDAV server's answer could not be read "
                                       f"({type(exc).__name__})"))
        return _Outcome(busy)

    def _client(self, url: str) -> DAVClient:
        client = DAVClient(
            url=url,
            username=self._username,
            password=self._password,
            timeout=self.timeout,  # type: ignore[arg-type]
            # Retries are ours (bounded, Retry-After capped, injectable sleep), not the library's.
            rate_limit_handle=False,
            # The URL names its collection: no DNS-based service discovery, no connection but to it.
            enable_rfc6764=False,
        )
        guard_session(client.session, self.addresses)
        return client

    def _read(self, client: DAVClient, url: str, window: Interval, zone: str, source: str) -> Busy:
        """One attempt: the events, else (where they may not be read) free-busy-query. Raises ``Transient``
        or ``CalendarError``."""
        try:
            return self._events(client, url, window, zone, source)
        except _StatusError as refused:
            if refused.status not in _EVENTS_REFUSED:
                raise
            logger.debug("CalDAV %s: events not readable (HTTP %s); asking free-busy-query", source, refused.status)
            busy = self._free_busy(client.calendar(url=url), window, zone, source)
            if busy is None:
                raise refused from None
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

    def _events(self, client: DAVClient, url: str, window: Interval, zone: str, source: str) -> Busy:
        """Busy time from the events overlapping the window (calendar-query), expanded and classified as ICS."""
        query = _calendar_query(window.start - _QUERY_MARGIN, window.end + _QUERY_MARGIN)
        with self._translated(source):
            response = client.report(url, query, depth=1)
            if response.status >= 400:
                raise _status_error(response.status, source)
            # An empty body parses to no tree, which the library reads as "no events": a server that answered
            # nothing must not make the person look free.
            tree: Any = response.tree
            if response.status != 207 or tree is None or tree.tag != _MULTISTATUS:
                what = "an empty answer" if tree is None else "an answer that is not a CalDAV multistatus"
                raise CalendarError(f"the server sent {what} (HTTP {response.status}) to a calendar-query",
                                    source=source)
            found = [result for result in response.parse_calendar_query() if result.status == 200]
        texts = [result.calendar_data for result in found if result.calendar_data and result.calendar_data.strip()]
        if len(texts) < len(found):
            raise CalendarError(f"the server's calendar-query answer leaves out the data (calendar-data) of "
                                f"{len(found) - len(texts)} of the {len(found)} events it lists", source=source)
        parts = [text if text.endswith("\n") else text + "\n" for text in texts]
        if not parts:
            return Busy()
        if sum(len(part) for part in parts) > MAX_CALENDAR_BYTES:
            raise CalendarError(f"the events of the window exceed {MAX_CALENDAR_BYTES // 2**20} MB", source=source)
        # read_busy reads several VCALENDARs in one text: each object the server sent is one of them.
        return read_busy("".join(parts), window, zone, source=source)

    @contextmanager
    def _translated(self, source: str) -> Iterator[None]:
        """Turn the client library's failures into ``Transient`` (try again) or ``_StatusError`` /
        ``CalendarError`` (this person's)."""
        try:
            yield
        except AddressRefused as exc:
            # Nothing was connected to (or nothing sent): the same words whatever listens there.
            raise CalendarError(exc.message, source=source) from None
        except dav_error.RateLimitError as exc:
            # The raw header, read by the shared parser like every connector's (seconds or an HTTP date).
            raise Transient(f"HTTP {exc.status or 429}", retry_after=retry_after_seconds(exc.retry_after)) from None
        except dav_error.AuthorizationError as exc:
            if exc.status == 401:
                hint = f"; check {self._login_hint}" if self._login_hint else ""
                login = "" if self._username is not None else " (no CalDAV login is configured)"
                message = f"the server refused the CalDAV login{login} (HTTP 401){hint}"
                raise _StatusError(message, 401, source) from None
            raise _status_error(403, source) from None
        except dav_error.NotFoundError:
            raise _status_error(404, source) from None
        except dav_error.DAVError as exc:
            if exc.status is not None:
                raise _status_error(exc.status, source) from None
            raise _StatusError(f"the server refused the request ({_short(exc.reason)})", None, source) from None
        except http_library.exceptions.Timeout:
            raise _Unreachable(f"no answer within {self.timeout:g} s") from None
        except http_library.exceptions.ConnectionError as exc:
            raise _Unreachable(_connection_reason(exc)) from None
        except http_library.exceptions.TooManyRedirects:
            raise CalendarError("the server redirects in a loop (too many redirects)", source=source) from None
        except http_library.exceptions.RequestException as exc:
            # Invalid URLs, redirects to other schemes, broken chunked bodies: nothing a retry would fix.
            raise CalendarError(f"the request failed ({type(exc).__name__})", source=source) from None
        except (lxml.etree.LxmlError, ValueError) as exc:
            # The server's answer is not the XML (or iCalendar) CalDAV prescribes.
            raise CalendarError(f"the CalDAV server's answer could not be read: it is not XML "
                                f"({type(exc).__name__})", source=source) from None


def _status_error(status: int, source: str) -> Transient | _StatusError:
    """What an HTTP error status means for one person: ``Transient`` for 429 and 5xx (but 501), else theirs."""
    if (status in TRANSIENT_STATUSES or status >= 500) and status != 501:
        return Transient(f"HTTP {status}")
    if status == 403:
        return _StatusError("no permission to read this calendar (HTTP 403)", 403, source)
    if status == 404:
        return _StatusError("no calendar collection at this address (HTTP 404)", 404, source)
    return _StatusError(f"the server refused the request (HTTP {status})", status, source)


def _calendar_query(start: datetime, end: datetime) -> str:
    """The calendar-query REPORT body for the events overlapping ``start``–``end``, with their data."""
    events = cdav.CompFilter("VEVENT") + cdav.TimeRange(start, end)
    wanted = dav.Prop() + cdav.CalendarData()
    root = cdav.CalendarQuery() + wanted + (cdav.Filter() + (cdav.CompFilter("VCALENDAR") + events))
    return lxml.etree.tostring(root.xmlelement(), encoding="unicode")


class _StatusError(CalendarError):
    """A person's error that came with an HTTP status, so the free-busy step can tell "unsupported" apart."""

    def __init__(self, message: str, status: int | None, source: str) -> None:
        self.status = status
        super().__init__(message, source=source)


def parse_free_busy(text: str, window: Interval, zone: str) -> Busy | None:
    """Busy and tentative time of a free-busy answer (VCALENDAR with VFREEBUSY components), clipped to
    ``window``; ``None`` when the text is not iCalendar, cannot be read, or holds no VFREEBUSY, so that the
    caller falls back to what reading the events said.

    The periods are read by ``integrations.ics_feed.read_free_busy``, the one reader of free/busy text (FBTYPE
    ``BUSY``, ``BUSY-UNAVAILABLE`` and unknown types busy, ``BUSY-TENTATIVE`` tentative, ``FREE`` nothing).
    """
    try:
        return read_free_busy(text, window, zone, source="the CalDAV free-busy answer")
    except CalendarError:
        return None


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


def build_caldav_calendar(
    config: CalDavConfig, *, retry: CallRetry | None = None, allowed_hosts: Sequence[str] = ()
) -> CalDavCalendar:
    """The CalDAV provider for ``config``: credentials from the variables it names (both set, or neither), and
    connections allowed to the hosts of ``servers`` and ``allowed_hosts`` (``[calendar] allowed_hosts``) besides
    public addresses.

    Raises ``ConfigError`` when only one of the two variables is set, when a login is configured but
    ``servers`` lists no server (the login would go to whatever server a profile names), or when a server in
    ``servers`` is not an http(s) URL.
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
        raise ConfigError(
            f"a CalDAV login is configured ({config.username_env}) but no server is listed: list your CalDAV "
            "servers here, so that the login is never sent to a server a profile names",
            key="calendar.caldav.servers",
        )
    return CalDavCalendar(
        username=username,
        password=password,
        concurrency=config.concurrency,
        timeout=config.timeout_seconds,
        retry=retry,
        login_hint=f"{config.username_env} and {config.password_env}",
        servers=config.servers,
        allowed_hosts=allowed_hosts,
    )
