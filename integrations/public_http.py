"""HTTP connections that reach only the addresses ``scheduler.availability.addresses`` allows, redirects included.

The calendar URLs people give (ICS feeds, CalDAV collections) are fetched by this server, so every connection
made for them is checked here, in the connection itself rather than on the URL: the check then covers every
redirect the client library follows, and it judges the addresses a name resolves to, not only the name (any
name can resolve to 127.0.0.1). The name is resolved once; if it or any of its addresses is refused, nothing is
connected to at all, so a refusal reads the same whether something listens there or not and cannot be used to
probe ports. After connecting, a peer that turns out to be this very machine (the server's own public
address) is refused too, before a byte of the request is sent.

Two clients use it:

- ``public_opener`` is a ``urllib`` opener for ICS feeds, which also refuses redirects to anything but http(s)
  (urllib itself would follow one to ftp://).
- ``guard_session`` mounts the same check on a ``niquests`` session, the HTTP library of python-caldav 3.6
  (``caldav.lib.http_sync.requests``): its connections resolve names through the resolver given to their
  adapter, and ``GuardedResolver`` (``guarded_resolver_class``) is that resolver.

A refused connection raises ``AddressRefused``, which on purpose is not an ``OSError``: the libraries would
otherwise retry it or wrap it as a network failure ("cannot connect"); this way it reaches the connector as
it is, and the person is told it was refused.
"""

from __future__ import annotations

import functools
import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from http.client import HTTPMessage
from typing import IO, TYPE_CHECKING, Any

from scheduler.availability.addresses import (
    PUBLIC_ONLY,
    AddressPolicy,
    is_public_address,
    parse_numeric_host,
    refusal_message,
    refusal_reason,
)

if TYPE_CHECKING:
    from niquests import Session

# What getaddrinfo answers: family, type, protocol, canonical name, socket address.
AddressInfo = tuple[Any, Any, int, Any, Any]


class AddressRefused(Exception):
    """A connection to ``host`` was refused by the address policy; ``message`` says so in plain words.

    Not an ``OSError``, so that HTTP libraries neither retry it nor report it as a network failure.
    """

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        self.message = message
        super().__init__(message)


def check_host(host: str, policy: AddressPolicy) -> None:
    """``AddressRefused`` when ``host`` itself (a numeric address in any form, ``localhost``) is refused: asked
    before the name is resolved, so that such a host is never even looked up."""
    reason = refusal_reason(host, policy)
    if reason is not None:
        raise AddressRefused(host, reason)


def checked_addresses(host: str, addresses: Sequence[AddressInfo], policy: AddressPolicy) -> list[AddressInfo]:
    """``addresses`` (what ``host`` resolved to) when ``policy`` allows them all; ``AddressRefused`` otherwise.

    One refused address refuses the name: connecting to "the others" would let a name that resolves to both
    a public and an internal address reach the internal one whenever the public one fails.
    """
    check_host(host, policy)
    for address in addresses:
        reason = refusal_reason(host, policy, resolved=str(address[4][0]))
        if reason is not None:
            raise AddressRefused(host, reason)
    return list(addresses)


def refuse_this_machine(sock: socket.socket, host: str, policy: AddressPolicy) -> None:
    """Close ``sock`` and raise ``AddressRefused`` when it is connected to this machine itself: its peer is
    one of its own addresses, which a public address of this server would be. A host allowed by name is
    left alone."""
    peer, local = str(sock.getpeername()[0]), str(sock.getsockname()[0])
    if policy.allows(host) or policy.allows(peer):
        return
    address = parse_numeric_host(peer)
    if peer == local or address is None or not is_public_address(address):
        sock.close()
        raise AddressRefused(host, refusal_message(host))


def _create_connection(
    address: tuple[str, int], timeout: Any = None, source_address: tuple[str, int] | None = None, *,
    policy: AddressPolicy,
) -> socket.socket:
    """``socket.create_connection`` that resolves the name once, checks every address, and connects only to
    those (for ``http.client``, whose connections call it)."""
    host, port = address
    check_host(host, policy)
    records = checked_addresses(host, socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM), policy)
    error: OSError | None = None
    for record in records:
        try:
            # A numeric address: create_connection resolves nothing more.
            sock = socket.create_connection((str(record[4][0]), port), timeout, source_address)
        except OSError as exc:
            error = exc
            continue
        refuse_this_machine(sock, host, policy)
        return sock
    raise error or OSError(f"{host} resolved to no address")


class _GuardedHttpConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        # http.client connects through this attribute (it is there to be replaced).
        self._create_connection = functools.partial(_create_connection, policy=policy)


class _GuardedHttpsConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        # The TLS handshake comes after this connection, so nothing is sent to a refused address either.
        self._create_connection = functools.partial(_create_connection, policy=policy)


class _GuardedHttpHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self._policy = policy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_GuardedHttpConnection, policy=self._policy), req)


class _GuardedHttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self._policy = policy

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        # The handler's own TLS context (certificate checks) goes with every connection, as in the base class.
        context = getattr(self, "_context", None)
        return self.do_open(functools.partial(_GuardedHttpsConnection, policy=self._policy), req, context=context)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http address refused ({msg})", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def public_opener(policy: AddressPolicy = PUBLIC_ONLY) -> urllib.request.OpenerDirector:
    """A ``urllib`` opener whose every connection (redirects included) is checked against ``policy``, and
    which follows redirects to http(s) addresses only. A refused connection raises ``AddressRefused``."""
    return urllib.request.build_opener(_HttpOnlyRedirects(), _GuardedHttpHandler(policy), _GuardedHttpsHandler(policy))


@functools.cache
def guarded_resolver_class() -> type[Any]:
    """``GuardedResolver``: urllib3-future's system resolver, refusing the names and addresses its ``policy``
    does not allow. Its connections resolve through ``getaddrinfo`` and connect through
    ``create_connection``: the first refuses before any connection is attempted, the second refuses a
    connection that reached this machine.

    Made on first use, so that ICS downloads (``public_opener``) never load niquests.
    """
    from niquests.packages.urllib3.contrib.resolver.system import SystemResolver

    class GuardedResolver(SystemResolver):
        def __init__(self, policy: AddressPolicy) -> None:
            super().__init__()
            self.policy = policy

        def getaddrinfo(self, host: Any, port: Any, family: Any, type: Any, proto: int = 0, flags: int = 0,
                        **kwargs: Any) -> list[AddressInfo]:
            name = host.decode("ascii") if isinstance(host, bytes) else str(host)
            check_host(name, self.policy)
            found = super().getaddrinfo(host, port, family, type, proto, flags, **kwargs)
            return checked_addresses(name, found, self.policy)

        def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            sock: socket.socket = super().create_connection(address, *args, **kwargs)
            refuse_this_machine(sock, address[0].strip("[]"), self.policy)
            return sock

        def recycle(self) -> GuardedResolver:
            return self  # like the system resolver it holds no connection, so it never needs recycling

    return GuardedResolver


def guard_session(session: Session, policy: AddressPolicy = PUBLIC_ONLY) -> Session:
    """``session`` with every http(s) connection checked against ``policy`` (redirects included), through an
    adapter that resolves with ``GuardedResolver``, and no other scheme at all. Returns the session."""
    from niquests.adapters import HTTPAdapter

    resolver = guarded_resolver_class()(policy)
    adapter = HTTPAdapter(resolver=resolver)
    # The session resolves for itself too (certificate revocation checks, whose addresses the server's
    # certificate names): through the same guard.
    session.resolver = resolver
    # Only these two: niquests also mounts http+unix://, and a redirect there would reach a local socket.
    for other in list(session.adapters.values()):
        other.close()
    session.adapters.clear()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
