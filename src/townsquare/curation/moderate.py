"""Deciding the moderation queue, and telling the person who asked.

A suggestion approved becomes a listed blog; a takedown approved hides the
post; an excerpts-only request approved switches the blog to excerpts.  Each
decision is stored with the item (who, when, why) in the same transaction as
what it does; then the person who asked is emailed, and how that went is
noted on the item for the curator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from ..config import Config
from ..errors import InputError, MailError, NotFoundError
from ..ingest.clean import canonical_url
from ..model import Source
from ..store import HiddenPost, ItemKind, ItemState, QueueItem, Store
from .checks import listed_as
from .health import sentence
from .mail import message, send

_OWN_POST = re.compile(r"/posts/([1-9][0-9]{0,17})(?:-[a-z0-9-]*)?/?")
_OWN_BLOG = re.compile(r"/blogs/([a-z0-9-]+)(?:/.*)?")


def _own_path(config: Config, url: str) -> str | None:
    """The path of ``url`` on this site, or None for another site's address."""
    base = urlsplit(config.base_url)
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != (base.hostname or "").lower():
        return None
    prefix = base.path.rstrip("/")
    return parts.path[len(prefix) :] if parts.path.startswith(prefix + "/") else None


def posts_asked_about(store: Store, config: Config, url: str) -> list[HiddenPost]:
    """The stored posts a takedown request means: its address here or the original's."""
    path = _own_path(config, url)
    match = _OWN_POST.fullmatch(path) if path else None
    if match:
        try:
            return [store.any_post(int(match.group(1)))]
        except NotFoundError:
            return []
    return store.posts_by_link(url, canonical_url(url))


def blog_asked_about(store: Store, config: Config, url: str) -> Source | None:
    """The listed blog an excerpts-only request means: its address here, its site or feed."""
    path = _own_path(config, url)
    match = _OWN_BLOG.fullmatch(path) if path else None
    if match:
        try:
            return store.source_by_slug(match.group(1))
        except NotFoundError:
            return None
    return listed_as(store, url)


def tell(store: Store, config: Config, item: QueueItem, subject: str, body: str) -> str:
    """Email the person who asked; gives (and notes on the item) how that went."""
    try:
        send(config, message(config, item.email, subject, body))
        outcome = f"Emailed {item.email}."
    except MailError as exc:
        outcome = sentence(str(exc))
    store.set_emailed(item.id, outcome)
    return outcome


def _letter(config: Config, item: QueueItem, *paragraphs: str) -> str:
    greeting = f"Hello {item.name}," if item.name else "Hello,"
    return "\n\n".join([greeting, *paragraphs, f"{config.site_name}\n{config.base_url}"]) + "\n"


def _what(item: QueueItem) -> str:
    if item.kind is ItemKind.SUGGESTION:
        return f"your suggestion of {item.url}"
    if item.kind is ItemKind.TAKEDOWN:
        return f"your request to remove {item.url}"
    return f"your request to show only excerpts of {item.url}"


def approve_suggestion(
    store: Store,
    config: Config,
    item: QueueItem,
    by: str,
    *,
    title: str,
    categories: Sequence[str],
    excerpts_only: bool,
    extract_full: bool,
    now: datetime,
) -> tuple[Source, str]:
    """List the suggested blog; gives it and how emailing the suggester went."""
    if item.feed is None:
        raise InputError(
            "no feed was found for this suggestion: check it again, or add the blog yourself"
        )
    with store.db.transaction():
        store.decide(item.id, ItemState.APPROVED, by, "", now)
        source = store.add_source(
            item.feed.url, title, site_url=item.feed.site_url, categories=categories, now=now
        )
        source = store.update_source(
            source.id, excerpts_only=excerpts_only, extract_full=extract_full
        )
    blog_url = config.base_url + f"blogs/{source.slug}"
    emailed = tell(
        store,
        config,
        item,
        f"{source.title} is now on {config.site_name}",
        _letter(
            config,
            item,
            f"Thank you for {_what(item)}.",
            f"We have added {source.title} to {config.site_name}. Its new posts will appear "
            f"there from now on:\n{blog_url}",
        ),
    )
    return source, emailed


def approve_takedown(
    store: Store,
    config: Config,
    item: QueueItem,
    by: str,
    *,
    post_ids: Sequence[int],
    reason: str,
    now: datetime,
) -> tuple[list[HiddenPost], str]:
    """Take down the posts a request names; gives them and how emailing went."""
    if not post_ids:
        raise InputError("choose the post to take down")
    if not reason.strip():
        raise InputError("enter the reason readers will see on the blog's status page")
    with store.db.transaction():
        store.decide(item.id, ItemState.APPROVED, by, reason, now)
        hidden = [store.hide_post(post_id, reason, now) for post_id in post_ids]
    titles = ", ".join(h.post.title for h in hidden)
    emailed = tell(
        store,
        config,
        item,
        f"We have removed a post from {config.site_name}",
        _letter(
            config,
            item,
            f"Thank you for {_what(item)}.",
            f"We have removed {titles} from {config.site_name}. It no longer appears on the "
            "site, in its feeds or in its emails, and it will not come back if the blog "
            "publishes it again.",
        ),
    )
    return hidden, emailed


def approve_excerpts(
    store: Store, config: Config, item: QueueItem, by: str, *, source_id: int, now: datetime
) -> tuple[Source, str]:
    """Show only excerpts of the blog a request names."""
    with store.db.transaction():
        store.decide(item.id, ItemState.APPROVED, by, "", now)
        source = store.update_source(source_id, excerpts_only=True)
    emailed = tell(
        store,
        config,
        item,
        f"{config.site_name} now shows excerpts of {source.title}",
        _letter(
            config,
            item,
            f"Thank you for {_what(item)}.",
            f"{config.site_name} now shows only a short excerpt of each post from "
            f"{source.title}, with a link to read the rest on your blog.",
        ),
    )
    return source, emailed


def decline(
    store: Store,
    config: Config,
    item: QueueItem,
    by: str,
    *,
    reason: str,
    block: bool,
    now: datetime,
) -> str:
    """Decline with a reason the person is told; ``block`` adds the site to the block
    list.  Gives how emailing went."""
    if not reason.strip():
        raise InputError("enter the reason: the person who asked will be told it")
    with store.db.transaction():
        store.decide(item.id, ItemState.DECLINED, by, reason, now)
        if block:
            host = (urlsplit(item.url).hostname or "").lower()
            if host and store.blocked(host) is None:
                store.block(host, reason, now)
    if item.kind is ItemKind.SUGGESTION:
        subject, decided = "About your suggestion", f"We have decided not to add {item.url}."
    else:
        subject, decided = "About your request", "We have decided not to do what you asked."
    return tell(
        store,
        config,
        item,
        f"{subject} to {config.site_name}",
        _letter(config, item, f"Thank you for {_what(item)}.", decided, f"Why: {reason}"),
    )
