"""The network guard: which addresses a fetch may connect to.

Feeds and suggested URLs come from strangers, so by default Townsquare only
connects to public internet addresses.  Loopback, private, shared (CGNAT),
link-local (cloud metadata lives at 169.254.169.254), multicast, reserved and
documentation ranges and their IPv6 forms are refused, and so is an IPv6
address that carries a refused IPv4 address inside it (IPv4-mapped,
IPv4-compatible, 6to4, NAT64, Teredo), unless the address is inside one of
the ``allow_networks`` ranges.

Two layers, each enough on its own:

- ``GuardedResolver`` keeps only the addresses we may connect to from every
  DNS answer, so a refused address is never even tried;
- ``GuardedConnector`` checks the address each connection actually reached,
  before a byte of the request is sent on it, for every request and so for
  every redirect hop.

IP literals in URLs are checked before any of this (``check_literal``),
because aiohttp does not resolve them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.resolver import DefaultResolver
from aiohttp.tracing import Trace

from ..config import Network
from ..errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Everything not reachable as an ordinary public server, from IANA's
# special-purpose address registries.  Python's ``is_global`` is checked too,
# but its answers differ between Python versions, so the list is written out.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255
        "::/96",  # unspecified, loopback, IPv4-compatible
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, including Teredo
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 address leads to."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(ip: IPAddress) -> bool:
    if not ip.is_global or any(ip.version == net.version and ip in net for net in _NOT_PUBLIC):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded(ip)
        return inner is None or _is_public(inner)
    return True


def is_allowed(address: str, allow: Sequence[Network]) -> bool:
    """Whether Townsquare may connect to this IP address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a connection to ::ffff:a.b.c.d reaches a.b.c.d itself
    if any(ip.version == net.version and ip in net for net in allow):
        return True
    return _is_public(ip)


def refusal(address: str) -> BlockedAddressError:
    return BlockedAddressError(
        f"refused to connect to {address}: it is not a public internet address "
        "(a curator can allow a range with TOWNSQUARE_ALLOW_NETWORKS)"
    )


def check_literal(host: str, allow: Sequence[Network]) -> None:
    """Refuse a URL whose host is an IP address we may not connect to."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if not is_allowed(host.strip("[]"), allow):
        raise refusal(host)


class BlockedByGuardError(OSError):
    """Raised inside aiohttp's connector; carries the curator's message."""

    def __init__(self, error: BlockedAddressError) -> None:
        super().__init__(str(error))
        self.error = error


class GuardedResolver(AbstractResolver):
    """Resolves names (with ``dns``, the system's by default), then keeps only
    the addresses we may connect to."""

    def __init__(self, allow: Sequence[Network], dns: AbstractResolver | None = None) -> None:
        self._allow = tuple(allow)
        self._inner = dns or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if is_allowed(r["host"], self._allow)]
        if not allowed:
            raise BlockedByGuardError(
                refusal(f"{results[0]['host']} ({host})" if results else host)
            )
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def peer_address(connection: Any) -> str | None:
    """The IP address a connection actually reached."""
    if connection is None or connection.transport is None:
        return None
    peer = connection.transport.get_extra_info("peername")
    if not peer:
        return None
    return str(peer[0])


class GuardedConnector(aiohttp.TCPConnector):
    """A connector that checks the peer of every connection it hands out,
    new or pooled, before the request is written to it."""

    def __init__(self, allow: Sequence[Network], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allow = tuple(allow)

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        peer = peer_address(connection)
        if peer is None or not is_allowed(peer, self._allow):
            connection.close()
            raise refusal(peer or str(req.url.host))
        return connection
