"""A wire-level fake of Microsoft's sign-in service and of Microsoft Graph's calendar endpoints, served over TLS on
loopback, for driving ``integrations.microsoft_graph`` through the real msal and requests.

It speaks the JSON of the real services and enforces what they enforce:

- Sign-in: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials with a client secret or a signed client assertion, checked against the registered
  certificate); unknown tenants, clients and bad secrets get Entra's error bodies (``invalid_client``
  AADSTS7000215, ...). Tokens carry ``expires_in``; Graph calls without a valid bearer token get 401.
- ``POST /v1.0/users/{mailbox}/calendar/getSchedule``: at most 20 schedules and a window under 62 days (400
  with Graph's error body otherwise), ``availabilityViewInterval`` 5–1440, times read in the body's zone and
  answered in UTC or the zone of ``Prefer: outlook.timezone``. Schedule items come WITH ``subject`` and
  ``location`` (so that dropping them is tested), with ``availabilityView`` and ``workingHours`` in a Windows
  zone; unknown mailboxes get a per-schedule ``error``.
- Events: create (``transactionId`` de-duplicates a repeated create, as Graph does), list with the documented
  ``singleValueExtendedProperties/Any(...)`` filter and ``$select``, get, patch, ``/cancel`` (which moves the
  event out of the calendar, as Exchange moves it to Deleted Items).
- Throttling: more than ``max_concurrent`` (4) requests in flight for one mailbox get 429
  ``ApplicationThrottled`` (MailboxConcurrency) with ``Retry-After``, the way Graph answers.

Faults are scripted per endpoint name (``token``, ``openid``, ``getSchedule``, ``events.list``,
``events.create``, ``events.get``, ``events.patch``, ``events.cancel``): each injected ``Fault`` is used by one
request, in order; ``fail_always`` fails every request until ``recover``. A fault can answer with a status
(429 with ``Retry-After`` in seconds or as an HTTP date, 500, 503), answer slowly, or do the work and then
answer too late ("timeout after a successful write").

``rewrite(endpoint, change)`` passes every successful answer of an endpoint through ``change(request, answer)``
(the request's JSON body and the answer's): a hostile answer (not JSON, fields missing, wrong types) returned as
``bytes`` is sent as it is, a ``Fault`` is answered as that fault (so that only the calls asking for some mailbox
fail), anything else as JSON.

Everything tests read is on the object: ``calls`` (per endpoint), ``schedule_requests`` (each getSchedule
body), ``events`` and ``cancelled``, ``max_in_flight`` (per mailbox), ``throttled`` and ``tokens_issued``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

UTC = dt.UTC
MAX_SCHEDULES = 20
MAX_WINDOW_DAYS = 62
WORKWEEK = ("monday", "tuesday", "wednesday", "thursday", "friday")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# availabilityView digits and which status wins a slot when several items overlap it.
_VIEW_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingelsewhere": "4"}
_VIEW_RANK = {digit: rank for rank, digit in enumerate("32410")}  # lower rank wins a slot

_EXTENDED_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(ep:\s*ep/id eq '((?:[^']|'')*)' and ep/value eq '((?:[^']|'')*)'\)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and its key: the server's identity and the client's trust."""

    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """Write a fresh self-signed certificate (EC P-256, valid for 127.0.0.1 and localhost) into ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffeechat graph fake")])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(cert=directory / "graph-fake.crt", key=directory / "graph-fake.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


@dataclass
class Fault:
    """What one request gets instead of a normal answer.

    ``status`` answers with that status and Graph's error body (``code``), with ``Retry-After: retry_after``
    when given. ``delay`` waits before answering; with ``after_write`` the work is done first and only the
    answer is late, so a client that gives up has still changed the server's state.
    """

    status: int | None = None
    retry_after: str | None = None
    code: str = ""
    delay: float = 0.0
    after_write: bool = False


@dataclass
class ScheduleItem:
    """One calendar entry as getSchedule reports it, with the private fields that clients must drop."""

    start: dt.datetime
    end: dt.datetime
    status: str = "busy"
    subject: str = "Busy"
    location: str = ""


@dataclass
class Mailbox:
    """A mailbox's calendar and settings. ``working_zone`` is a zone name (Windows or IANA) or a full
    ``customTimeZone`` dict; ``details_hidden`` answers with the availabilityView only; ``free_busy_denied``
    answers with a per-schedule error."""

    address: str
    items: list[ScheduleItem] = field(default_factory=list)
    working_days: tuple[str, ...] = WORKWEEK
    working_start: str = "08:00:00.0000000"
    working_end: str = "17:00:00.0000000"
    working_zone: str | dict[str, Any] = "W. Europe Standard Time"
    details_hidden: bool = False
    free_busy_denied: bool = False


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as it is instead of ``body`` as JSON (a hostile answer)


# A test's change to successful answers: (request body as JSON, answer body) -> a new body, bytes to send as they
# are, or a Fault to answer with.
Rewrite = Callable[[Any, Any], Any]


class GraphFake:
    """The fake services; use as a context manager (``with GraphFake(tls=...) as graph:``)."""

    def __init__(
        self,
        *,
        tls: TlsFiles,
        tenant_id: str = "11111111-2222-3333-4444-555555555555",
        client_id: str = "coffee-chat-app",
        client_secret: str | None = None,
        certificate_pem: bytes | None = None,
        organizer: str = "coffee@contoso.example",
        max_concurrent: int = 4,
        latency: float = 0.0,
        token_lifetime: int = 3599,
    ) -> None:
        self.tls = tls
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.certificate = x509.load_pem_x509_certificate(certificate_pem) if certificate_pem else None
        self.max_concurrent = max_concurrent
        self.latency = latency
        self.token_lifetime = token_lifetime
        self.mailboxes: dict[str, Mailbox] = {}
        self.add_mailbox(organizer)
        self.calls: Counter[str] = Counter()
        self.schedule_requests: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, Any]] = {}  # id -> event, for events still in a calendar
        self.cancelled: list[dict[str, Any]] = []
        self.max_in_flight: Counter[str] = Counter()
        self.throttled = 0
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._always: dict[str, Fault] = {}
        self._rewrites: dict[str, Rewrite] = {}
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------------------------

    def start(self) -> GraphFake:
        """Listen on 127.0.0.1 on a free port, over TLS, in a background thread."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server = _Server(("127.0.0.1", 0), _Handler)
        # The handshake happens in the handler's thread, so a slow client never blocks the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; requests still sleeping in a fault are abandoned (their threads are daemons)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GraphFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def graph_endpoint(self) -> str:
        return self.base_url + "/v1.0"

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    # --- set-up and fault scripts ------------------------------------------------------------------------

    def add_mailbox(self, address: str, **settings: Any) -> Mailbox:
        """Create (or replace) a mailbox; ``settings`` are ``Mailbox`` fields."""
        mailbox = Mailbox(address=address.lower(), **settings)
        self.mailboxes[mailbox.address] = mailbox
        return mailbox

    def add_item(self, address: str, start: dt.datetime, end: dt.datetime, status: str = "busy", *,
                 subject: str = "Busy", location: str = "") -> None:
        """Put a calendar entry in ``address``'s calendar (creating the mailbox if needed)."""
        mailbox = self.mailboxes.get(address.lower()) or self.add_mailbox(address)
        mailbox.items.append(ScheduleItem(start, end, status, subject, location))

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Make the next requests to ``endpoint`` meet ``faults``, one each, in order."""
        with self._lock:
            self._faults.setdefault(endpoint, []).extend(faults)

    def fail_always(self, endpoint: str, fault: Fault | None = None) -> None:
        """Fail every request to ``endpoint`` (with 503 unless told otherwise) until ``recover``."""
        with self._lock:
            self._always[endpoint] = fault or Fault(status=503, code="ServiceUnavailable")

    def rewrite(self, endpoint: str, change: Rewrite | None) -> None:
        """Pass every 2xx answer of ``endpoint`` through ``change(request, answer)`` (``None`` stops): what it
        returns is sent instead, ``bytes`` as they are, a ``Fault`` as that fault, anything else as JSON."""
        with self._lock:
            if change is None:
                self._rewrites.pop(endpoint, None)
            else:
                self._rewrites[endpoint] = change

    def recover(self, endpoint: str) -> None:
        with self._lock:
            self._always.pop(endpoint, None)
            self._faults.pop(endpoint, None)

    def revoke_tokens(self) -> None:
        """Forget every issued token: the next Graph call with an old one gets 401."""
        with self._lock:
            self._tokens.clear()

    def events_of(self, mailbox: str) -> list[dict[str, Any]]:
        """The events still in ``mailbox``'s calendar."""
        with self._lock:
            return [event for event in self.events.values() if event["_mailbox"] == mailbox.lower()]

    # --- request handling --------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        route = self._route(method, url.path)
        if route is None:
            self._send(handler, _graph_error(404, "UnknownError", f"no route for {method} {url.path}"))
            return
        endpoint, mailbox, work = route
        fault = self._take_fault(endpoint)
        with self._lock:
            change = self._rewrites.get(endpoint)
        if change is not None:
            work = self._rewritten(work, change, raw)
        with self._lock:
            self.calls[endpoint] += 1
        if mailbox is None:  # sign-in endpoints: no bearer token, no mailbox concurrency, OAuth error bodies
            self._answer(handler, fault, lambda: work(handler, query, raw), oauth=True)
            return
        if not self._authorized(handler.headers.get("Authorization", "")):
            self._send(handler, _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure."))
            return
        with self._lock:
            self._in_flight[mailbox] += 1
            over = self._in_flight[mailbox] > self.max_concurrent
            if over:
                self.throttled += 1
            else:
                self.max_in_flight[mailbox] = max(self.max_in_flight[mailbox], self._in_flight[mailbox])
        try:
            if over:
                answer = _graph_error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
                answer.headers["Retry-After"] = "1"
                self._send(handler, answer)
            else:
                self._answer(handler, fault, lambda: work(handler, query, raw, mailbox))
        finally:
            with self._lock:
                self._in_flight[mailbox] -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, fault: Fault | None, work: Callable[[], _Answer], *,
                oauth: bool = False) -> None:
        if fault is not None and fault.delay and not fault.after_write:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            if oauth:
                answer = _oauth_error(fault.status, fault.code or "temporarily_unavailable",
                                      "AADSTS50196: The server is temporarily unavailable (injected fault).")
            else:
                answer = _graph_error(fault.status, fault.code or _default_code(fault.status), "Injected fault.")
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
            self._send(handler, answer)
            return
        if self.latency:
            time.sleep(self.latency)
        try:
            answer = work()
        except _BadRequest as exc:
            answer = exc.answer
        if fault is not None and fault.after_write:
            time.sleep(fault.delay)
        self._send(handler, answer)

    @staticmethod
    def _rewritten(work: Callable[..., _Answer], change: Rewrite, raw: bytes) -> Callable[..., _Answer]:
        """``work`` with its 2xx answers passed through a test's ``change``."""

        def changed(*args: Any) -> _Answer:
            answer = work(*args)
            if not 200 <= answer.status < 300:
                return answer
            new = change(json.loads(raw) if raw else None, answer.body)
            if isinstance(new, Fault):
                status = new.status or 500
                failed = _graph_error(status, new.code or _default_code(status), "Injected fault.")
                if new.retry_after is not None:
                    failed.headers["Retry-After"] = new.retry_after
                return failed
            if isinstance(new, bytes):
                return _Answer(answer.status, headers=answer.headers, raw=new)
            return _Answer(answer.status, new, answer.headers)

        return changed

    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queued = self._faults.get(endpoint)
            if queued:
                return queued.pop(0)
            return self._always.get(endpoint)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, answer: _Answer) -> None:
        if answer.raw is not None:
            payload = answer.raw
        else:
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        try:
            handler.send_response(answer.status)
            if payload:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except (OSError, ssl.SSLError):
            handler.close_connection = True  # the client gave up (a timeout fault): nobody is listening

    def _route(self, method: str, path: str) -> tuple[str, str | None, Callable[..., _Answer]] | None:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return "openid", None, lambda handler, query, raw: self._openid(parts[0])
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            return "token", None, lambda handler, query, raw: self._token(parts[0], raw)
        if len(parts) < 4 or parts[:2] != ["v1.0", "users"]:
            return None
        rest = parts[3:]
        routes: dict[tuple[str, ...], tuple[str, Callable[..., _Answer]]] = {
            ("POST", "calendar", "getSchedule"): ("getSchedule", self._get_schedule),
            ("GET", "events"): ("events.list", self._list_events),
            ("POST", "events"): ("events.create", self._create_event),
        }
        if len(rest) >= 2 and rest[0] == "events":
            event_id = rest[1]
            routes.update({
                ("GET", "events", event_id): ("events.get", lambda *a: self._get_event(event_id, *a)),
                ("PATCH", "events", event_id): ("events.patch", lambda *a: self._patch_event(event_id, *a)),
                ("POST", "events", event_id, "cancel"): ("events.cancel",
                                                          lambda *a: self._cancel_event(event_id, *a)),
            })
        found = routes.get((method, *rest))
        return (found[0], parts[2].lower(), found[1]) if found else None

    # --- sign-in -----------------------------------------------------------------------------------------

    def _openid(self, tenant: str) -> _Answer:
        if tenant != self.tenant_id:
            return _Answer(400, {"error": "invalid_tenant",
                                 "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        base = f"{self.base_url}/{tenant}"
        return _Answer(200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        })

    def _token(self, tenant: str, raw: bytes) -> _Answer:
        form = {key: values[-1] for key, values in parse_qs(raw.decode()).items()}
        if tenant != self.tenant_id:
            return _oauth_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported "
                                                               "grant type.")
        if form.get("client_id") != self.client_id:
            return _oauth_error(400, "unauthorized_client", f"AADSTS700016: Application with identifier "
                                f"'{form.get('client_id')}' was not found in the directory.")
        if form.get("scope") != f"{self.base_url}/.default":
            return _oauth_error(400, "invalid_scope", f"AADSTS1002012: The provided value for scope "
                                f"{form.get('scope')} is not valid.")
        if "client_assertion" in form:
            problem = self._check_assertion(form)
            if problem:
                return _oauth_error(401, "invalid_client", problem)
        elif self.client_secret is None or form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure "
                                "the secret being sent in the request is the client secret value.")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
            self.tokens_issued += 1
        return _Answer(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                             "ext_expires_in": self.token_lifetime, "access_token": token})

    def _check_assertion(self, form: dict[str, str]) -> str | None:
        """Why a client assertion is refused, or ``None`` when it is good."""
        if self.certificate is None:
            return "AADSTS700027: No certificate is registered for this application."
        if form.get("client_assertion_type") != JWT_BEARER:
            return "AADSTS700027: client_assertion_type is wrong."
        assertion = form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        thumbprint = base64.urlsafe_b64encode(self.certificate.fingerprint(hashes.SHA1())).decode().rstrip("=")  # noqa: S303 - x5t is SHA-1 by definition
        if str(header.get("x5t", "")).rstrip("=") != thumbprint:
            return "AADSTS700027: The certificate with identifier used to sign the client assertion is not " \
                   "registered on application."
        try:
            claims = jwt.decode(assertion, self.certificate.public_key(),  # type: ignore[arg-type]
                                algorithms=["RS256", "PS256"], audience=self.token_endpoint)
        except jwt.PyJWTError as exc:
            return f"AADSTS700027: Client assertion failed signature validation: {exc}"
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return "AADSTS700023: Client assertion issuer and subject must be the client id."
        return None

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        with self._lock:
            expiry = self._tokens.get(token)
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.monotonic()

    # --- getSchedule -------------------------------------------------------------------------------------

    def _get_schedule(self, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                      organizer: str) -> _Answer:
        self._require_mailbox(organizer)
        body = _json_body(raw)
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules:
            raise _BadRequest(400, "ErrorInvalidParameter", "schedules is required.")
        if len(schedules) > MAX_SCHEDULES:
            raise _BadRequest(400, "ErrorInvalidParameter",
                              f"The number of schedules {len(schedules)} exceeds the maximum of {MAX_SCHEDULES}.")
        start, end = _read_moment(body.get("startTime")), _read_moment(body.get("endTime"))
        if end <= start:
            raise _BadRequest(400, "ErrorInvalidParameter", "endTime must be after startTime.")
        if end - start >= dt.timedelta(days=MAX_WINDOW_DAYS):
            raise _BadRequest(400, "ErrorInvalidTimeInterval",
                              f"The requested time duration must be less than {MAX_WINDOW_DAYS} days.")
        interval = int(body.get("availabilityViewInterval") or 30)
        if not 5 <= interval <= 1440:
            raise _BadRequest(400, "ErrorInvalidParameter", "availabilityViewInterval must be 5 to 1440.")
        answer_zone_name = _prefer_zone(handler.headers.get("Prefer", "")) or "UTC"
        answer_zone = ZoneInfo(_iana(answer_zone_name) or "UTC")
        with self._lock:
            self.schedule_requests.append({"organizer": organizer, "schedules": list(schedules), "start": start,
                                           "end": end, "interval": interval, "prefer": answer_zone_name})

        def stamp(moment: dt.datetime) -> dict[str, str]:
            local = moment.astimezone(answer_zone).replace(tzinfo=None)
            return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": answer_zone_name}

        values = []
        for schedule in schedules:
            mailbox = self.mailboxes.get(str(schedule).lower())
            if mailbox is None:
                values.append({"scheduleId": schedule, "availabilityView": "", "error": {
                    "message": f"The requested user '{schedule}' is invalid.", "responseCode": "ErrorInvalidUser"}})
                continue
            if mailbox.free_busy_denied:
                values.append({"scheduleId": schedule, "availabilityView": "", "error": {
                    "message": "Not allowed to access free/busy information.",
                    "responseCode": "ErrorNoFreeBusyAccess"}})
                continue
            items = [item for item in mailbox.items if item.start < end and start < item.end]
            info: dict[str, Any] = {
                "scheduleId": schedule,
                "availabilityView": _availability_view(items, start, end, interval),
                "workingHours": {
                    "daysOfWeek": list(mailbox.working_days),
                    "startTime": mailbox.working_start,
                    "endTime": mailbox.working_end,
                    "timeZone": mailbox.working_zone if isinstance(mailbox.working_zone, dict)
                    else {"name": mailbox.working_zone},
                },
            }
            if not mailbox.details_hidden:
                info["scheduleItems"] = [{
                    "isPrivate": False, "status": item.status, "subject": item.subject, "location": item.location,
                    "isMeeting": True, "isRecurring": False, "isException": False, "isReminderSet": True,
                    "start": stamp(item.start), "end": stamp(item.end),
                } for item in sorted(items, key=lambda i: i.start)]
            values.append(info)
        return _Answer(200, {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph."
                              "scheduleInformation)",
            "value": values,
        })

    # --- events ------------------------------------------------------------------------------------------

    def _create_event(self, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                      mailbox: str) -> _Answer:
        self._require_mailbox(mailbox)
        body = _json_body(raw)
        _check_event_fields(body, creating=True)
        with self._lock:
            transaction = body.get("transactionId")
            if transaction:
                for event in self.events.values():
                    if event["_mailbox"] == mailbox and event.get("transactionId") == transaction:
                        return _Answer(201, _public(event))
            event_id = "AAMkAGI2T" + secrets.token_urlsafe(32)
            event = {
                "id": event_id,
                "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper(),
                "createdDateTime": dt.datetime.now(UTC).isoformat(),
                "organizer": {"emailAddress": {"address": mailbox, "name": mailbox}},
                "isOnlineMeeting": False,
                "onlineMeetingProvider": "unknown",
                "onlineMeeting": None,
                "isCancelled": False,
                "_mailbox": mailbox,
                "_updates": 0,
                "_properties": {},
            }
            self._apply(event, body)
            self.events[event_id] = event
            return _Answer(201, _public(event))

    def _list_events(self, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                     mailbox: str) -> _Answer:
        self._require_mailbox(mailbox)
        matches = [event for event in self.events.values() if event["_mailbox"] == mailbox]
        condition = query.get("$filter")
        if condition is not None:
            found = _EXTENDED_FILTER.match(condition.strip())
            if found is None:
                raise _BadRequest(400, "ErrorInvalidUrlQueryFilter",
                                  "The query filter contains one or more invalid nodes.")
            property_id, value = (part.replace("''", "'") for part in found.groups())
            # The property's name is compared case-sensitively, its value case-insensitively (Graph's rules).
            matches = [event for event in matches
                       if str(event["_properties"].get(property_id, "")).lower() == value.lower()
                       and property_id in event["_properties"]]
        fields = [name.strip() for name in query["$select"].split(",")] if "$select" in query else None
        return _Answer(200, {"value": [_public(event, fields) for event in matches]})

    def _get_event(self, event_id: str, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                   mailbox: str) -> _Answer:
        return _Answer(200, _public(self._event(mailbox, event_id)))

    def _patch_event(self, event_id: str, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                     mailbox: str) -> _Answer:
        body = _json_body(raw)
        if "transactionId" in body:
            raise _BadRequest(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
        _check_event_fields(body, creating=False)
        with self._lock:
            event = self._event(mailbox, event_id)
            self._apply(event, body)
            event["_updates"] += 1
            return _Answer(200, _public(event))

    def _cancel_event(self, event_id: str, handler: BaseHTTPRequestHandler, query: dict[str, str], raw: bytes,
                      mailbox: str) -> _Answer:
        body = _json_body(raw) if raw else {}
        with self._lock:
            event = self._event(mailbox, event_id)
            del self.events[event_id]
            event["isCancelled"] = True
            event["_comment"] = body.get("comment") or body.get("Comment") or ""
            self.cancelled.append(event)
        return _Answer(202)

    def _event(self, mailbox: str, event_id: str) -> dict[str, Any]:
        event = self.events.get(event_id)
        if event is None or event["_mailbox"] != mailbox:
            raise _BadRequest(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    @staticmethod
    def _apply(event: dict[str, Any], body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key == "singleValueExtendedProperties":
                event["_properties"].update({prop["id"]: prop["value"] for prop in value})
            elif key == "attendees":
                event["attendees"] = [{**attendee, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                                      for attendee in value]
            else:
                event[key] = value
        if event.get("isOnlineMeeting") and event.get("onlineMeetingProvider") == "teamsForBusiness":
            event["onlineMeeting"] = event.get("onlineMeeting") or {
                "joinUrl": f"https://teams.microsoft.com/l/meetup-join/{secrets.token_hex(16)}"}

    def _require_mailbox(self, address: str) -> None:
        if address not in self.mailboxes:
            raise _BadRequest(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: GraphFake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that refuses the certificate or hangs up mid-answer is part of the tests, not a server bug.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    server: _Server

    def setup(self) -> None:
        # Without this, headers and body leave in two segments and Nagle's algorithm meets the client's delayed
        # ACK: 40 ms per answer on loopback.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def do_GET(self) -> None:
        self.server.fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake.handle(self, "POST")

    def do_PATCH(self) -> None:
        self.server.fake.handle(self, "PATCH")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read the fake's counters, not its access log."""


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.answer = _graph_error(status, code, message)
        super().__init__(message)


def _graph_error(status: int, code: str, message: str) -> _Answer:
    return _Answer(status, {"error": {"code": code, "message": message, "innerError": {
        "date": dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": secrets.token_hex(16)}}})


def _oauth_error(status: int, error: str, description: str) -> _Answer:
    return _Answer(status, {"error": error, "error_description": description, "error_codes": [
        int(description[6:description.index(":")])] if description.startswith("AADSTS") else []})


def _default_code(status: int) -> str:
    return {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
            504: "GatewayTimeout"}.get(status, "ErrorInvalidRequest")


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise _BadRequest(400, "BadRequest", "Unable to read JSON request payload.") from None
    if not isinstance(body, dict):
        raise _BadRequest(400, "BadRequest", "The request body must be a JSON object.")
    return body


def _iana(name: str) -> str | None:
    if name.upper() == "UTC":
        return "UTC"
    if name in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[name]
    try:
        ZoneInfo(name)
    except (ValueError, KeyError):
        return None
    return name


def _read_moment(value: object) -> dt.datetime:
    """A request's dateTimeTimeZone as UTC; 400 when it is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise _BadRequest(400, "ErrorInvalidParameter", "startTime and endTime must be dateTimeTimeZone objects.")
    zone = _iana(str(value.get("timeZone") or ""))
    if zone is None:
        raise _BadRequest(400, "ErrorInvalidTimeZone", f"Invalid time zone {value.get('timeZone')!r}.")
    try:
        moment = dt.datetime.fromisoformat(value["dateTime"])
    except ValueError:
        raise _BadRequest(400, "ErrorInvalidParameter", f"Invalid dateTime {value['dateTime']!r}.") from None
    if moment.tzinfo is not None:
        raise _BadRequest(400, "ErrorInvalidParameter", "dateTime must not carry an offset; use timeZone.")
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _prefer_zone(header: str) -> str | None:
    found = re.search(r'outlook\.timezone\s*=\s*"([^"]+)"', header)
    return found.group(1) if found else None


def _availability_view(items: list[ScheduleItem], start: dt.datetime, end: dt.datetime, minutes: int) -> str:
    slot = dt.timedelta(minutes=minutes)
    digits = ["0"] * -(-(end - start) // slot)
    for item in items:
        digit = _VIEW_DIGITS.get(item.status.lower(), "0")
        first = max(0, (item.start - start) // slot)
        last = min(len(digits), -(-(item.end - start) // slot))
        for index in range(first, last):
            if _VIEW_RANK[digit] < _VIEW_RANK[digits[index]]:
                digits[index] = digit
    return "".join(digits)


def _check_event_fields(body: dict[str, Any], *, creating: bool) -> None:
    if creating and not isinstance(body.get("subject"), str):
        raise _BadRequest(400, "ErrorInvalidRequest", "subject is required.")
    for key in ("start", "end"):
        if creating or key in body:
            _read_moment(body.get(key))
    for attendee in body.get("attendees", []):
        address = (attendee.get("emailAddress") or {}).get("address")
        if not address or "@" not in address:
            raise _BadRequest(400, "ErrorInvalidRecipients", "An attendee has no valid email address.")
        if attendee.get("type") not in {"required", "optional", "resource"}:
            raise _BadRequest(400, "ErrorInvalidRequest", "attendee type must be required, optional or resource.")
    if body.get("isOnlineMeeting") and body.get("onlineMeetingProvider") not in {
            "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"}:
        raise _BadRequest(400, "ErrorInvalidRequest", "onlineMeetingProvider is not supported.")


def _public(event: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    """An event as Graph shows it: without the fake's own bookkeeping, optionally only ``$select`` fields."""
    shown = {key: value for key, value in event.items() if not key.startswith("_")}
    if fields is not None:
        shown = {key: value for key, value in shown.items() if key in fields or key == "id"}
    return {"@odata.etag": f'W/"{hashlib.sha256(event["id"].encode()).hexdigest()[:16]}"', **shown}

