"""Blogs in the admin area: every blog's state (sortable, filterable), adding a blog with a
preview, and one blog's page (edit, filters, fetch now, disable, enable, delete).

Deleting a blog either removes it with its posts, or retires it: we stop
fetching it and it leaves the list of blogs, but the posts it published stay
where they are (on the river, in the archive, at their addresses), since
other sites and people may link to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ...curation.health import URGENCY, BlogHealth, Health, assess, assess_all, sentence
from ...errors import FeedError, InputError, NotFoundError, SourceExistsError
from ...ingest.clean import plain_text
from ...ingest.discover import Discovery, discover
from ...ingest.fetch import Fetcher
from ...ingest.filter import describe, refilter
from ...ingest.pipeline import Ingest, PassReport
from ...model import FilterAction, FilterField, Source
from ..forms import Errors, web_address
from .context import Admin, Done, action, page

PAGE_SIZE = 100
SORTS: dict[str, Callable[[BlogHealth], Any]] = {
    "name": lambda h: h.blog.title.casefold(),
    "state": lambda h: URGENCY[h.health],
    "success": lambda h: h.blog.last_success_at,
    "failures": lambda h: h.blog.consecutive_failures,
    "next": lambda h: h.next_attempt,
}
STATES = [h.value for h in Health]


def _blog(admin: Admin) -> Source:
    return admin.store.source(admin.param("id"))


def _sorted(lines: list[BlogHealth], sort: str, descending: bool) -> list[BlogHealth]:
    key = SORTS[sort]
    known = [line for line in lines if key(line) is not None]
    unknown = [line for line in lines if key(line) is None]  # "never": always last
    known.sort(key=lambda line: (key(line), line.blog.title.casefold()), reverse=descending)
    return known + unknown


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    href: str
    sorted: str | None  # "ascending", "descending" or None


@page
def blogs(admin: Admin) -> Response:
    """Every blog and its state: sortable by any column, filtered by state, category or
    words in the name or address."""
    state = admin.query("state")
    category = admin.query("category")
    words = admin.query("q").strip()
    sort = admin.query("sort", "name")
    sort = sort if sort in SORTS else "name"
    descending = admin.query("order") == "desc"
    page_number = int(admin.query("page", "1")) if admin.query("page", "1").isdigit() else 1
    now = admin.now()
    categories = admin.store.categories()
    chosen = next((c for c in categories if c.slug == category), None)
    sources = admin.store.sources(category_id=chosen.id if chosen else None)
    lines = assess_all(sources, admin.store.latest_published(), now)
    if state in STATES:
        lines = [line for line in lines if line.health.value == state]
    if words:
        folded = words.casefold()
        lines = [
            line
            for line in lines
            if folded in line.blog.title.casefold()
            or folded in line.blog.url.casefold()
            or folded in (line.blog.site_url or "").casefold()
        ]
    lines = _sorted(lines, sort, descending)
    total = len(lines)
    pages = max(1, -(-total // PAGE_SIZE))
    page_number = min(max(page_number, 1), pages)
    shown = lines[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]

    def link(**changes: object) -> str:
        params = {
            "state": state,
            "category": category,
            "q": words,
            "sort": sort,
            "order": "desc" if descending else "",
            "page": "",
        }
        params.update({k: str(v) for k, v in changes.items()})
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v)
        return admin.paths.admin("blogs") + ("?" + query if query else "")

    columns = []
    for key, label in (
        ("name", "Blog"),
        ("state", "State"),
        ("success", "Last success"),
        ("failures", "Failures in a row"),
        ("next", "Next attempt"),
    ):
        here = key == sort
        columns.append(
            Column(
                key,
                label,
                link(sort=key, order="desc" if here and not descending else "", page=""),
                ("descending" if descending else "ascending") if here else None,
            )
        )
    return admin.render(
        "admin/blogs.html",
        title="Blogs",
        section="blogs",
        lines=shown,
        total=total,
        columns=columns,
        states=STATES,
        state=state,
        categories=categories,
        category=category,
        words=words,
        now=now,
        page_number=page_number,
        pages=pages,
        newer=link(page=page_number - 1) if page_number > 1 else None,
        older=link(page=page_number + 1) if page_number < pages else None,
    )


# --- adding a blog ---------------------------------------------------------------------


def _add_page(admin: Admin, url: str = "", errors: Errors | None = None) -> Response:
    return admin.render(
        "admin/add.html",
        title="Add a blog",
        section="blogs",
        url=url,
        errors=errors,
    )


@page
def add_form(admin: Admin) -> Response:
    return _add_page(admin)


async def _discover(admin: Admin, url: str) -> Discovery:
    async with Fetcher(admin.config) as fetcher:
        return await discover(fetcher, url)


@action
def preview(admin: Admin) -> Response:
    """Find the feed at an address and show what adding it would bring, before saving."""
    typed = admin.form.line("url", 2000)
    errors = Errors()
    url = web_address(typed)
    listed = admin.store.source_by_url(url) if url else None
    if not typed:
        errors.add("url", "Enter the address of the blog or its feed")
    elif url is None:
        errors.add("url", "Enter a web address in the correct format, like blog.example.org")
    elif listed is not None:
        errors.add("url", f"This feed is already listed, as {listed.title}")
    if errors or url is None:
        return _add_page(admin, typed, errors)
    try:
        found = admin.wait(_discover, admin, url)
    except FeedError as exc:
        errors.add("url", f"We could not find a feed there: {exc}")
        return _add_page(admin, typed, errors)
    listed = admin.store.source_by_url(found.feed_url)
    if listed is not None:
        errors.add("url", f"Its feed, {found.feed_url}, is already listed, as {listed.title}")
        return _add_page(admin, typed, errors)
    return _preview_page(admin, found.feed_url, found.site_url, found.title, found, Errors())


@dataclass(frozen=True, slots=True)
class _PostPreview:
    title: str
    published: datetime | None
    text: str


def _preview_page(
    admin: Admin,
    feed_url: str,
    site_url: str | None,
    title: str,
    found: Discovery | None,
    errors: Errors,
    chosen: tuple[str, ...] = (),
    excerpts: bool = False,
    extract: bool = False,
) -> Response:
    posts = [
        _PostPreview(p.title, p.published, plain_text(p.content_html, limit=200))
        for p in (found.posts[:5] if found else [])
    ]
    summaries_only = bool(
        found
        and found.posts
        and not any(p.summary_html for p in found.posts)
        and all(len(plain_text(p.content_html)) < 600 for p in found.posts)
    )
    return admin.render(
        "admin/preview.html",
        title="Check the blog before adding it",
        section="blogs",
        feed_url=feed_url,
        site_url=site_url or "",
        name=title,
        format=found.format if found else None,
        posts=posts,
        categories=admin.store.categories(),
        chosen=chosen,
        excerpts=excerpts,
        extract=extract or summaries_only,
        errors=errors,
        count=len(found.posts) if found else None,
    )


@action
def add(admin: Admin) -> Done | Response:
    """Save a blog checked in the preview."""
    form = admin.form
    feed_url = web_address(form.line("feed_url", 2000))
    site_url = web_address(form.line("site_url", 2000)) if form.line("site_url") else None
    name = form.line("name", 200)
    chosen = tuple(form.values("category"))
    errors = Errors()
    if feed_url is None:
        raise InputError("the feed's address is missing: start again from 'Add a blog'")
    if not name:
        errors.add("name", "Enter the name to show for the blog")
    if errors:
        return _preview_page(
            admin,
            feed_url,
            site_url,
            name,
            None,
            errors,
            chosen,
            form.checked("excerpts_only"),
            form.checked("extract_full"),
        )
    names = _category_names(admin, chosen)
    try:
        source = admin.store.add_source(
            feed_url, name, site_url=site_url, categories=names, now=admin.now()
        )
    except SourceExistsError as exc:
        errors.add("name", str(exc)[:1].upper() + str(exc)[1:])
        return _preview_page(admin, feed_url, site_url, name, None, errors, chosen)
    source = admin.store.update_source(
        source.id,
        excerpts_only=form.checked("excerpts_only"),
        extract_full=form.checked("extract_full"),
    )
    return Done(
        f"Added the blog {source.title} ({source.url})",
        admin.paths.admin(f"blogs/{source.id}"),
        f"Added {source.title}. It is due to be fetched now: use 'Fetch now' to fetch it "
        "straight away.",
    )


def _category_names(admin: Admin, ids: tuple[str, ...]) -> list[str]:
    by_id = {str(c.id): c.name for c in admin.store.categories()}
    return [by_id[i] for i in ids if i in by_id]


# --- one blog --------------------------------------------------------------------------


def _blog_page(
    admin: Admin, source: Source, errors: Errors | None = None, **values: Any
) -> Response:
    now = admin.now()
    latest = admin.store.latest_published().get(source.id)
    health = assess(source, latest, now)
    rules = admin.store.filters_of(source.id)
    counts = admin.store.left_out_counts(source.id)
    categories = admin.store.categories()
    return admin.render(
        "admin/blog.html",
        title=source.title,
        section="blogs",
        blog=source,
        health=health,
        now=now,
        categories=categories,
        chosen=[str(c.id) for c in categories if c.name in source.categories],
        rules=[(r, describe(r), counts.get(r.id, 0)) for r in rules],
        posts=admin.store.posts_of(source.id, limit=20),
        errors=errors or Errors(),
        values=values,
    )


@page
def blog(admin: Admin) -> Response:
    return _blog_page(admin, _blog(admin))


@action
def edit(admin: Admin) -> Done | Response:
    source = _blog(admin)
    form = admin.form
    name = form.line("name", 200)
    if not name:
        errors = Errors()
        errors.add("name", "Enter the name to show for the blog")
        return _blog_page(admin, source, errors)
    chosen = tuple(form.values("category"))
    names = _category_names(admin, chosen)
    with admin.store.db.transaction():
        admin.store.set_source_categories(source.id, names)
        after = admin.store.update_source(
            source.id,
            title=name,
            excerpts_only=form.checked("excerpts_only"),
            extract_full=form.checked("extract_full"),
        )
    changes = []
    if after.title != source.title:
        changes.append(f"name from {source.title!r} to {after.title!r}")
    if after.categories != source.categories:
        changes.append("categories to " + (", ".join(after.categories) or "none"))
    if after.excerpts_only != source.excerpts_only:
        changes.append("excerpts only" if after.excerpts_only else "full text")
    if after.extract_full != source.extract_full:
        changes.append(
            "whole articles from the website" if after.extract_full else "the feed's text"
        )
    what = (
        f"Changed {after.title}: " + "; ".join(changes)
        if changes
        else f"Saved {after.title} (nothing changed)"
    )
    return Done(what, admin.paths.admin(f"blogs/{source.id}"))


async def _fetch(admin: Admin, source_id: int) -> PassReport:
    ingest = Ingest(admin.store, admin.config)
    try:
        return await ingest.run_pass(source_ids=[source_id], force=True)
    finally:
        ingest.close()


@action
def fetch_now(admin: Admin) -> Done:
    """Fetch one blog now, through the same pipeline as every fetch."""
    source = _blog(admin)
    here = admin.paths.admin(f"blogs/{source.id}")
    if not source.enabled:
        raise InputError(f"{source.title} is not being fetched: enable it first")
    report = admin.wait(_fetch, admin, source.id)
    if not report.sources:
        again = admin.store.source(source.id)
        if again.retry_after and again.retry_after > admin.now():
            message = "Not fetched: the blog's server asked us to wait until " + (
                f"{again.retry_after:%H:%M} UTC"
            )
        else:
            message = "Not fetched: a worker is fetching it right now. Look again in a minute."
        return Done(f"Tried to fetch {source.title} now: {message}", here, message)
    line = report.sources[0]
    if line.error:
        message = f"Fetched {source.title}: it failed. {sentence(line.error)}"
    else:
        message = (
            f"Fetched {source.title}: {line.new} new, {line.updated} updated, "
            f"{line.unchanged} unchanged."
        )
    return Done(message, here)


@action
def disable(admin: Admin) -> Done:
    source = admin.store.update_source(admin.param("id"), enabled=False)
    return Done(
        f"Disabled {source.title}: it is no longer fetched", admin.paths.admin(f"blogs/{source.id}")
    )


@action
def enable(admin: Admin) -> Done:
    source = admin.store.update_source(admin.param("id"), enabled=True, next_due_at=admin.now())
    return Done(
        f"Enabled {source.title}: it is due to be fetched now",
        admin.paths.admin(f"blogs/{source.id}"),
    )


@page
def delete_form(admin: Admin) -> Response:
    source = _blog(admin)
    shown = admin.store.blog_activity().get(source.id)
    return admin.render(
        "admin/delete.html",
        title=f"Delete {source.title}",
        section="blogs",
        blog=source,
        posts=shown.posts if shown else 0,
    )


@action
def delete(admin: Admin) -> Done | Response:
    source = _blog(admin)
    choice = admin.form.text("posts", 10)
    if choice not in ("keep", "remove"):
        errors = Errors()
        errors.add("posts", "Select whether to keep the blog's posts")
        shown = admin.store.blog_activity().get(source.id)
        return admin.render(
            "admin/delete.html",
            title=f"Delete {source.title}",
            section="blogs",
            blog=source,
            posts=shown.posts if shown else 0,
            errors=errors,
        )
    if choice == "keep":
        admin.store.retire_source(source.id)
        return Done(
            f"Retired {source.title}: no longer fetched or listed, its posts kept",
            admin.paths.admin("blogs"),
        )
    admin.store.remove_source(source.id)
    return Done(f"Deleted {source.title} and its posts ({source.url})", admin.paths.admin("blogs"))


# --- filters ---------------------------------------------------------------------------


@action
def add_filter(admin: Admin) -> Done | Response:
    source = _blog(admin)
    form = admin.form
    errors = Errors()
    action_value = form.text("filter_action", 20)
    field_value = form.text("filter_field", 20)
    words = [w.strip() for w in form.line("filter_words", 500).split(",") if w.strip()]
    if action_value not in {a.value for a in FilterAction}:
        errors.add("filter_action", "Select whether to show only these posts or leave them out")
    if field_value not in {f.value for f in FilterField}:
        errors.add("filter_field", "Select where to look for the words")
    if not words:
        errors.add("filter_words", "Enter a word, or several separated by commas")
    if errors:
        return _blog_page(
            admin,
            source,
            errors,
            filter_action=action_value,
            filter_field=field_value,
            filter_words=form.line("filter_words", 500),
        )
    rule = admin.store.add_filter(
        source.id, FilterAction(action_value), FilterField(field_value), words, admin.now()
    )
    changed = refilter(admin.store, source.id, admin.now())
    return Done(
        f"Added a filter to {source.title}: {describe(rule)} ({changed} posts changed)",
        admin.paths.admin(f"blogs/{source.id}") + "#filters",
    )


@action
def remove_filter(admin: Admin) -> Done:
    source = _blog(admin)
    rule = admin.store.post_filter(admin.param("filter_id"))
    if rule.source_id != source.id:
        raise NotFoundError(f"no such filter: {rule.id}")
    admin.store.remove_filter(rule.id)
    changed = refilter(admin.store, source.id, admin.now())
    return Done(
        f"Removed a filter from {source.title}: {describe(rule)} ({changed} posts changed)",
        admin.paths.admin(f"blogs/{source.id}") + "#filters",
    )
