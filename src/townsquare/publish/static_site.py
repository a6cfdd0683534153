"""``townsquare build OUTDIR``: the public site as files any static host can serve.

    build_site(store, config, outdir)       in one snapshot of the store:
        write_pages(...)                    every page of the website (site_pages.py)
        write_feeds_and_lists(...)          every feed (river, categories, blogs; Atom,
                                            RSS, JSON) and every OPML list
        │
        ▼
    OutputFolder                            writes a file only when its bytes changed, and
                                            removes what the last build made and this one
                                            did not (output.py)

The paths are the website's (``web.paths`` and ``publish.paths``), under the
path of ``base_url``: host the folder there.  The whole build reads one
snapshot of the store, so its pages agree with each other even while the
blogs are being fetched.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..store import Store
from .feeds import load_feed, render_feed
from .opml import blogs_opml, category_opml
from .output import BuildReport, OutputFolder
from .paths import BLOGS_OPML, FeedFormat, FeedScope, category_opml_path
from .site_pages import write_pages


def build_site(store: Store, config: Config, outdir: Path) -> BuildReport:
    """Write the whole public site into ``outdir``; see the module's docstring."""
    out = OutputFolder(outdir)
    with store.snapshot():
        write_pages(store, config, out)
        write_feeds_and_lists(store, config, out)
    return out.finish()


def write_feeds_and_lists(store: Store, config: Config, out: OutputFolder) -> None:
    """The river's, each category's and each blog's feeds, and the OPML lists."""
    sources = store.sources()
    by_id = {s.id: s for s in sources}
    categories = store.categories()
    scopes = [
        FeedScope.river(),
        *(FeedScope.category(c.slug) for c in categories),
        *(FeedScope.blog(s.slug) for s in sources),
    ]
    for scope in scopes:
        feed = load_feed(store, config, scope, sources=by_id)
        for fmt in FeedFormat:
            out.write(scope.feed_path(fmt), render_feed(feed, fmt).body)
    out.write(BLOGS_OPML, blogs_opml(store, config).body)
    for category in categories:
        listing = category_opml(store, config, category.slug)
        out.write(category_opml_path(category.slug), listing.body)
