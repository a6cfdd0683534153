"""A deterministic corpus of realistic blog feeds for the ingest benchmark.

Feed ``i`` of seed ``s`` depends only on ``(s, i)``: a corpus of 5,000 feeds
starts with the corpus of 1,000.  Formats are mixed (RSS 2.0 with
``content:encoded``, Atom 1.0, RSS 1.0/RDF with ``content:encoded``, JSON Feed
1.1); each feed has 10-30 posts of 2-20 KB of blog HTML.

Bodies are cached as files under a directory (one file per feed), so the
server and the floor read them instead of generating them again.  Stdlib only.

    python bench/corpus.py --feeds 20 --dir /tmp/corpus   # write and summarise
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

CORPUS_VERSION = 1
DEFAULT_SEED = 20240601
EPOCH = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Format:
    kind: str
    ext: str
    content_type: str
    weight: float


FORMATS: tuple[Format, ...] = (
    Format("rss2", "rss", "application/rss+xml; charset=utf-8", 0.45),
    Format("atom", "atom", "application/atom+xml; charset=utf-8", 0.35),
    Format("rss1", "rdf", "application/rdf+xml; charset=utf-8", 0.10),
    Format("json", "json", "application/feed+json; charset=utf-8", 0.10),
)
_FORMAT_CUM = [sum(f.weight for f in FORMATS[: i + 1]) for i in range(len(FORMATS))]


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What can be known about a feed without rendering it (cheap)."""

    index: int
    kind: str
    ext: str
    content_type: str
    n_posts: int
    updated: datetime  # newest post; the Last-Modified of the feed

    @property
    def path(self) -> str:
        return f"feeds/{self.index}.{self.ext}"

    @property
    def filename(self) -> str:
        return f"{self.index}.{self.ext}"

    @property
    def last_modified(self) -> str:
        return email.utils.format_datetime(self.updated, usegmt=True)


def _feed_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"townsquare-bench/{CORPUS_VERSION}/{seed}/{index}")


def _meta_from_rng(rng: random.Random, index: int) -> FeedMeta:
    fmt = FORMATS[-1]
    roll = rng.random()
    for f, cum in zip(FORMATS, _FORMAT_CUM, strict=True):
        if roll < cum:
            fmt = f
            break
    n_posts = rng.randint(10, 30)
    updated = EPOCH - timedelta(seconds=rng.randint(0, 90 * 86400))
    return FeedMeta(index, fmt.kind, fmt.ext, fmt.content_type, n_posts, updated)


def feed_meta(seed: int, index: int) -> FeedMeta:
    return _meta_from_rng(_feed_rng(seed, index), index)


def corpus_meta(n: int, seed: int = DEFAULT_SEED) -> list[FeedMeta]:
    return [feed_meta(seed, i) for i in range(n)]


# -- text --------------------------------------------------------------------

_WORDS = (  # noqa: SIM905 (a word list reads best as text)
    "the of and to in is that for it as with was on be by this are from at "
    "or an have not but they which we you one all were can there their "
    "more if about when will would so what out up them some into than its "
    "only other time could these two may then first any like new over also "
    "our such after most way data system code server feed reader blog post "
    "write test build release python rust database query index cache "
    "latency memory thread process async request response header parser "
    "markup browser network protocol version library module function class "
    "method object type value error exception log design pattern interface "
    "contract boundary schema migration table column row performance "
    "benchmark profile measure throughput concurrency lock queue garden "
    "kitchen bread coffee morning winter summer river mountain city train "
    "bicycle walk book chapter novel poem music record album guitar piano "
    "concert photograph camera light shadow color paper ink letter note "
    "journal week year month evening weekend holiday travel station bridge "
    "harbour island small large simple careful quick slow quiet loud "
    "bright dark early late often rarely always never perhaps probably "
    "certainly clearly usually think know see make take find give tell "
    "work call try ask need feel leave keep begin seem help show hear play "
    "run move live believe hold bring happen argument evidence question "
    "answer problem solution idea reason example history future present "
    "community project maintainer contributor issue patch review commit "
    "branch merge deploy rollback incident outage postmortem café naïve "
    "résumé façade coördinate jalapeño über déjà"
).split()

_SYLLABLES = (  # noqa: SIM905 (a word list reads best as text)
    "ka lo mi ne ra si tu ve wo xa yo zi bar cor den fal gim hul jor kel "
    "mar nor pel quin rus sen tal ump vor wil xen yar zel ath bre cla dro "
    "eph fri glo hra ist jun kri lum mox nyx oph pra qua ris sta tre uld "
    "vex"
).split()


def _build_vocab(seed: int) -> list[str]:
    rng = random.Random(f"townsquare-bench/vocab/{CORPUS_VERSION}/{seed}")
    vocab = list(dict.fromkeys(_WORDS))
    made: set[str] = set(vocab)
    while len(vocab) < 2000:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in made:
            made.add(w)
            vocab.append(w)
    return vocab


class _Text:
    """A seeded pool of sentences; posts are assembled from it quickly."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"townsquare-bench/text/{CORPUS_VERSION}/{seed}")
        self.vocab = _build_vocab(seed)
        # Zipf-like weights: common words are much more common.
        weights = [(rank + 8) ** -1.2 for rank in range(len(self.vocab))]
        cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            cum.append(total)
        self._cum = cum
        self.sentences = [self._sentence(rng) for _ in range(12000)]
        self.phrases = [self._phrase(rng, 2, 6) for _ in range(4000)]
        self.code_lines = [self._code_line(rng) for _ in range(1500)]

    def words(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.vocab, cum_weights=self._cum, k=k)

    def _phrase(self, rng: random.Random, lo: int, hi: int) -> str:
        return " ".join(self.words(rng, rng.randint(lo, hi)))

    def _sentence(self, rng: random.Random) -> str:
        words = self.words(rng, rng.randint(6, 24))
        roll = rng.random()
        if roll < 0.08:
            i = rng.randrange(len(words))
            words[i] = f"<em>{words[i]}</em>"
        elif roll < 0.14:
            i = rng.randrange(len(words))
            words[i] = f"<strong>{words[i]}</strong>"
        elif roll < 0.20:
            i = rng.randrange(len(words))
            words[i] = f"<code>{words[i]}()</code>"
        elif roll < 0.23:
            words.insert(rng.randrange(len(words)), "&amp;")
        elif roll < 0.25:
            words.insert(rng.randrange(len(words)), "&mdash;")
        if rng.random() < 0.1 and len(words) > 6:
            words[3] = words[3] + ","
        end = rng.choice(".....?!")
        return words[0].capitalize() + " " + " ".join(words[1:]) + end

    def _code_line(self, rng: random.Random) -> str:
        a, b, c = self.words(rng, 3)
        forms = (
            f"{a}_{b} = {c}({rng.randint(0, 999)})",
            f"if {a} &lt; {b}:",
            f"    return {a}.{b}({c!r})".replace("'", "&quot;"),
            f"for {a} in {b}_{c}:",
            f"{a}.{b}[{rng.randint(0, 9)}] = {c} &amp;&amp; {a}",
            f"# {a} {b} {c}",
        )
        return rng.choice(forms)


_TEXT_CACHE: dict[int, _Text] = {}


def _text(seed: int) -> _Text:
    t = _TEXT_CACHE.get(seed)
    if t is None:
        t = _TEXT_CACHE[seed] = _Text(seed)
    return t


# -- HTML --------------------------------------------------------------------


def _post_html(rng: random.Random, t: _Text, site: str, slug: str) -> str:
    target = rng.randint(2048, 20480)
    parts: list[str] = []
    size = 0
    img = 0

    def para() -> str:
        sents = rng.choices(t.sentences, k=rng.randint(2, 7))
        if rng.random() < 0.35:
            anchor = rng.choice(t.phrases)
            href = rng.choice(
                (
                    f"{site}/posts/{rng.choice(t.vocab)}-{rng.randint(1, 400)}",
                    f"https://{rng.choice(t.vocab)}.example.org/{rng.choice(t.vocab)}",
                    f"https://en.wikipedia.org/wiki/{rng.choice(t.vocab).capitalize()}",
                )
            )
            sents.insert(rng.randrange(len(sents) + 1), f'See <a href="{href}">{anchor}</a>.')
        attrs = ' class="lead"' if rng.random() < 0.05 else ""
        return f"<p{attrs}>" + " ".join(sents) + "</p>\n"

    parts.append(para())
    size += len(parts[0])
    while size < target:
        roll = rng.random()
        if roll < 0.55:
            block = para()
        elif roll < 0.65:
            level = rng.choice((2, 2, 3))
            block = f"<h{level}>{rng.choice(t.phrases).title()}</h{level}>\n"
        elif roll < 0.75:
            tag = rng.choice(("ul", "ul", "ol"))
            items = "".join(f"<li>{rng.choice(t.sentences)}</li>" for _ in range(rng.randint(3, 7)))
            block = f"<{tag}>{items}</{tag}>\n"
        elif roll < 0.83:
            img += 1
            alt = rng.choice(t.phrases)
            w, h = rng.choice(((800, 450), (1200, 800), (640, 480), (1024, 1024)))
            block = (
                f'<figure class="image"><img src="{site}/images/{slug}-{img}.jpg" '
                f'alt="{alt}" width="{w}" height="{h}" loading="lazy">'
                f"<figcaption>{rng.choice(t.phrases).capitalize()}.</figcaption></figure>\n"
            )
        elif roll < 0.88:
            block = f"<blockquote><p>{rng.choice(t.sentences)}</p></blockquote>\n"
        elif roll < 0.95:
            lines = "\n".join(rng.choices(t.code_lines, k=rng.randint(3, 15)))
            block = f'<pre><code class="language-python">{lines}</code></pre>\n'
        else:
            # Things a sanitizer must deal with.
            block = rng.choice(
                (
                    (
                        '<div class="embed"><iframe src="https://www.youtube.com/embed/'
                        f'{rng.randint(10**9, 10**10)}" width="560" height="315">'
                        "</iframe></div>\n"
                    ),
                    f'<p style="color:#555" onclick="track()">{rng.choice(t.sentences)}</p>\n',
                    f"<script>window.analytics&&analytics.track({rng.randint(1, 99)})</script>\n",
                    (
                        f"<table><tr><th>{rng.choice(t.vocab)}</th>"
                        f"<th>{rng.choice(t.vocab)}</th></tr>"
                        f"<tr><td>{rng.randint(1, 999)}</td>"
                        f"<td>{rng.randint(1, 999)}</td></tr></table>\n"
                    ),
                    "<hr>\n",
                )
            )
        parts.append(block)
        size += len(block)
    return "".join(parts)


# -- feeds -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Post:
    title: str
    url: str
    guid: str
    published: datetime
    modified: datetime
    author: str
    tags: list[str]
    summary: str
    html: str


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _unescape_entities(s: str) -> str:
    # Our vocabulary uses &amp; and &mdash; only; make plain text of it.
    return s.replace("&mdash;", "\u2014").replace("&amp;", "&")


def _strip_tags(s: str) -> str:
    out: list[str] = []
    inside = False
    for ch in s:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(d: datetime) -> str:
    return email.utils.format_datetime(d, usegmt=True)


def render_feed(seed: int, index: int) -> tuple[FeedMeta, bytes]:
    """Render feed ``index`` of the corpus ``seed``; returns its metadata and body."""
    rng = _feed_rng(seed, index)
    meta = _meta_from_rng(rng, index)
    t = _text(seed)
    site = f"https://blog{index}.example"
    blog_title = _unescape_entities(rng.choice(t.phrases)).title()
    author = " ".join(w.capitalize() for w in rng.sample(t.vocab[200:], 2))
    description = _unescape_entities(rng.choice(t.sentences))
    description = _strip_tags(description)
    posts: list[_Post] = []
    when = meta.updated
    for k in range(meta.n_posts):
        title = _strip_tags(_unescape_entities(rng.choice(t.phrases))).capitalize()
        if rng.random() < 0.05:
            title += " & " + rng.choice(t.vocab)
        slug = f"{k}-" + "-".join(title.lower().split()[:4]).replace("&", "and")
        html = _post_html(rng, t, site, slug)
        summary = _strip_tags(_unescape_entities(rng.choice(t.sentences)))
        modified = when + timedelta(seconds=rng.choice((0, 0, 0, 3600, 86400)))
        modified = min(modified, meta.updated)
        posts.append(
            _Post(
                title=title,
                url=f"{site}/posts/{slug}",
                guid=f"{site}/posts/{slug}",
                published=when,
                modified=modified,
                author=author,
                tags=rng.sample(t.vocab[:400], rng.randint(0, 4)),
                summary=summary,
                html=html,
            )
        )
        when -= timedelta(seconds=rng.randint(3600, 21 * 86400))
    render = _RENDERERS[meta.kind]
    return meta, render(meta, site, blog_title, author, description, posts).encode()


def _render_rss2(
    meta: FeedMeta,
    site: str,
    title: str,
    author: str,
    desc: str,
    posts: Sequence[_Post],
) -> str:
    out = [
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"<title>{_esc(title)}</title>\n<link>{site}/</link>\n"
            f"<description>{_esc(desc)}</description>\n<language>en</language>\n"
            f"<lastBuildDate>{_rfc822(meta.updated)}</lastBuildDate>\n"
            "<generator>townsquare-bench</generator>\n"
        )
    ]
    for p in posts:
        cats = "".join(f"<category>{_esc(c)}</category>" for c in p.tags)
        out.append(
            f"<item>\n<title>{_esc(p.title)}</title>\n<link>{p.url}</link>\n"
            f'<guid isPermaLink="true">{p.guid}</guid>\n<pubDate>{_rfc822(p.published)}</pubDate>\n'
            f"<dc:creator>{_esc(p.author)}</dc:creator>{cats}\n"
            f"<description>{_esc(p.summary)}</description>\n"
            f"<content:encoded><![CDATA[{p.html}]]></content:encoded>\n</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def _render_atom(
    meta: FeedMeta,
    site: str,
    title: str,
    author: str,
    desc: str,
    posts: Sequence[_Post],
) -> str:
    out = [
        (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f"<title>{_esc(title)}</title>\n<subtitle>{_esc(desc)}</subtitle>\n"
            f"<id>{site}/</id>\n<updated>{_iso(meta.updated)}</updated>\n"
            f'<link rel="alternate" type="text/html" href="{site}/"/>\n'
            f"<author><name>{_esc(author)}</name></author>\n"
        )
    ]
    host = site.removeprefix("https://")
    for k, p in enumerate(posts):
        cats = "".join(f'<category term="{_esc(c)}"/>' for c in p.tags)
        out.append(
            f"<entry>\n<title>{_esc(p.title)}</title>\n"
            f"<id>tag:{host},2025:post-{k}</id>\n"
            f'<link rel="alternate" type="text/html" href="{p.url}"/>\n'
            f"<published>{_iso(p.published)}</published>\n<updated>{_iso(p.modified)}</updated>\n"
            f'{cats}\n<summary type="text">{_esc(p.summary)}</summary>\n'
            f'<content type="html">{_esc(p.html)}</content>\n</entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out)


def _render_rss1(
    meta: FeedMeta,
    site: str,
    title: str,
    author: str,
    desc: str,
    posts: Sequence[_Post],
) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{p.url}"/>' for p in posts)
    out = [
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n'
            f'<channel rdf:about="{site}/">\n<title>{_esc(title)}</title>\n<link>{site}/</link>\n'
            f"<description>{_esc(desc)}</description>\n<dc:date>{_iso(meta.updated)}</dc:date>\n"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items>\n</channel>\n"
        )
    ]
    for p in posts:
        subj = "".join(f"<dc:subject>{_esc(c)}</dc:subject>" for c in p.tags)
        out.append(
            f'<item rdf:about="{p.url}">\n<title>{_esc(p.title)}</title>\n<link>{p.url}</link>\n'
            f"<description>{_esc(p.summary)}</description>\n<dc:date>{_iso(p.published)}</dc:date>\n"
            f"<dc:creator>{_esc(p.author)}</dc:creator>{subj}\n"
            f"<content:encoded><![CDATA[{p.html}]]></content:encoded>\n</item>\n"
        )
    out.append("</rdf:RDF>\n")
    return "".join(out)


def _render_json(
    meta: FeedMeta,
    site: str,
    title: str,
    author: str,
    desc: str,
    posts: Sequence[_Post],
) -> str:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": f"{site}/",
        "description": desc,
        "language": "en",
        "authors": [{"name": author}],
        "items": [
            {
                "id": p.guid,
                "url": p.url,
                "title": p.title,
                "content_html": p.html,
                "summary": p.summary,
                "date_published": _iso(p.published),
                "date_modified": _iso(p.modified),
                "authors": [{"name": p.author}],
                "tags": p.tags,
            }
            for p in posts
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


_Renderer = Callable[[FeedMeta, str, str, str, str, Sequence[_Post]], str]
_RENDERERS: dict[str, _Renderer] = {
    "rss2": _render_rss2,
    "atom": _render_atom,
    "rss1": _render_rss1,
    "json": _render_json,
}


# -- the on-disk cache -------------------------------------------------------


def default_cache_dir(seed: int) -> Path:
    return (
        Path(tempfile.gettempdir()) / f"townsquare-bench-corpus-v{CORPUS_VERSION}" / f"seed-{seed}"
    )


def _write_range(args: tuple[int, str, list[int]]) -> int:
    seed, directory, indices = args
    d = Path(directory)
    for i in indices:
        meta, body = render_feed(seed, i)
        tmp = d / f".{meta.filename}.{os.getpid()}.tmp"
        tmp.write_bytes(body)
        tmp.replace(d / meta.filename)
    return len(indices)


def ensure_corpus(
    n: int,
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
    *,
    jobs: int | None = None,
) -> tuple[Path, list[FeedMeta], float]:
    """Make sure feeds 0..n-1 exist under ``directory``; returns (dir, metas, seconds spent)."""
    d = directory or default_cache_dir(seed)
    d.mkdir(parents=True, exist_ok=True)
    metas = corpus_meta(n, seed)
    missing = [m.index for m in metas if not (d / m.filename).exists()]
    t0 = time.perf_counter()
    if missing:
        jobs = jobs or min(os.cpu_count() or 1, 8)
        if jobs <= 1 or len(missing) < 50:
            _write_range((seed, str(d), missing))
        else:
            chunks = [missing[k::jobs] for k in range(jobs)]
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(_write_range, [(seed, str(d), c) for c in chunks]))
    return d, metas, time.perf_counter() - t0


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--dir", type=Path, default=None)
    a = ap.parse_args(argv)
    d, metas, secs = ensure_corpus(a.feeds, a.seed, a.dir)
    sizes = [(d / m.filename).stat().st_size for m in metas]
    kinds: dict[str, int] = {}
    for m in metas:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    posts = sum(m.n_posts for m in metas)
    print(
        f"{d}: {len(metas)} feeds {kinds}, {posts} posts, "
        f"{sum(sizes) / 1e6:.1f} MB (generated in {secs:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
