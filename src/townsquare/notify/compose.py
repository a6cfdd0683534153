"""Emails as messages: the digest, the confirmation and the 'already subscribed' note.

Every email is multipart/alternative: plain text first, then HTML written for
mail clients (one column, inline styles, system fonts, nothing remote, no
scripts), with ``lang``, a title and real headings for screen readers.  The
HTML templates autoescape; the text ones are plain text throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..config import Config
from ..ingest.clean import plain_text
from ..model import Delivery, Frequency, Post, Subscriber
from ..text import long_date
from .tokens import CONFIRM_MAX_AGE, Links, Purpose

MAX_POSTS = 50  # a digest lists at most this many posts, the newest; it links to the rest
EXCERPT_LENGTH = 200
FORGET_UNCONFIRMED_DAYS = 7
OTHER_BLOGS = "Other blogs"  # the heading for blogs in no category

_env = Environment(
    loader=PackageLoader("townsquare.notify", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["long_date"] = long_date


@dataclass(frozen=True, slots=True)
class DigestPost:
    """What a digest shows of a post: plain text and a link, nothing else."""

    title: str
    link: str | None
    author: str | None
    published: datetime
    excerpt: str
    source_id: int
    source_title: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class BlogGroup:
    title: str
    posts: tuple[DigestPost, ...]


@dataclass(frozen=True, slots=True)
class CategoryGroup:
    name: str
    blogs: tuple[BlogGroup, ...]


@dataclass(frozen=True, slots=True)
class DigestBody:
    """The part of a digest that is the same for everyone with the same choices."""

    html: Markup
    text: str
    count: int  # posts in the period for these choices (some may be left out: MAX_POSTS)


def digest_post(post: Post) -> DigestPost:
    return DigestPost(
        title=post.title,
        link=post.link or post.source_site_url,
        author=post.author,
        published=post.published,
        excerpt=plain_text(post.summary_html or post.content_html, limit=EXCERPT_LENGTH),
        source_id=post.source_id,
        source_title=post.source_title,
        first_seen=post.first_seen,
    )


def group_posts(
    posts: Sequence[DigestPost],
    chosen: Sequence[int] | None,
    source_categories: Mapping[int, Sequence[int]],
    category_names: Mapping[int, str],
) -> tuple[list[CategoryGroup], int]:
    """The posts a subscriber chose, by category then blog, and how many were left out.

    A post appears once, under the first of its blog's categories (in the
    curator's order) that the subscriber chose; with every category chosen
    (``chosen`` is None), blogs in no category come last under 'Other blogs'.
    Only the newest ``MAX_POSTS`` are kept.
    """
    wanted = None if chosen is None else set(chosen)
    order = {cid: i for i, cid in enumerate(category_names)}
    placed: list[tuple[int, DigestPost]] = []
    for post in posts:
        cats = [c for c in source_categories.get(post.source_id, ()) if c in order]
        if wanted is not None:
            cats = [c for c in cats if c in wanted]
            if not cats:
                continue
        placed.append((min(cats, key=order.__getitem__) if cats else -1, post))
    placed.sort(key=lambda cp: cp[1].published, reverse=True)
    kept, left_out = placed[:MAX_POSTS], max(0, len(placed) - MAX_POSTS)
    by_category: dict[int, dict[int, list[DigestPost]]] = {}
    for cid, post in kept:
        by_category.setdefault(cid, {}).setdefault(post.source_id, []).append(post)
    groups = []
    for cid in sorted(by_category, key=lambda c: order.get(c, len(order))):
        blogs = sorted(
            (BlogGroup(ps[0].source_title, tuple(ps)) for ps in by_category[cid].values()),
            key=lambda b: b.title.casefold(),
        )
        groups.append(CategoryGroup(category_names.get(cid, OTHER_BLOGS), tuple(blogs)))
    return groups, left_out


def render_digest_body(
    config: Config, groups: Sequence[CategoryGroup], left_out: int
) -> DigestBody:
    values = {
        "groups": groups,
        "more": left_out,
        "site_name": config.site_name,
        "site_url": config.base_url,
    }
    count = left_out + sum(len(b.posts) for g in groups for b in g.blogs)
    return DigestBody(
        html=Markup(_env.get_template("digest_posts.html").render(values)),
        text=_env.get_template("digest_posts.txt").render(values),
        count=count,
    )


class Composer:
    """Builds the emails of one site: its name, its sender and its links."""

    def __init__(self, config: Config, links: Links) -> None:
        self.config = config
        self.links = links
        name, address = parseaddr(config.smtp_from)
        local, _, domain = address.rpartition("@")
        self.sender = Address(display_name=name or config.site_name, username=local, domain=domain)
        self.domain = domain
        self.host = urlsplit(config.base_url).hostname or domain

    def digest(self, delivery: Delivery, body: DigestBody, now: datetime) -> EmailMessage:
        sub = delivery.subscriber
        daily = sub.frequency is Frequency.DAILY
        when = long_date(delivery.covers_until)
        heading = f"New posts on {self.config.site_name}"
        summary = f"{body.count} new post{'s' if body.count != 1 else ''} " + (
            f"on {when}" if daily else f"in the week to {when}"
        )
        subject = f"{heading}: {summary}"
        unsubscribe = self.links.url(Purpose.UNSUBSCRIBE, sub)
        values = {
            "subject": subject,
            "heading": heading,
            "summary": summary,
            "posts": body.html,
            "frequency": sub.frequency.value,
            "site_name": self.config.site_name,
            "site_url": self.config.base_url,
            "preferences_url": self.links.url(Purpose.PREFERENCES, sub),
            "unsubscribe_url": unsubscribe,
        }
        text = _env.get_template("digest.txt").render({**values, "posts": body.text})
        html = _env.get_template("digest.html").render(values)
        message = self._message(sub, subject, text, html, now)
        message["Message-ID"] = f"<digest.{delivery.id}.{delivery.period}@{self.domain}>"
        message["List-Id"] = (
            f"{self.config.site_name} {sub.frequency.value} email "
            f"<{sub.frequency.value}.digest.{self.host}>"
        )
        message["List-Unsubscribe"] = f"<{unsubscribe}>, <{self.links.unsubscribe_mailto()}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return message

    def confirmation(self, sub: Subscriber, now: datetime) -> EmailMessage:
        values = {
            "subject": f"Confirm your email from {self.config.site_name}",
            "frequency": sub.frequency.value,
            "site_name": self.config.site_name,
            "site_url": self.config.base_url,
            "confirm_url": self.links.url(Purpose.CONFIRM, sub),
            "hours": int(CONFIRM_MAX_AGE.total_seconds() // 3600),
            "forget_days": FORGET_UNCONFIRMED_DAYS,
        }
        return self._pair(sub, "confirm", values, now)

    def already_subscribed(self, sub: Subscriber, now: datetime) -> EmailMessage:
        values = {
            "subject": f"You already get emails from {self.config.site_name}",
            "frequency": sub.frequency.value,
            "site_name": self.config.site_name,
            "site_url": self.config.base_url,
            "preferences_url": self.links.url(Purpose.PREFERENCES, sub),
            "unsubscribe_url": self.links.url(Purpose.UNSUBSCRIBE, sub),
        }
        return self._pair(sub, "already", values, now)

    def _pair(
        self, sub: Subscriber, name: str, values: Mapping[str, object], now: datetime
    ) -> EmailMessage:
        text = _env.get_template(f"{name}.txt").render(values)
        html = _env.get_template(f"{name}.html").render(values)
        message = self._message(sub, str(values["subject"]), text, html, now)
        message["Message-ID"] = make_msgid(idstring=name, domain=self.domain)
        return message

    def _message(
        self, sub: Subscriber, subject: str, text: str, html: str, now: datetime
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = sub.address
        message["Subject"] = subject
        message["Date"] = format_datetime(now.astimezone(UTC))
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        return message
