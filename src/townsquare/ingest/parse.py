"""Parse: feed bytes to a ``ParsedFeed`` (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed 1.0/1.1).

XML goes through lxml with everything dangerous off (no DTDs, no entity
expansion, no network) and in recover mode, because real feeds are broken in
the ways browsers forgive: undeclared HTML entities, stray ``&``, wrong or
missing encodings, NUL bytes.  ``docs/decisions.md`` says why this is our
own code over lxml rather than feedparser or fastfeedparser.

Nothing here is trusted or cleaned; ``clean`` does that.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import html
import html.entities
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urljoin

from lxml import etree

from ..errors import ParseError
from ..model import ParsedEntry, ParsedFeed

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM03 = "{http://purl.org/atom/ns#}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RSS10 = "{http://purl.org/rss/1.0/}"
RSS090 = "{http://my.netscape.com/rdf/simple/0.9/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XHTML = "{http://www.w3.org/1999/xhtml}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

# Everything that could reach outside the document is off.  A parser is made per feed
# (parsing runs in several threads).
_SAFE: dict[str, Any] = {
    "recover": True,
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)"""
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
# Labels browsers read as Windows-1252 (bytes 0x80-0x9F are curly quotes, dashes, €...)
_WINDOWS_1252_LABELS = ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "windows-1252")
_DOCTYPE_START = re.compile(r"<!DOCTYPE", re.I)
_DOCTYPE = re.compile(r"<!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.S | re.I)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ODD_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});)")
_AMP = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)?")
_XML_ENTITIES = {"amp;", "lt;", "gt;", "quot;", "apos;"}
_ROOT_START = re.compile(rb"<[A-Za-z]")
_DOCTYPE_BYTES = re.compile(rb"<!DOCTYPE", re.I)
WEB_PAGE = "this is a web page, not a feed"
# What an error page served as a "feed" usually starts with, once parsed as XML.
_HTML_TOPS = frozenset(
    {"html", "head", "body", "title", "meta", "link", "h1", "h2", "p", "div", "pre", "center",
     "table", "script", "style", "noscript", "br", "span"}
)  # fmt: skip
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.\-_~%:@!$&'()*+,=]+(?:/[^?#;\s]*)?\Z")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.I)

MAX_ENTRIES = 10_000  # entries read from one feed; the rest are ignored
# Bodies this long are looked through for entries past MAX_ENTRIES before they are parsed.
# A shorter one's tree is small whatever it holds.
LOOK_FOR_FLOODS = 1_000_000
# An entry's start tag, and what it could be mistaken for inside: text kept as it is.
_ENTRY_OR_RAW = re.compile(rb"<(?:item|entry)[\s/>]|<!\[CDATA\[|<!--")
_RAW_END = {b"<![CDATA[": b"]]>", b"<!--": b"-->"}
MAX_DATE = 100  # characters in a date
MAX_JSON_PARTS = 500_000  # objects and lists in a JSON Feed (10,000 rich items need 100,000)

T = TypeVar("T")

_TZ = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "BST": 1, "IST": 1, "CET": 1, "CEST": 2,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Read a feed; raise ``ParseError`` saying in one line why it cannot be read."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError("the feed is empty")
    if head.startswith((b"{", b"[")):
        return _parse_json(body)
    try:
        root = _xml_root(body, content_type, url)
    except ParseError:
        if _is_html(content_type):
            raise ParseError(WEB_PAGE) from None
        raise
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == "rss" or tag.endswith("}rss"):
        return _parse_rss(root, url)
    if tag == RDF + "RDF":
        return _parse_rdf(root, url)
    if tag in (ATOM + "feed", ATOM03 + "feed", "feed"):
        return _parse_atom(root, url)
    local = etree.QName(root).localname.lower() if tag else ""
    if local in _HTML_TOPS or _is_html(content_type):
        raise ParseError(WEB_PAGE)
    raise ParseError(f"this is not a feed: its top element is <{local or '?'}>")


# --- bytes to text to a tree ------------------------------------------------------------


def _is_html(content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


def _charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _decode(body: bytes, content_type: str | None) -> str:
    """Decode as a browser would: BOM, XML declaration, HTTP charset, UTF-8, Windows-1252."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    if body.startswith(b"<\x00"):
        return body.decode("utf-16-le", errors="replace")
    if body.startswith(b"\x00<"):
        return body.decode("utf-16-be", errors="replace")
    declared = _XML_DECL_ENCODING.match(body)
    candidates = [
        declared.group(1).decode("ascii") if declared else None,
        _charset(content_type),
        "utf-8",
    ]
    for name in candidates:
        if not name:
            continue
        name = name.lower()
        if name in _WINDOWS_1252_LABELS:
            name = "windows-1252"
        if name.startswith("utf-16") or name.startswith("utf-32"):
            continue  # without a BOM, trust nothing but UTF-8 and friends
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("windows-1252", errors="replace")


def _fix_amp(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref is None:
        return "&amp;"
    if ref[0] == "#" or ref in _XML_ENTITIES:
        return "&" + ref
    char = html.entities.html5.get(ref)
    if char is None:
        return "&amp;" + ref
    return "".join(f"&#{ord(c)};" for c in char)


def _drop_doctype(text: str) -> str:
    """The text without its first DOCTYPE: no DTD, so no entity tricks.

    Matched at one place only, so a body full of unclosed ``<!DOCTYPE`` costs
    one scan, not one per occurrence.
    """
    start = _DOCTYPE_START.search(text)
    if start is None:
        return text
    end = _DOCTYPE.match(text, start.start())
    return text if end is None else text[: start.start()] + text[end.end() :]


def _xml_root(body: bytes, content_type: str | None, url: str) -> etree._Element:
    """Parse as it is when the feed is well formed; repair and parse again if not."""
    body = _without_excess_entries(body)
    root = _ROOT_START.search(body)
    prolog = body[: root.start()] if root else body
    if not _DOCTYPE_BYTES.search(prolog) and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        declared = _XML_DECL_ENCODING.match(prolog)
        as_1252 = declared is not None and (
            declared.group(1).decode("ascii").lower() in _WINDOWS_1252_LABELS
        )
        try:
            tree, errors = _lxml(body, url, "windows-1252" if as_1252 else None)
        except etree.XMLSyntaxError:
            tree = None
        if tree is not None and not any(e.level >= etree.ErrorLevels.ERROR for e in errors):
            return tree
        # Let the first tree go before the second is made: a broken 10 MB feed's tree
        # can take 150 MB, and holding both doubled a parsing process's peak.
        tree = None
    text = _decode(body, content_type)
    text = _XML_DECL.sub("", text, count=1)
    if "<!" in text:
        text = _drop_doctype(text)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if _ODD_AMP.search(text):
        text = _AMP.sub(_fix_amp, text)
    try:
        tree, errors = _lxml(text.encode("utf-8"), url, "utf-8")
    except etree.XMLSyntaxError as exc:  # recover mode rarely gives up, but can
        raise ParseError(f"the feed is not readable XML: {exc.msg}") from None
    if tree is None:
        error = errors.last_error
        reason = f": {error.message} (line {error.line})" if error else ""
        raise ParseError(f"the feed is not readable XML{reason}")
    return tree


def _without_excess_entries(body: bytes) -> bytes:
    """The body cut off where its entry after the first ``MAX_ENTRIES`` starts, if it has
    one: only those are read, and a 10 MB flood of 300,000 small entries made a tree of
    150 MB.  The feed is then broken, and read as any feed cut off is; what came after
    that entry is not read either (feeds give their own details before their entries).

    Only the start tags of RSS items and Atom entries count, not text in CDATA sections
    and comments, which may well show markup; each is found once, so this is linear."""
    if len(body) < LOOK_FOR_FLOODS or body.count(b"<item") + body.count(b"<entry") <= MAX_ENTRIES:
        return body
    seen = 0
    at = 0
    while (found := _ENTRY_OR_RAW.search(body, at)) is not None:
        end = _RAW_END.get(found.group())
        if end is not None:  # text kept as it is: go past its end, if it has one
            closed = body.find(end, found.end())
            if closed < 0:
                break
            at = closed + len(end)
            continue
        seen += 1
        if seen > MAX_ENTRIES:
            return body[: found.start()]
        at = found.end()
    return body


def _lxml(
    data: bytes, url: str, encoding: str | None
) -> tuple[etree._Element | None, etree._ListErrorLog]:
    """The tree, and lxml's complaints.

    A plain parser, not a pull parser: a pull parser and the document it makes hold each
    other, so every feed's tree would stay in memory until Python's cycle collector next
    ran a full collection (20 MB more in a parsing process by the end of a pass)."""
    parser = etree.XMLParser(encoding=encoding, **_SAFE)
    if data:
        parser.feed(data)
    tree = parser.close()
    if tree is not None:
        tree.getroottree().docinfo.URL = url  # what xml:base is resolved against
    return tree, parser.feed_error_log


# --- small readers ----------------------------------------------------------------------


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    raw = "".join(str(t) for t in el.itertext()) if len(el) else el.text or ""
    text = raw.strip()
    return text or None


def _capped(items: Iterator[T]) -> list[T]:
    """At most ``MAX_ENTRIES`` of a feed's entries, in the feed's order."""
    return list(islice(items, MAX_ENTRIES))


def _child(parent: etree._Element, *tags: str) -> etree._Element | None:
    for tag in tags:
        found = parent.find(tag)
        if found is not None:
            return found
    return None


def _first_text(elements: Iterable[etree._Element | None]) -> str | None:
    """The text of the first of the elements that has any."""
    for el in elements:
        found = _text(el)
        if found:
            return found
    return None


def _child_text(parent: etree._Element, *tags: str) -> str | None:
    return _first_text(parent.find(tag) for tag in tags)


class _Children:
    """An element's child elements by tag, gathered in one pass.  An entry is asked about
    a dozen tags or more, and a ``find`` for each costs several times what reading all
    its children once does."""

    __slots__ = ("_by_tag",)

    def __init__(self, parent: etree._Element) -> None:
        by_tag: dict[str, list[etree._Element]] = {}
        for child in parent:
            tag = child.tag
            if isinstance(tag, str):  # not a comment or processing instruction
                by_tag.setdefault(tag, []).append(child)
        self._by_tag = by_tag

    def __contains__(self, tag: str) -> bool:
        return tag in self._by_tag

    def first(self, tag: str) -> etree._Element | None:
        found = self._by_tag.get(tag)
        return found[0] if found else None

    def all(self, tag: str) -> list[etree._Element]:
        return self._by_tag.get(tag, [])

    def text(self, *tags: str) -> str | None:
        """Like ``_child_text``: of the first child with each tag in turn, the first text."""
        return _first_text(self.first(tag) for tag in tags)


def _base(el: etree._Element, fallback: str) -> str:
    try:
        base = el.base
    except ValueError:
        base = None
    return base or fallback


def _join(base: str, link: str) -> str:
    """``urljoin(base, link)``, without its cost for the shape nearly every link has: an
    http(s) address with a plain host and no parameters, query or fragment, which it
    gives as it is."""
    return link if _PLAIN_ABSOLUTE.match(link) else urljoin(base, link)


def parse_date(text: str | None) -> datetime | None:
    """A moment in UTC from any common date format, or None."""
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > MAX_DATE:  # no real date is that long; dateutil is slow on it
        return None
    moment: datetime | None = None
    with suppress(ValueError):
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    if moment is None:
        with suppress(TypeError, ValueError, IndexError, OverflowError):
            moment = email.utils.parsedate_to_datetime(text)
        if moment is not None and moment.tzinfo is None:  # a zone email.utils does not know
            hours = _TZ.get(text.rsplit(None, 1)[-1].upper())
            if hours is not None:
                moment = moment.replace(tzinfo=timezone(timedelta(hours=hours)))
    if moment is None:
        moment = _dateutil(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _dateutil(text: str) -> datetime | None:
    from dateutil import parser as dateparser

    zones = {k: timezone(timedelta(hours=v)) for k, v in _TZ.items()}
    try:
        return dateparser.parse(text, tzinfos=zones)
    except (ValueError, OverflowError, TypeError, LookupError):
        return None


def _first_date(*texts: str | None) -> datetime | None:
    for text in texts:
        moment = parse_date(text)
        if moment is not None:
            return moment
    return None


def _strip_namespaces(el: etree._Element) -> None:
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag[0] == "{":
            node.tag = node.tag.split("}", 1)[1]
    etree.cleanup_namespaces(el)


def _inner_html(el: etree._Element) -> str:
    """The markup inside an element (Atom xhtml content), namespaces dropped."""
    container = el
    children = [c for c in el if isinstance(c.tag, str)]
    if (
        len(children) == 1
        and etree.QName(children[0]).localname == "div"
        and not (el.text or "").strip()
    ):
        container = children[0]
    _strip_namespaces(container)
    parts = [html.escape(container.text or "", quote=False)]
    for child in container:
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=True))
    return "".join(parts).strip()


def _escape_text(text: str) -> str:
    """Plain text as HTML paragraphs."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _atom_text(el: etree._Element | None) -> tuple[str | None, bool]:
    """An Atom text construct as (value, is_html)."""
    if el is None:
        return None, False
    kind = (el.get("type") or "text").lower()
    mode = (el.get("mode") or "").lower()  # Atom 0.3
    if mode == "base64":
        try:
            value = base64.b64decode(el.text or "").decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return None, False
        return value, "html" in kind
    if kind in ("xhtml", "application/xhtml+xml") or mode == "xml":
        return _inner_html(el), True
    if kind in ("html", "text/html"):
        return (el.text or "").strip() or None, True
    if mode == "escaped" and "html" in kind:
        return (el.text or "").strip() or None, True
    return _text(el), False


def _atom_content(el: etree._Element | None) -> str | None:
    value, is_html = _atom_text(el)
    if value is None or el is None or el.get("src"):
        return None
    return value if is_html else _escape_text(value)


# --- RSS 0.9x and 2.0 -------------------------------------------------------------------


def _parse_rss(root: etree._Element, url: str) -> ParsedFeed:
    channel = root.find("channel")
    if channel is None:
        channel = root.find(RSS10 + "channel")
    if channel is None:
        raise ParseError("this RSS feed has no <channel>")
    version = root.get("version") or "2.0"
    base = _base(channel, url)
    items = _capped(channel.iterfind("item")) or _capped(root.iterfind("item"))
    atom_links = channel.findall(ATOM + "link")
    return ParsedFeed(
        format=f"rss{version}",
        title=_child_text(channel, "title"),
        link=_site_link(channel, atom_links, base),
        description=_child_text(channel, "description"),
        entries=tuple(_rss_item(item, base) for item in items),
        hub_links=_atom_links(atom_links, "hub", base),
        self_link=next(iter(_atom_links(atom_links, "self", base)), None),
    )


def _site_link(channel: etree._Element, atom_links: list[etree._Element], base: str) -> str | None:
    for el in channel.findall("link"):
        if el.text and el.text.strip():
            return _join(base, el.text.strip())
    alternate = _atom_links(atom_links, "alternate", base)
    return alternate[0] if alternate else None


def _atom_links(links: Iterable[etree._Element], rel: str, base: str) -> tuple[str, ...]:
    out = []
    for el in links:
        if (el.get("rel") or "alternate") == rel and el.get("href"):
            out.append(_join(base, el.get("href", "").strip()))
    return tuple(out)


def _rss_item(item: etree._Element, feed_base: str) -> ParsedEntry:
    base = _base(item, feed_base)
    kids = _Children(item)
    guid_el = kids.first("guid")
    guid = _text(guid_el)
    link = kids.text("link") or next(
        iter(_atom_links(kids.all(ATOM + "link"), "alternate", base)), None
    )
    if not link and guid and guid_el is not None:
        permalink = (guid_el.get("isPermaLink") or "true").lower() != "false"
        if permalink and guid.startswith(("http://", "https://")):
            link = guid
    author = kids.text(DC + "creator", "author")
    if not author and ATOM + "author" in kids:
        author = _child_text(item, ATOM + "author/" + ATOM + "name")
    return ParsedEntry(
        guid=guid,
        link=_join(base, link) if link else None,
        title=kids.text("title"),
        title_is_html=True,
        author=author,
        published=_first_date(
            kids.text("pubDate"), kids.text(DC + "date"), kids.text(ATOM + "published")
        ),
        updated=_first_date(kids.text(ATOM + "updated"), kids.text(DC + "modified")),
        # "content:encoded" as it is: the namespace was not declared
        content=kids.text(CONTENT + "encoded") or kids.text("content:encoded"),
        summary=kids.text("description"),
        categories=_categories(
            [_text(c) for c in kids.all("category")] + [_text(c) for c in kids.all(DC + "subject")]
        ),
        base=base,
    )


def _categories(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value.strip():
            seen.setdefault(" ".join(value.split()), None)
    return tuple(seen)


# --- RSS 0.90 and 1.0 (RDF) ------------------------------------------------------------


def _parse_rdf(root: etree._Element, url: str) -> ParsedFeed:
    ns = (
        RSS10
        if root.find(RSS10 + "channel") is not None or root.find(RSS10 + "item") is not None
        else RSS090
    )
    channel = root.find(ns + "channel")
    base = _base(root, url)
    items = _capped(root.iterfind(ns + "item"))
    return ParsedFeed(
        format="rss1.0" if ns == RSS10 else "rss0.90",
        title=_child_text(channel, ns + "title") if channel is not None else None,
        link=_child_text(channel, ns + "link") if channel is not None else None,
        description=_child_text(channel, ns + "description") if channel is not None else None,
        entries=tuple(_rdf_item(item, ns, base) for item in items),
        hub_links=_atom_links(channel.findall(ATOM + "link"), "hub", base)
        if channel is not None
        else (),
    )


def _rdf_item(item: etree._Element, ns: str, feed_base: str) -> ParsedEntry:
    base = _base(item, feed_base)
    kids = _Children(item)
    link = kids.text(ns + "link")
    return ParsedEntry(
        guid=item.get(RDF + "about") or link,
        link=_join(base, link) if link else None,
        title=kids.text(ns + "title"),
        title_is_html=True,
        author=kids.text(DC + "creator"),
        published=_first_date(kids.text(DC + "date")),
        updated=_first_date(kids.text(DC + "modified")),
        content=kids.text(CONTENT + "encoded"),
        summary=kids.text(ns + "description"),
        categories=_categories(_text(c) for c in kids.all(DC + "subject")),
        base=base,
    )


# --- Atom 0.3 and 1.0 -------------------------------------------------------------------


def _parse_atom(root: etree._Element, url: str) -> ParsedFeed:
    ns = ATOM03 if root.tag == ATOM03 + "feed" else ATOM if root.tag == ATOM + "feed" else ""
    base = _base(root, url)
    feed_author = _child_text(root, f"{ns}author/{ns}name")
    link_elements = root.findall(ns + "link")
    links = _links(link_elements, base)
    title, _ = _atom_text(root.find(ns + "title"))
    subtitle, _ = _atom_text(_child(root, ns + "subtitle", ns + "tagline"))
    return ParsedFeed(
        format="atom0.3" if ns == ATOM03 else "atom1.0",
        title=title,
        link=links.get("alternate"),
        description=subtitle,
        entries=tuple(
            _atom_entry(e, ns, base, feed_author) for e in _capped(root.iterfind(ns + "entry"))
        ),
        hub_links=tuple(h for r, h in _all_links(link_elements, base) if r == "hub"),
        self_link=links.get("self"),
    )


def _all_links(links: Iterable[etree._Element], base: str) -> list[tuple[str, str]]:
    out = []
    for el in links:
        href = (el.get("href") or "").strip()
        if href:
            out.append(((el.get("rel") or "alternate").lower(), _join(_base(el, base), href)))
    return out


def _links(links: Iterable[etree._Element], base: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel, href in _all_links(links, base):
        out.setdefault(rel, href)
    return out


def _atom_entry(
    entry: etree._Element, ns: str, feed_base: str, feed_author: str | None
) -> ParsedEntry:
    base = _base(entry, feed_base)
    kids = _Children(entry)
    links = _links(kids.all(ns + "link"), base)
    title, title_is_html = _atom_text(kids.first(ns + "title"))
    content = kids.first(ns + "content")
    author = None
    if ns + "author" in kids or ns + "source" in kids:
        author = _child_text(entry, f"{ns}author/{ns}name", f"{ns}source/{ns}author/{ns}name")
    return ParsedEntry(
        guid=kids.text(ns + "id"),
        link=links.get("alternate"),
        title=title,
        title_is_html=title_is_html,
        author=author or feed_author,
        published=_first_date(
            kids.text(ns + "published"),
            kids.text(ns + "issued"),
            kids.text(ns + "created"),
            kids.text(ns + "updated"),
            kids.text(ns + "modified"),
        ),
        updated=_first_date(kids.text(ns + "updated"), kids.text(ns + "modified")),
        content=_atom_content(content),
        summary=_atom_content(kids.first(ns + "summary")),
        categories=_categories(c.get("label") or c.get("term") for c in kids.all(ns + "category")),
        base=base if content is None else _base(content, base),
    )


# --- JSON Feed --------------------------------------------------------------------------


def _s(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_json(body: bytes) -> ParsedFeed:
    if body.count(b"{") + body.count(b"[") > MAX_JSON_PARTS:  # each costs ~100 bytes parsed
        raise ParseError(
            f"the feed is not readable JSON: it has more than {MAX_JSON_PARTS:,} objects and lists"
        )
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise ParseError(f"the feed is not readable JSON: {exc}") from None
    except RecursionError:
        raise ParseError("the feed is not readable JSON: it is nested too deeply") from None
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise ParseError("this JSON is not a JSON Feed: it has no JSON Feed 'version'")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("this JSON Feed has no 'items' list")
    version = "json1.1" if str(data["version"]).rstrip("/").endswith("1.1") else "json1.0"
    base = _s(data.get("home_page_url")) or _s(data.get("feed_url")) or ""
    feed_author = _json_author(data)
    hubs = data.get("hubs")
    return ParsedFeed(
        format=version,
        title=_s(data.get("title")),
        link=_s(data.get("home_page_url")),
        description=_s(data.get("description")),
        entries=tuple(
            _json_item(item, base, feed_author)
            for item in _capped(i for i in items if isinstance(i, dict))
        ),
        hub_links=tuple(
            u
            for h in (hubs if isinstance(hubs, list) else [])
            if isinstance(h, dict) and (u := _s(h.get("url")))
        ),
        self_link=_s(data.get("feed_url")),
    )


def _json_author(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    if isinstance(authors, list):
        names = [n for a in authors if isinstance(a, dict) and (n := _s(a.get("name")))]
        if names:
            return ", ".join(names)
    author = obj.get("author")
    return _s(author.get("name")) if isinstance(author, dict) else None


def _json_item(item: dict[str, Any], base: str, feed_author: str | None) -> ParsedEntry:
    content = _s(item.get("content_html"))
    text = _s(item.get("content_text"))
    if content is None and text is not None:
        content = _escape_text(text)
    summary = _s(item.get("summary"))
    tags = item.get("tags")
    link = _s(item.get("url")) or _s(item.get("external_url"))
    return ParsedEntry(
        guid=_s(item.get("id")),
        link=_join(base, link) if link else None,
        title=_s(item.get("title")),
        title_is_html=False,
        author=_json_author(item) or feed_author,
        published=parse_date(_s(item.get("date_published"))),
        updated=parse_date(_s(item.get("date_modified"))),
        content=content,
        summary=html.escape(summary) if summary else None,
        categories=_categories(_s(t) for t in (tags if isinstance(tags, list) else [])),
        base=link or base,
    )
