"""Clean: a ``ParsedEntry`` to a ``CleanPost`` that is safe to show anywhere.

- Titles, author names and tags become plain text (no markup, no entities,
  no control characters), cut to a sane length.
- Links become absolute http(s) URLs, or nothing.
- Dates are UTC; a missing one, or one more than a day ahead, is left for
  the store to fill with the time the post was first seen.
- Post HTML has its relative URLs resolved (``href``, ``src``, ``srcset``,
  ``cite``, ``poster``) against xml:base and the feed URL, 1×1 tracking
  images removed, and is sanitised by nh3 (ammonia) against an allow-list,
  once, last.  Nothing downstream sanitises again.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3

# hashlib's blake2b is _blake2's; importing hashlib also loads OpenSSL, for hashes this
# module does not use: 3 MB more in each parsing process.
try:
    from _blake2 import blake2b
except ImportError:  # another Python than CPython
    from hashlib import blake2b

from ..model import CleanPost, FetchResult, ParsedEntry, ParsedFeed

MAX_TITLE = 1000
MAX_NAME = 200
MAX_TAG = 100
MAX_TAGS = 30
# One post's HTML is read up to here (a long real post is about 100,000 characters and
# 2,000 tags); past it, sanitising a crafted post would cost seconds, hundreds of MB, and
# a stored post several times its size.
MAX_HTML = 1_000_000
MAX_HTML_TAGS = 20_000
FUTURE_GRACE = timedelta(days=1)

_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "data", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "picture", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "source",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "u", "ul", "var", "wbr", "audio", "video",
}  # fmt: skip
_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "source": {"src", "srcset", "sizes", "media", "type", "width", "height"},
    "video": {"src", "poster", "controls", "width", "height", "preload"},
    "audio": {"src", "controls", "preload"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "data": {"value"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "col": {"span"},
    "colgroup": {"span"},
    "details": {"open"},
}
_URL_ATTRIBUTES = {"href", "src", "cite", "poster"}
_SAFE_SCHEMES = ("http", "https")
_URL_ESCAPES = {ord(c): f"%{ord(c):02X}" for c in "\"'<>` "}
_CLEAN_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "embed",
                  "frame", "frameset", "svg", "math", "form", "select", "textarea", "button",
                  "title", "head", "applet", "noembed", "noframes"}  # fmt: skip
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi")
# Tags, and a tag left open at the end; "[^<>]" keeps each try to the next "<", so a
# title of a hundred thousand "<" costs one pass, not one per "<".
_TAG_RE = re.compile(r"<[A-Za-z/!?][^<>]*(?:>|$)")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_HIDDEN_OPEN = re.compile(r"<(script|style|template)\b[^<>]*>", re.I)
_HIDDEN_CLOSE = {
    name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "template")
}
_SPACE = re.compile(r"\s+")
_C0 = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]  # and DEL; not tab or newlines
_DROP_C0 = dict.fromkeys(_C0)
_C0_BYTES = bytes(_C0)
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]"
)
_IMG = re.compile(r"<img [^>]*>")  # in sanitised HTML (see _VALUE)
_TINY = re.compile(r' (?:width|height)="[01]"')
_SAFE_TAG = re.compile(r"<[^>]*>")  # in sanitised HTML, every "<" opens a tag
_SAFE_TAG_UTF8 = re.compile(_SAFE_TAG.pattern.encode())  # the same tags, in UTF-8
# The sanitiser writes "&", "<", ">", '"' and the no-break space as these, and no other
# reference: it decodes every other one.
_ENTITIES_UTF8 = {
    b"&amp;": b"&", b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&nbsp;": "\xa0".encode()
}  # fmt: skip
_ENTITY_NAMES = b"|".join(entity[1:-1] for entity in _ENTITIES_UTF8)
_ENTITY_UTF8 = re.compile(rb"&(?:%s);" % _ENTITY_NAMES)
_OTHER_ENTITY_UTF8 = re.compile(rb"&(?!(?:%s);)" % _ENTITY_NAMES)
_PLAIN_WEB_URL = re.compile(r"https?://[A-Za-z0-9][^\s/?#\\@]*(?:[/?#][^\s\\]*)?\Z", re.I)
# A link with a lower-case host and no port, query, fragment or space.
_PLAIN_LINK = re.compile(r"https?://([a-z0-9.-]+)((?:/[^?#\s]*)?)\Z")
_EMAIL_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")

_state = threading.local()


def _join(base: str, value: str) -> str:
    """urljoin, with fast paths for the shapes nearly every real link has."""
    head = value[:8].lower()
    if head.startswith(("https://", "http://")):
        return value
    if value.startswith("//"):
        return base.split(":", 1)[0] + ":" + value if base else value
    if value.startswith("/") and base:
        origin = _origin(base)
        if origin:
            return origin + value
    return urljoin(base, value) if base else value


def _origin(base: str) -> str:
    cached: tuple[str, str] | None = getattr(_state, "origin", None)
    if cached is not None and cached[0] == base:
        return cached[1]
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    _state.origin = (base, origin)
    return origin


def safe_url(
    value: str | None, base: str = "", *, schemes: tuple[str, ...] = _SAFE_SCHEMES
) -> str | None:
    """An absolute URL with an allowed scheme, or None.  Quotes, angle brackets and spaces
    are percent-encoded, so the URL cannot end an HTML attribute wherever it is put."""
    if not value:
        return None
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    value = value.strip()
    if not value:
        return None
    try:
        absolute = _join(base, value)
        if _PLAIN_WEB_URL.match(absolute):
            return absolute.translate(_URL_ESCAPES) if "http" in schemes else None
        parts = urlsplit(absolute)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return None
    if scheme in _SAFE_SCHEMES and not parts.hostname:
        return None
    return absolute.translate(_URL_ESCAPES)


def canonical_url(url: str | None) -> str | None:
    """The same address written one way: lower-case host, no fragment, no tracking."""
    if not url:
        return None
    plain = _PLAIN_LINK.match(url)
    if plain:  # what nearly every post's link is: what follows gives the same, slower
        host, path = plain.groups()
        return f"https://{host.removeprefix('www.')}{path.rstrip('/') or '/'}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().removeprefix("www.")
        port = parts.port
    except ValueError:
        return None
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
         if not k.lower().startswith(_TRACKING_PARAMS)]
    )  # fmt: skip
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, query, ""))


def _srcset(value: str, base: str) -> str | None:
    candidates = []
    for candidate in value.split(","):
        bits = candidate.strip().split()
        if not bits:
            continue
        url = safe_url(bits[0], base)
        if url is None:
            continue
        descriptor = " ".join(b for b in bits[1:2] if re.fullmatch(r"\d+(?:\.\d+)?[wx]", b))
        candidates.append(f"{url} {descriptor}".strip())
    return ", ".join(candidates) or None


def _fixed(attribute: str, value: str, base: str) -> str | None:
    """An attribute's value made safe and absolute, or None to drop the attribute."""
    if attribute in _URL_ATTRIBUTES:
        schemes = ("http", "https", "mailto") if attribute == "href" else _SAFE_SCHEMES
        return safe_url(value, base, schemes=schemes)
    if attribute == "srcset":
        return _srcset(value, base)
    digits = value.strip().removesuffix("px")  # width and height
    return digits if digits.isdigit() else None


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_CLEAN_CONTENT,
    attributes=_ATTRIBUTES,
    strip_comments=True,
    link_rel="noopener noreferrer",
    url_schemes={"http", "https", "mailto"},
    # One added attribute only: ammonia adds several in a random order, so the same post
    # would come out different in each process and look edited on every fetch.
    set_tag_attribute_values={"img": {"loading": "lazy"}},
)
# The sanitiser's output is HTML written one way: every "<" opens a tag, and every
# attribute value is in double quotes with "<", ">", '"' and "&" escaped.  So a pattern
# reads its attribute values exactly (the lookahead keeps to tags: text has no ">" of its
# own), and the name is the word before.  The values still to be made safe and absolute
# are the URLs that are not already plain absolute http(s) addresses, every srcset, and
# sizes that are not plain numbers.  Doing this afterwards, in one scan for '="', and not
# in the sanitiser's per-attribute callback (``attribute_filter``) halves the cost of
# sanitising; values that need nothing (most of them) are passed over inside the scan.
_URL_CHARS = "[^\\s\\\\\"'<>`&@\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]*+"
_VALUE = re.compile(
    rf'="(?!https?://[A-Za-z0-9]{_URL_CHARS}(?:&amp;{_URL_CHARS})*+")'
    r'(?!\d+")(?!noopener noreferrer")(?!lazy")([^"]*)"(?=[^<>]*>)'
)
_TO_FIX = _URL_ATTRIBUTES | {"srcset", "width", "height"}


def _fix_attributes(safe: str, base: str) -> str:
    pieces: list[str] = []
    done = 0
    for match in _VALUE.finditer(safe):
        name_at = safe.rfind(" ", 0, match.start()) + 1
        attribute = safe[name_at : match.start()]
        if attribute not in _TO_FIX:
            continue
        value = _fixed(attribute, html.unescape(match.group(1)), base)
        pieces.append(safe[done : name_at - 1])  # up to the space before the name
        if value is not None:
            pieces.append(f' {attribute}="{value.replace("&", "&amp;")}"')
        done = match.end()
    if not pieces:
        return safe
    pieces.append(safe[done:])
    return "".join(pieces)


def _has_tracking_image(safe: str) -> bool:
    """Whether an image in sanitised HTML is 0 or 1 pixel wide or high.  Most posts have
    none, and finding each image and looking inside it costs half of what a pattern that
    calls back for every image does."""
    at = safe.find("<img ")
    while at >= 0:
        end = safe.find(">", at)
        if _TINY.search(safe, at, end):
            return True
        at = safe.find("<img ", end)
    return False


def _drop_tracking_image(match: re.Match[str]) -> str:
    return "" if _TINY.search(match.group(0)) else match.group(0)


def sanitize_html(fragment: str | None, base: str) -> str:
    """Safe HTML: allow-listed tags and attributes, absolute safe URLs, no trackers.
    A post longer than ``MAX_HTML`` characters or ``MAX_HTML_TAGS`` tags is cut there."""
    return _sanitized(fragment, base)[0]


def _sanitized(fragment: str | None, base: str) -> tuple[str, bytes]:
    """``sanitize_html``'s HTML, and the same in UTF-8 (what the content hash reads)."""
    if not fragment:
        return "", b""
    fragment = fragment[:MAX_HTML]
    if len(fragment) > MAX_HTML_TAGS and fragment.count("<") > MAX_HTML_TAGS:
        fragment = "<".join(fragment.split("<", MAX_HTML_TAGS)[:MAX_HTML_TAGS])
    safe = _fix_attributes(_CLEANER.clean(fragment).strip(), base)
    if _has_tracking_image(safe):
        safe = _IMG.sub(_drop_tracking_image, safe)
    # The sanitiser keeps control characters, and makes them of references such as "&#2;":
    # they have no place in a page, break XML and would pass for search's match marks.
    # Looking for each on its own is several times faster than a pattern, and most posts
    # have none; in UTF-8 it is three times faster again than in a string that holds any
    # character past U+00FF, as most posts do (a curly quote is enough).
    data = safe.encode("utf-8", "surrogatepass")
    if any(c in data for c in _C0_BYTES):
        safe = safe.translate(_DROP_C0)
        data = safe.encode("utf-8", "surrogatepass")
    return safe, data


def _drop_hidden(text: str) -> str:
    """The text without scripts, styles and templates, and what is inside them.

    Each is found and its end looked for once, from where the last one ended, so this
    is linear however the markup is built; one left open ends the search."""
    kept: list[str] = []
    pos = 0
    while (opening := _HIDDEN_OPEN.search(text, pos)) is not None:
        closing = _HIDDEN_CLOSE[opening.group(1).lower()].search(text, opening.end())
        if closing is None:
            break
        kept.append(text[pos : opening.start()])
        pos = closing.end()
    return " ".join([*kept, text[pos:]]) if kept else text


def _strip_tags(text: str) -> str:
    text = _CONTROL.sub("", text)  # first, so that "<\x00script>" cannot become a tag later
    return _TAG_RE.sub(" ", _drop_hidden(text)) if "<" in text else text


def text_of(safe_html: str) -> str:
    """The words a reader sees in HTML that ``sanitize_html`` made: tags become spaces
    and entities are decoded; runs of space are left as they are (whoever shows the
    text closes them up).  Several times faster than ``plain_text``, which must also
    cope with scripts, styles and control characters.  The search index reads this
    again to take a post out of it (``store.search_text``): a change to what it gives
    needs a migration that indexes every post again."""
    text = _SAFE_TAG.sub(" ", safe_html) if "<" in safe_html else safe_html
    return html.unescape(text) if "&" in text else text  # "&#2;" and the like decode to ""


def text_utf8_of(safe_utf8: bytes) -> bytes:
    """``text_of`` in UTF-8, from the HTML in UTF-8: the bytes ``text_of(html).encode()``
    gives, in a third less time (it was a tenth of what cleaning a post costs).  Tags are
    found the same way in UTF-8, and the five references the sanitiser writes are decoded
    here; HTML with any other (which the sanitiser did not write) is decoded as
    ``text_of`` decodes it."""
    text = _SAFE_TAG_UTF8.sub(b" ", safe_utf8) if b"<" in safe_utf8 else safe_utf8
    if b"&" not in text:
        return text
    if _OTHER_ENTITY_UTF8.search(text):
        return html.unescape(text.decode()).encode()
    return _ENTITY_UTF8.sub(_entity_utf8, text)


def _entity_utf8(match: re.Match[bytes]) -> bytes:
    return _ENTITIES_UTF8[match[0]]


def plain_text(value: str | None, *, is_html: bool = True, limit: int = MAX_TITLE) -> str:
    """Text with no control characters or runs of space.  With ``is_html``, markup (and
    the text of scripts and styles) is removed and entities decoded; without it, ``<`` and
    ``&`` are meant as they are.  Either way nothing tag-shaped is kept, even escaped or
    unclosed: a ``<`` left before a letter, ``/``, ``!`` or ``?`` gets a space after it."""
    if not value:
        return ""
    if is_html:
        text = _strip_tags(value)
        if "&" in text:
            text = _strip_tags(html.unescape(text))  # markup that was escaped
    else:
        text = _CONTROL.sub("", value)
    if "<" in text:
        text = _TAG_OPEN.sub("< ", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _author(value: str | None) -> str | None:
    text = plain_text(value, limit=MAX_NAME)
    match = _EMAIL_NAME.match(text)
    if match:
        text = match.group(1).strip()
    return text or None


def _clamp(moment: datetime | None, now: datetime) -> datetime | None:
    if moment is None or moment > now + FUTURE_GRACE:
        return None
    return moment


def _hash(*parts: str | bytes | None) -> str:
    """A digest of the parts, each in UTF-8 (as given, when bytes)."""
    digest = blake2b(digest_size=16)
    for part in parts:
        digest.update(
            part if isinstance(part, bytes) else (part or "").encode("utf-8", "surrogatepass")
        )
        digest.update(b"\x00")
    return digest.hexdigest()


def _tags(values: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for value in values:
        tag = plain_text(value, limit=MAX_TAG)
        if tag:
            out.setdefault(tag, None)
        if len(out) >= MAX_TAGS:
            break
    return tuple(out)


def clean_entry(entry: ParsedEntry, now: datetime) -> CleanPost:
    base = entry.base
    link = safe_url(entry.link, base)
    body = entry.content or entry.summary
    content_html, content_utf8 = _sanitized(body, base)
    summary_html = sanitize_html(entry.summary, base) if entry.content and entry.summary else ""
    title = plain_text(entry.title, is_html=entry.title_is_html)
    if not title:
        title = plain_text(content_html, limit=80) or "Untitled post"
    guid = plain_text(entry.guid, is_html=False, limit=2000) or None
    return CleanPost(
        guid=guid,
        link=link,
        canonical_link=canonical_url(link),
        title=title,
        author=_author(entry.author),
        published=_clamp(entry.published, now),
        updated=_clamp(entry.updated, now),
        content_utf8=content_utf8,
        summary_html=summary_html,
        categories=_tags(entry.categories),
        content_hash=_hash(title, content_utf8, summary_html, entry.author),
        text_utf8=text_utf8_of(content_utf8),
    )


def clean_feed(feed: ParsedFeed, now: datetime) -> list[CleanPost]:
    """The feed's posts; an entry with no guid, link or text (a feed cut off mid-item) is
    skipped, since it could never be matched to its complete self later."""
    posts = (clean_entry(entry, now) for entry in feed.entries)
    return [p for p in posts if p.guid or p.link or p.content_utf8]


def feed_title(feed: ParsedFeed, fallback: str) -> str:
    """The blog's name as shown, from the feed (plain text)."""
    return plain_text(feed.title, limit=MAX_NAME) or fallback


def feed_site(feed: ParsedFeed, feed_url: str) -> str | None:
    return safe_url(feed.link, feed_url)


MAX_HUB_URL = 2000


def feed_hub(feed: ParsedFeed, result: FetchResult) -> tuple[str, str] | None:
    """The WebSub hub a feed advertises and the topic to ask it for, or None.

    ``Link`` headers win over links inside the feed (WebSub, section 4); the
    topic is the feed's ``rel="self"``, else the address it was fetched from.
    """
    hubs = [safe_url(h) for h in result.hub_links or feed.hub_links]
    hub = next((h for h in hubs if h and len(h) <= MAX_HUB_URL), None)
    if hub is None:
        return None
    topic = safe_url(result.self_link or feed.self_link)
    if topic is None or len(topic) > MAX_HUB_URL:
        topic = result.final_url
    return hub, topic
