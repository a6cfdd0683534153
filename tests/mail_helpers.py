"""Posts and subscribers for the email tests: posts enter through the ingest pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from xml.sax.saxutils import escape

from conftest import FeedServer
from helpers import run_pass
from townsquare.config import Config
from townsquare.model import Frequency, Subscriber
from townsquare.store import Store


@dataclass(frozen=True)
class Item:
    title: str
    slug: str
    author: str = "Ann Lee"
    published: datetime = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    body: str = "<p>We shipped the new forms.</p>"


def rss(title: str, site: str, items: Sequence[Item]) -> str:
    entries = "".join(
        f"""<item><title>{escape(i.title)}</title><link>{site}{i.slug}</link>
        <guid>{site}{i.slug}</guid><pubDate>{format_datetime(i.published)}</pubDate>
        <author>a@b.example ({escape(i.author)})</author>
        <description>{escape(i.body)}</description></item>"""
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{site}</link>{entries}</channel></rss>"
    )


def add_blog(
    store: Store,
    server: FeedServer,
    path: str,
    title: str,
    items: Sequence[Item],
    categories: Sequence[str] = (),
) -> int:
    site = f"https://{path.strip('/')}.example/"
    url = server.feed(path, rss(title, site, items))
    source = store.add_source(
        url, title, site_url=site, categories=categories, now=datetime.now(UTC)
    )
    return source.id


def fetch_all(store: Store, config: Config) -> None:
    """One ingest pass over every blog: the only way posts enter the store."""
    run_pass(store, config, force=True)


def subscriber(
    store: Store,
    address: str,
    *,
    frequency: Frequency = Frequency.DAILY,
    categories: Sequence[str] | None = None,
    confirmed: datetime | None = None,
) -> Subscriber:
    """A confirmed subscriber (by default confirmed two days ago)."""
    ids = None
    if categories is not None:
        by_name = {c.name: c.id for c in store.categories()}
        ids = [by_name[name] for name in categories]
    when = confirmed or datetime.now(UTC) - timedelta(days=2)
    sub = store.request_subscription(address, address.lower(), frequency, ids, when)
    store.confirm_subscriber(sub.id, when)
    found = store.subscriber(sub.id)
    assert found is not None
    return found


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and HTML of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )
