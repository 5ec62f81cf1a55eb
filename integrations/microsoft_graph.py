"""Microsoft 365 calendars through Microsoft Graph: free/busy with ``getSchedule``, meeting events in the
organizer's mailbox.

``GraphCalendar`` is both a ``CalendarProvider`` (busy time of many people) and an ``EventCalendar`` (create,
move and cancel the meeting event; Exchange then sends the invitations itself). It signs in as an application
(client credentials, through msal) and talks to Graph over HTTPS with one ``requests`` session.

Reading free/busy
-----------------

- ``POST /users/{organizer}/calendar/getSchedule`` for at most 20 mailboxes per call, over windows cut into
  pieces shorter than 62 days (Graph's limits), with ``availabilityViewInterval`` set and every time sent and
  read in UTC (``timeZone: "UTC"`` in the body, ``Prefer: outlook.timezone="UTC"`` for the answer, which is
  also Graph's default; a time in any other zone is still converted correctly).
- Only status and times survive parsing: the JSON is read with a key allowlist, so ``subject``, ``location``,
  ``isPrivate`` and anything else in Graph's answer never become Python objects, let alone get stored, logged
  or copied.
- Status (case-insensitive): ``busy`` and ``oof`` (out of office) are busy; ``tentative`` goes to
  ``Busy.tentative``; ``workingElsewhere``, ``free`` and ``unknown`` are nothing. "Working elsewhere" is how
  people mark a day at home or at another office: Graph's availability view counts it as free, and so does
  the ICS reader for Outlook's ``X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE``. A schedule that comes without
  items (only the ``availabilityView`` string, as for mailboxes that share less detail) is read from that
  string instead: 2 (busy) and 3 (out of office) busy, 1 tentative, 0 and 4 (working elsewhere) free.
- A per-schedule ``error`` (mailbox not found, no free/busy access), and a schedule whose part of the answer
  is malformed (an item without a time, no ``scheduleId``, wrong types), becomes that person's
  ``Busy(error=...)`` in plain words, never "free". ``workingHours`` becomes ``Busy.working_hours`` with its
  zone as an IANA name (Windows zone names through icalendar's Windows→IANA table) when it is usable: some
  working day, and an end after the start. Otherwise (a "Customized Time Zone" cannot be named either) it is
  left out with a warning and the person's profile applies.
- At most ``concurrency`` (≤ 4, Graph's limit per app and mailbox, and every call here goes to the organizer's
  mailbox) requests are in flight at once, across everything this object does. Plain getSchedule calls are
  used, not ``$batch``: each already carries 20 mailboxes, and a batch's members count against the same
  mailbox limit while hiding their 429s inside a 200 answer.

Failures: 429 (with ``Retry-After``, seconds or an HTTP date), 5xx, timeouts, connection errors and answers
that are not JSON are retried by ``integrations.http.call_with_retries``; other 4xx are permanent. A
getSchedule batch that still fails after its retries, whose answer cannot be read, or that meets anything
unforeseen (logged once with its traceback) is asked again in halves down to single mailboxes
(``integrations.http.read_in_halves``): whoever still cannot be read gets ``Busy(error=...)`` and the other
batches' answers are kept. ``fetch_busy`` raises ``ProviderUnavailable("Microsoft Graph ...: <cause>")`` only
when nothing at all could be read (Graph or the sign-in service down, or refusing the organizer's requests).
Event calls raise ``DeliveryError`` (``transient`` with ``retry_after`` for the retryable kind). A refused
sign-in (a wrong secret is ``invalid_client``) is permanent; no message ever contains the secret. A 401 from
Graph is tried once more with a fresh token.

Meeting events
--------------

- ``create_event``: ``POST /users/{organizer}/events`` with subject, body, location, UTC start and end, the
  attendees (``type: "required"``), optionally a Teams meeting (``isOnlineMeeting`` with
  ``onlineMeetingProvider: "teamsForBusiness"``), a ``transactionId`` derived from ``invite.uid`` (uuid5) so
  that Graph folds a repeated POST into the first one, and a single-value extended property holding
  ``invite.uid``.
- The extended property is how the event is found again: Graph sets ``iCalUId`` itself, and ``transactionId``
  is documented only as a de-duplication key, not as something ``$filter`` accepts, while
  ``$filter=singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`` on ``/events`` is
  documented for string properties. So ``create_event`` first looks the uid up (an event made by an earlier
  attempt whose answer was lost is returned, not duplicated, whatever Graph does with an old
  ``transactionId``), and ``update_event`` (``PATCH``) and ``cancel_event`` (``POST …/cancel``) find the
  Graph id the same way. Cancelling moves the event out of the calendar, so cancelling twice finds nothing
  and is done.
- Graph documents that ``transactionId`` prevents a duplicate create but not what the repeated POST answers;
  the fake answers with the first event, and a 409 would be handled by looking the uid up.

Admin steps (Microsoft Entra ID and Exchange Online)
----------------------------------------------------

1. Microsoft Entra admin center → App registrations → New registration (single tenant). Note the
   Application (client) ID and the Directory (tenant) ID: they are ``client_id`` and ``tenant_id`` in
   ``[calendar.microsoft]``.
2. Certificates & secrets: upload a certificate (preferred) and put its PEM private key in the variable named
   by ``certificate_env`` and its SHA-1 thumbprint in ``certificate_thumbprint``; or create a client secret and
   put it in the variable named by ``client_secret_env`` (default ``COFFEECHAT_MS_CLIENT_SECRET``).
3. API permissions → Microsoft Graph → Application permissions → ``Calendars.ReadBasic`` → Grant admin
   consent. This is the least privilege that lets getSchedule read everyone's free/busy. Add nothing else
   in Entra: an Entra application permission is tenant-wide and adds to Exchange grants, so a consented
   ``Calendars.ReadWrite`` would let the app write every calendar in the tenant.
4. Write access for the organizer mailbox only, with RBAC for Applications in Exchange Online (Exchange
   Online PowerShell, ``Connect-ExchangeOnline``, as a member of Organization Management)::

       # The service principal's object id is on Entra → Enterprise applications → the app (not the
       # object id of the app registration).
       New-ServicePrincipal -AppId <client id> -ObjectId <enterprise app object id> -DisplayName "Coffee Chat"
       New-ManagementScope -Name "Coffee Chat organizer" `
           -RecipientRestrictionFilter "PrimarySmtpAddress -eq 'coffee@example.com'"
       New-ManagementRoleAssignment -Name "Coffee Chat organizer calendar" -App <client id> `
           -Role "Application Calendars.ReadWrite" -CustomResourceScope "Coffee Chat organizer"
       # InScope should be True for the organizer and False for anyone else:
       Test-ServicePrincipalAuthorization -Identity <client id> -Resource coffee@example.com

   Role assignments take a while to reach every Exchange server; retry the test after some minutes.
5. ``organizer`` is that mailbox: getSchedule is asked from it and events are created in it, so attendees see
   invitations from it. ``teams_links = true`` needs Teams for that mailbox.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msal
import requests
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal.exceptions import MsalServiceError

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
from scheduler.config import MicrosoftConfig, secret
from scheduler.errors import ConfigError, DeliveryError, ProviderUnavailable
from scheduler.model import Busy, Interval, Invite, Person, WorkingHours, merge_intervals

log = logging.getLogger(__name__)

PROVIDER = "Microsoft Graph"
MAX_SCHEDULES = 20  # getSchedule: at most 20 schedules per call
MAX_WINDOW = timedelta(days=61)  # getSchedule: the window must be shorter than 62 days
MAX_CONCURRENCY = 4  # Graph: 4 concurrent requests per app and mailbox
VIEW_INTERVAL_MINUTES = 15  # availabilityViewInterval: the resolution of the fallback view (5–1440)

# The extended property that carries the meeting uid on the event: a fixed property set of our own (a GUID
# made once for Coffee Chat) and a name. The name part of the id is case-sensitive in $filter.
UID_PROPERTY = "String {5653f311-d50f-41db-b4bc-0d5342673033} Name CoffeeChatMeetingUid"
# Namespace of the uuid5 transactionIds, so that the same meeting uid always gives the same transactionId.
_TRANSACTION_NAMESPACE = uuid.UUID("db32b720-6e85-45f3-9f96-25db25174671")

# Out of office is away; working elsewhere is working, from somewhere else: free, as Graph's own view counts it.
_BUSY_STATUSES = frozenset({"busy", "oof"})
_TENTATIVE_STATUSES = frozenset({"tentative"})
# availabilityView digits: 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere.
_VIEW_BUSY, _VIEW_TENTATIVE = frozenset("23"), frozenset("1")
_WEEKDAYS = {name: index for index, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}

# The only keys kept when a getSchedule answer is parsed: status, times, working hours, errors. Everything
# else (subject, location, isPrivate, attendees if Graph ever sends them) is dropped by the JSON parser.
_SCHEDULE_KEYS = frozenset({
    "value", "scheduleId", "availabilityView", "scheduleItems", "status", "start", "end", "dateTime",
    "timeZone", "workingHours", "daysOfWeek", "startTime", "endTime", "name", "error", "message",
    "responseCode", "code",
})

# msal keeps a 429/5xx answer of the sign-in service for this long (its default for confidential clients, when
# the answer has no Retry-After) and answers from that cache meanwhile: a retry sooner would not reach the service.
MSAL_THROTTLE_SECONDS = 5.0
# Token-endpoint errors that say "try again later" rather than "your configuration is wrong".
_TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})

# Per-schedule error codes Graph uses, in words a person understands.
_SCHEDULE_ERRORS = {
    "errorinvaliduser": "no Microsoft 365 mailbox with this address",
    "errormailrecipientnotfound": "no Microsoft 365 mailbox with this address",
    "errornofreebusyaccess": "Microsoft 365 does not share this calendar's free/busy with Coffee Chat",
    "erroraccessdenied": "Microsoft 365 does not let Coffee Chat read this calendar",
}


class _Unreadable(Transient):
    """A getSchedule answer that is not what Graph sends (not JSON, no ``value`` list): a truncated answer or a
    proxy's page, which may pass."""


class _Refused(Exception):
    """A permanent failure: Graph or the sign-in service said no, and asking again will not change that.
    ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class _Piece:
    """What one getSchedule answer said about one mailbox: only times, status and working hours."""

    busy: list[Interval] = field(default_factory=list)
    tentative: list[Interval] = field(default_factory=list)
    error: str | None = None
    working_hours: WorkingHours | None = None
    working_zone: str | None = None
    warnings: list[str] = field(default_factory=list)


class _GraphSession(requests.Session):
    """A session whose every request carries the timeout and ``verify``.

    ``verify`` goes on each request rather than on the session because requests lets ``REQUESTS_CA_BUNDLE``
    override a session-level ``verify`` (but not a per-request one). msal gets this session as its
    ``http_client`` for the same reason.
    """

    def __init__(self, *, timeout: float, verify: bool | str) -> None:
        super().__init__()
        self._timeout = timeout
        self._verify = verify

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        if kwargs.get("verify") is None:
            kwargs["verify"] = self._verify
        return super().request(method, url, *args, **kwargs)


class GraphCalendar:
    """``CalendarProvider`` and ``EventCalendar`` for Microsoft 365, through Microsoft Graph (see the module
    docstring for what is asked, what is kept and the admin steps).

    ``credential`` is a client secret or ``{"private_key": pem, "thumbprint": sha1_hex}``. ``organizer`` is
    the mailbox that asks for free/busy and owns the events. ``authority_host`` and ``graph_endpoint`` change
    for a national cloud or a test server; ``verify`` is ``requests``' (a CA bundle path for a private CA).
    ``retry`` bounds the attempts of each call and ``sleep`` is how retries wait (tests record it).

    One schedule, or one batch, that cannot be read is the error of the people it concerns (a failing batch is
    asked again in halves, down to single mailboxes); ``fetch_busy`` raises ``ProviderUnavailable`` only when
    nothing at all could be read: Graph or the sign-in service down after the retries, or refusing the app.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        credential: str | Mapping[str, str],
        organizer: str,
        authority_host: str = "https://login.microsoftonline.com",
        graph_endpoint: str = "https://graph.microsoft.com/v1.0",
        concurrency: int = MAX_CONCURRENCY,
        timeout: float = 30.0,
        retry: CallRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        verify: bool | str = True,
    ) -> None:
        for name, value in (("tenant_id", tenant_id), ("client_id", client_id)):
            if not value or not value.strip():
                raise ValueError(f"{name} is required")
        if not _is_mailbox(organizer):
            raise ValueError(f"organizer {organizer!r} is not an email address")
        for name, url in (("authority_host", authority_host), ("graph_endpoint", graph_endpoint)):
            if urlsplit(url).scheme != "https" or not urlsplit(url).hostname:
                raise ValueError(f"{name} {url!r} must be an https:// URL")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1 to {MAX_CONCURRENCY} (Graph's limit per mailbox)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if not credential or (not isinstance(credential, str)
                               and not {"private_key", "thumbprint"} <= set(credential)):
            raise ValueError("credential must be a client secret or {'private_key': ..., 'thumbprint': ...}")
        self.tenant_id = tenant_id.strip()
        self.client_id = client_id.strip()
        self.organizer = organizer.strip().lower()
        self.authority = f"{authority_host.rstrip('/')}/{self.tenant_id}"
        self.graph_endpoint = graph_endpoint.rstrip("/")
        endpoint = urlsplit(self.graph_endpoint)
        # The token's audience is the Graph host itself, so national clouds and test servers get their own.
        self.scope = f"{endpoint.scheme}://{endpoint.netloc}/.default"
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = retry or CallRetry()
        self._sleep = sleep
        self._credential = credential
        self._secrets = _secret_texts(credential)
        self._session = _GraphSession(timeout=timeout, verify=verify)
        self._app: msal.ConfidentialClientApplication | None = None
        self._token_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)

    def close(self) -> None:
        """Close the HTTP connections kept open between calls."""
        self._session.close()

    # --- free/busy ---------------------------------------------------------------------------------------

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see ``CalendarProvider``).

        A mailbox whose schedule, or whose batch, still cannot be read after the retries and the halving gets
        ``Busy(error=...)``; everyone else is read as usual. Raises ``ProviderUnavailable`` only when nothing
        at all could be read: Graph or the sign-in service down after retries, or refusing the organizer's
        request as a whole (wrong credentials, permission not granted, organizer not found).
        """
        answers: dict[str, Busy] = {}
        by_mailbox: dict[str, list[Person]] = {}
        for person in people:
            mailbox = mailbox_of(person)
            if _is_mailbox(mailbox):
                by_mailbox.setdefault(mailbox, []).append(person)
            else:
                answers[person.email] = Busy(error=f"{mailbox!r} is not a Microsoft 365 mailbox address")
        if not by_mailbox or window.start >= window.end:
            answers.update({p.email: Busy() for group in by_mailbox.values() for p in group})
            return answers
        mailboxes = sorted(by_mailbox)
        jobs = [(tuple(batch), piece) for piece in split_window(window) for batch in chunks(mailboxes, MAX_SCHEDULES)]
        round_ = BatchRound()

        def read(job: tuple[tuple[str, ...], Interval]) -> BatchOutcome[str, dict[str, _Piece]]:
            batch, piece = job
            return read_in_halves(lambda part: self._read_batch(part, piece, round_), batch, round_)

        outcomes = run_concurrently(read, jobs, limit=self.concurrency)
        failures = [(part, reason) for outcome in outcomes for part, reason in outcome.failed]
        if failures and not any(outcome.read for outcome in outcomes):
            log.warning("no Microsoft 365 free/busy for %d mailboxes: %s", len(mailboxes), failures[0][1])
            raise ProviderUnavailable(failures[0][1])
        results: dict[str, list[_Piece]] = {mailbox: [] for mailbox in mailboxes}
        for outcome in outcomes:
            for _, answer in outcome.read:
                for mailbox, got in answer.items():
                    results[mailbox].append(got)
        for part, reason in failures:
            for mailbox in part:
                results[mailbox].append(_Piece(error=reason))
        log.info("read free/busy of %d Microsoft 365 mailboxes in %d getSchedule batches", len(mailboxes), len(jobs))
        if failures:
            unread = {mailbox for part, _ in failures for mailbox in part}
            log.warning("%d of %d Microsoft 365 mailboxes could not be read: %s", len(unread), len(mailboxes),
                        failures[0][1])
        for mailbox in mailboxes:
            busy = _combine(results[mailbox], window)
            answers.update({person.email: busy for person in by_mailbox[mailbox]})
        return answers

    def _read_batch(self, mailboxes: Sequence[str], piece: Interval, round_: BatchRound) -> dict[str, _Piece]:
        """One getSchedule batch over one piece of the window, with retries. Raises ``BatchFailed`` when the
        batch as a whole could not be read (retries spent, an answer that is no getSchedule answer, anything
        unforeseen) and ``ProviderRefused`` when Graph refuses the organizer's request whatever it asks."""
        try:
            return call_with_retries(lambda: self._get_schedule(mailboxes, piece), self.retry, sleep=self._sleep)
        except _Unreadable as exc:
            raise BatchFailed(f"{PROVIDER}'s getSchedule answer could not be read: {exc}") from exc
        except Transient as exc:
            raise BatchFailed(f"{PROVIDER} getSchedule is unavailable: {self._scrub(str(exc))}") from exc
        except _Refused as exc:
            message = f"{PROVIDER} getSchedule refused the request: {self._scrub(str(exc))}"
            if exc.status == 400:  # a refusal of what was asked may lie in one mailbox of the batch
                raise BatchFailed(message) from exc
            raise ProviderRefused(message) from exc
        except Exception as exc:  # the per-batch boundary: a library bug or an answer nobody foresaw
            what = f"a getSchedule answer for {len(mailboxes)} Microsoft 365 mailboxes"
            raise BatchFailed(round_.unforeseen(exc, log, what, PROVIDER)) from exc

    def _get_schedule(self, mailboxes: Sequence[str], piece: Interval) -> dict[str, _Piece]:
        body = {
            "schedules": list(mailboxes),
            "startTime": {"dateTime": _graph_time(piece.start), "timeZone": "UTC"},
            "endTime": {"dateTime": _graph_time(piece.end), "timeZone": "UTC"},
            "availabilityViewInterval": VIEW_INTERVAL_MINUTES,
        }
        response = self._call("POST", f"/users/{quote(self.organizer)}/calendar/getSchedule", json_body=body,
                              headers={"Prefer": 'outlook.timezone="UTC"'})
        try:
            answer = parse_schedule_answer(response.text)
        except ValueError as exc:
            raise _Unreadable("Graph answered with something that is not JSON") from exc
        values = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(values, list):
            raise _Unreadable("Graph answered without a 'value' list")
        asked = set(mailboxes)
        pieces: dict[str, _Piece] = {}
        for info in values:
            schedule_id = info.get("scheduleId") if isinstance(info, dict) else None
            # Only the scheduleId says whose schedule it is (Graph echoes the address asked). The order of the
            # answer is not trusted: were one schedule left out, the next person's time would be taken for it.
            mailbox = schedule_id.strip().lower() if isinstance(schedule_id, str) else None
            if isinstance(info, dict) and mailbox in asked and mailbox not in pieces:
                pieces[mailbox] = _read_schedule(info, piece)
        for mailbox in mailboxes:
            pieces.setdefault(mailbox, _Piece(error="Microsoft Graph gave no answer for this mailbox"))
        return pieces

    # --- meeting events ----------------------------------------------------------------------------------

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        """Create the event for ``invite`` in the organizer's calendar (or find the one an earlier attempt
        created) and return its Graph id. Exchange sends the invitations."""

        def create() -> str:
            existing = self._find_event(invite.uid)
            if existing is not None:
                return existing
            body = self._event_body(invite)
            body["transactionId"] = transaction_id(invite.uid)
            body["singleValueExtendedProperties"] = [{"id": UID_PROPERTY, "value": invite.uid}]
            if online_meeting:
                body.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
            try:
                response = self._call("POST", f"/users/{quote(self.organizer)}/events", json_body=body)
            except _Refused as exc:
                # Should Graph ever answer a repeated transactionId with a conflict, the event is there.
                if exc.status == 409 and (found := self._find_event(invite.uid)):
                    return found
                raise
            event_id = _json(response).get("id")
            if not isinstance(event_id, str) or not event_id:
                raise Transient("event create answered without an id")
            return event_id

        event_id = self._deliver(f"create the event for meeting {invite.uid}", create)
        log.info("created Microsoft 365 event for meeting %s", invite.uid)
        return event_id

    def update_event(self, invite: Invite) -> None:
        """Make the event of ``invite.uid`` match ``invite`` (times, attendees, text); Exchange tells the
        attendees. An event that does not exist is a permanent ``DeliveryError``."""

        def update() -> None:
            event_id = self._find_event(invite.uid)
            if event_id is None:
                raise _Refused(f"no event exists for meeting {invite.uid} in {self.organizer}")
            self._call("PATCH", self._event_path(event_id), json_body=self._event_body(invite))

        self._deliver(f"update the event for meeting {invite.uid}", update)
        log.info("updated Microsoft 365 event for meeting %s", invite.uid)

    def cancel_event(self, invite: Invite) -> None:
        """Cancel the event of ``invite.uid``, telling the attendees; an event already gone is fine."""

        def cancel() -> None:
            event_id = self._find_event(invite.uid)
            if event_id is None:
                return
            comment = invite.description or "This meeting was cancelled."
            try:
                self._call("POST", self._event_path(event_id) + "/cancel", json_body={"comment": comment})
            except _Refused as exc:
                if exc.status != 404:  # gone between the look-up and the cancel
                    raise

        self._deliver(f"cancel the event for meeting {invite.uid}", cancel)
        log.info("cancelled Microsoft 365 event for meeting %s", invite.uid)

    def _find_event(self, uid: str) -> str | None:
        """The Graph id of the event carrying ``uid`` in its extended property, or ``None``."""
        condition = (f"singleValueExtendedProperties/Any(ep: ep/id eq '{_odata_string(UID_PROPERTY)}' "
                     f"and ep/value eq '{_odata_string(uid)}')")
        # Built by hand: requests would encode spaces as "+", and Graph's docs ask for percent-encoding.
        query = f"?$filter={quote(condition, safe='')}&$select=id"
        response = self._call("GET", f"/users/{quote(self.organizer)}/events{query}")
        values = _json(response).get("value")
        if not isinstance(values, list):
            raise Transient("event look-up answered without a 'value' list")
        ids = [item["id"] for item in values if isinstance(item, dict) and isinstance(item.get("id"), str)]
        return ids[0] if ids else None

    def _event_path(self, event_id: str) -> str:
        return f"/users/{quote(self.organizer)}/events/{quote(event_id, safe='')}"

    def _event_body(self, invite: Invite) -> dict[str, Any]:
        attendees = [
            {"emailAddress": {"address": attendee.email, "name": attendee.name}, "type": "required"}
            for attendee in invite.attendees
            if attendee.email.strip().lower() != self.organizer
        ]
        return {
            "subject": invite.summary,
            "body": {"contentType": "text", "content": invite.description},
            "location": {"displayName": invite.location},
            "start": {"dateTime": _graph_time(invite.start), "timeZone": "UTC"},
            "end": {"dateTime": _graph_time(invite.end), "timeZone": "UTC"},
            "attendees": attendees,
            "responseRequested": True,
        }

    def _deliver(self, action: str, work: Callable[[], Any]) -> Any:
        """Run ``work`` with retries; failures become ``DeliveryError`` (transient or not)."""
        try:
            return call_with_retries(work, self.retry, sleep=self._sleep)
        except Transient as exc:
            raise DeliveryError(f"{PROVIDER} could not {action}: {self._scrub(str(exc))}", transient=True,
                                retry_after=exc.retry_after) from exc
        except _Refused as exc:
            raise DeliveryError(f"{PROVIDER} refused to {action}: {self._scrub(str(exc))}",
                                transient=False) from exc

    # --- HTTP and sign-in --------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json_body: object = None,
              headers: Mapping[str, str] | None = None) -> requests.Response:
        """One Graph request within the concurrency limit. Returns a 2xx answer; raises ``Transient`` for
        what may pass (429, 5xx, timeouts, connection errors) and ``_Refused`` for the rest.

        A 401 is tried once more with a new token: a token can be revoked before msal's cache expires it.
        """
        for last_try in (False, True):
            token = self._token()
            all_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
            with self._slots:
                try:
                    response = self._session.request(method, self.graph_endpoint + path, json=json_body,
                                                     headers=all_headers)
                except requests.exceptions.SSLError as exc:
                    raise _Refused(f"TLS check of {self.graph_endpoint} failed: {_first_line(exc)}") from exc
                except requests.Timeout as exc:
                    raise Transient(f"no answer within {self.timeout:g} s") from exc
                except requests.RequestException as exc:
                    raise Transient(f"cannot reach {self.graph_endpoint}: {_first_line(exc)}") from exc
            if response.status_code != 401 or last_try:
                break
            self._forget_token(token)
        if response.ok:
            return response
        reason = _graph_error(response)
        if response.status_code in TRANSIENT_STATUSES:
            raise Transient(reason, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        raise _Refused(_explain(response.status_code, reason, self.organizer), status=response.status_code)

    def _forget_token(self, token: str) -> None:
        """Drop a token Graph refused from msal's cache, so that the next ``_token`` asks for a new one."""
        with self._token_lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                if entry.get("secret") == token:
                    cache.remove_at(entry)

    def _token(self) -> str:
        """An access token for Graph, from msal's in-memory cache while it is valid."""
        with self._token_lock:  # one sign-in at a time: the others then find the token in the cache
            try:
                if self._app is None:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        client_credential=dict(self._credential) if isinstance(self._credential, Mapping)
                        else self._credential,
                        authority=self.authority,
                        http_client=self._session,
                        # Instance discovery only knows Microsoft's own sign-in hosts; any other (a test server)
                        # would be refused by it.
                        instance_discovery=None if urlsplit(self.authority).hostname in WELL_KNOWN_AUTHORITY_HOSTS
                        else False,
                    )
                result = self._app.acquire_token_for_client(scopes=[self.scope])
            except requests.exceptions.SSLError as exc:
                raise _Refused(f"TLS check of {self.authority} failed: {_first_line(exc)}") from exc
            except requests.Timeout as exc:
                raise Transient(f"Microsoft sign-in gave no answer within {self.timeout:g} s") from exc
            except MsalServiceError as exc:  # a 5xx: msal then answers from its throttle cache for a while
                raise Transient(f"Microsoft sign-in is unavailable: {_first_line(exc)}",
                                retry_after=MSAL_THROTTLE_SECONDS) from exc
            except requests.RequestException as exc:
                raise Transient(f"Microsoft sign-in is unavailable: {_first_line(exc)}") from exc
            except ValueError as exc:  # msal: tenant unknown, authority unreadable, certificate unreadable
                raise _Refused(f"Microsoft sign-in cannot start (check tenant_id and authority_host): "
                              f"{_first_line(exc)}") from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error") or "unknown_error") if isinstance(result, dict) else "unknown_error"
        description = _first_line(result.get("error_description") or "") if isinstance(result, dict) else ""
        message = f"Microsoft sign-in failed ({error}): {description}".rstrip(": ")
        if error == "invalid_client":
            message += " (check the client secret or certificate, and that it has not expired)"
        elif error in {"unauthorized_client", "invalid_tenant"}:
            message += " (check tenant_id and client_id)"
        if error in _TRANSIENT_TOKEN_ERRORS:
            raise Transient(message)
        raise _Refused(message)

    def _scrub(self, text: str) -> str:
        """``text`` with any credential replaced: messages must never carry a secret."""
        for value in self._secrets:
            text = text.replace(value, "[secret]")
        return text


def build_graph_calendar(config: MicrosoftConfig, *, verify: bool | str = True,
                         retry: CallRetry | None = None) -> GraphCalendar:
    """A ``GraphCalendar`` from the ``[calendar.microsoft]`` config, reading its credential from the
    environment variable the config names. ``ConfigError`` names the key or variable that is missing."""
    prefix = "calendar.microsoft."
    for key in ("tenant_id", "client_id", "organizer"):
        if not getattr(config, key).strip():
            raise ConfigError("is required when Microsoft 365 calendars are enabled", key=prefix + key)
    credential: str | dict[str, str]
    if config.certificate_env:
        private_key = secret(config.certificate_env)
        if private_key is None:
            raise ConfigError(f"the environment variable {config.certificate_env} (the certificate's PEM private "
                              "key) is not set", key=prefix + "certificate_env")
        if not config.certificate_thumbprint.strip():
            raise ConfigError("is required with certificate_env", key=prefix + "certificate_thumbprint")
        credential = {"private_key": private_key, "thumbprint": config.certificate_thumbprint.strip()}
    else:
        client_secret = secret(config.client_secret_env)
        if client_secret is None:
            raise ConfigError(f"the environment variable {config.client_secret_env} (the app's client secret) "
                              "is not set", key=prefix + "client_secret_env")
        credential = client_secret
    try:
        return GraphCalendar(
            tenant_id=config.tenant_id, client_id=config.client_id, credential=credential,
            organizer=config.organizer, authority_host=config.authority_host,
            graph_endpoint=config.graph_endpoint, concurrency=config.concurrency,
            timeout=config.timeout_seconds, retry=retry, verify=verify,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), key="calendar.microsoft") from None


# --- helpers ---------------------------------------------------------------------------------------------


def mailbox_of(person: Person) -> str:
    """The mailbox Graph is asked about: the profile's ``microsoft:`` location, else the person's email."""
    if person.calendar.kind == "microsoft" and person.calendar.location:
        return person.calendar.location.strip().lower()
    return person.email


def transaction_id(uid: str) -> str:
    """The ``transactionId`` of the event for meeting ``uid``: the same uid always gives the same id."""
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, uid))


def split_window(window: Interval, size: timedelta = MAX_WINDOW) -> list[Interval]:
    """``window`` cut into consecutive pieces of at most ``size`` (Graph wants each under 62 days)."""
    pieces: list[Interval] = []
    start = window.start
    while start < window.end:
        end = min(window.end, start + size)
        pieces.append(Interval(start, end))
        start = end
    return pieces


def read_availability_view(view: str, start: datetime, minutes: int = VIEW_INTERVAL_MINUTES
                           ) -> tuple[list[Interval], list[Interval]]:
    """Busy and tentative intervals from an ``availabilityView`` string (one digit per ``minutes`` slot from
    ``start``): 2 (busy) and 3 (out of office) are busy, 1 tentative, anything else (0 free, 4 working
    elsewhere) free."""
    busy: list[Interval] = []
    tentative: list[Interval] = []
    slot = timedelta(minutes=minutes)
    for index, digit in enumerate(view):
        interval = Interval(start + index * slot, start + (index + 1) * slot)
        if digit in _VIEW_BUSY:
            busy.append(interval)
        elif digit in _VIEW_TENTATIVE:
            tentative.append(interval)
    return list(merge_intervals(busy)), list(merge_intervals(tentative))


def _read_schedule(info: Mapping[str, Any], piece: Interval) -> _Piece:
    """One ``scheduleInformation`` (already stripped of everything but times) as a ``_Piece``. Every part is
    checked for its type: a malformed schedule is its owner's error in words, never an exception, never "free"."""
    if info.get("error") is not None:
        return _Piece(error=_schedule_error(info["error"]))
    items, view = info.get("scheduleItems"), info.get("availabilityView")
    result = _Piece()
    try:
        if items is not None:
            if not isinstance(items, list):
                raise ValueError("scheduleItems is not a list")
            for item in items:
                status = item.get("status") if isinstance(item, dict) else None
                if not isinstance(status, str):
                    raise ValueError("a schedule item without a status")
                status = status.lower()
                if status not in _BUSY_STATUSES and status not in _TENTATIVE_STATUSES:
                    continue
                start, end = _read_time(item.get("start")), _read_time(item.get("end"))
                clipped = Interval(start, max(start, end)).clip(piece)
                if clipped is not None:
                    (result.busy if status in _BUSY_STATUSES else result.tentative).append(clipped)
        elif isinstance(view, str) and view:
            result.busy, result.tentative = read_availability_view(view, piece.start)
        else:
            return _Piece(error="Microsoft Graph answered without this mailbox's schedule")
    except (ValueError, TypeError, OverflowError) as exc:
        return _Piece(error=f"Microsoft Graph answered with a schedule Coffee Chat cannot read: {_first_line(exc)}")
    _read_working_hours(info.get("workingHours"), result)
    return result


def _schedule_error(error: object) -> str:
    """A per-schedule ``error`` (``{message, responseCode}``, or whatever came instead) in plain words."""
    code = message = ""
    if isinstance(error, dict):
        code, message = str(error.get("responseCode") or ""), str(error.get("message") or "")
    elif isinstance(error, str):
        code = error
    reason = _SCHEDULE_ERRORS.get(code.lower())
    if reason is None:
        detail = _first_line(message or code)
        reason = "Microsoft 365 could not read this calendar" + (f": {detail}" if detail else "")
    return f"{reason} ({code})" if code else reason


def _read_working_hours(hours: object, into: _Piece) -> None:
    """Exchange's working hours into ``into`` when they are usable: some working day, an end after the start,
    a zone with an IANA name. Anything else leaves them out with a warning, so that the profile's apply."""
    if hours is None:
        return
    if not isinstance(hours, dict):
        into.warnings.append("working hours from Microsoft 365 cannot be used (not an object); "
                             "the profile's working hours apply")
        return
    zone_info = hours.get("timeZone")
    zone_name = str(zone_info.get("name") or "") if isinstance(zone_info, dict) else ""
    zone = _iana_zone(zone_name)
    if zone is None:
        into.warnings.append(f"working hours from Microsoft 365 are in a time zone without an IANA name "
                             f"({zone_name or 'none given'}); the profile's working hours apply")
        return
    try:
        into.working_hours = _usable_working_hours(hours)
    except ValueError as exc:
        into.warnings.append(f"working hours from Microsoft 365 cannot be used ({_first_line(exc)}); "
                             "the profile's working hours apply")
        return
    into.working_zone = zone


def _usable_working_hours(hours: Mapping[str, Any]) -> WorkingHours:
    """``workingHours`` as ``WorkingHours``; ``ValueError`` saying why when they hold no working time."""
    names, start_text, end_text = hours.get("daysOfWeek"), hours.get("startTime"), hours.get("endTime")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError("daysOfWeek is not a list of weekdays")
    unknown = [name for name in names if name.lower() not in _WEEKDAYS]
    if unknown:
        raise ValueError(f"unknown weekday {unknown[0]!r}")
    if not names:
        raise ValueError("no working days")
    if not isinstance(start_text, str) or not isinstance(end_text, str):
        raise ValueError("no start or end time")
    start, end = _read_clock(start_text), _read_clock(end_text)
    if end <= start:
        raise ValueError(f"the working day ends at {end:%H:%M}, not after it starts at {start:%H:%M}")
    return WorkingHours(days=frozenset(_WEEKDAYS[name.lower()] for name in names), start=start, end=end)


def _combine(pieces: Sequence[_Piece], window: Interval) -> Busy:
    """One person's answers over the window's pieces as one ``Busy``."""
    errors = [piece.error for piece in pieces if piece.error]
    if errors:
        return Busy(error=errors[0])
    with_hours = next((piece for piece in pieces if piece.working_hours is not None), None)
    warnings = tuple(dict.fromkeys(warning for piece in pieces for warning in piece.warnings))
    return Busy(
        busy=merge_intervals(c for piece in pieces for i in piece.busy if (c := i.clip(window))),
        tentative=merge_intervals(c for piece in pieces for i in piece.tentative if (c := i.clip(window))),
        warnings=warnings,
        working_hours=with_hours.working_hours if with_hours else None,
        working_zone=with_hours.working_zone if with_hours else None,
    )


def parse_schedule_answer(text: str) -> Any:
    """A getSchedule answer parsed with a key allowlist: ``subject``, ``location`` and everything else but
    status, times, working hours and errors are dropped by the parser itself, so they never exist as Python
    objects. Raises ``ValueError`` when ``text`` is not JSON."""
    return json.loads(text, object_pairs_hook=_keep_schedule_keys)


def _keep_schedule_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in pairs if key in _SCHEDULE_KEYS}


def _read_time(value: object) -> datetime:
    """A Graph ``dateTimeTimeZone`` as an aware UTC datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ValueError(f"not a dateTimeTimeZone: {value!r}")
    moment = datetime.fromisoformat(_trim_fraction(value["dateTime"]))
    if moment.tzinfo is None:
        zone_name = str(value.get("timeZone") or "UTC")
        zone = _iana_zone(zone_name)
        if zone is None:
            raise ValueError(f"unknown time zone {zone_name!r}")
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def _read_clock(text: str) -> clock_time:
    return clock_time.fromisoformat(_trim_fraction(text))


def _trim_fraction(text: str) -> str:
    """Graph writes seven fractional digits (``12:00:00.0000000``); Python reads at most six."""
    head, dot, fraction = text.partition(".")
    if not dot:
        return text
    digits = "".join(ch for ch in fraction if ch.isdigit())
    return f"{head}.{digits[:6]}{fraction[len(digits):]}"


def _iana_zone(name: str) -> str | None:
    """The IANA name of a Graph zone name: UTC, a Windows name, or an IANA name; ``None`` when unknown."""
    name = name.strip()
    if not name:
        return None
    if name.upper() in {"UTC", "ETC/UTC", "Z"}:
        return "UTC"
    if name in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[name]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _graph_time(moment: datetime) -> str:
    """A UTC datetime as Graph's zone-less ``dateTime`` (the zone goes beside it as ``"UTC"``)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _odata_string(text: str) -> str:
    """``text`` inside an OData string literal: a single quote is written twice."""
    return text.replace("'", "''")


def _is_mailbox(address: str) -> bool:
    local, at, domain = address.strip().partition("@")
    return bool(local and at and "." in domain and not any(ch.isspace() or ch in "/?#" for ch in address.strip()))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise Transient(f"{response.request.method} answered with something that is not JSON") from exc
    return data if isinstance(data, dict) else {}


def _graph_error(response: requests.Response) -> str:
    """``HTTP 429 ApplicationThrottled: <message>`` from Graph's error body, whatever shape it has."""
    code = message = ""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        code, message = str(error.get("code") or ""), _first_line(error.get("message") or "")
    elif isinstance(error, str):
        code = error
    text = f"HTTP {response.status_code}" + (f" {code}" if code else "")
    return f"{text}: {message}" if message else text


def _explain(status: int, reason: str, organizer: str) -> str:
    """A permanent Graph failure with a hint at the usual cause."""
    if status == 401:
        return f"{reason} (the access token was refused: check tenant_id and the app registration)"
    if status == 403:
        return (f"{reason} (the app lacks permission: grant Calendars.ReadBasic, and Calendars.ReadWrite on "
                f"{organizer} through RBAC for Applications)")
    if status == 404:
        return f"{reason} (check that the organizer mailbox {organizer} exists)"
    return reason


def _first_line(value: object) -> str:
    text = str(value).strip().splitlines()[0] if str(value).strip() else ""
    return text if len(text) <= 300 else text[:299] + "…"


def _secret_texts(credential: str | Mapping[str, str]) -> list[str]:
    if isinstance(credential, str):
        return [credential]
    key = credential.get("private_key", "")
    # A PEM key is many lines; scrub each body line so that no fragment of it survives in a message.
    return [key, *(line for line in key.splitlines() if len(line) >= 16 and not line.startswith("-----"))]
