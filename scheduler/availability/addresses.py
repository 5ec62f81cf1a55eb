"""Which network addresses a calendar URL given by a person may make this server connect to.

People type the addresses of their own ICS feeds and CalDAV collections, and the server fetches them. Without a
rule, a URL could make the server read its own admin ports, a cloud metadata service (169.254.169.254) or any
host of the private network behind it, and tell the person what it found. So one rule, here, decides what an
"address we may not connect to" is, for the profile pages (when a URL is saved) and for the connectors (when
they connect, and again on every redirect, for the address the name actually resolved to):

- loopback (127/8, ::1), "this network" (0/8), unspecified (0.0.0.0, ::), link-local (169.254/16, fe80::/10,
  where metadata services answer), private ranges (10/8, 172.16/12, 192.168/16, carrier-grade NAT 100.64/10,
  unique-local fc00::/7, site-local fec0::/10), multicast, broadcast and reserved addresses, and everything else
  ``ipaddress`` does not call global (documentation and benchmarking ranges);
- the same addresses inside IPv6 (IPv4-mapped ``::ffff:127.0.0.1``, IPv4-compatible ``::127.0.0.1``, NAT64
  ``64:ff9b::7f00:1``, 6to4 ``2002:7f00:1::``): what counts is the IPv4 address they reach;
- every numeric spelling the C library accepts for an IPv4 address (``inet_aton``): ``2130706433``,
  ``0x7f000001``, ``0177.0.0.1``, ``127.1`` all connect to 127.0.0.1;
- the names ``localhost`` and ``*.localhost`` (RFC 6761: always this machine). Other names are judged by the
  addresses they resolve to, which only the connectors see (this module resolves nothing).

An ``AddressPolicy`` holds the host names and addresses the configuration allows anyway (``[calendar]
allowed_hosts``, the CalDAV ``servers``): an intranet calendar server is legitimate once an administrator named
it. Standard library only: the core decides, the adapters enforce.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Written out rather than left to ``is_global`` alone, so the ranges the rule is about do not depend on which
# Python release's table ``ipaddress`` carries; ``is_global`` still catches the rarer ones.
_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network": 0.x.x.x reaches this machine on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT, used as a private range by cloud networks
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

# The forms inet_aton accepts: one to four parts, each decimal, octal (leading 0) or hexadecimal (0x). Checked
# before calling it, because inet_aton also accepts anything after a space ("127.0.0.1 junk").
_NUMERIC_IPV4 = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
# A host as it may appear in allowed_hosts: a name (letters, digits, hyphens, dots, underscores) or an IP address.
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?", re.IGNORECASE)


def normalize_host(host: str) -> str:
    """``host`` as compared by this module: brackets of an IPv6 literal and a final dot removed, lower case."""
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.rstrip(".").lower()


def parse_numeric_host(host: str) -> IpAddress | None:
    """The address ``host`` names when it is numeric in any form a connection would accept, else ``None``.

    IPv6 literals (with or without brackets or a zone, ``fe80::1%eth0``), dotted IPv4 and every shorter or
    other-base IPv4 spelling of ``inet_aton`` (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``).
    """
    name = normalize_host(host)
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not _NUMERIC_IPV4.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:  # out of range: "4294967296", "08" (not octal): no connection would take it either
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (IPv4-mapped, IPv4-compatible, NAT64, 6to4), or ``None``."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # not :: or ::1 themselves
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IpAddress) -> bool:
    """True for an address on the public internet; False for every kind listed in the module docstring."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public_address(inner)
    if any(address in network for network in _REFUSED_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


def is_local_name(host: str) -> bool:
    """True for the names that mean this machine whatever DNS says: ``localhost`` and ``*.localhost``."""
    name = normalize_host(host)
    return name in _LOCAL_NAMES or name.endswith(".localhost")


@dataclass(frozen=True)
class AddressPolicy:
    """The hosts that may be connected to although their address is not public.

    ``allowed`` holds normalised host names and canonical IP addresses (build it with ``allowing``): a name
    allows whatever it resolves to, an address allows itself whatever name led to it — except the names of
    this machine (``localhost``), which are refused before they are resolved unless allowed by name.
    ``allow_internal``
    allows every address (``[calendar] ics_allow_internal``: a calendar server on this machine, for demos and
    tests).
    """

    allowed: frozenset[str] = frozenset()
    allow_internal: bool = False

    @classmethod
    def allowing(cls, hosts: Iterable[str], *, allow_internal: bool = False) -> AddressPolicy:
        """A policy allowing ``hosts`` (names or IP addresses). ``ValueError`` naming a host that is neither,
        such as a URL or a host with a port."""
        allowed = set()
        for host in hosts:
            name = normalize_host(host)
            address = parse_numeric_host(name)
            if address is not None:
                allowed.add(str(address))
            elif _HOST_NAME.fullmatch(name):
                allowed.add(name)
            else:
                raise ValueError(f"{host!r} is not a host name or IP address (give the name alone, like "
                                 "dav.corp.example, without a scheme, port or path)")
        return cls(frozenset(allowed), allow_internal)

    def with_hosts(self, hosts: Iterable[str]) -> AddressPolicy:
        """This policy allowing ``hosts`` too."""
        extra = AddressPolicy.allowing(hosts)
        return AddressPolicy(self.allowed | extra.allowed, self.allow_internal)

    def allows(self, host: str) -> bool:
        """True when ``host`` (a name or an address in any numeric form) is allowed by name."""
        if self.allow_internal:
            return True
        name = normalize_host(host)
        address = parse_numeric_host(name)
        return (str(address) if address is not None else name) in self.allowed


PUBLIC_ONLY = AddressPolicy()


def refusal_reason(host: str, policy: AddressPolicy = PUBLIC_ONLY, *, resolved: str | None = None) -> str | None:
    """Why a connection to ``host`` is refused, in plain words, or ``None`` when it may be made.

    Without ``resolved`` this judges what the host itself says (a numeric address, ``localhost``): what a URL
    can be checked for when it is saved. A connector passes each address the name ``resolved`` to as well,
    before connecting to it. Either way the message names only ``host`` and is the same whatever listens
    there, so a refusal tells nothing about the network behind the server.
    """
    if policy.allows(host) or (resolved is not None and policy.allows(resolved)):
        return None
    refused = is_local_name(host)
    for candidate in (host, resolved):
        address = None if candidate is None else parse_numeric_host(candidate)
        if address is not None and not is_public_address(address):
            refused = True
    return refusal_message(host) if refused else None


def refusal_message(host: str) -> str:
    """The one message of every refused connection to ``host``."""
    return f"refused: {normalize_host(host)} is not a public address (set calendar.allowed_hosts to allow it)"
