"""The network guard (SSRF), against real servers on loopback addresses.

The tests allow 127.0.0.1/32 only, as the issue asks.  127.0.0.2 is also a
loopback address on Linux, so a server listening there stands for "a private
service the attacker wants to reach": it watches, and every test that points
Townsquare at it asserts that nothing arrived.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from conftest import LOOPBACK, FeedServer, Response, Result
from rawserver import RawServer
from townsquare.config import Config, load
from townsquare.errors import BlockedAddressError
from townsquare.ingest.fetch import Fetcher
from townsquare.ingest.guard import GuardedConnector, is_allowed
from townsquare.model import FetchOutcome, FetchResult
from townsquare.store import Store

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Safe blog</title>
<item><title>Hello</title><guid>hello</guid><link>https://safe.example/hello</link></item>
</channel></rss>"""

REFUSED = "it is not a public internet address"
SETTING = "TOWNSQUARE_ALLOW_NETWORKS"


# --- which addresses ----------------------------------------------------------------------

# (address, allowed with no allow-list, allowed with 127.0.0.1/32)
ADDRESSES = [
    ("93.184.215.14", True, True),  # an ordinary public address
    ("2606:4700::6810:85e5", True, True),
    ("127.0.0.1", False, True),
    ("127.0.0.2", False, False),  # loopback, but outside the allowed /32
    ("10.0.0.1", False, False),
    ("172.16.5.4", False, False),
    ("192.168.1.1", False, False),
    ("169.254.169.254", False, False),  # cloud metadata
    ("100.64.0.1", False, False),  # carrier-grade NAT
    ("0.0.0.0", False, False),
    ("192.0.0.8", False, False),
    ("192.0.2.1", False, False),
    ("198.18.0.1", False, False),
    ("224.0.0.1", False, False),  # multicast
    ("240.0.0.1", False, False),  # reserved
    ("255.255.255.255", False, False),
    ("::1", False, False),
    ("::", False, False),
    ("fc00::1", False, False),
    ("fd12:3456::1", False, False),
    ("fe80::1", False, False),
    ("fe80::1%eth0", False, False),
    ("fec0::1", False, False),  # site-local
    ("ff02::1", False, False),
    ("2001:db8::1", False, False),
    ("100::1", False, False),
    ("::ffff:127.0.0.1", False, True),  # IPv4-mapped: really 127.0.0.1
    ("::ffff:10.0.0.1", False, False),
    ("::ffff:169.254.169.254", False, False),
    ("::ffff:8.8.8.8", True, True),
    ("::127.0.0.1", False, False),  # IPv4-compatible
    ("::7f00:2", False, False),
    ("::ffff:0:a00:1", False, False),  # IPv4-translated 10.0.0.1
    ("2002:7f00:1::1", False, False),  # 6to4 around 127.0.0.1: not 127.0.0.1 itself
    ("2002:a9fe:a9fe::1", False, False),  # 6to4 around 169.254.169.254
    ("2002:808:808::1", True, True),  # 6to4 around 8.8.8.8
    ("64:ff9b::a00:1", False, False),  # NAT64 around 10.0.0.1
    ("64:ff9b::a9fe:a9fe", False, False),  # NAT64 around the metadata address
    ("64:ff9b::808:808", True, True),
    ("64:ff9b:1::a00:1", False, False),  # local-use NAT64
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, False),  # Teredo
    ("not an address", False, False),
]


@pytest.mark.parametrize(("address", "public", "with_loopback"), ADDRESSES)
def test_which_addresses_are_allowed(address: str, public: bool, with_loopback: bool) -> None:
    assert is_allowed(address, ()) is public
    assert is_allowed(address, LOOPBACK) is with_loopback


# --- helpers ------------------------------------------------------------------------------


class ScriptedDNS(AbstractResolver):
    """A name server under the test's control: each lookup of a name gives its next answer
    (the last one repeats), the way a hostile DNS server rebinds a name."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        script = self.answers[host]
        ips = script.pop(0) if len(script) > 1 else script[0]
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in ips
        ]

    async def close(self) -> None:
        pass


def fetch(config: Config, url: str, dns: AbstractResolver | None = None) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(config, dns=dns) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


@pytest.fixture
def watched() -> Iterator[RawServer]:
    """A server on 127.0.0.2, the private service an attacker is after."""
    srv = RawServer(host="127.0.0.2")
    yield srv
    srv.close()


def nothing_reached(srv: RawServer) -> bool:
    return srv.connections == 0 and srv.received == b""


def port_of(server: FeedServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


# --- URLs with addresses in them ------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",
        "[::ffff:127.0.0.2]",
        "[::ffff:7f00:2]",
        "2130706434",  # 127.0.0.2 as one decimal number
        "0x7f000002",  # ... in hexadecimal
        "0177.0.0.2",  # ... with an octal first part
        "127.2",  # ... shortened
    ],
)
def test_private_address_in_any_spelling_is_refused(
    config: Config, watched: RawServer, host: str
) -> None:
    result = fetch(config, f"http://{host}:{watched.port}/feed.xml")
    assert result.outcome is FetchOutcome.ERROR
    url = f"http://{host}:{watched.port}/feed.xml"
    assert result.error in (
        f"refused to connect to {host.strip('[]')}: {REFUSED} "
        f"(a curator can allow a range with {SETTING})",
        f"refused to connect to 127.0.0.2 ({host}): {REFUSED} "
        f"(a curator can allow a range with {SETTING})",
        f"not a valid web address: {url!r}",  # aiohttp will not even try some spellings
    )
    assert nothing_reached(watched)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/feed", "10.0.0.1"),
        ("http://[::1]:9/feed", "::1"),
        ("http://[fe80::1]/feed", "fe80::1"),
        ("http://[fd00::1]/feed", "fd00::1"),
        ("https://100.64.1.1/feed", "100.64.1.1"),
        ("http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1"),
    ],
)
def test_refused_ranges_stay_refused_when_loopback_is_allowed(
    config: Config, url: str, named: str
) -> None:
    result = fetch(config, url)
    assert result.outcome is FetchOutcome.ERROR
    assert result.error == (
        f"refused to connect to {named}: {REFUSED} (a curator can allow a range with {SETTING})"
    )


def test_loopback_is_refused_unless_allowed(server: FeedServer, db_path: str) -> None:
    url = server.feed("/feed.xml", RSS)
    plain = load({"db": db_path}, environ={})
    result = fetch(plain, url)
    assert result.outcome is FetchOutcome.ERROR and "127.0.0.1" in (result.error or "")
    assert server.requests == []
    allowed = load({"db": db_path}, environ={SETTING: "127.0.0.1/32"})
    assert fetch(allowed, url).outcome is FetchOutcome.OK


def test_a_name_for_loopback_is_refused_too(server: FeedServer, db_path: str) -> None:
    plain = load({"db": db_path}, environ={})
    url = server.feed("/feed.xml", RSS).replace("127.0.0.1", "localhost")
    result = fetch(plain, url)
    assert result.error is not None
    assert "refused to connect to" in result.error and "(localhost)" in result.error
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://ftp.example.org/feed.xml",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "data:application/rss+xml,<rss/>",
    ],
)
def test_only_http_and_https(config: Config, url: str) -> None:
    result = fetch(config, url)
    assert result.error == f"only http and https addresses can be fetched, not {url!r}"


# --- every redirect hop ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("http://127.0.0.2:{port}/feed.xml", "refused to connect to 127.0.0.2"),
        ("http://[::ffff:127.0.0.2]:{port}/feed.xml", "refused to connect to ::ffff:127.0.0.2"),
        ("http://0x7f000002:{port}/feed.xml", "refused to connect to 127.0.0.2 (0x7f000002)"),
        ("http://169.254.169.254/latest/meta-data/iam/", "refused to connect to 169.254.169.254"),
        ("http://10.0.0.1/feed.xml", "refused to connect to 10.0.0.1"),
        (
            "file:///etc/passwd",
            "only http and https addresses can be fetched, not 'file:///etc/passwd'",
        ),
    ],
)
def test_redirect_to_a_refused_address_fails_without_connecting(
    config: Config, server: FeedServer, watched: RawServer, target: str, error: str
) -> None:
    location = target.format(port=watched.port)
    url = server.respond("/feed.xml", Response(302, headers={"Location": location}))
    result = fetch(config, url)
    assert result.outcome is FetchOutcome.ERROR
    if error.startswith("refused"):  # the guard's refusals all end alike
        error += f": {REFUSED} (a curator can allow a range with {SETTING})"
    assert result.error == error
    assert [r.location for r in result.redirects] == [location]
    assert nothing_reached(watched)


def test_public_looking_name_redirecting_to_private_address_fails(
    config: Config, server: FeedServer, watched: RawServer
) -> None:
    dns = ScriptedDNS({"blog.example.org": [["127.0.0.1"]], "cdn.example.net": [["127.0.0.2"]]})
    first = server.respond(
        "/feed.xml",
        Response(301, headers={"Location": f"http://cdn.example.net:{watched.port}/feed.xml"}),
    )
    result = fetch(config, first.replace("127.0.0.1", "blog.example.org"), dns)
    assert result.error == (
        f"refused to connect to 127.0.0.2 (cdn.example.net): {REFUSED} "
        f"(a curator can allow a range with {SETTING})"
    )
    assert len(server.hits("/feed.xml")) == 1
    assert nothing_reached(watched)


# --- DNS answers that change ----------------------------------------------------------------


def test_name_rebound_to_a_private_address_is_refused_on_the_next_fetch(
    config: Config, server: FeedServer
) -> None:
    """The first answer passes the check; the next one points at the private service."""
    port = port_of(server)
    private = RawServer(host="127.0.0.2", port=port)  # same port, the private address
    try:
        dns = ScriptedDNS({"rebind.example.org": [["127.0.0.1"], ["127.0.0.2"]]})
        server.feed("/feed.xml", RSS)
        url = f"http://rebind.example.org:{port}/feed.xml"
        assert fetch(config, url, dns).outcome is FetchOutcome.OK
        again = fetch(config, url, dns)
        assert again.outcome is FetchOutcome.ERROR
        assert "refused to connect to 127.0.0.2 (rebind.example.org)" in (again.error or "")
        assert dns.lookups == ["rebind.example.org", "rebind.example.org"]
        assert len(server.hits("/feed.xml")) == 1
        assert nothing_reached(private)
    finally:
        private.close()


def test_rebinding_between_redirect_hops_is_refused(
    config: Config, server: FeedServer, watched: RawServer
) -> None:
    dns = ScriptedDNS({"rebind.example.org": [["127.0.0.1"], ["127.0.0.2"]]})
    start = server.respond(
        "/start",
        Response(302, headers={"Location": f"http://rebind.example.org:{watched.port}/feed.xml"}),
    )
    result = fetch(config, start.replace("127.0.0.1", "rebind.example.org"), dns)
    assert "refused to connect to 127.0.0.2 (rebind.example.org)" in (result.error or "")
    assert nothing_reached(watched)


def test_mixed_answer_uses_only_the_allowed_address(config: Config, server: FeedServer) -> None:
    """A DNS answer listing private addresses first never reaches them."""
    port = port_of(server)
    watched = RawServer(host="127.0.0.2", port=port)
    watched6 = RawServer(host="::1", port=port)
    try:
        server.feed("/feed.xml", RSS)
        dns = ScriptedDNS({"both.example.org": [["127.0.0.2", "::1", "127.0.0.1"]]})
        result = fetch(config, f"http://both.example.org:{port}/feed.xml", dns)
        assert result.outcome is FetchOutcome.OK, result.error
        assert nothing_reached(watched) and nothing_reached(watched6)
    finally:
        watched.close()
        watched6.close()


def test_the_connected_address_is_checked_before_the_request_is_sent(
    watched: RawServer,
) -> None:
    """The second layer alone: even if a name lookup slipped past the guard (here, a
    resolver with no guard at all), the connection to a refused address is dropped
    before a byte of the request is written."""
    dns = ScriptedDNS({"sneaky.example.org": [["127.0.0.2"]]})

    async def go() -> None:
        connector = GuardedConnector(LOOPBACK, resolver=dns)
        async with aiohttp.ClientSession(connector=connector) as session:
            await session.get(f"http://sneaky.example.org:{watched.port}/feed.xml")

    with pytest.raises(BlockedAddressError, match=r"refused to connect to 127\.0\.0\.2"):
        asyncio.run(go())
    deadline = time.monotonic() + 5
    while watched.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the kernel accepted it; the server thread is catching up
    assert watched.connections == 1  # the connection was made, then checked ...
    assert watched.received == b""  # ... and dropped before the request went out


# --- what the curator sees ------------------------------------------------------------------


def test_adding_a_private_address_names_it_and_the_setting(run: Callable[..., Result]) -> None:
    result = run("add", "http://169.254.169.254/latest/meta-data/")
    assert result.code == 1
    assert result.err.strip() == (
        "townsquare: error: could not fetch 'http://169.254.169.254/latest/meta-data/': "
        f"refused to connect to 169.254.169.254: {REFUSED} "
        f"(a curator can allow a range with {SETTING})"
    )
    assert json.loads(run("sources", "--json").out) == []


def test_discovery_refuses_a_feed_link_to_a_private_address(
    server: FeedServer, run: Callable[..., Result]
) -> None:
    page = server.respond(
        "/",
        Response(
            200,
            b'<html><head><link rel="alternate" type="application/rss+xml" '
            b'href="http://10.0.0.1/feed.xml"></head><body>Blog</body></html>',
            {"Content-Type": "text/html"},
        ),
    )
    result = run("add", page)
    assert result.code == 1
    assert "http://10.0.0.1/feed.xml: refused to connect to 10.0.0.1" in result.err
    assert SETTING in result.err


def test_a_refused_source_is_a_stored_error_and_the_pass_goes_on(
    server: FeedServer, store: Store, run: Callable[..., Result], watched: RawServer
) -> None:
    good = server.feed("/good.xml", RSS)
    bad = server.respond(
        "/moved.xml", Response(301, headers={"Location": watched.url("/feed.xml")})
    )
    store.add_source(good, "Good", now=datetime.now(UTC))
    store.add_source(bad, "Bad", now=datetime.now(UTC))
    fetched = run("fetch")
    assert "1 new, 0 updated, 0 unchanged, 1 failed" in fetched.out
    sources = {s["title"]: s for s in json.loads(run("sources", "--json").out)}
    assert sources["Good"]["status"] == "ok"
    assert sources["Bad"]["status"] == "error"
    assert sources["Bad"]["last_error"].startswith("refused to connect to 127.0.0.2")
    assert nothing_reached(watched)
