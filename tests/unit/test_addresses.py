"""The address rule of ``scheduler.availability.addresses``: which hosts a calendar URL may make the server
connect to."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.availability.addresses import (
    PUBLIC_ONLY,
    AddressPolicy,
    is_local_name,
    is_public_address,
    parse_numeric_host,
    refusal_reason,
)

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")

# The ranges issue 13 names, and a few more the rule refuses: every address in them is internal.
INTERNAL_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
               "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"]
INTERNAL_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"]


def refused(host: str) -> str:
    return f"refused: {host} is not a public address (set calendar.allowed_hosts to allow it)"


@pytest.mark.parametrize("spelling", [
    "127.0.0.1", "2130706433", "0x7f000001", "0X7F000001", "127.1", "127.0.1", "0177.0.0.1", "0177.1", "0x7f.1",
    "017700000001", "0x7f.0.0.0x1", "127.0.0.1.", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
])
def test_issue_13_every_numeric_spelling_of_loopback_is_read_as_loopback(spelling: str) -> None:
    address = parse_numeric_host(spelling)
    assert address is not None
    reached = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address
    assert reached == LOOPBACK
    assert refusal_reason(spelling) == refused(spelling.strip("[]").rstrip(".").lower())


@pytest.mark.parametrize("host", [
    "example.com", "127.0.0.1.nip.io", "1.2.3.4.5", "127.0.0.1 junk", "4294967296", "08.0.0.1", "0x", "", "[]",
    "-1", "1e3",
])
def test_what_is_not_a_numeric_address(host: str) -> None:
    assert parse_numeric_host(host) is None


@pytest.mark.parametrize("host", ["localhost", "LocalHost", "localhost.", "app.localhost", "localhost.localdomain"])
def test_issue_13_the_names_of_this_machine_are_refused_without_resolving(host: str) -> None:
    assert is_local_name(host)
    assert refusal_reason(host) is not None


@pytest.mark.parametrize("host", ["calendar.example.com", "localhost.example.com", "mylocalhost", "8.8.8.8",
                                  "[2001:4860:4860::8888]", "2001:4860:4860::8888"])
def test_public_hosts_pass(host: str) -> None:
    assert refusal_reason(host) is None


@pytest.mark.parametrize("host", [
    "10.0.0.5", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "224.0.0.1", "255.255.255.255", "[::]", "[::1]", "[fe80::1]", "[fe80::1%25eth0]", "fd00::1", "fc00::1",
    "[ff02::1]", "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]", "[::127.0.0.1]", "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]", "192.0.2.1",  # documentation range: not global
])
def test_issue_13_internal_addresses_are_refused(host: str) -> None:
    assert refusal_reason(host) is not None


def spellings(address: ipaddress.IPv4Address) -> list[str]:
    """Ways of writing ``address`` that a connection would take for it."""
    octets = address.packed
    return [
        str(address),
        str(int(address)),
        hex(int(address)),
        ".".join(f"0{octet:o}" for octet in octets),
        f"{octets[0]}.{octets[1]}.{octets[2] << 8 | octets[3]}",
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
        f"::ffff:{address}",
        str(ipaddress.IPv6Address(f"64:ff9b::{address}")),
        str(ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))),
    ]


@given(st.sampled_from(INTERNAL_V4).flatmap(lambda network: st.ip_addresses(network=network)))
def test_issue_13_every_spelling_of_an_internal_ipv4_address_is_refused(address: ipaddress.IPv4Address) -> None:
    for spelling in spellings(address):
        assert refusal_reason(spelling) is not None, spelling


@given(st.ip_addresses(v=4).filter(lambda a: a.is_global and not a.is_multicast))
def test_every_spelling_of_a_public_ipv4_address_passes(address: ipaddress.IPv4Address) -> None:
    assert is_public_address(address)
    for spelling in spellings(address):
        parsed = parse_numeric_host(spelling)
        assert parsed is not None, spelling
        assert refusal_reason(spelling) is None, spelling


@given(st.ip_addresses(v=4))
def test_numeric_spellings_read_back_as_inet_aton_reads_them(address: ipaddress.IPv4Address) -> None:
    for spelling in spellings(address)[:6]:
        assert parse_numeric_host(spelling) == address
        assert socket.inet_aton(spelling) == address.packed


@given(st.sampled_from(INTERNAL_V6).flatmap(lambda network: st.ip_addresses(network=network)))
def test_issue_13_internal_ipv6_addresses_are_refused(address: ipaddress.IPv6Address) -> None:
    assert refusal_reason(f"[{address}]") is not None


def test_a_name_is_refused_for_what_it_resolves_to() -> None:
    assert refusal_reason("cal.example.com", resolved="93.184.215.14") is None
    for internal in ("127.0.0.1", "10.1.2.3", "::1", "fe80::1%eth0", "::ffff:192.168.0.1"):
        assert refusal_reason("cal.example.com", resolved=internal) == refused("cal.example.com")


def test_issue_13_hosts_allowed_by_name_or_address() -> None:
    policy = AddressPolicy.allowing(["DAV.corp.example.", "10.0.0.5", "[fd00::5]"])

    assert policy.allowed == frozenset({"dav.corp.example", "10.0.0.5", "fd00::5"})
    # A name allows whatever it resolves to; an address allows itself in any spelling, whatever name led to it.
    assert refusal_reason("dav.corp.example", policy, resolved="10.9.9.9") is None
    assert refusal_reason("0x0a000005", policy) is None
    assert refusal_reason("intranet.example", policy, resolved="10.0.0.5") is None
    assert refusal_reason("fd00::5", policy) is None
    # Nothing else: not another address, not a name under the allowed one.
    assert refusal_reason("10.0.0.6", policy) is not None
    assert refusal_reason("www.dav.corp.example", policy, resolved="10.9.9.9") is not None
    assert refusal_reason("localhost", policy) is not None


def test_allow_internal_allows_every_address() -> None:
    policy = AddressPolicy(allow_internal=True)
    for host in ("localhost", "127.0.0.1", "169.254.169.254", "0x7f000001"):
        assert refusal_reason(host, policy) is None


def test_with_hosts_adds_to_a_policy() -> None:
    policy = PUBLIC_ONLY.with_hosts(["dav.corp.example"])
    assert policy.allows("dav.corp.example")
    assert not PUBLIC_ONLY.allows("dav.corp.example")


@pytest.mark.parametrize("entry", ["https://dav.corp.example", "dav.corp.example:8443", "a b", "dav/x", ""])
def test_an_allowed_host_must_be_a_name_or_an_address(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name or IP address"):
        AddressPolicy.allowing([entry])
