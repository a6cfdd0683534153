"""The network guard: which addresses a fetch may connect to.

Feeds and suggested URLs come from strangers, so by default Townsquare only
connects to public internet addresses.  Loopback, private, link-local
(cloud metadata lives at 169.254.169.254), multicast, reserved and their
IPv6 forms (including IPv4-mapped ones) are refused unless inside one of the
``allow_networks`` ranges.  The check runs on every address the resolver
gives, on IP literals, and on the address actually connected to, for every
redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ..config import Network
from ..errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def is_allowed(address: str, allow: Sequence[Network]) -> bool:
    """Whether Townsquare may connect to this IP address."""
    try:
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    if any(ip.version == net.version and ip in net for net in allow):
        return True
    return ip.is_global and not ip.is_multicast


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
    """Resolves names, then keeps only the addresses we may connect to."""

    def __init__(self, allow: Sequence[Network]) -> None:
        self._allow = tuple(allow)
        self._inner = DefaultResolver()

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
    """The IP address a response actually came from."""
    if connection is None or connection.transport is None:
        return None
    peer = connection.transport.get_extra_info("peername")
    if not peer:
        return None
    return str(peer[0])
