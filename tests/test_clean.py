"""Clean: what a reader is shown of a post, as pure functions (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from townsquare.ingest.clean import (
    _PLAIN_LINK,
    canonical_url,
    clean_entry,
    feed_title,
    plain_text,
    safe_url,
    sanitize_html,
    text_of,
    text_utf8_of,
)
from townsquare.model import ParsedEntry, ParsedFeed

BASE = "https://blog.example/posts/"
NOW = datetime(2024, 7, 5, 12, 0, tzinfo=UTC)
REL = 'rel="noopener noreferrer"'


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>Hi<script>alert(1)</script></p>", "<p>Hi</p>"),
        ("<p onclick='x()' onmouseover=x()>Hi</p>", "<p>Hi</p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="&#x6A;avascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', f"<a {REL}>x</a>"),
        ('<img src="data:image/gif;base64,R0lGOD==" alt="x">', '<img alt="x" loading="lazy">'),
        ('<iframe src="https://x.example/"></iframe><p>a</p>', "<p>a</p>"),
        ('<form><input value="x"><button>b</button></form>', ""),
        ("<style>p{}</style><p style='color:red'>a</p>", "<p>a</p>"),
        ('<p class="c" id="i">a</p>', "<p>a</p>"),
        ('<object data="x.swf"></object><embed src="x.swf">', ""),
        ('<svg><script>alert(1)</script></svg>', ""),
        ('<svg><title>hidden</title><a href="https://x.example/"><text>t</text></a></svg>', ""),
        ('<img src="https://t.example/p.gif" width="1" height="1">', ""),
        ('<img src="https://t.example/p.gif" height=1 width=1/>', ""),
        ('<img src="https://t.example/p.gif" width="0" height="0">', ""),
        ("<!-- a comment --><p>a</p>", "<p>a</p>"),
        ('<a href="https://x.example/" target="_blank">x</a>',
         f'<a href="https://x.example/" {REL}>x</a>'),
        ("<p>unclosed <b>bold", "<p>unclosed <b>bold</b></p>"),
    ],
)  # fmt: skip
def test_active_content_is_removed(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty, BASE) == clean


@pytest.mark.parametrize(
    "kept",
    [
        "<h2>Heading</h2>",
        "<ul><li>a</li></ul>",
        "<ol start=\"2\"><li>b</li></ol>",
        '<blockquote cite="https://q.example/"><p>quote</p></blockquote>',
        "<pre><code>x = 1</code></pre>",
        '<table><thead><tr><th scope="col">h</th></tr></thead>'
        "<tbody><tr><td>d</td></tr></tbody></table>",
        "<figure><figcaption>cap</figcaption></figure>",
        '<picture><source srcset="https://i.example/a.avif" type="image/avif"></picture>',
        '<img src="https://i.example/a.png" alt="A" width="640" height="480" loading="lazy">',
        '<p><abbr title="National Health Service">NHS</abbr> '
        '<time datetime="2024-07-05">5 July</time></p>',
    ],
)  # fmt: skip
def test_what_blog_posts_use_is_kept(kept: str) -> None:
    assert sanitize_html(kept, BASE) == kept


@pytest.mark.parametrize(
    ("post", "expected"),
    [
        ("<p>a\x02b &#3; c\x00d&#x1b;e</p>", "<p>ab  cde</p>"),
        ("<p>caf\u00e9 &#127;\x7f</p>", "<p>caf\u00e9 </p>"),  # text of one byte a letter
        ("<p>\u0141\u00f3d\u017a&#x0c;\x1f</p>", "<p>\u0141\u00f3d\u017a</p>"),  # two bytes
        ("<p>\U0001f600&#8;x</p>", "<p>\U0001f600x</p>"),  # four bytes a letter
    ],
)
def test_control_characters_leave_post_html(post: str, expected: str) -> None:
    # The sanitiser keeps them, and makes them of references: they break XML feeds.
    assert sanitize_html(post, BASE) == expected


def test_text_of_gives_the_words_a_reader_sees() -> None:
    html = sanitize_html("<p>Digital<br>identity &amp; <b>trust</b> &lt;script&gt;</p>", BASE)
    assert " ".join(text_of(html).split()) == "Digital identity & trust <script>"


@pytest.mark.parametrize(
    "post",
    [
        "<p>Digital<br>identity &amp; <b>trust</b> &lt;script&gt; &quot;quoted&quot;</p>",
        "<p>a&nbsp;b \u00a0 c &amp;amp; &amp;lt; &amp;nbsp; &#38;gt; &#x26;quot;</p>",
        "<p>&copy; &#169; &eacute;t&eacute; &notin; &amp &lt; &#0; &#x110000; &#128;</p>",
        '<a href="https://x.example/?a=1&amp;b=2" title="x>y &quot;z&quot;">link &gt;</a>',
        "<pre>a < b && c > d</pre><p>1 < 2 & 3 > 2",
        "caf\u00e9 \u2018r\u00e9sum\u00e9s\u2019 \u2013 \U0001f331 \u0436\u0438\u0437\u043d\u044c",
        "<p>a\x02b &#3; c</p><script>x = '<p>&amp;</p>'</script><!-- <b>&amp;</b> -->",
        "plain words, no markup at all",
        "",
    ],
)
def test_the_words_in_utf8_are_the_words_of_the_html(post: str) -> None:
    # The parsing processes make a post's text with text_utf8_of, and the store makes it
    # again with text_of to take the post out of the search index: they must agree.
    html = sanitize_html(post, BASE)
    assert text_utf8_of(html.encode()) == text_of(html).encode()


def test_references_the_sanitiser_never_writes_are_decoded_all_the_same() -> None:
    html = "<p>&copy; 2024 &amp;lt;b&amp;gt; &#169;&nbsp;&eacute;t&eacute; &amp</p>"
    assert text_utf8_of(html.encode()) == text_of(html).encode()
    words = text_utf8_of(html.encode()).decode().strip(" ").split(" ")
    assert words == ["\u00a9", "2024", "&lt;b&gt;", "\u00a9\u00a0\u00e9t\u00e9", "&"]


def test_relative_addresses_resolve_against_the_base() -> None:
    html = (
        '<a href="../about">a</a><img src="img/a.png" srcset="img/a.png 1x, /b.png 2x" alt="">'
        '<blockquote cite="/q"></blockquote>'
    )
    assert sanitize_html(html, BASE) == (
        '<a href="https://blog.example/about" rel="noopener noreferrer">a</a>'
        '<img src="https://blog.example/posts/img/a.png" '
        'srcset="https://blog.example/posts/img/a.png 1x, https://blog.example/b.png 2x" '
        'alt="" loading="lazy">'
        '<blockquote cite="https://blog.example/q"></blockquote>'
    )


def test_addresses_are_made_safe_in_tags_only() -> None:
    # Attribute values are checked after sanitising, in its output: words in the text
    # that look like attributes stay as they are, and quotes and ">" in values are safe.
    html = (
        '<p title="a>b &quot;c&quot;">Write href="/x" or src="y"</p>'
        '<a href="/p?a=1&amp;b=&quot;2&quot;">q</a><a href="mailto:a@b.example">m</a>'
        '<a href="https://x.example/a b">s</a><img src="//cdn.example/i.png" width="10px">'
        '<img src="https://x.example/i.png" srcset="javascript:alert(1) 1x, i2.png 2x">'
    )
    assert sanitize_html(html, BASE) == (
        '<p title="a&gt;b &quot;c&quot;">Write href="/x" or src="y"</p>'
        f'<a href="https://blog.example/p?a=1&amp;b=%222%22" {REL}>q</a>'
        f'<a href="mailto:a@b.example" {REL}>m</a>'
        f'<a href="https://x.example/a%20b" {REL}>s</a>'
        '<img src="https://cdn.example/i.png" width="10" loading="lazy">'
        '<img src="https://x.example/i.png" srcset="https://blog.example/posts/i2.png 2x" '
        'loading="lazy">'
    )


@pytest.mark.parametrize(
    ("value", "is_html", "text"),
    [
        ("<b>Bold</b> &amp; <i>brave</i>", True, "Bold & brave"),
        ("Caf&eacute;&nbsp;&mdash; notes", True, "Café — notes"),
        ("&lt;b&gt;escaped twice&lt;/b&gt;", True, "escaped twice"),
        ("<script>alert(1)</script>Title<style>b{}</style>", True, "Title"),
        ("1 < 2 & 3 > 2", False, "1 < 2 & 3 > 2"),
        ("  tabs\tand\nnewlines  ", False, "tabs and newlines"),
        ("nul\x00 bell\x07 rtl\u202e zero\u200bwidth", False, "nul bell rtl zerowidth"),
        ("", True, ""),
        (None, True, ""),
    ],
)
def test_plain_text(value: str | None, is_html: bool, text: str) -> None:
    assert plain_text(value, is_html=is_html) == text


def test_plain_text_is_cut_to_length() -> None:
    assert plain_text("word " * 500, limit=20) == "word word word word…"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("https://x.example/a", "https://x.example/a"),
        ("  https://x.example/a\t", "https://x.example/a"),
        ("/a", "https://blog.example/a"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,hi", None),
        ("mailto:a@b.example", None),
        ("ftp://x.example/", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(value: str | None, url: str | None) -> None:
    assert safe_url(value, BASE) == url


def test_safe_url_needs_a_host() -> None:
    assert safe_url("https://") is None
    assert safe_url("http:///path") is None
    assert safe_url("mailto:a@b.example", schemes=("mailto",)) == "mailto:a@b.example"


@pytest.mark.parametrize(
    "variant",
    [
        "https://blog.example/post",
        "http://blog.example/post",
        "https://www.blog.example/post/",
        "https://BLOG.example/post#comments",
        "https://blog.example/post?utm_source=rss&utm_medium=feed",
        "https://blog.example:443/post?fbclid=abc",
    ],
)
def test_canonical_url_makes_one_address_of_many(variant: str) -> None:
    assert canonical_url(variant) == "https://blog.example/post"


def test_canonical_url_keeps_what_matters() -> None:
    assert canonical_url("https://blog.example/post?p=2") == "https://blog.example/post?p=2"
    assert canonical_url("https://blog.example:8443/post") == "https://blog.example:8443/post"
    assert canonical_url("https://blog.example/a") != canonical_url("https://blog.example/b")


ENTRY = ParsedEntry(
    guid="g",
    link="/p",
    title="T",
    title_is_html=True,
    author=None,
    published=None,
    updated=None,
    content="<p>c</p>",
    summary=None,
    categories=(),
    base=BASE,
)


@pytest.mark.parametrize(
    ("published", "kept"),
    [
        (NOW - timedelta(days=400), True),
        (NOW + timedelta(hours=23), True),  # time zones and clock drift: up to a day ahead
        (NOW + timedelta(hours=25), False),
        (NOW + timedelta(days=3650), False),
        (None, False),
    ],
)
def test_dates_more_than_a_day_ahead_are_dropped(published: datetime | None, kept: bool) -> None:
    post = clean_entry(replace(ENTRY, published=published, updated=published), NOW)
    assert post.published == (published if kept else None)
    assert post.updated == (published if kept else None)


def test_a_post_without_a_title_takes_the_start_of_its_text() -> None:
    long = "<p>" + "Council tax bills are going out this week. " * 5 + "</p>"
    assert clean_entry(replace(ENTRY, title=None, content=long), NOW).title == (
        "Council tax bills are going out this week. Council tax bills are going out this…"
    )
    assert clean_entry(replace(ENTRY, title="  ", content=None), NOW).title == "Untitled post"


def test_authors_given_as_email_and_name_keep_the_name() -> None:
    post = clean_entry(replace(ENTRY, author="ann@x.example (Ann <b>Lee</b>)"), NOW)
    assert post.author == "Ann Lee"


def test_the_content_hash_changes_with_an_edit_only() -> None:
    one = clean_entry(ENTRY, NOW)
    assert (
        clean_entry(replace(ENTRY, guid="other", link="/q"), NOW).content_hash == one.content_hash
    )
    assert clean_entry(replace(ENTRY, content="<p>d</p>"), NOW).content_hash != one.content_hash
    assert clean_entry(replace(ENTRY, title="U"), NOW).content_hash != one.content_hash


def test_feed_title_is_plain_text_with_a_fallback() -> None:
    feed = ParsedFeed("rss2.0", "<b>Comms</b> &amp; Digital", None, None, ())
    assert feed_title(feed, "x") == "Comms & Digital"
    assert feed_title(replace(feed, title="  "), "https://blog.example/") == "https://blog.example/"


@pytest.mark.parametrize(
    "url",
    [
        "https://blog.example",
        "http://blog.example/",
        "https://www.blog.example/a/b//",
        "https://blog.example./post;params",
        "https://blog.example/post%20x/",
        "https://blog.example/%7Euser",
        "https://xn--bcher-kva.example/p",
        "https://www.example/",
        "https://www./p",
        "https://blog.example/a\\b",
    ],
)
def test_canonical_url_quick_path_agrees_with_the_full_one(url: str) -> None:
    # A fragment, which is dropped, sends the same link down the full path.
    assert _PLAIN_LINK.match(url) and not _PLAIN_LINK.match(url + "#part")
    assert canonical_url(url) == canonical_url(url + "#part")
