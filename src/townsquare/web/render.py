"""Templates and static files: Jinja2 with autoescaping, our stylesheet and script.

Everything in a template is escaped unless it is ``Markup``; the only
``Markup`` is a post's stored HTML, which the ingest pipeline sanitised.
Static files get a content hash in their names and are kept by browsers
for a year.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..config import Config
from ..notify.subscribe import email_enabled
from ..publish.feeds import feed_title
from ..publish.paths import FeedScope
from ..text import long_date
from .paths import Paths
from .responses import Rendered
from .views import PostView, feed_links

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
IMMUTABLE = "public, max-age=31536000, immutable"


class Assets:
    """Our static files, read once; served as ``/static/<name>.<hash>.<ext>``."""

    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._by_served: dict[str, Rendered] = {}
        self._served_name: dict[str, str] = {}
        folder = resources.files("townsquare.web") / "static"
        for item in folder.iterdir():
            name = item.name
            stem, dot, ext = name.rpartition(".")
            if not dot or "." + ext not in _TYPES:
                continue
            body = item.read_bytes()
            served = f"{stem}.{hashlib.sha256(body).hexdigest()[:10]}.{ext}"
            self._served_name[name] = served
            self._by_served[served] = Rendered.of(body, _TYPES["." + ext], cache_control=IMMUTABLE)

    def url(self, name: str) -> str:
        return self._paths.static(self._served_name[name])

    def get(self, served: str) -> Rendered | None:
        return self._by_served.get(served)

    def files(self) -> dict[str, Rendered]:
        """Every file by its served name (for size checks)."""
        return dict(self._by_served)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What the templates show of the configuration."""

    name: str
    description: str
    base_url: str
    contact: str
    contact_href: str | None
    about: str
    accessibility_statement: str

    @classmethod
    def of(cls, config: Config) -> SiteInfo:
        contact = config.contact
        href = None
        if "@" in contact and " " not in contact and "://" not in contact:
            href = "mailto:" + contact
        elif contact.startswith(("https://", "http://")):
            href = contact
        return cls(
            name=config.site_name,
            description=config.site_description,
            base_url=config.base_url,
            contact=contact,
            contact_href=href,
            about=config.about,
            accessibility_statement=config.accessibility_statement,
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


class Renderer:
    """The site's templates.  ``static_build``: pages for ``townsquare build``, which leave out
    what only a running Townsquare can answer (the JSON API) and say they are a copy."""

    def __init__(
        self, config: Config, paths: Paths, assets: Assets, *, static_build: bool = False
    ) -> None:
        self.env = Environment(
            loader=PackageLoader("townsquare.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.globals.update(
            site=SiteInfo.of(config),
            paths=paths,
            asset=assets.url,
            static_build=static_build,
            # Subscribing needs a running site that can send email.
            email_offered=email_enabled(config) and not static_build,
            river_feeds=feed_links(paths, FeedScope.river(), feed_title(config.site_name)),
        )
        self.env.filters.update(long_date=long_date, iso=_iso, paragraphs=_paragraphs)

        self._macros = self.env.get_template("macros.html").module

    def html(self, template: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(**context).encode("utf-8")

    def article(self, view: PostView) -> Markup:
        """A post as lists show it, under an ``<h2>`` (the ``post_article`` macro)."""
        return Markup(self._macros.post_article(view, 2))  # type: ignore[attr-defined]
