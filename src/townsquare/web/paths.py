"""Every address on the site, built in one place.

Links are absolute paths under the path of ``base_url``, so a site served at
``https://example.org/blogs/`` links to ``/blogs/posts/…``, and the website
answers at those same addresses (``app.py`` mounts its routes there).  Pages
end with ``/`` (``/blogs/hana/``), so ``townsquare build`` can write each as
an ``index.html`` that any static host serves at that address.  Page 1 of a
list has no ``/page/1/``: each page has one address.  Feeds and OPML lists
live where ``publish.paths`` says.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from ..model import Post
from ..notify.tokens import PATHS as EMAIL_LINKS
from ..notify.tokens import Purpose
from ..publish.paths import (
    BLOGS_OPML,
    SEARCH_PATH,
    FeedFormat,
    FeedScope,
    category_opml_path,
    post_path,
    post_slug,
)

__all__ = ["Paths", "post_slug"]


class Paths:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.prefix = parts.path.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def absolute(self, path: str) -> str:
        """One of these addresses in full: '/town/about/' is 'https://example.org/town/about/'."""
        return self._origin + path

    def _paged(self, path: str, page: int) -> str:
        if page <= 1:
            return self.prefix + path
        return f"{self.prefix}{path}page/{page}/"

    def river(self, page: int = 1) -> str:
        return self._paged("/", page)

    def post(self, post: Post) -> str:
        return f"{self.prefix}/{post_path(post.id, post.title)}"

    def blogs(self) -> str:
        return self.prefix + "/blogs/"

    def blog(self, slug: str, page: int = 1) -> str:
        return self._paged(f"/blogs/{slug}/", page)

    def blog_status(self, slug: str) -> str:
        return f"{self.prefix}/blogs/{slug}/status/"

    def category(self, slug: str, page: int = 1) -> str:
        return self._paged(f"/categories/{slug}/", page)

    def archive(self) -> str:
        return self.prefix + "/archive/"

    def month(self, year: int, month: int, page: int = 1) -> str:
        return self._paged(f"/archive/{year}/{month:02d}/", page)

    def about(self) -> str:
        return self.prefix + "/about/"

    def search(self, text: str = "", *, sort: str | None = None, page: int = 1) -> str:
        """The search page: ``/search``, or ``/search?q=digital&sort=date&page=2``."""
        params: dict[str, str | int] = {"q": text} if text else {}
        if sort:
            params["sort"] = sort
        if page > 1:
            params["page"] = page
        query = "?" + urlencode(params) if params else ""
        return f"{self.prefix}/{SEARCH_PATH}{query}"

    def feed(self, scope: FeedScope, fmt: FeedFormat) -> str:
        return f"{self.prefix}/{scope.feed_path(fmt)}"

    def blogs_opml(self) -> str:
        return f"{self.prefix}/{BLOGS_OPML}"

    def category_opml(self, slug: str) -> str:
        return f"{self.prefix}/{category_opml_path(slug)}"

    def api(self, path: str = "") -> str:
        return f"{self.prefix}/api/{path}"

    def events(self, after: int) -> str:
        """The live river's stream of news about posts above post ``after``."""
        return f"{self.prefix}/events?after={after}"

    def static(self, name: str) -> str:
        return f"{self.prefix}/static/{name}"

    def suggest(self) -> str:
        return self.prefix + "/suggest"

    def takedown(self) -> str:
        return self.prefix + "/takedown"

    def email(self) -> str:
        """The form to subscribe to emails."""
        return self.prefix + "/email/subscribe"

    def email_link(self, purpose: Purpose, token: str) -> str:
        """Where a link in an email leads (the emails' own links are absolute:
        ``notify.tokens.Links``)."""
        return f"{self.prefix}/{EMAIL_LINKS[purpose]}{token}"

    def admin(self, path: str = "") -> str:
        """An address in the admin area: ``admin("blogs/3")`` is ``/admin/blogs/3``."""
        return f"{self.prefix}/admin/{path}".rstrip("/")
