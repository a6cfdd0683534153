"""Every page of the website as files, made by the website's own page functions.

    write_pages(store, config, out)
        the stylesheet, the blogs page, the about page and 404.html
        the river, read once, newest first, in pieces:
            its pages, each month's pages, each post's page, then the archive
        each blog: its pages and its status page
        each category: its pages

The pages are those ``web.pages`` renders for a request (same templates, same
functions), with two differences a static host needs: the JSON API is left
out (only a running Townsquare can answer it), and a status page is a
snapshot in dates ("fetched on 26 November 2020 at 3:15pm UTC") rather than
times relative to now, and says so.  Each page's address, from
``web.paths`` (the same the links use), becomes a file: ``/blogs/hana/`` is
``blogs/hana/index.html``.

Lists are numbered as the website numbers them, from the newest post, so the
posts are read in the website's order, a piece at a time (``after`` the last
one read) rather than page by page with ever larger offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

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


def all_posts(
    store: Store, *, source_id: int | None = None, category_id: int | None = None
) -> Iterator[Post]:
    """Every visible post (of a blog or a category), newest first, a piece at a time."""
    after = None
    while True:
        batch = store.river(limit=BATCH, after=after, source_id=source_id, category_id=category_id)
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1]


class Pages:
    """Cuts a list of posts, newest first, into the website's numbered pages."""

    def __init__(
        self, size: int, url: Callable[[int], str], write: Callable[[str, Listing], None]
    ) -> None:
        self._size = size
        self._url = url
        self._write = write
        self._posts: list[Post] = []
        self._number = 1

    def add(self, post: Post) -> None:
        self._posts.append(post)
        if len(self._posts) > self._size:  # one more than a page: there is an older page
            self._emit(self._posts[: self._size], older=True)
            self._posts = self._posts[self._size :]

    def finish(self) -> None:
        """The last page (page 1, empty, for a list with no posts)."""
        self._emit(self._posts, older=False)

    def _emit(self, posts: list[Post], *, older: bool) -> None:
        n = self._number
        pager = Pager(n, self._url(n - 1) if n > 1 else None, self._url(n + 1) if older else None)
        self._write(self._url(n), Listing(posts, pager))
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

    def pages(self, url: Callable[[int], str], render: Callable[[Listing], bytes]) -> Pages:
        size = self.site.config.page_size
        return Pages(size, url, lambda address, listing: self.page(address, render(listing)))

    def fixed_pages(self) -> None:
        site, index = self.site, self.index
        for served, asset in site.assets.files().items():
            self.page(self.paths.static(served), asset.body)
        self.page(self.paths.blogs(), blogs_page(site, index))
        self.page(self.paths.about(), about_page(site, index))
        self.page(self.paths.prefix + "/404.html", error_page(site, 404, "no such page"))

    def river(self) -> None:
        """The river's pages, each month's, each post's, and the archive, in one reading."""
        site, index, paths = self.site, self.index, self.paths
        river = self.pages(paths.river, lambda listing: river_page(site, index, listing))
        months: list[Month] = []
        month: Pages | None = None
        for post in all_posts(site.store):
            river.add(post)
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
            month.add(post)
        river.finish()
        if month is not None:
            month.finish()
        self.page(paths.archive(), archive_page(site, months))

    def _month(self, m: Month) -> Pages:
        site, index = self.site, self.index
        return self.pages(
            lambda n: self.paths.month(m.year, m.number, n),
            lambda listing: month_page(site, index, m.year, m.number, listing),
        )

    def blogs(self) -> None:
        for blog in self.index.blogs:
            self._blog(blog)
            status = status_page(self.site, self.index, blog, None)
            self.page(self.paths.blog_status(blog.slug), status)

    def _blog(self, blog: Source) -> None:
        site, index = self.site, self.index
        pages = self.pages(
            lambda n: self.paths.blog(blog.slug, n),
            lambda listing: blog_page(site, index, blog, listing),
        )
        for post in all_posts(site.store, source_id=blog.id):
            pages.add(post)
        pages.finish()

    def categories(self) -> None:
        for category in self.index.categories:
            self._category(category)

    def _category(self, category: Category) -> None:
        site, index = self.site, self.index
        pages = self.pages(
            lambda n: self.paths.category(category.slug, n),
            lambda listing: category_page(site, index, category, listing),
        )
        for post in all_posts(site.store, category_id=category.id):
            pages.add(post)
        pages.finish()


def write_pages(store: Store, config: Config, out: OutputFolder) -> None:
    """Every page of the website into ``out``; see the module's docstring."""
    site = Site(config, store, cache_size=0, static_build=True)
    writer = _SiteWriter(site, SiteIndex.load(store, store.revision().value), out)
    writer.fixed_pages()
    writer.river()
    writer.blogs()
    writer.categories()
