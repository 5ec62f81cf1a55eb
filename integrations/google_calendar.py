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
- Every call goes through ``integrations.http.call_with_retries``: 429, 5xx, timeouts, connection failures and
  Google's 403 ``rateLimitExceeded`` / ``userRateLimitExceeded`` are retried, honouring ``Retry-After``;
  403 ``quotaExceeded`` and other 4xx are not. The client library's own ``num_retries`` is not used: it ignores
  ``Retry-After``.
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
import queue
import threading
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
    CallRetry,
    Transient,
    call_with_retries,
    chunks,
    retry_after_seconds,
    run_concurrently,
)
from scheduler.config import GoogleConfig, secret
from scheduler.errors import ConfigError, DeliveryError, ProviderUnavailable
from scheduler.model import Busy, Interval, Invite, Person, merge_intervals

T = TypeVar("T")

FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"

# Google answers freeBusy for at most 50 calendars a call (calendarExpansionMax).
MAX_CALENDARS_PER_CALL = 50
# Google refuses freeBusy ranges of 90 days or more ("The requested time range is too long"); the exact limit is
# not documented, so pieces stay well under it. Planning windows are days to weeks: one piece in practice.
MAX_FREEBUSY_SPAN = timedelta(days=60)

# 403 is transient only for these reasons; quotaExceeded (the daily quota) is not.
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})

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


class _Refused(Exception):
    """A permanent failure of one call: Google said no, and asking again will not change that."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


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

        Raises ``ProviderUnavailable`` when a freeBusy call still fails after the retries, or Google refuses the
        service account (no delegation, quota spent): no person's answer would mean anything then.
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
        busy: dict[str, list[Interval]] = {calendar_id: [] for calendar_id in owners}
        errors: dict[str, str] = {}
        given_up = threading.Event()

        def query(job: tuple[Sequence[str], Interval]) -> dict[str, tuple[list[Interval], str | None]]:
            # Once one batch has failed for good the whole answer is lost: the batches not yet started are
            # skipped instead of each spending its own retries on a service that is down.
            if given_up.is_set():
                return {}
            try:
                return self._query(*job)
            except ProviderUnavailable:
                given_up.set()
                raise

        for answer in run_concurrently(query, jobs, limit=self.concurrency):
            for calendar_id, (intervals, error) in answer.items():
                busy[calendar_id].extend(intervals)
                if error is not None:
                    errors.setdefault(calendar_id, error)
        for calendar_id, emails in owners.items():
            if calendar_id in errors:
                result = Busy(error=errors[calendar_id])
            else:
                result = Busy(busy=merge_intervals(c for i in busy[calendar_id] if (c := i.clip(window))))
            for email in emails:
                answers[email] = result
        return answers

    def _query(self, calendar_ids: Sequence[str], piece: Interval) -> dict[str, tuple[list[Interval], str | None]]:
        """One freeBusy call: each calendar's busy intervals, or the reason it could not be read."""
        body = {"timeMin": rfc3339(piece.start), "timeMax": rfc3339(piece.end), "timeZone": "UTC",
                "items": [{"id": calendar_id} for calendar_id in calendar_ids]}
        try:
            answer = self._call(self._readers, lambda service: service.freebusy().query(body=body))
        except Transient as exc:
            raise ProviderUnavailable(f"Google Calendar is unavailable (freeBusy): {exc}") from None
        except _Refused as exc:
            raise ProviderUnavailable(f"Google Calendar refused freeBusy: {exc}") from None
        calendars = {key.lower(): value for key, value in (answer.get("calendars") or {}).items()}
        return {calendar_id: _read_calendar(calendars.get(calendar_id)) for calendar_id in calendar_ids}

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

        def attempt() -> Any:
            with pool.lend() as client:
                try:
                    return request(client.service).execute(num_retries=0)
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
                    # A 200 that is not JSON, or JSON of the wrong shape: a proxy page, or not Google at all.
                    raise _Refused(f"unexpected answer from Google ({type(exc).__name__})") from None

        return call_with_retries(attempt, self.retry, sleep=self._sleep)


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


def _read_calendar(answer: Mapping[str, Any] | None) -> tuple[list[Interval], str | None]:
    """One calendar of a freeBusy answer: its busy intervals (times only) or the reason it was not read."""
    if answer is None:
        return [], "Google did not answer for this calendar"
    errors = answer.get("errors") or []
    if errors:
        reason = str(errors[0].get("reason", "unknown"))
        return [], CALENDAR_ERRORS.get(reason, f"Google could not read this calendar ({reason})")
    intervals = []
    for period in answer.get("busy") or []:
        try:
            start, end = parse_rfc3339(period["start"]), parse_rfc3339(period["end"])
        except (KeyError, TypeError, ValueError):
            return [], "Google answered with a busy time that cannot be read"
        if start < end:
            intervals.append(Interval(start, end))
    return intervals, None


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
