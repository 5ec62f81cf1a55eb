"""Google Calendar: free/busy of a Workspace organisation, and meeting events booked from an organizer mailbox.

``GoogleCalendar`` implements both ``CalendarProvider`` and ``EventCalendar`` (their contracts are in
``scheduler/ports.py``) through google-api-python-client, built from the discovery document the library ships, so
nothing is fetched at start-up. It signs in as a service account with domain-wide delegation, impersonating the
organizer, with two credentials of least privilege: ``calendar.freebusy`` for reading anyone's free/busy and
``calendar.events`` for the organizer's own events.

How it talks to Google:

- freeBusy asks for at most 50 calendars per call over windows cut into pieces of at most
  ``MAX_FREEBUSY_SPAN``; the calls run at most ``concurrency`` at a time. Only start and end times are read from
  the answers (Google's freeBusy has no tentative time: everything it returns is busy).
- Every call goes through ``integrations.http.call_with_retries``: 429, 5xx, timeouts, connection failures,
  answers that cannot be read and Google's 403 ``rateLimitExceeded`` / ``userRateLimitExceeded`` are retried,
  honouring ``Retry-After``; other 4xx are not. The client library's own ``num_retries`` is not used: it
  ignores ``Retry-After``.
- A calendar that Google answers with ``internalError`` or ``backendError`` (its own transient trouble) is asked
  again, alone with the others that got one, within the same bounded retries; ``notFound`` and the other reasons
  are that person's error at once.
- A freeBusy batch that still fails after its retries, or whose answer cannot be read, is asked again in halves
  down to single people (``integrations.http.read_in_halves``): the other batches' answers, and the rest of
  this batch's, are kept. A calendar whose part of an answer is malformed is that person's error alone.
  ``ProviderUnavailable`` means that nothing at all could be read: Google is down or refuses the service
  account (no delegation, the project's quota spent).
- 403 ``quotaExceeded`` / ``dailyLimitExceeded`` on an event call is the organizer mailbox's calendar usage
  limit, which lifts after hours: the ``DeliveryError`` is transient with ``retry_after`` of an hour
  (``USAGE_LIMIT_RETRY_AFTER``), so the outbox tries again later (up to its ``max_attempts``) instead of
  giving up.
- httplib2 is not thread-safe, so each client (an ``httplib2.Http`` with its own timeout, wrapped in
  ``AuthorizedHttp``, and the service built on it) is lent to one thread at a time by a small pool; the pool
  keeps connections alive across calls and ``close`` releases them.
- Events get an id derived from the meeting's UID (``event_id_for``), so a retry after an unknown outcome finds
  the first attempt's event (409) instead of booking a second one.

The service account's key stays inside the google-auth credentials: it is never stored on this object, logged or
put in a message, and neither is an access token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import queue
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2 import service_account
from googleapiclient import discovery
from googleapiclient.errors import Error as GoogleClientError
from googleapiclient.errors import HttpError

from integrations.http import (
    TRANSIENT_STATUSES,
    BatchFailed,
    BatchOutcome,
    BatchRound,
    CallRetry,
    ProviderRefused,
    Transient,
    call_with_retries,
    chunks,
    read_in_halves,
    retry_after_seconds,
    run_concurrently,
)
from scheduler.config import GoogleConfig, secret
from scheduler.errors import ConfigError, DeliveryError, ProviderUnavailable
from scheduler.model import Busy, Interval, Invite, Person, merge_intervals

T = TypeVar("T")
# What one freeBusy batch says of each calendar asked: its busy intervals, or the reason it was not read.
_BatchAnswer = dict[str, tuple[list[Interval], str | None]]

log = logging.getLogger(__name__)

FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"

# Google answers freeBusy for at most 50 calendars a call (calendarExpansionMax).
MAX_CALENDARS_PER_CALL = 50
# Google refuses freeBusy ranges of 90 days or more ("The requested time range is too long"); the exact limit is
# not documented, so pieces stay well under it. Planning windows are days to weeks: one piece in practice.
MAX_FREEBUSY_SPAN = timedelta(days=60)

# 403 is transient within a call only for these reasons.
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# 403 for these is a usage limit that lifts after hours: on freeBusy the project's quota (nothing can be read
# this cycle), on event calls the organizer mailbox's "Calendar usage limits exceeded" (try again later).
USAGE_LIMIT_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
# How long an event call waits after a usage limit: long enough for the limit to lift, short enough that the
# outbox's ladder still delivers the invitation the same day.
USAGE_LIMIT_RETRY_AFTER = 3600.0
# Per-calendar freeBusy reasons that are Google's own passing trouble: that calendar is asked again.
TRANSIENT_CALENDAR_REASONS = frozenset({"internalError", "backendError"})

# Per-calendar freeBusy errors, in words for the person and the admin reading the cycle's report.
CALENDAR_ERRORS = {
    "notFound": "Google says this calendar does not exist or is not shared with the organisation",
    "internalError": "Google could not read this calendar just now (an internal error at Google)",
    "backendError": "Google could not read this calendar just now (an internal error at Google)",
    "groupTooBig": "this address is a group too large for Google to expand; use a person's own address",
    "tooManyCalendarsRequested": "Google was asked for too many calendars at once",
}


def event_id_for(uid: str) -> str:
    """The Google event id for an invite UID: the base32hex sha256 of the UID, lower case, without padding.

    Google accepts client-chosen ids of 5–1024 characters from ``a-v`` and ``0-9``; the same UID always gives the
    same id, which is what makes ``create_event`` safe to repeat.
    """
    digest = hashlib.sha256(uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()


def conference_request_id(uid: str) -> str:
    """The Meet ``createRequest.requestId`` for an invite UID: stable, so a repeated create asks for one link."""
    return "coffeechat-" + hashlib.sha256(f"meet:{uid}".encode()).hexdigest()[:32]


def split_window(window: Interval, span: timedelta = MAX_FREEBUSY_SPAN) -> list[Interval]:
    """``window`` cut into consecutive pieces of at most ``span``; no piece for an empty window."""
    pieces: list[Interval] = []
    start = window.start
    while start < window.end:
        end = min(start + span, window.end)
        pieces.append(Interval(start, end))
        start = end
    return pieces


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as Google writes it (``2026-11-23T09:00:00Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time from Google, in UTC; ``ValueError`` when it has no offset or is not a time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset: {text!r}")
    return moment.astimezone(UTC)


class _Unreachable(Transient):
    """A transient failure below HTTP (timeout, refused or reset connection)."""


class _Unreadable(Transient):
    """An answer that is not what Google sends (not JSON, not an object, no ``calendars``): a truncated answer
    or a proxy's page, which may pass."""


class _CalendarsPending(Transient):
    """Some calendars of a freeBusy answer had Google's own passing trouble and are to be asked again."""


class _Refused(Exception):
    """A permanent failure of one call: Google said no, and asking again will not change that."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class _UsageLimit(_Refused):
    """403 ``quotaExceeded`` / ``dailyLimitExceeded``: not worth retrying within the call, but the limit lifts
    after hours. ``retry_after`` is how long to wait (at least ``USAGE_LIMIT_RETRY_AFTER``)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=403)


@dataclass
class _Client:
    """One ``httplib2.Http`` (with its connections) and the Calendar service built on it."""

    http: google_auth_httplib2.AuthorizedHttp
    service: Any


class _ClientPool:
    """Clients lent to one thread at a time (httplib2 is not thread-safe), made on demand and reused.

    A client whose call ended in a transport failure (timeout, reset) has its connections closed before it is
    lent again: a connection may still be waiting for the late answer to the request that timed out.
    """

    def __init__(self, make: Callable[[], _Client]) -> None:
        self._make = make
        self._idle: queue.SimpleQueue[_Client] = queue.SimpleQueue()
        self._all: list[_Client] = []

    @contextmanager
    def lend(self) -> Iterator[_Client]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._make()
            self._all.append(client)
        try:
            yield client
        except _Unreachable:
            client.http.close()  # httplib2 reconnects on the next request
            raise
        finally:
            self._idle.put(client)

    def close(self) -> None:
        for client in self._all:
            client.http.close()


class GoogleCalendar:
    """``CalendarProvider`` and ``EventCalendar`` for Google Workspace, through a service account.

    ``key_info`` is the service account's JSON key file, parsed. ``organizer`` is the mailbox impersonated for
    every call: its free/busy view of the organisation is read, and its primary calendar holds the events.
    ``endpoint`` and ``token_uri`` only change for a proxy or a test server; ``timeout`` bounds each HTTP call;
    ``retry`` and ``sleep`` control the retries.

    One calendar, or one batch, that cannot be read is the error of the people it concerns (a failing batch is
    asked again in halves, down to single people); ``fetch_busy`` raises ``ProviderUnavailable`` only when
    nothing at all could be read: Google down after the retries, or refusing the service account.
    """

    def __init__(
        self,
        key_info: Mapping[str, Any],
        *,
        organizer: str,
        endpoint: str = "https://www.googleapis.com/calendar/v3/",
        token_uri: str = "https://oauth2.googleapis.com/token",  # noqa: S107 - a URL, not a secret
        concurrency: int = 4,
        timeout: float = 30.0,
        retry: CallRetry = CallRetry(),  # noqa: B008 - a frozen value
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not organizer:
            raise ValueError("the Google organizer mailbox is required")
        self.organizer = organizer.strip().lower()
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry
        self._sleep = sleep
        signed_in = _credentials(key_info, token_uri, self.organizer)
        # Two tokens of least privilege; with_scopes copies the parsed key instead of parsing it again.
        reader = signed_in.with_scopes([FREEBUSY_SCOPE])
        writer = signed_in.with_scopes([EVENTS_SCOPE])
        self._readers = _ClientPool(lambda: self._client(reader))
        self._writers = _ClientPool(lambda: self._client(writer))

    @classmethod
    def from_config(cls, config: GoogleConfig, *, sleep: Callable[[float], None] = time.sleep) -> GoogleCalendar:
        """Build from ``[calendar.google]``; the key file's JSON comes from the variable it names.

        Raises ``ConfigError`` naming the variable or key when something is missing (never showing the key).
        """
        variable = config.service_account_key_env
        text = secret(variable)
        if text is None:
            raise ConfigError(f"set the environment variable {variable} to the service account's JSON key",
                              key="calendar.google.service_account_key_env")
        try:
            info = json.loads(text)
        except ValueError:
            raise ConfigError(f"the environment variable {variable} does not hold JSON; it should hold the "
                              "service account's key file", key="calendar.google.service_account_key_env") from None
        if not isinstance(info, dict):
            raise ConfigError(f"the environment variable {variable} should hold the service account's key file "
                              "(a JSON object)", key="calendar.google.service_account_key_env")
        if not config.organizer:
            raise ConfigError("name the organizer mailbox that the service account impersonates",
                              key="calendar.google.organizer")
        try:
            return cls(info, organizer=config.organizer, endpoint=config.endpoint, token_uri=config.token_uri,
                       concurrency=config.concurrency, timeout=config.timeout_seconds, sleep=sleep)
        except ValueError as exc:
            raise ConfigError(f"{exc} (from {variable})", key="calendar.google.service_account_key_env") from None

    def __repr__(self) -> str:
        return f"GoogleCalendar(organizer={self.organizer!r}, endpoint={self.endpoint!r})"

    def close(self) -> None:
        """Close every kept-alive connection."""
        self._readers.close()
        self._writers.close()

    # --- CalendarProvider -------------------------------------------------------------------------------

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (contract: ``CalendarProvider``).

        A person whose calendar, or whose batch, still cannot be read after the retries and the halving gets
        ``Busy(error=...)`` in plain words; everyone else is read as usual. Raises ``ProviderUnavailable`` only
        when nothing at all could be read: Google down after the retries, or refusing the service account (no
        delegation, quota spent).
        """
        answers: dict[str, Busy] = {}
        owners: dict[str, list[str]] = {}  # calendar id -> emails of the people it answers for
        for person in people:
            kind = person.calendar.kind
            if kind not in ("google", "none"):
                answers[person.email] = Busy(error=f"a {kind} calendar cannot be read through Google")
                continue
            calendar_id = (person.calendar.location if kind == "google" else "") or person.email
            owners.setdefault(calendar_id.strip().lower(), []).append(person.email)
        pieces = split_window(window)
        jobs = [(batch, piece) for batch in chunks(sorted(owners), MAX_CALENDARS_PER_CALL) for piece in pieces]
        round_ = BatchRound()

        def read(job: tuple[Sequence[str], Interval]) -> BatchOutcome[str, _BatchAnswer]:
            batch, piece = job
            return read_in_halves(lambda part: self._read_batch(part, piece, round_), batch, round_)

        outcomes = run_concurrently(read, jobs, limit=self.concurrency)
        failures = [(part, reason) for outcome in outcomes for part, reason in outcome.failed]
        if failures and not any(outcome.read for outcome in outcomes):
            raise ProviderUnavailable(failures[0][1])
        busy: dict[str, list[Interval]] = {calendar_id: [] for calendar_id in owners}
        errors: dict[str, str] = {}
        for outcome in outcomes:
            for _, answer in outcome.read:
                for calendar_id, (intervals, error) in answer.items():
                    busy[calendar_id].extend(intervals)
                    if error is not None:
                        errors.setdefault(calendar_id, error)
        for part, reason in failures:
            for calendar_id in part:
                errors.setdefault(calendar_id, reason)
        if failures:
            unread = {calendar_id for part, _ in failures for calendar_id in part}
            log.warning("%d of %d Google calendars could not be read: %s", len(unread), len(owners), failures[0][1])
        for calendar_id, emails in owners.items():
            if calendar_id in errors:
                result = Busy(error=errors[calendar_id])
            else:
                result = Busy(busy=merge_intervals(c for i in busy[calendar_id] if (c := i.clip(window))))
            for email in emails:
                answers[email] = result
        return answers

    def _read_batch(self, calendar_ids: Sequence[str], piece: Interval, round_: BatchRound) -> _BatchAnswer:
        """One freeBusy batch over one piece of the window: each calendar's busy intervals, or the reason it
        was not read.

        Calendars Google could not read just now (``internalError``, ``backendError``) are asked again, on their
        own, within the same bounded retries. Raises ``BatchFailed`` when the batch as a whole could not be read
        (retries spent, an answer that is no freeBusy answer, anything unforeseen) and ``ProviderRefused`` when
        Google refuses the call whatever it asks.
        """
        answers: _BatchAnswer = {}
        pending = list(calendar_ids)

        def attempt() -> None:
            nonlocal pending
            body = {"timeMin": rfc3339(piece.start), "timeMax": rfc3339(piece.end), "timeZone": "UTC",
                    "items": [{"id": calendar_id} for calendar_id in pending]}
            query = self._call_once(self._readers, lambda service: service.freebusy().query(body=body))
            calendars = _calendars_of(query)
            again = []
            for calendar_id in pending:
                intervals, error, transient = _read_calendar(calendars.get(calendar_id))
                answers[calendar_id] = (intervals, error)
                if transient:
                    again.append(calendar_id)
            pending = again
            if pending:
                raise _CalendarsPending(f"Google could not read {len(pending)} calendars just now")

        try:
            call_with_retries(attempt, self.retry, sleep=self._sleep)
        except _CalendarsPending:
            pass  # their last answer's reason stays theirs
        except _Unreadable as exc:
            if not answers:
                raise BatchFailed(f"Google Calendar's freeBusy answer could not be read: {exc}") from None
        except Transient as exc:
            if not answers:
                raise BatchFailed(f"Google Calendar is unavailable (freeBusy): {exc}") from None
            # Only the asking again of calendars Google could not read failed: they keep that reason.
        except _Refused as exc:
            if exc.status == 400:  # a refusal of what was asked may lie in one calendar id of the batch
                raise BatchFailed(f"Google Calendar refused freeBusy: {exc}") from None
            raise ProviderRefused(f"Google Calendar refused freeBusy: {exc}") from None
        except Exception as exc:  # the per-batch boundary: a library bug or an answer nobody foresaw
            what = f"a Google freeBusy answer for {len(calendar_ids)} calendars"
            raise BatchFailed(round_.unforeseen(exc, log, what, "Google Calendar")) from exc
        return answers

    # --- EventCalendar ----------------------------------------------------------------------------------

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        """Create the event for ``invite`` in the organizer's calendar, Google inviting the attendees; when a
        previous attempt already created it (409), return its id and create nothing.

        Google keeps a deleted event's id for good, so a 409 may also mean the meeting was cancelled since: the
        event is then restored (status confirmed, with the invite's times and attendees) rather than left deleted.
        """
        event_id = event_id_for(invite.uid)
        body = {"id": event_id, **_event_fields(invite)}
        extra: dict[str, Any] = {}
        if online_meeting:
            body["conferenceData"] = {"createRequest": {"requestId": conference_request_id(invite.uid),
                                                        "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
            extra["conferenceDataVersion"] = 1

        def insert(service: Any) -> Any:
            return service.events().insert(calendarId="primary", body=body, sendUpdates="all", **extra)

        if self._deliver("create", invite, insert, tolerate=frozenset({409})) is not None:
            return event_id

        def get(service: Any) -> Any:
            return service.events().get(calendarId="primary", eventId=event_id)

        def restore(service: Any) -> Any:
            return service.events().patch(calendarId="primary", eventId=event_id, sendUpdates="all",
                                          body={**_event_fields(invite), "status": "confirmed"})

        existing = self._deliver("create", invite, get)
        if existing is not None and existing.get("status") == "cancelled":
            self._deliver("create", invite, restore)
        return event_id

    def update_event(self, invite: Invite) -> None:
        """Make the event match ``invite`` (times, attendees, text, sequence) and notify the attendees."""
        event_id = event_id_for(invite.uid)
        body = _event_fields(invite)

        def patch(service: Any) -> Any:
            return service.events().patch(calendarId="primary", eventId=event_id, body=body, sendUpdates="all")

        self._deliver("update", invite, patch)

    def cancel_event(self, invite: Invite) -> None:
        """Delete the event, Google telling the attendees; an event already gone (404, 410) is fine."""
        event_id = event_id_for(invite.uid)

        def delete(service: Any) -> Any:
            return service.events().delete(calendarId="primary", eventId=event_id, sendUpdates="all")

        self._deliver("cancel", invite, delete, tolerate=frozenset({404, 410}))

    def _deliver(self, action: str, invite: Invite, request: Callable[[Any], Any],
                 tolerate: frozenset[int] = frozenset()) -> Any:
        """Run one event call with retries and return Google's answer; ``None`` for a status in ``tolerate``
        (the wanted state already holds) or an empty answer."""
        try:
            return self._call(self._writers, request, tolerate=tolerate)
        except _UsageLimit as exc:
            raise DeliveryError(f"Google Calendar could not {action} the event for {invite.uid} now (the organizer's "
                                f"calendar usage limits; it is tried again later): {exc}", transient=True,
                                retry_after=exc.retry_after) from None
        except Transient as exc:
            raise DeliveryError(f"Google Calendar could not {action} the event for {invite.uid}: {exc}",
                                transient=True, retry_after=exc.retry_after) from None
        except _Refused as exc:
            hint = " (it does not exist)" if exc.status in (404, 410) else ""
            raise DeliveryError(f"Google Calendar refused to {action} the event for {invite.uid}{hint}: {exc}",
                                transient=False) from None

    # --- plumbing ---------------------------------------------------------------------------------------

    def _client(self, credentials: service_account.Credentials) -> _Client:
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=self.timeout))
        service = discovery.build("calendar", "v3", http=http, static_discovery=True, cache_discovery=False,
                                  client_options={"api_endpoint": self.endpoint})
        return _Client(http, service)

    def _call(self, pool: _ClientPool, request: Callable[[Any], Any],
              tolerate: frozenset[int] = frozenset()) -> Any:
        """Execute ``request(service)`` with a lent client, retrying transient failures (see the module doc)."""
        return call_with_retries(lambda: self._call_once(pool, request, tolerate), self.retry, sleep=self._sleep)

    def _call_once(self, pool: _ClientPool, request: Callable[[Any], Any],
                   tolerate: frozenset[int] = frozenset()) -> Any:
        """One attempt of ``request(service)``: Google's answer (a JSON object), ``None`` for a status in
        ``tolerate``; ``Transient`` for what may pass and ``_Refused`` for the rest."""
        with pool.lend() as client:
            try:
                answer = request(client.service).execute(num_retries=0)
            except HttpError as exc:
                if exc.resp.status in tolerate:
                    return None
                raise _translate_http_error(exc) from None
            except google.auth.exceptions.RefreshError as exc:
                raise _translate_refresh_error(exc) from None
            except google.auth.exceptions.TransportError as exc:
                raise _Unreachable(f"cannot reach Google's token endpoint ({_describe_os_error(exc)})") from None
            except TimeoutError:
                raise _Unreachable(f"no answer within {self.timeout:g} s") from None
            except (OSError, httplib2.HttpLib2Error) as exc:
                raise _Unreachable(f"cannot reach Google ({_describe_os_error(exc)})") from None
            except (GoogleClientError, ValueError) as exc:
                # An answer the library cannot decode (not UTF-8, an unexpected body): a truncated answer or a
                # proxy's page, which may pass.
                raise _Unreadable(f"Google answered with something Coffee Chat cannot read "
                                  f"({type(exc).__name__})") from None
        # The library hands a 200 that is not JSON back as text: a proxy's page, or not Google at all. (An
        # empty answer is what methods without a response body, such as delete, give.)
        if not isinstance(answer, dict) and answer not in (None, b"", ""):
            raise _Unreadable("Google answered with something that is not a JSON object")
        return answer


def _credentials(key_info: Mapping[str, Any], token_uri: str, subject: str) -> service_account.Credentials:
    """Service-account credentials impersonating ``subject`` (domain-wide delegation), not yet scoped."""
    missing = [name for name in ("client_email", "private_key") if not key_info.get(name)]
    if missing:
        raise ValueError(f"the Google service account key has no {', '.join(missing)}; use the JSON key file "
                         "downloaded for the service account")
    info = {**key_info, "token_uri": token_uri}
    try:
        return service_account.Credentials.from_service_account_info(info, subject=subject)
    except ValueError:
        # The library's message may quote the key's parsing failure; ours says what is wrong and nothing more.
        raise ValueError("the Google service account's private key cannot be read (expected the PEM key of a "
                         "JSON key file)") from None


def _event_fields(invite: Invite) -> dict[str, Any]:
    """The fields an event shares between insert and patch (a patch replaces the attendee list whole)."""
    return {
        "summary": invite.summary,
        "description": invite.description,
        "location": invite.location,
        "start": {"dateTime": rfc3339(invite.start), "timeZone": "UTC"},
        "end": {"dateTime": rfc3339(invite.end), "timeZone": "UTC"},
        "attendees": [{"email": a.email, "displayName": a.name} for a in invite.attendees],
        "sequence": invite.sequence,
    }


def _calendars_of(answer: Any) -> Mapping[str, Any]:
    """The ``calendars`` of a freeBusy answer, keyed by lower-case id; ``_Unreadable`` when there is none."""
    calendars = answer.get("calendars") if isinstance(answer, dict) else None
    if not isinstance(calendars, dict):
        raise _Unreadable("Google answered freeBusy without the calendars asked for")
    return {str(key).lower(): value for key, value in calendars.items()}


def _read_calendar(answer: object) -> tuple[list[Interval], str | None, bool]:
    """One calendar of a freeBusy answer: its busy intervals (times only), or the reason it was not read, and
    whether that reason is Google's passing trouble (worth asking again).

    Every part of the answer is checked for its type: a malformed calendar is its owner's error, in words,
    never an exception and never "free".
    """
    if answer is None:
        return [], "Google did not answer for this calendar", False
    if not isinstance(answer, dict):
        return [], "Google answered for this calendar with something that is not a calendar", False
    errors = answer.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) else None
        reason = str(first.get("reason") or "unknown") if isinstance(first, dict) else "unknown"
        message = CALENDAR_ERRORS.get(reason, f"Google could not read this calendar ({reason})")
        return [], message, reason in TRANSIENT_CALENDAR_REASONS
    periods = answer.get("busy")
    if not isinstance(periods, list):
        # Google always sends the list, empty when the calendar is free: without it, free cannot be told from
        # unread.
        return [], "Google answered for this calendar without its busy times", False
    intervals = []
    for period in periods:
        try:
            start, end = parse_rfc3339(period["start"]), parse_rfc3339(period["end"])
        except (KeyError, TypeError, ValueError, OverflowError):
            return [], "Google answered with a busy time that cannot be read", False
        if start < end:
            intervals.append(Interval(start, end))
    return intervals, None, False


def _error_detail(exc: HttpError) -> tuple[str, str]:
    """Google's first error reason and its message from an error body (both may be empty)."""
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        reason = str((error.get("errors") or [{}])[0].get("reason", ""))
        return reason, str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return "", ""


def _translate_http_error(exc: HttpError) -> Exception:
    """``Transient`` for 429, 5xx and Google's 403 rate limits; ``_Refused`` for everything else."""
    status = exc.resp.status
    reason, message = _error_detail(exc)
    described = f"HTTP {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
    if status in TRANSIENT_STATUSES or (status == 403 and reason in RATE_LIMIT_REASONS):
        return Transient(described, retry_after=retry_after_seconds(exc.resp.get("retry-after")))
    if status == 403 and reason in USAGE_LIMIT_REASONS:
        hint = retry_after_seconds(exc.resp.get("retry-after")) or 0.0
        return _UsageLimit(described, retry_after=max(hint, USAGE_LIMIT_RETRY_AFTER))
    if status == 403 and reason == "insufficientPermissions":
        described += " (is the scope granted to the service account through domain-wide delegation?)"
    return _Refused(described, status=status)


def _translate_refresh_error(exc: google.auth.exceptions.RefreshError) -> Exception:
    """A failed sign-in: the token endpoint's own error code and description, never the assertion."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    code = str(data.get("error", "")) or "refused"
    description = str(data.get("error_description", ""))
    described = f"the service account's sign-in was refused: {code}" + (f" ({description})" if description else "")
    if code == "unauthorized_client":
        described += "; grant the scope to the service account's client ID under domain-wide delegation"
    if getattr(exc, "retryable", False):
        return Transient(described)
    return _Refused(described)


def _describe_os_error(exc: BaseException) -> str:
    """A connection failure in a few words (a wrapped library error is unwrapped first)."""
    cause = exc.args[0] if isinstance(exc, google.auth.exceptions.TransportError) and exc.args else exc
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__
