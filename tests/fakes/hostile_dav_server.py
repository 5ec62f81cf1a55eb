"""A small CalDAV server on loopback that answers the way broken or hostile servers do, for connector tests.

Radicale answers correctly; real servers out there do not always. ``HostileDavServer`` serves calendar
collections at ``/<behaviour>/<name>/`` and answers every request for one according to its behaviour:

- ``good``: a calendar-query REPORT gets a 207 multistatus holding ``events`` (iCalendar texts), a
  free-busy-query REPORT a VFREEBUSY with ``free_busy`` periods: what a correct server sends;
- ``events-forbidden``: calendar-query is refused with 403 (an account that may read free/busy only), and
  free-busy-query answered as by ``good``;
- ``empty``: 200 with an empty body;
- ``not-xml``: 200, ``Content-Type: text/xml``, and a body that is not XML;
- ``no-calendar-data``: a 207 multistatus that lists an event but leaves its calendar-data out;
- ``redirect-loop``: 301 back to the same address, for ever;
- ``silent``: accepts the request and never answers (until the server stops);
- ``redirect``: 302 to ``redirect_to`` (another server, loopback, anything);
- ``broken-login``: 401 with a Digest challenge that has no nonce, on which the HTTP library's Digest code
  fails with a ``KeyError`` (a failure no client library declares).

It is a real HTTP server (``http.server`` with a thread per connection), so the connector is driven through
the real caldav client and HTTP stack. ``requests`` lists ``(method, path, kind)`` of what it received, kind
being ``"calendar-query"``, ``"free-busy"`` or ``""``.

Usage::

    with HostileDavServer(events=[ics_text], free_busy=[(start, end)]) as server:
        url = server.collection_url("empty")
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

BEHAVIOURS = (
    "good",
    "events-forbidden",
    "empty",
    "not-xml",
    "no-calendar-data",
    "redirect-loop",
    "silent",
    "redirect",
    "broken-login",
)


class HostileDavServer:
    """A CalDAV server whose collections misbehave on purpose (see the module docstring)."""

    def __init__(
        self,
        *,
        events: Sequence[str] = (),
        free_busy: Sequence[tuple[datetime, datetime]] = (),
        redirect_to: str = "",
        host: str = "127.0.0.1",
    ) -> None:
        self.events = tuple(events)
        self.free_busy = tuple(free_busy)
        self.redirect_to = redirect_to
        self.requests: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-dav", daemon=True)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}/"

    def __enter__(self) -> HostileDavServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # lets the silent handlers go
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def collection_url(self, behaviour: str, name: str = "calendar") -> str:
        """The URL of collection ``name`` answering with ``behaviour`` (one of ``BEHAVIOURS``)."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; one of {', '.join(BEHAVIOURS)}")
        return f"{self.url}{behaviour}/{name}/"

    def kinds(self) -> list[str]:
        """The kinds of the REPORTs received so far, in order."""
        with self._lock:
            return [kind for _, _, kind in self.requests if kind]

    def _multistatus(self, path: str, with_data: bool) -> bytes:
        responses = []
        for number, text in enumerate(self.events or ("",)):
            data = f"<C:calendar-data>{escape(text)}</C:calendar-data>" if with_data and text else ""
            responses.append(
                f"<D:response><D:href>{escape(path)}event-{number}.ics</D:href><D:propstat><D:prop>"
                f'<D:getetag>"{number}"</D:getetag>{data}</D:prop>'
                "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"{''.join(responses)}</D:multistatus>"
        ).encode()

    def _vfreebusy(self) -> bytes:
        periods = "".join(f"FREEBUSY:{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}\r\n" for start, end in self.free_busy)
        return (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coffeechat//hostile//EN\r\nBEGIN:VFREEBUSY\r\n"
            f"DTSTAMP:20260101T000000Z\r\n{periods}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: pytest shows the assertions, not an access log

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind = ""
                if self.command == "REPORT":
                    kind = "free-busy" if b"free-busy-query" in body else "calendar-query"
                with fake._lock:
                    fake.requests.append((self.command, self.path, kind))
                behaviour = self.path.strip("/").partition("/")[0]
                if behaviour == "silent":
                    fake._stopping.wait(30)  # answer nothing; the client's timeout ends the request
                    self.close_connection = True
                    return
                if behaviour == "broken-login":
                    self._send(401, b"", {"WWW-Authenticate": 'Digest realm="calendars"'})
                elif behaviour == "redirect-loop":
                    self._send(301, b"", {"Location": self.path})
                elif behaviour == "redirect":
                    self._send(302, b"", {"Location": fake.redirect_to})
                elif self.command != "REPORT":
                    self._send(207 if self.command == "PROPFIND" else 200, fake._multistatus(self.path, False))
                elif behaviour == "empty":
                    self._send(200, b"")
                elif behaviour == "not-xml":
                    self._send(200, b"<html><body>Our calendar is down for maintenance</body>")
                elif behaviour == "no-calendar-data":
                    self._send(207, fake._multistatus(self.path, with_data=False))
                elif kind == "free-busy" and behaviour in ("good", "events-forbidden"):
                    self._send(200, fake._vfreebusy(), {"Content-Type": "text/calendar; charset=utf-8"})
                elif behaviour == "events-forbidden":
                    self._send(403, b"")
                elif behaviour == "good":
                    self._send(207, fake._multistatus(self.path, with_data=True))
                else:
                    self._send(404, b"")

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "text/xml; charset=utf-8", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_REPORT = do_PROPFIND = do_OPTIONS = _handle

        return Handler
