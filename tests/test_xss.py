"""Content is inert: a table of attacks goes through a real pass, and what ``posts --json``
and ``sources --json`` give back, and what the store holds, carries nothing active.

Each case states what must survive (so that sanitising is not just deleting everything);
everything else is checked by the same rules for every case: no active element, no event
handler, no URL but http(s) (and mailto for links).  Last, the stored values are put into
a page *without escaping* and opened in Chromium, which is the parser that matters for
mutation XSS: no script runs and the page's shape holds.
"""

from __future__ import annotations

import html
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import lxml.html
import pytest

from conftest import FeedServer, Result
from hostile import add, run_pass
from townsquare import cli
from townsquare.store import open_store

# (name, post HTML, what must survive)
CONTENT = [
    ("script", "<p>SAFE</p><script>alert(1)</script>", ["<p>SAFE</p>"]),
    ("img onerror", "<img src=x onerror=alert(1)>SAFE", ["SAFE"]),
    ("img no quotes or spaces", "<img/src/onerror=alert(1)>SAFE", ["SAFE"]),
    ("javascript link", '<a href="javascript:alert(1)">SAFE</a>', ["SAFE"]),
    ("mixed case, spaces", '<a href="  JaVaScRiPt:alert(1)">SAFE</a>', ["SAFE"]),
    ("entity j", '<a href="&#106;avascript:alert(1)">SAFE</a>', ["SAFE"]),
    ("entity tab", '<a href="jav&#x09;ascript:alert(1)">SAFE</a>', ["SAFE"]),
    ("entity newline", '<a href="java&NewLine;script:alert(1)">SAFE</a>', ["SAFE"]),
    ("entity colon", '<a href="javascript&colon;alert(1)">SAFE</a>', ["SAFE"]),
    ("entity s, no ;", '<a href="java&#115cript:alert(1)">SAFE</a>', ["SAFE"]),
    (
        "all entities, padded",
        '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
        '&#0000112&#0000116&#0000058alert(1)">SAFE</a>',
        ["SAFE"],
    ),
    ("leading tab entity", '<a href="&Tab;javascript:alert(1)">SAFE</a>', ["SAFE"]),
    ("raw control character", '<a href="\x01javascript:alert(1)">SAFE</a>', ["SAFE"]),
    ("data: link", '<a href="data:text/html,<script>alert(1)</script>">SAFE</a>', ["SAFE"]),
    ("vbscript", '<a href="vbscript:msgbox(1)">SAFE</a>', ["SAFE"]),
    ("data: image", '<img src="data:image/svg+xml,<svg onload=alert(1)>">SAFE', ["SAFE"]),
    (
        "srcset",
        '<img src="https://ok.example/a.png" srcset="javascript:alert(1) 1x, '
        'https://ok.example/b.png 2x">',
        ['src="https://ok.example/a.png"', 'srcset="https://ok.example/b.png 2x"'],
    ),
    (
        "source srcset",
        '<picture><source srcset="javascript:alert(1)"><img src="https://ok.example/c.png">'
        "</picture>",
        ['src="https://ok.example/c.png"'],
    ),
    (
        "formaction",
        '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">B</button>'
        '<input type=submit formaction="javascript:alert(1)"></form>SAFE',
        ["SAFE"],
    ),
    (
        "isindex",
        '<isindex action="javascript:alert(1)" type="image">SAFE',
        ["SAFE"],
    ),
    (
        "svg xlink:href",
        '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">X</text></a></svg>SAFE',
        ["SAFE"],
    ),
    ("svg onload", "<svg onload=alert(1)>SAFE", []),
    ("svg script", "<svg><script>alert(1)</script></svg><p>SAFE</p>", ["<p>SAFE</p>"]),
    (
        "svg animate",
        '<svg><a><animate attributeName="href" values="javascript:alert(1)"/>'
        '<text y="20">X</text></a></svg><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    (
        "svg style",
        "<svg><style><img src=x onerror=alert(1)></style></svg><p>SAFE</p>",
        ["<p>SAFE</p>"],
    ),
    (
        "svg foreignObject",
        "<svg><foreignObject><iframe srcdoc='<script>alert(1)</script>'></iframe>"
        "</foreignObject></svg><p>SAFE</p>",
        ["<p>SAFE</p>"],
    ),
    (
        "math mglyph",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph>"
        "</table></mtext></math><p>SAFE</p>",
        ["<p>SAFE</p>"],
    ),
    (
        "math xlink",
        '<math><mi xlink:href="javascript:alert(1)">X</mi></math><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    (
        "math mtext malignmark",
        '<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style>'
        '<img src onerror=alert(1)>"></style></h1><p>SAFE</p>',
        [],
    ),
    (
        "noscript title",
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    (
        "title attribute",
        '<p title="</p><img src=x onerror=alert(1)>">SAFE</p>',
        ["SAFE"],
    ),
    ("template", "<template><script>alert(1)</script></template><p>SAFE</p>", ["<p>SAFE</p>"]),
    ("textarea", "<textarea><img src=x onerror=alert(1)></textarea><p>SAFE</p>", ["<p>SAFE</p>"]),
    ("title in body", "<title><img src=x onerror=alert(1)></title><p>SAFE</p>", ["<p>SAFE</p>"]),
    ("xmp", "<xmp><img src=x onerror=alert(1)></xmp><p>SAFE</p>", []),
    (
        "comment tricks",
        "<!--><img src=x onerror=alert(1)>--><!-- --!><img src=x onerror=alert(2)>--><p>SAFE</p>",
        ["<p>SAFE</p>"],
    ),
    ("cdata in html", "<![CDATA[><img src=x onerror=alert(1)>]]><p>SAFE</p>", ["<p>SAFE</p>"]),
    ("base", '<base href="javascript:alert(1)//"><a href="x">SAFE</a>', ["SAFE"]),
    ("base elsewhere", '<base href="https://evil.example/"><a href="/x">SAFE</a>', ["SAFE"]),
    (
        "meta refresh",
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)"><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    (
        "meta set-cookie",
        '<meta http-equiv="set-cookie" content="a=b"><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    ("link stylesheet", '<link rel="stylesheet" href="javascript:alert(1)"><p>SAFE</p>', []),
    ("iframe", '<iframe src="javascript:alert(1)"></iframe><p>SAFE</p>', ["<p>SAFE</p>"]),
    ("iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>SAFE', ["SAFE"]),
    ("object", '<object data="javascript:alert(1)"></object><p>SAFE</p>', ["<p>SAFE</p>"]),
    ("embed", '<embed src="javascript:alert(1)"><p>SAFE</p>', ["<p>SAFE</p>"]),
    ("style attribute", '<p style="background:url(javascript:alert(1))">SAFE</p>', ["SAFE"]),
    ("style element", "<style>@import 'javascript:alert(1)';</style><p>SAFE</p>", ["<p>SAFE</p>"]),
    (
        "table background",
        '<table background="javascript:alert(1)"><tr><td>SAFE</td></tr></table>',
        ["<td>SAFE</td>"],
    ),
    (
        "video poster",
        '<video poster="javascript:alert(1)" src="javascript:alert(2)">'
        '<source src="javascript:alert(3)"></video><p>SAFE</p>',
        ["<p>SAFE</p>"],
    ),
    ("blockquote cite", '<blockquote cite="javascript:alert(1)">SAFE</blockquote>', ["SAFE"]),
    (
        "details ontoggle",
        "<details open ontoggle=alert(1)><summary>SAFE</summary></details>",
        ["<summary>SAFE</summary>"],
    ),
    ("body onload", "<body onload=alert(1)><p>SAFE</p></body>", ["<p>SAFE</p>"]),
    ("marquee", "<marquee onstart=alert(1)>SAFE</marquee>", ["SAFE"]),
    ("keygen autofocus", "<keygen autofocus onfocus=alert(1)><p>SAFE</p>", ["<p>SAFE</p>"]),
    ("frameset", "<frameset onload=alert(1)><frame src=javascript:alert(1)></frameset>", []),
    ("applet", '<applet code="x"><param name=a value=b></applet><p>SAFE</p>', ["<p>SAFE</p>"]),
    (
        "safe link keeps its href",
        '<a href="https://ok.example/" onclick="alert(1)" target="_top">SAFE</a>',
        ['href="https://ok.example/"', "SAFE</a>"],
    ),
    ("relative link", '<a href="/page">SAFE</a>', ['href="{base}/page"']),  # the feed's or item's
    (
        "mailto",
        '<a href="mailto:curator@ok.example">SAFE</a>',
        ['href="mailto:curator@ok.example"'],
    ),
    (
        "quote in a URL",
        '<a href="https://ok.example/&quot;onmouseover=&quot;alert(1)">SAFE</a>',
        ["SAFE"],
    ),
]

# Titles, authors and links that try to carry markup or a script URL (RSS item fields,
# written as they would appear inside the XML element).
ITEMS = [
    (
        "<![CDATA[<img src=x onerror=alert(1)>Image title]]>",
        "javascript:alert(1)",
        "<![CDATA[<b>Ann</b>]]>",
    ),
    (
        "&lt;script&gt;alert(1)&lt;/script&gt;Escaped",
        "&#106;avascript:alert(1)",
        "&lt;i&gt;Bo&lt;/i&gt;",
    ),
    ("&amp;lt;script&amp;gt;Twice", " jav&#x09;ascript:alert(1)", "x@y.example (&lt;b&gt;Cy)"),
    (
        "&lt;img src=x onerror=alert(1) Unclosed",
        "data:text/html,x",
        "<![CDATA[<img src=x onerror=alert(1)]]>",
    ),
    ("<![CDATA[<scr<script>ipt>alert(1)</script>Nested]]>", "vbscript:x", "Di"),
    ("&lt;&#x200b;script&gt;Hidden", "JAVASCRIPT:alert(1)", "Ed"),
    ("<![CDATA[<\x01script>Control]]>", 'https://ok.example/"onmouseover="alert(1)', "Flo"),
    ("<![CDATA[<a<b>c]]>", "//ok.example/protocol-relative", "Gus"),
]


def _rss(base: str) -> bytes:
    items = []
    for n, (_, body, _) in enumerate(CONTENT):
        items.append(
            f"<item><title>Content {n}</title><guid>content-{n}</guid>"
            f"<link>https://xss.example/{n}</link>"
            f"<content:encoded>{html.escape(body, quote=False)}</content:encoded></item>"
        )
    for n, (title, link, author) in enumerate(ITEMS):
        items.append(
            f"<item><title>{title}</title><guid>item-{n}</guid><link>{link}</link>"
            f"<dc:creator>{author}</dc:creator><category>{title}</category>"
            "<description>Body</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title><![CDATA[<script>alert(1)</script><b>Hostile</b> blog]]></title>"
        "<link>javascript:alert(1)</link>" + "".join(items) + "</channel></rss>"
    ).encode()


def _json_feed() -> bytes:
    items: list[dict[str, Any]] = [
        {"id": f"json-{n}", "url": f"https://json.example/{n}", "title": f"Json {n}",
         "content_html": body}
        for n, (_, body, _) in enumerate(CONTENT)
    ]  # fmt: skip
    items += [
        {"id": "json-title", "title": "<script>alert(1)</script>Plain", "url": "javascript:x",
         "authors": [{"name": "<img src=x onerror=alert(1)>Hal"}], "content_text": "<b>t</b>"},
    ]  # fmt: skip
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "<img src=x onerror=alert(1)>Json blog",
            "home_page_url": "javascript:alert(1)",
            "items": items,
        }
    ).encode()


def _atom() -> bytes:
    return (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b'<title type="html">&lt;svg onload=alert(1)&gt;Atom blog</title>'
        b'<link rel="alternate" href="javascript:alert(1)"/>'
        b'<entry><id>urn:a1</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        b"<script>alert(1)</script>Xhtml <b>title</b></div></title>"
        b'<link rel="alternate" href="&#106;avascript:alert(1)"/>'
        b"<author><name>&lt;b&gt;Ivy&lt;/b&gt;</name></author>"
        b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        b'<p onclick="alert(1)">SAFE</p><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
        b'<a xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="javascript:alert(1)">x</a>'
        b"</div></content></entry>"
        b'<entry xml:base="javascript:alert(1)//"><id>urn:a2</id><title>Based</title>'
        b'<link href="relative"/><content type="html">&lt;a href="x"&gt;SAFE&lt;/a&gt;</content>'
        b"</entry></feed>"
    )


TAG_SHAPED = re.compile(r"<[A-Za-z/!?]")
ACTIVE_TAGS = {
    "script", "style", "iframe", "object", "embed", "base", "meta", "link", "form", "input",
    "button", "svg", "math", "template", "noscript", "frame", "frameset", "applet", "textarea",
    "select", "isindex", "keygen", "marquee", "title", "xmp", "param", "body", "html", "head",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "poster", "cite", "action", "formaction", "background", "data"}


def _assert_inert_html(fragment: str) -> None:
    """The rules every stored post body follows."""
    if not fragment:
        return
    for el in lxml.html.fragment_fromstring(fragment, create_parent="div").iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in ACTIVE_TAGS, fragment
        for name, value in el.attrib.items():
            assert not name.startswith("on"), fragment
            assert name not in ("style", "formaction", "action", "srcdoc", "background"), fragment
            assert ":" not in name, fragment  # xlink:href and friends
            if name in URL_ATTRIBUTES:
                schemes = ("https://", "http://") + (("mailto:",) if name == "href" else ())
                assert value.startswith(schemes), (name, value)
                assert not re.search(r"[\"'<>\s]", value), (name, value)
            if name == "srcset":
                for candidate in value.split(","):
                    assert candidate.strip().startswith(("https://", "http://")), value


def _assert_alert_only_as_text(fragment: str) -> None:
    """What is left of an attack is words for the reader, never markup: no comment
    survives, no attribute holds a javascript: URL, and "alert" is in an attribute only
    as words (a title or alt text) or inside an http(s) address (which
    ``_assert_inert_html`` has seen hold no quote to break out of)."""
    if not fragment:
        return
    for el in lxml.html.fragment_fromstring(fragment, create_parent="div").iter():
        assert isinstance(el.tag, str), fragment  # a comment or processing instruction
        for name, value in el.attrib.items():
            assert "javascript:" not in re.sub(r"\s", "", value).lower(), (name, value)
            if "alert" in value:
                assert name in ("title", "alt") or (
                    name in URL_ATTRIBUTES and value.startswith(("https://", "http://"))
                ), (name, value)


def _assert_plain(value: str | None) -> None:
    assert value is None or not TAG_SHAPED.search(value), value


def _assert_link(value: str | None) -> None:
    assert value is None or (
        value.startswith(("https://", "http://")) and not re.search(r"[\"'<>\s]", value)
    ), value


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One pass over the three hostile feeds, shared by the tests below."""
    db_path = str(tmp_path_factory.mktemp("xss") / "townsquare.db")
    server = FeedServer()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOWNSQUARE_ALLOW_NETWORKS", "127.0.0.1/32")

        def run(*args: str) -> Result:
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = cli.main(["--db", db_path, *args])
            return Result(code, out.getvalue(), err.getvalue())

        with open_store(db_path) as store:
            add(store, server.feed("/rss", _rss(server.base)), "RSS")
            add(store, server.feed("/json", _json_feed(), "application/feed+json"), "JSON")
            add(store, server.feed("/atom", _atom()), "Atom")
        outcome = run_pass(run)
        assert "0 failed" in outcome.fetch.out
        yield {
            "posts": outcome.posts,
            "sources": json.loads(run("sources", "--json").out),
            "db": db_path,
            "base": server.base,
        }
    server.close()


@pytest.mark.parametrize(
    ("n", "keeps"), [(n, keeps) for n, (_, _, keeps) in enumerate(CONTENT)],
    ids=[name for name, _, _ in CONTENT],
)  # fmt: skip
def test_post_html_is_inert(stored: dict[str, Any], n: int, keeps: list[str]) -> None:
    by_title = {p["title"]: p for p in stored["posts"]}
    for title, base in ((f"Content {n}", stored["base"]), (f"Json {n}", "https://json.example")):
        body = by_title[title]["content_html"]
        _assert_inert_html(body)
        for kept in keeps:
            assert kept.format(base=base) in body, (title, body)
        _assert_alert_only_as_text(body)


def test_titles_names_and_links_carry_no_markup(stored: dict[str, Any]) -> None:
    posts = stored["posts"]
    assert len(posts) == 2 * len(CONTENT) + len(ITEMS) + 1 + 2
    for post in posts:
        _assert_plain(post["title"])
        _assert_plain(post["author"])
        _assert_plain(post["source_title"])
        for category in post["categories"]:
            _assert_plain(category)
        _assert_link(post["link"])
        _assert_inert_html(post["content_html"])
    titles = sorted(p["title"] for p in posts if not p["title"].startswith(("Content", "Json ")))
    assert titles == [
        "< a c",  # "<a<b>c": no tag survives; a "<" left over is followed by a space
        "< script>alert(1)< /script>Plain",  # a JSON Feed title is plain text, kept as words
        "Based",
        "Body",  # the title was only an unclosed tag, or tags around a script:
        "Body",  # the body's text stands in
        "Control",
        "Escaped",
        "Hidden",
        "Image title",
        "Twice",
        "Xhtml title",
    ]
    authors = sorted(p["author"] for p in posts if p["author"])
    assert authors == ["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy"]
    # Blog names learnt from the feeds, as 'add' would show them, and site links.
    for source in stored["sources"]:
        _assert_plain(source["title"])
        _assert_link(source["site_url"])
    # The store itself, every text column a page could show.
    with sqlite3.connect(stored["db"]) as db:
        for title, author, link, canonical, categories in db.execute(
            "SELECT title, author, link, canonical_link, categories FROM posts"
        ):
            _assert_plain(title)
            _assert_plain(author)
            _assert_link(link)
            _assert_link(canonical)
            for category in json.loads(categories):
                _assert_plain(category)
        for title, site_url in db.execute("SELECT title, site_url FROM sources"):
            _assert_plain(title)
            _assert_link(site_url)


def test_blog_name_found_by_add_carries_no_markup(
    server: FeedServer, run: Callable[..., Result]
) -> None:
    for path, body in (("/rss", _rss(server.base)), ("/json", _json_feed()), ("/atom", _atom())):
        server.feed(path, body)
        added = run("add", server.url(path))
        assert added.code == 0, added.err
        assert not TAG_SHAPED.search(added.out), added.out
    names = [s["title"] for s in json.loads(run("sources", "--json").out)]
    assert sorted(names) == ["Atom blog", "Hostile blog", "Json blog"]


def test_a_browser_runs_nothing_even_without_escaping(stored: dict[str, Any]) -> None:
    """Every stored value goes into a page as it is, with no escaping at all, and Chromium
    loads it: no script runs, no handler fires, no active element or script URL appears,
    and every post keeps its own box."""
    from playwright.sync_api import sync_playwright

    posts = stored["posts"]
    page_html = "".join(
        f'<article><h2>{p["title"]}</h2><p class="by">{p["author"] or ""} · '
        f'{p["source_title"]}</p><a class="link" href="{p["link"] or ""}">{p["title"]}</a>'
        f'<div class="body">{p["content_html"]}</div></article>'
        for p in posts
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.route("**/*", lambda route: route.abort())  # nothing leaves the machine
            page.add_init_script(
                "window.alert = window.confirm = window.prompt = "
                "(m) => { (window.__xss = window.__xss || []).push(String(m)); };"
            )
            page.set_content(f"<!doctype html><html><body>{page_html}</body></html>")
            page.wait_for_timeout(300)  # let failing images fire their error events
            found = page.evaluate(
                """() => {
                const bad = [];
                for (const el of document.querySelectorAll('body *')) {
                    const tag = el.localName;
                    if (['script','style','iframe','object','embed','base','meta','link','form',
                         'input','button','svg','math','template','noscript','frame','frameset',
                         'textarea','select','marquee'].includes(tag)) bad.push('element ' + tag);
                    for (const a of el.attributes) {
                        if (a.name.startsWith('on')) bad.push('handler ' + a.name);
                        if (/^(href|src|poster|cite|action|formaction|background|data)$/
                                .test(a.name)) {
                            const url = new URL(a.value, 'https://base.example/');
                            if (!['http:', 'https:', 'mailto:'].includes(url.protocol))
                                bad.push('url ' + a.name + '=' + a.value);
                        }
                    }
                }
                return {bad, xss: window.__xss || [],
                        articles: document.querySelectorAll('body > article').length,
                        bodies: document.querySelectorAll('article > div.body').length};
            }"""
            )
        finally:
            browser.close()
    assert dialogs == []
    assert found["xss"] == []
    assert found["bad"] == []
    assert found["articles"] == found["bodies"] == len(posts)
