"""Every page of the website as files, made by the website's own page functions.

    write_pages(store, config, out)
        the stylesheet, the blogs page, the about page and 404.html
        the river, read once, newest first, a piece at a time; each post
            has its own page, and goes (rendered once) into the lists it is in:
            the river's pages, its month's, its blog's and its categories'
        each blog's status page; the archive

The pages are those ``web.pages`` renders for a request (same templates, same
functions), with two differences a static host needs: what only a running
Townsquare can answer is left out (the JSON API, the public forms, the live
river's script), and a status page is a snapshot in dates ("fetched on 26
November 2020 at 3:15pm UTC") rather than times relative to now, and says so.
Each page's address, from ``web.paths`` (the same the links use), becomes a
file: ``/blogs/hana/`` is ``blogs/hana/index.html``.

Lists are numbered as the website numbers them, from the newest post.  Every
list is filled from the one reading of the river, so a list holds at most a
page of posts at a time, and each post is rendered once for all its lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

from markupsafe import Markup

from ..config import Config
from ..model import Category, Post, Source
from ..store import Store
from ..web.app import error_page
from ..web.index import SiteIndex
from ..web.pages import (
    Listing,
    Month,
    about_page,
    archive_page,
    article,
    blog_page,
    blogs_page,
    category_page,
    month_page,
    post_page,
    river_page,
    status_page,
)
from ..web.site import Site
from ..web.views import Pager
from .output import OutputFolder

BATCH = 500  # posts read at a time


def all_posts(store: Store) -> Iterator[Post]:
    """Every visible post, newest first, a piece at a time."""
    after = None
    while True:
        batch = store.river(limit=BATCH, after=after)
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1]


Write = Callable[[str, Listing], None]  # a page's address, and what it lists


class Pages:
    """Cuts one list of posts, newest first, into the website's numbered pages."""

    def __init__(self, size: int, url: Callable[[int], str], write: Write) -> None:
        self._size = size
        self._url = url
        self._write = write
        self._posts: list[tuple[int, Markup]] = []  # each post's id and article
        self._number = 1

    def add(self, post_id: int, article: Markup) -> None:
        self._posts.append((post_id, article))
        if len(self._posts) > self._size:  # one more than a page: there is an older page
            self._emit(self._posts[: self._size], older=True)
            del self._posts[: self._size]

    def finish(self) -> None:
        """The last page (page 1, empty, for a list with no posts)."""
        self._emit(self._posts, older=False)

    def _emit(self, posts: list[tuple[int, Markup]], *, older: bool) -> None:
        n = self._number
        pager = Pager(n, self._url(n - 1) if n > 1 else None, self._url(n + 1) if older else None)
        first = posts[0][0] if posts else 0
        self._write(self._url(n), Listing([a for _, a in posts], pager, first))
        self._number += 1


class _SiteWriter:
    def __init__(self, site: Site, index: SiteIndex, out: OutputFolder) -> None:
        self.site = site
        self.index = index
        self.paths = site.paths
        self.out = out

    def page(self, url: str, body: bytes) -> None:
        """Write the page at ``url`` (an address on the site) to its file."""
        path = url.removeprefix(self.paths.prefix).lstrip("/")
        self.out.write(path + "index.html" if path == "" or path.endswith("/") else path, body)

    def _pages(self, url: Callable[[int], str], render: Callable[[Listing], bytes]) -> Pages:
        size = self.site.config.page_size
        return Pages(size, url, lambda address, listing: self.page(address, render(listing)))

    def fixed_pages(self) -> None:
        site, index = self.site, self.index
        for served, asset in site.assets.files().items():
            if not served.endswith(".js"):  # the live river's script needs a running site
                self.page(self.paths.static(served), asset.body)
        self.page(self.paths.blogs(), blogs_page(site, index))
        self.page(self.paths.about(), about_page(site, index))
        self.page(self.paths.prefix + "/404.html", error_page(site, 404, "no such page"))
        for blog in index.blogs:
            self.page(self.paths.blog_status(blog.slug), status_page(site, index, blog, None))

    def lists_and_posts(self) -> None:
        """Every post's page, and every list of posts, from one reading of the river."""
        site, index, paths = self.site, self.index, self.paths
        river = self._pages(paths.river, lambda listing: river_page(site, listing))
        blogs = {blog.id: self._blog(blog) for blog in index.blogs}
        categories = {category.id: self._category(category) for category in index.categories}
        months: list[Month] = []
        month: Pages | None = None
        for post in all_posts(site.store):
            self.page(paths.post(post), post_page(site, index, post))
            published = post.published.astimezone(UTC)
            seen = Month(published.year, published.month)
            if month is None:
                months.append(seen)
                month = self._month(seen)
            while months[-1] > seen:  # back a month at a time: empty months have a page too
                month.finish()
                months.append(months[-1].previous())
                month = self._month(months[-1])
            shown = article(site, index, post)
            blog = index.blog(post.source_id)
            for pages in (river, month, blogs[blog.id]):
                pages.add(post.id, shown)
            for category in index.categories_of(blog):
                categories[category.id].add(post.id, shown)
        for pages in (river, *blogs.values(), *categories.values()):
            pages.finish()
        if month is not None:
            month.finish()
        self.page(paths.archive(), archive_page(site, months))

    def _blog(self, blog: Source) -> Pages:
        return self._pages(
            lambda n: self.paths.blog(blog.slug, n),
            lambda listing: blog_page(self.site, self.index, blog, listing),
        )

    def _category(self, category: Category) -> Pages:
        return self._pages(
            lambda n: self.paths.category(category.slug, n),
            lambda listing: category_page(self.site, self.index, category, listing),
        )

    def _month(self, month: Month) -> Pages:
        return self._pages(
            lambda n: self.paths.month(month.year, month.number, n),
            lambda listing: month_page(self.site, month, listing),
        )


def write_pages(store: Store, config: Config, out: OutputFolder) -> None:
    """Every page of the website into ``out``; see the module's docstring."""
    site = Site(config, store, cache_size=0, static_build=True)
    writer = _SiteWriter(site, SiteIndex.load(store, store.revision().value), out)
    writer.fixed_pages()
    writer.lists_and_posts()
