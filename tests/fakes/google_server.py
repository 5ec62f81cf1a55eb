"""A wire-level fake of Google: the OAuth token endpoint and the parts of Calendar API v3 that Coffee Chat uses.

``FakeGoogle`` is a threaded HTTP server on loopback that speaks Google's JSON, so the connector is driven through
the real google-api-python-client, google-auth and httplib2:

- ``POST /token``: the service-account JWT-bearer grant. The assertion's RS256 signature is checked against the
  registered service account's public key, and so are ``grant_type``, ``iss``, ``aud`` (always Google's token URL,
  whatever ``token_uri`` says), ``exp``, ``scope`` and ``sub``; a scope not granted through domain-wide delegation
  gets ``unauthorized_client``, an unknown ``sub`` ``invalid_grant``, as Google answers.
- ``POST /calendar/v3/freeBusy``: at most 50 calendars and a range under 90 days (400 otherwise); busy time of
  every known calendar (merged and clipped to the range, formatted in the requested ``timeZone``), a per-calendar
  ``notFound`` error for unknown ones, or any error a test sets in ``calendar_errors``.
- ``/calendar/v3/calendars/{cid}/events[/{eid}]``: insert (client ids must be base32hex, 5–1024 characters; 409
  for an id already used, deleted events included), get (deleted events too, with status ``cancelled``), patch
  (top-level fields replaced, arrays whole; ``status: confirmed`` restores a deleted event) and delete (410 when
  already deleted). ``sendUpdates`` of every write is kept in ``notifications``;
  ``conferenceData`` is honoured only with ``conferenceDataVersion=1``, as Google does.
- Every API call needs a bearer token from ``/token`` whose scopes include one that the method lists in the
  client library's own discovery document; otherwise 403 ``insufficientPermissions``.

Answers carry the extra fields the real service sends (``kind``, ``etag``, ``htmlLink``, ``organizer``,
``creator``, ``iCalUID`` ...), and stored events keep summaries, locations and attendees, so that a connector
copying more than times shows up in tests.

Faults: ``inject(endpoint, *faults)`` queues faults consumed one per call; ``set_outage(endpoint, fault)`` answers
every call with one. Endpoints are named ``token``, ``freeBusy``, ``events.insert``, ``events.get``,
``events.patch`` and ``events.delete``. ``calls`` counts calls per endpoint; ``max_in_flight`` records the highest
number of calls to one endpoint served at once. ``inject_calendar_errors(calendar, *reasons)`` gives one calendar
a per-calendar error in each of its next freeBusy answers (Google's passing ``internalError``, say), and
``rewrite(endpoint, change)`` passes every successful answer through ``change(request, answer)`` before it is
sent: a hostile answer (not JSON, fields missing, wrong types) returned as ``bytes`` goes out as they are, a
``Fault`` is answered as that fault (so that only the calls asking for some calendar fail), anything else as
JSON.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import googleapiclient
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_CALENDARS = 50
MAX_RANGE = timedelta(days=90)
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_EVENT_PATH = re.compile(r"/calendar/v3/calendars/(?P<cid>[^/]+)/events(?:/(?P<eid>[^/]+))?")


def _discovery_scopes() -> dict[str, frozenset[str]]:
    """The scopes each method accepts, read from the discovery document the client library ships."""
    document = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"
    resources = json.loads(document.read_text(encoding="utf-8"))["resources"]
    methods = {"freeBusy": resources["freebusy"]["methods"]["query"]}
    for name in ("insert", "get", "patch", "delete"):
        methods[f"events.{name}"] = resources["events"]["methods"][name]
    return {endpoint: frozenset(method["scopes"]) for endpoint, method in methods.items()}


METHOD_SCOPES = _discovery_scopes()


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour of an endpoint.

    ``status`` 0 answers normally. ``delay`` waits before answering; with ``after_write`` the call's effect is
    stored first and only the answer is late (a client that gave up does not know the write happened).
    """

    status: int = 0
    reason: str = ""
    message: str = ""
    retry_after: str | None = None
    delay: float = 0.0
    after_write: bool = False


def rate_limited(retry_after: str | None = None, *, status: int = 429, reason: str = "rateLimitExceeded") -> Fault:
    """Google's rate-limit answer: 429, or 403 with ``rateLimitExceeded`` / ``userRateLimitExceeded``."""
    message = "User Rate Limit Exceeded" if reason == "userRateLimitExceeded" else "Rate Limit Exceeded"
    return Fault(status=status, reason=reason, message=message, retry_after=retry_after)


def quota_exceeded(reason: str = "quotaExceeded") -> Fault:
    """403 ``quotaExceeded`` (or ``dailyLimitExceeded``): a usage limit is spent; it lifts after hours."""
    return Fault(status=403, reason=reason, message="Calendar usage limits exceeded.")


def server_error(status: int = 503) -> Fault:
    """A 5xx answer with Google's ``backendError`` body."""
    message = "The service is currently unavailable." if status == 503 else "Backend Error"
    return Fault(status=status, reason="backendError", message=message)


def slow(seconds: float) -> Fault:
    """A normal answer, ``seconds`` late."""
    return Fault(delay=seconds)


def timeout_after_write(seconds: float) -> Fault:
    """The write is stored, then the answer is held ``seconds`` (past the client's timeout)."""
    return Fault(delay=seconds, after_write=True)


@dataclass
class _Grant:
    subject: str
    scopes: frozenset[str]
    expires: float


@dataclass
class Notification:
    """What a write asked Google to tell the attendees: ``send_updates`` is the query parameter as sent."""

    action: str
    calendar: str
    event_id: str
    send_updates: str | None


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as it is instead of ``body`` as JSON (a hostile answer)


# A test's change to successful answers: (request body as JSON, answer body) -> a new body, bytes to send as they
# are, or a Fault to answer with.
Rewrite = Callable[[Any, Any], Any]


class _ApiError(Exception):
    """An error answer in Google's JSON shape."""

    def __init__(self, status: int, reason: str, message: str, *, domain: str = "global",
                 retry_after: str | None = None) -> None:
        super().__init__(message)
        self.answer = _error_answer(status, reason, message, domain=domain, retry_after=retry_after)


def _error_answer(status: int, reason: str, message: str, *, domain: str = "global",
                  retry_after: str | None = None) -> _Answer:
    if reason in ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"):
        domain = "usageLimits"
    body = {"error": {"errors": [{"domain": domain, "reason": reason, "message": message}], "code": status,
                      "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    return _Answer(status, body, {"Retry-After": retry_after} if retry_after is not None else {})


_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ALREADY_EXISTS", 410: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}


class FakeGoogle:
    """The fake service and its state. Use as a context manager, or call ``start`` and ``stop``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}
        self.delegated: dict[str, set[str]] = defaultdict(set)  # service account -> scopes granted org-wide
        self.events: dict[str, dict[str, dict[str, Any]]] = {}  # calendar id -> event id -> event
        self.calendar_errors: dict[str, str] = {}  # calendar id -> freeBusy error reason
        self._calendar_faults: dict[str, deque[str]] = defaultdict(deque)  # calendar id -> reasons, one per answer
        self._rewrites: dict[str, Rewrite] = {}
        self.calls: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.notifications: list[Notification] = []
        self.token_requests: list[dict[str, Any]] = []  # decoded assertion claims
        self.freebusy_requests: list[dict[str, Any]] = []
        self._in_flight: Counter[str] = Counter()
        self._grants: dict[str, _Grant] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._outages: dict[str, Fault] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life -------------------------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        """Listen on a free loopback port and serve in a background thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = False  # stop() joins every handler, so no thread outlives a test
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake any delayed answer, stop serving and join the handler threads."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def endpoint(self) -> str:
        """The ``api_endpoint`` for the client library (it replaces root URL and service path together)."""
        return f"{self.base_url}/calendar/v3/"

    @property
    def token_uri(self) -> str:
        """The token endpoint."""
        return f"{self.base_url}/token"

    # --- set-up -----------------------------------------------------------------------------------------

    def register_service_account(self, email_address: str, public_key: rsa.RSAPublicKey, *scopes: str) -> None:
        """Know a service account by its public key and grant it ``scopes`` through domain-wide delegation."""
        with self._lock:
            self.service_accounts[email_address] = public_key
            self.delegated[email_address].update(scopes)

    def add_calendar(self, calendar_id: str) -> None:
        """Create a user's (empty) primary calendar."""
        with self._lock:
            self.events.setdefault(calendar_id.lower(), {})

    def add_busy(self, calendar_id: str, start: datetime, end: datetime, *, summary: str = "Private meeting",
                 transparent: bool = False, **extra: Any) -> None:
        """Put an event in a calendar (created if needed), with the details a real event has."""
        calendar_id = calendar_id.lower()
        number = secrets.token_hex(8)
        event = {
            "kind": "calendar#event", "id": f"e{number}", "status": "confirmed", "summary": summary,
            "location": extra.pop("location", "Room 4.12"), "description": extra.pop("description", "Agenda"),
            "attendees": extra.pop("attendees", [{"email": "someone@example.com", "displayName": "Someone"}]),
            "start": {"dateTime": _format(start, "UTC")}, "end": {"dateTime": _format(end, "UTC")},
            "transparency": "transparent" if transparent else "opaque", **extra,
        }
        with self._lock:
            self.events.setdefault(calendar_id, {})[event["id"]] = event

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for the next calls to ``endpoint``, one per call."""
        with self._lock:
            self._faults[endpoint].extend(faults)

    def set_outage(self, endpoint: str, fault: Fault | None) -> None:
        """Answer every call to ``endpoint`` with ``fault`` (``None`` ends the outage)."""
        with self._lock:
            if fault is None:
                self._outages.pop(endpoint, None)
            else:
                self._outages[endpoint] = fault

    def inject_calendar_errors(self, calendar_id: str, *reasons: str) -> None:
        """Answer ``calendar_id`` in its next freeBusy answers with these per-calendar error reasons, one per
        answer (``internalError`` is Google's own passing trouble), then normally again."""
        with self._lock:
            self._calendar_faults[calendar_id.lower()].extend(reasons)

    def rewrite(self, endpoint: str, change: Rewrite | None) -> None:
        """Pass every 2xx answer of ``endpoint`` through ``change(request, answer)`` (``None`` stops): what it
        returns is sent instead, ``bytes`` as they are, a ``Fault`` as that fault, anything else as JSON."""
        with self._lock:
            if change is None:
                self._rewrites.pop(endpoint, None)
            else:
                self._rewrites[endpoint] = change

    def live_events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Events of a calendar that are not cancelled."""
        with self._lock:
            return [e for e in self.events.get(calendar_id.lower(), {}).values() if e["status"] != "cancelled"]

    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (for tests that look for leaks)."""
        with self._lock:
            return list(self._grants)

    # --- serving ----------------------------------------------------------------------------------------

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults[endpoint]
            return queue.popleft() if queue else self._outages.get(endpoint)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Answer:
        """Answer one request (called by the HTTP handler thread)."""
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        endpoint, match = _endpoint_of(method, url.path)
        if endpoint is None:
            return _error_answer(404, "notFound", f"No such method: {method} {url.path}")
        with self._lock:
            self.calls[endpoint] += 1
            self._in_flight[endpoint] += 1
            self.max_in_flight[endpoint] = max(self.max_in_flight[endpoint], self._in_flight[endpoint])
        try:
            fault = self._next_fault(endpoint)
            if fault is not None and not fault.after_write:
                if fault.delay:
                    self._stopping.wait(fault.delay)
                if fault.status:
                    return self._fault_answer(endpoint, fault)
            answer = self._dispatch(endpoint, match, query, headers, body)
            if fault is not None and fault.after_write:
                self._stopping.wait(fault.delay)
            with self._lock:
                change = self._rewrites.get(endpoint)
            if change is not None and 200 <= answer.status < 300:
                changed = change(json.loads(body) if body else None, answer.body)
                if isinstance(changed, Fault):
                    return self._fault_answer(endpoint, changed)
                if isinstance(changed, bytes):
                    return _Answer(answer.status, headers=answer.headers, raw=changed)
                return _Answer(answer.status, changed, answer.headers)
            return answer
        finally:
            with self._lock:
                self._in_flight[endpoint] -= 1

    @staticmethod
    def _fault_answer(endpoint: str, fault: Fault) -> _Answer:
        if endpoint == "token":
            body = {"error": fault.reason or "internal_failure", "error_description": fault.message}
            return _Answer(fault.status, body)
        return _error_answer(fault.status, fault.reason or "backendError", fault.message or "Backend Error",
                             retry_after=fault.retry_after)

    def _dispatch(self, endpoint: str, match: re.Match[str] | None, query: dict[str, str],
                  headers: dict[str, str], body: bytes) -> _Answer:
        try:
            if endpoint == "token":
                return self._token(body)
            grant = self._authorize(endpoint, headers)
            payload = json.loads(body) if body else {}
            if endpoint == "freeBusy":
                return self._freebusy(payload)
            assert match is not None
            calendar = urllib.parse.unquote(match["cid"]).lower()
            calendar = grant.subject if calendar == "primary" else calendar
            event_id = urllib.parse.unquote(match["eid"]) if match["eid"] else ""
            with self._lock:
                if calendar not in self.events:
                    raise _ApiError(404, "notFound", "Not Found")
                if calendar != grant.subject:
                    raise _ApiError(403, "requiredAccessLevel", "You need to have writer access to this calendar.",
                                    domain="calendar")
                if endpoint == "events.insert":
                    return self._insert(calendar, payload, query)
                if endpoint == "events.get":
                    return _Answer(200, dict(self._existing(calendar, event_id)))
                if endpoint == "events.patch":
                    return self._patch(calendar, event_id, payload, query)
                return self._delete(calendar, event_id, query)
        except _ApiError as exc:
            return exc.answer

    # --- OAuth ------------------------------------------------------------------------------------------

    def _token(self, body: bytes) -> _Answer:
        form = dict(urllib.parse.parse_qsl(body.decode("ascii")))
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return _Answer(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."})
        try:
            claims = self._verified_claims(form.get("assertion", ""))
        except ValueError as exc:
            return _Answer(400, {"error": "invalid_grant", "error_description": str(exc)})
        scopes = frozenset(str(claims.get("scope", "")).split())
        subject = str(claims.get("sub", "")).lower()
        with self._lock:
            self.token_requests.append(claims)
            if not scopes or not scopes <= self.delegated[claims["iss"]]:
                return _Answer(401, {"error": "unauthorized_client",
                                     "error_description": "Client is unauthorized to retrieve access tokens using "
                                                          "this method, or client not authorized for any of the "
                                                          "scopes requested."})
            if subject not in self.events:
                return _Answer(400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"})
            token = f"ya29.fake-{secrets.token_urlsafe(24)}"
            self._grants[token] = _Grant(subject, scopes, time.time() + 3600)
        return _Answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verified_claims(self, assertion: str) -> dict[str, Any]:
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_unbase64(header_part))
            claims = json.loads(_unbase64(claims_part))
            signature = _unbase64(signature_part)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("Invalid JWT: cannot be decoded") from None
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT: alg must be RS256")
        key = self.service_accounts.get(claims.get("iss", ""))
        if key is None:
            raise ValueError("Invalid JWT Signature.")  # Google's answer for an unknown or deleted key
        try:
            key.verify(signature, f"{header_part}.{claims_part}".encode("ascii"), padding.PKCS1v15(),
                       hashes.SHA256())
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            raise ValueError("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        now = time.time()
        if not claims.get("iat", now + 1) <= now + 300 < claims.get("exp", 0) + 300:
            raise ValueError("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        return dict(claims)

    def _authorize(self, endpoint: str, headers: dict[str, str]) -> _Grant:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            grant = self._grants.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires < time.time():
            raise _ApiError(401, "authError", "Invalid Credentials")
        if not grant.scopes & METHOD_SCOPES[endpoint]:
            raise _ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        return grant

    # --- freeBusy ---------------------------------------------------------------------------------------

    def _freebusy(self, payload: dict[str, Any]) -> _Answer:
        with self._lock:
            self.freebusy_requests.append(payload)
        try:
            start, end = _parse(payload["timeMin"]), _parse(payload["timeMax"])
        except (KeyError, ValueError):
            raise _ApiError(400, "badRequest", "Bad Request") from None
        if end <= start:
            raise _ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        if end - start >= MAX_RANGE:
            # Google's wording; the reason name is our best knowledge, not documented.
            raise _ApiError(400, "timeRangeTooLong", "The requested time range is too long.", domain="calendar")
        items = payload.get("items", [])
        if len(items) > MAX_CALENDARS:
            raise _ApiError(400, "tooManyCalendarsRequested", "The number of calendars requested is too large.",
                            domain="calendar")
        zone = payload.get("timeZone", "UTC")
        calendars: dict[str, Any] = {}
        with self._lock:
            for item in items:
                asked = item["id"]
                calendar = asked.lower()
                flaky = self._calendar_faults.get(calendar)
                reason = flaky.popleft() if flaky else self.calendar_errors.get(calendar)
                if reason is not None:
                    calendars[asked] = {"errors": [{"domain": "calendar", "reason": reason}], "busy": []}
                elif calendar not in self.events:
                    calendars[asked] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                else:
                    busy = _busy_periods(self.events[calendar].values(), start, end)
                    calendars[asked] = {"busy": [{"start": _format(s, zone), "end": _format(e, zone)}
                                                 for s, e in busy]}
        return _Answer(200, {"kind": "calendar#freeBusy", "timeMin": payload["timeMin"],
                             "timeMax": payload["timeMax"], "calendars": calendars})

    # --- events -----------------------------------------------------------------------------------------

    def _existing(self, calendar: str, event_id: str) -> dict[str, Any]:
        event = self.events[calendar].get(event_id)
        if event is None:
            raise _ApiError(404, "notFound", "Not Found")
        return event

    def _insert(self, calendar: str, payload: dict[str, Any], query: dict[str, str]) -> _Answer:
        event_id = payload.get("id") or f"g{secrets.token_hex(13)}"
        if not _EVENT_ID.fullmatch(event_id):
            raise _ApiError(400, "invalid", "Invalid resource id value.")
        if event_id in self.events[calendar]:  # deleted events keep their id for good
            raise _ApiError(409, "duplicate", "The requested identifier already exists.")
        _check_times(payload)
        now = _format(datetime.now(UTC), "UTC")
        event: dict[str, Any] = {
            "kind": "calendar#event", "etag": f'"{time.time_ns()}"', "id": event_id, "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": now, "updated": now,
            "creator": {"email": calendar, "self": True}, "organizer": {"email": calendar, "self": True},
            "iCalUID": f"{event_id}@google.com", "sequence": 0, "reminders": {"useDefault": True},
            "eventType": "default",
        }
        event.update({k: v for k, v in payload.items() if k != "conferenceData"})
        event["attendees"] = [{**a, "responseStatus": "needsAction"} for a in payload.get("attendees", [])]
        if int(query.get("conferenceDataVersion", "0")) >= 1 and "conferenceData" in payload:
            event.update(_meet(payload["conferenceData"]))
        self.events[calendar][event_id] = event
        self.notifications.append(Notification("insert", calendar, event_id, query.get("sendUpdates")))
        return _Answer(200, dict(event))

    def _patch(self, calendar: str, event_id: str, payload: dict[str, Any], query: dict[str, str]) -> _Answer:
        event = self._existing(calendar, event_id)
        if "id" in payload and payload["id"] != event_id:
            raise _ApiError(400, "invalid", "Invalid resource id value.")
        merged = {**event, **{k: v for k, v in payload.items() if k != "conferenceData"}}
        _check_times(merged)
        if "attendees" in payload:
            merged["attendees"] = [{**a, "responseStatus": "needsAction"} for a in payload["attendees"]]
        if int(query.get("conferenceDataVersion", "0")) >= 1 and "conferenceData" in payload:
            merged.update(_meet(payload["conferenceData"]))
        merged["updated"] = _format(datetime.now(UTC), "UTC")
        merged["etag"] = f'"{time.time_ns()}"'
        self.events[calendar][event_id] = merged
        self.notifications.append(Notification("patch", calendar, event_id, query.get("sendUpdates")))
        return _Answer(200, dict(merged))

    def _delete(self, calendar: str, event_id: str, query: dict[str, str]) -> _Answer:
        event = self._existing(calendar, event_id)
        if event["status"] == "cancelled":
            raise _ApiError(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        self.notifications.append(Notification("delete", calendar, event_id, query.get("sendUpdates")))
        return _Answer(204)


def _endpoint_of(method: str, path: str) -> tuple[str | None, re.Match[str] | None]:
    if path == "/token" and method == "POST":
        return "token", None
    if path == "/calendar/v3/freeBusy" and method == "POST":
        return "freeBusy", None
    match = _EVENT_PATH.fullmatch(path)
    if match is None:
        return None, None
    if match["eid"] is None:
        return ("events.insert" if method == "POST" else None), match
    return {"GET": "events.get", "PATCH": "events.patch", "DELETE": "events.delete"}.get(method), match


def _check_times(event: dict[str, Any]) -> None:
    try:
        start, end = _parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        raise _ApiError(400, "required", "Missing time information.") from None
    if end < start:
        raise _ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")


def _meet(conference: dict[str, Any]) -> dict[str, Any]:
    request = conference.get("createRequest") or {}
    if (request.get("conferenceSolutionKey") or {}).get("type") != "hangoutsMeet" or not request.get("requestId"):
        raise _ApiError(400, "invalid", "Invalid conference type value.")
    code = hashlib.sha256(request["requestId"].encode()).hexdigest()
    meeting = f"{code[:3]}-{code[3:7]}-{code[7:10]}".translate(str.maketrans("0123456789", "ghijklmnop"))
    link = f"https://meet.google.com/{meeting}"
    return {"hangoutLink": link, "conferenceData": {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [{"entryPointType": "video", "uri": link, "label": link.removeprefix("https://")}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": meeting,
    }}


def _busy_periods(events: Any, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    spans = sorted(
        (max(s, start), min(e, end))
        for event in events
        if event["status"] != "cancelled" and event.get("transparency") != "transparent"
        for s, e in [(_parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"]))]
        if s < end and start < e
    )
    merged: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("time without offset")
    return moment


def _format(moment: datetime, zone: str) -> str:
    """RFC 3339 as Google writes it: ``Z`` for UTC, else the zone's offset."""
    local = moment.astimezone(ZoneInfo(zone))
    text = local.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if zone == "UTC" else text


def _unbase64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def http_date(seconds_from_now: float) -> str:
    """An HTTP date ``seconds_from_now`` in the future, for a ``Retry-After`` header."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    server_version = "ESF"  # what Google's front end calls itself
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers between tests

    def _serve(self) -> None:
        fake: FakeGoogle = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = fake.handle(self.command, self.path, headers, body)
        if answer.raw is not None:
            data = answer.raw
        else:
            data = b"" if answer.body is None else json.dumps(answer.body, indent=1).encode()
        try:
            self.send_response(answer.status, HTTPStatus(answer.status).phrase)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Vary", "Origin, X-Origin, Referer")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a scripted timeout): nothing to tell it

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # silence: the tests read state, not logs
        pass

