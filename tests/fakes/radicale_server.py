"""A real Radicale CalDAV server on loopback, for adapter and contract tests.

``running_radicale(root)`` starts ``python -m radicale`` in a subprocess with a configuration of its own under
``root`` (filesystem storage, htpasswd users with plain passwords, a rights file) and stops it on exit. It is
the real server, not a fake: the CalDAV connector is tested against what Radicale actually answers.

Users and rights:

- Every user in ``users`` (name → password) owns the collections under ``/<name>/`` (read and write).
- ``reader`` (the account the connector logs in with) may read every collection, except those of users
  listed in ``freebusy_only``, where it may only ask free-busy-query (Radicale's ``f`` permission): that is
  the least-privilege set-up where a calendar-query fallback is refused with 403.

Radicale cannot listen on port 0, so a free port is picked first (bound and released: a small race that does
not matter on a test machine).

Beside it: ``RadicaleProxy`` puts Radicale behind a proxy that can refuse calendar-query or free-busy-query
(to force a connector's fallback), inject 429/503/500 answers and slow requests down; ``silent_port`` is a server that
accepts connections and never answers (timeouts); ``free_port`` with nothing started on it is a server that is
down (connection refused).

Usage (start it once per module: it takes about a second)::

    @pytest.fixture(scope="module")
    def radicale(tmp_path_factory):
        with running_radicale(tmp_path_factory.mktemp("radicale"), {"alice": "alice-pw"}) as server:
            server.make_calendar("alice", "work", [ics_text, ...])
            yield server

    # then read server.collection_url("alice", "work") as user READER with READER_PASSWORD
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import caldav

READER = "reader"
READER_PASSWORD = "reader-secret-3141"  # a throwaway password of a test server

_STARTUP_SECONDS = 20.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RadicaleServer:
    """A running Radicale: where it listens and how to put calendars and events on it."""

    url: str  # "http://127.0.0.1:PORT/"
    users: Mapping[str, str]
    log_path: Path

    def collection_url(self, user: str, name: str) -> str:
        """The URL of ``user``'s calendar collection ``name`` (which may or may not exist)."""
        return f"{self.url}{user}/{name}/"

    def client(self, user: str) -> caldav.DAVClient:
        """A caldav client logged in as ``user``; close it after use."""
        return caldav.DAVClient(url=self.url, username=user, password=self.users[user], timeout=10)

    def make_calendar(self, user: str, name: str, events: Sequence[str] = ()) -> str:
        """Create ``user``'s calendar ``name`` holding ``events`` (iCalendar texts) and return its URL."""
        url = self.collection_url(user, name)
        with self.client(user) as client:
            calendar = client.principal().make_calendar(name=name, cal_id=name)
            for text in events:
                calendar.add_event(text)
        return url

    def add_events(self, user: str, name: str, events: Sequence[str]) -> None:
        """Add ``events`` (iCalendar texts) to ``user``'s existing calendar ``name``."""
        with self.client(user) as client:
            calendar = client.calendar(url=self.collection_url(user, name))
            for text in events:
                calendar.add_event(text)


def _write_config(root: Path, host: str, port: int, users: Mapping[str, str], freebusy_only: Sequence[str]) -> Path:
    storage = root / "collections"
    storage.mkdir(parents=True, exist_ok=True)
    htpasswd = root / "users"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()), encoding="utf-8")
    limited = "|".join(freebusy_only) or "(?!)"  # (?!) matches nothing
    rights = root / "rights"
    rights.write_text(
        "\n".join(
            [
                "[root]",
                "user: .+",
                "collection:",
                "permissions: R",
                "",
                "[owner]",
                "user: .+",
                "collection: {user}(/.*)?",
                "permissions: RrWw",
                "",
                "[reader-freebusy-only]",
                f"user: {READER}",
                f"collection: ({limited})/[^/]+",
                "permissions: f",
                "",
                "[reader-principals]",
                f"user: {READER}",
                "collection: [^/]+",
                "permissions: R",
                "",
                "[reader]",
                f"user: {READER}",
                "collection: [^/]+/[^/]+",
                "permissions: r",
                "",
            ]
        ),
        encoding="utf-8",
    )
    config = root / "config"
    config.write_text(
        "\n".join(
            [
                "[server]",
                f"hosts = {host}:{port}",
                "delay_on_error = 0",
                "[auth]",
                "type = htpasswd",
                f"htpasswd_filename = {htpasswd}",
                "htpasswd_encryption = plain",
                "delay = 0",
                "[rights]",
                "type = from_file",
                f"file = {rights}",
                "[storage]",
                f"filesystem_folder = {storage}",
                "[logging]",
                "level = warning",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def _wait_until_listening(process: subprocess.Popen[bytes], host: str, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"radicale exited with {process.returncode}: {log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale did not listen on {host}:{port} within {_STARTUP_SECONDS:g} s")


@contextmanager
def running_radicale(
    root: Path,
    users: Mapping[str, str] | None = None,
    *,
    freebusy_only: Sequence[str] = (),
    host: str = "127.0.0.1",
) -> Iterator[RadicaleServer]:
    """Run Radicale with its storage and configuration under ``root`` until the block ends.

    ``users`` maps user names to passwords (``reader`` is always added); ``freebusy_only`` names users whose
    calendars ``reader`` may only ask free-busy of.
    """
    accounts = {READER: READER_PASSWORD, **(users or {})}
    port = free_port(host)
    config = _write_config(root, host, port, accounts, freebusy_only)
    log_path = root / "radicale.log"
    # The child must not inherit proxy settings that would send loopback traffic elsewhere.
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter running radicale with our own config
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_until_listening(process, host, port, log_path)
        yield RadicaleServer(url=f"http://{host}:{port}/", users=accounts, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]


class RadicaleProxy:
    """A small HTTP proxy in front of a ``RadicaleServer`` that can make it look like other servers.

    - ``free_busy_answer``: ``None`` passes free-busy-query REPORTs through; an ``int`` answers them with that
      status (403, 405, 501…) as a server without free-busy support would; ``"multistatus"`` answers them with
      an empty 207 multistatus (a server that treats the REPORT as an unknown query and sends no VFREEBUSY).
    - ``calendar_query_answer``: ``None`` passes calendar-query REPORTs through; an ``int`` answers them with
      that status (403 as for an account that may read free/busy only, 405 or 501 as a server without it).
    - ``fail_next(status, times, headers)`` answers the next ``times`` requests with ``status`` (429 or 503
      with Retry-After, 500…) before passing requests through again.
    - ``delay`` holds every request that long, so concurrent callers overlap; ``max_in_flight`` reports the
      most requests it ever held at once.

    ``requests`` lists ``(method, kind, status)`` of everything it received, kind being ``"free-busy"``,
    ``"calendar-query"`` or ``""``, status the answer's.
    """

    def __init__(self, upstream: RadicaleServer, host: str = "127.0.0.1") -> None:
        self.upstream = urllib.parse.urlsplit(upstream.url)
        self.free_busy_answer: int | str | None = None
        self.calendar_query_answer: int | None = None
        self.delay = 0.0
        self.requests: list[tuple[str, str, int]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="radicale-proxy", daemon=True)
        self.url = f"http://{host}:{self._server.server_address[1]}/"

    def __enter__(self) -> RadicaleProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def collection_url(self, user: str, name: str) -> str:
        """The proxied URL of ``user``'s collection ``name``."""
        return f"{self.url}{user}/{name}/"

    def fail_next(self, status: int, times: int = 1, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and ``headers``."""
        with self._lock:
            self._failures.extend(_Failure(status, dict(headers or {})) for _ in range(times))

    def reset(self) -> None:
        """Pass everything through again and forget what was received."""
        with self._lock:
            self.free_busy_answer = None
            self.calendar_query_answer = None
            self.delay = 0.0
            self.requests.clear()
            self.max_in_flight = 0
            self._failures.clear()

    def kinds(self) -> list[str]:
        """The kinds of the requests received so far, leaving out those answered 401: a client that logs in
        sends each first request twice, once without and once with its credentials."""
        with self._lock:
            return [kind for _, kind, status in self.requests if status != 401]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            _kind = ""

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: pytest shows the assertions, not an access log

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind = self._kind = ""
                if self.command == "REPORT":
                    if b"free-busy-query" in body:
                        kind = "free-busy"
                    elif b"calendar-query" in body:
                        kind = "calendar-query"
                    self._kind = kind
                with proxy._lock:
                    failure = proxy._failures.pop(0) if proxy._failures else None
                    proxy._in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy._in_flight)
                    free_busy_answer = proxy.free_busy_answer
                    calendar_query_answer = proxy.calendar_query_answer
                try:
                    if proxy.delay:
                        time.sleep(proxy.delay)
                    if failure is not None:
                        self._answer(failure.status, failure.headers, b"")
                    elif kind == "calendar-query" and calendar_query_answer is not None:
                        self._answer(calendar_query_answer, {}, b"")
                    elif kind == "free-busy" and isinstance(free_busy_answer, int):
                        self._answer(free_busy_answer, {}, b"")
                    elif kind == "free-busy" and free_busy_answer == "multistatus":
                        xml = b'<?xml version="1.0"?><multistatus xmlns="DAV:"/>'
                        self._answer(207, {"Content-Type": "text/xml; charset=utf-8"}, xml)
                    else:
                        self._forward(body)
                finally:
                    with proxy._lock:
                        proxy._in_flight -= 1

            def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
                with proxy._lock:
                    proxy.requests.append((self.command, self._kind, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream.hostname or "", proxy.upstream.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    relayed = {
                        k: v
                        for k, v in response.getheaders()
                        if k.lower() not in ("connection", "transfer-encoding", "content-length")
                    }
                    self._answer(response.status, relayed, data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = do_OPTIONS = do_MKCALENDAR = _relay

        return Handler


@contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[str]:
    """A URL whose server accepts connections but never answers: every request to it times out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"http://{host}:{sock.getsockname()[1]}/"
