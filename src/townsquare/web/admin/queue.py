"""The moderation queue: suggested blogs (with their automatic checks), and blog owners'
requests for a takedown or for excerpts only; and the block list.

The curator approves (choosing categories for a blog) or declines with a
reason; either way the person who asked is emailed the decision
(``curation/moderate.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import Response

from ...curation import moderate
from ...curation.checks import check_item
from ...errors import InputError, SourceExistsError
from ...store import ItemKind, ItemState, QueueItem
from ..forms import Errors, web_address
from .context import Admin, Done, action, page

MAX_REASON = 1000


def _item(admin: Admin) -> QueueItem:
    return admin.store.item(admin.param("id"))


@page
def queue(admin: Admin) -> Response:
    decided = admin.query("show") == "decided"
    items = (
        admin.store.queue(ItemState.APPROVED, limit=50)
        + admin.store.queue(ItemState.DECLINED, limit=50)
        if decided
        else admin.store.queue(ItemState.OPEN)
    )
    if decided:
        items.sort(key=lambda i: (i.decided_at or i.created_at, i.id), reverse=True)
    return admin.render(
        "admin/queue.html", title="Queue", section="queue", items=items, decided=decided
    )


def _item_page(
    admin: Admin, item: QueueItem, errors: Errors | None = None, **values: str
) -> Response:
    posts = blog = None
    if item.kind is ItemKind.TAKEDOWN:
        posts = moderate.posts_asked_about(admin.store, admin.config, item.url)
    elif item.kind is ItemKind.EXCERPTS:
        blog = moderate.blog_asked_about(admin.store, admin.config, item.url)
    host = (urlsplit(item.url).hostname or "").lower()
    return admin.render(
        "admin/item.html",
        title=_title(item),
        section="queue",
        item=item,
        posts=posts,
        blog=blog,
        host=host,
        categories=admin.store.categories(),
        values=values,
        errors=errors,
    )


def _title(item: QueueItem) -> str:
    if item.kind is ItemKind.SUGGESTION:
        return "Suggested blog"
    if item.kind is ItemKind.TAKEDOWN:
        return "Request to remove a post"
    return "Request for excerpts only"


@page
def item(admin: Admin) -> Response:
    return _item_page(admin, _item(admin))


@action
def check(admin: Admin) -> Done:
    found = _item(admin)
    if found.kind is not ItemKind.SUGGESTION:
        raise InputError("only suggested blogs are checked")
    admin.wait(check_item, admin.store, admin.config, found.id)
    after = admin.store.item(found.id)
    passed = all(c.passed for c in after.checks)
    return Done(
        f"Checked the suggestion of {found.url}: "
        + ("every check passed" if passed else "a check failed"),
        admin.paths.admin(f"queue/{found.id}"),
    )


@action
def approve(admin: Admin) -> Done | Response:
    found = _item(admin)
    form, now, by = admin.form, admin.now(), admin.username
    here = admin.paths.admin(f"queue/{found.id}")
    if found.kind is ItemKind.SUGGESTION:
        name = form.line("name", 200)
        if not name:
            errors = Errors()
            errors.add("name", "Enter the name to show for the blog")
            return _item_page(admin, found, errors, name=name)
        by_id = {str(c.id): c.name for c in admin.store.categories()}
        try:
            source, emailed = moderate.approve_suggestion(
                admin.store,
                admin.config,
                found,
                by,
                title=name,
                categories=[by_id[i] for i in form.values("category") if i in by_id],
                excerpts_only=form.checked("excerpts_only"),
                extract_full=form.checked("extract_full"),
                now=now,
            )
        except SourceExistsError as exc:
            raise InputError(str(exc)) from None
        return Done(
            f"Approved the suggestion of {found.url}: added {source.title}. {emailed}", here
        )
    if found.kind is ItemKind.TAKEDOWN:
        reason = form.line("reason", MAX_REASON)
        ids = [int(v) for v in form.values("post") if v.isdigit()]
        errors = Errors()
        if not ids:
            errors.add("post", "Select the post to take down")
        if not reason:
            errors.add("reason", "Enter the reason readers will see on the blog's status page")
        if errors:
            return _item_page(admin, found, errors, reason=reason)
        hidden, emailed = moderate.approve_takedown(
            admin.store, admin.config, found, by, post_ids=ids, reason=reason, now=now
        )
        titles = ", ".join(repr(h.post.title) for h in hidden)
        return Done(
            f"Approved the request to remove {found.url}: took down {titles}. {emailed}", here
        )
    blog = moderate.blog_asked_about(admin.store, admin.config, found.url)
    typed = form.line("blog", 2000)
    if typed:
        address = web_address(typed)
        blog = moderate.blog_asked_about(admin.store, admin.config, address) if address else None
        if blog is None:
            errors = Errors()
            errors.add("blog", "No listed blog has this address")
            return _item_page(admin, found, errors, blog=typed)
    if blog is None:
        raise InputError("no listed blog matches the request: give the blog's address")
    source, emailed = moderate.approve_excerpts(
        admin.store, admin.config, found, by, source_id=blog.id, now=now
    )
    return Done(f"Approved the request for excerpts only of {source.title}. {emailed}", here)


@action
def decline(admin: Admin) -> Done | Response:
    found = _item(admin)
    reason = admin.form.line("decline_reason", MAX_REASON)
    if not reason:
        errors = Errors()
        errors.add("decline_reason", "Enter the reason: the person who asked will be told it")
        return _item_page(admin, found, errors)
    block = admin.form.checked("block")
    emailed = moderate.decline(
        admin.store,
        admin.config,
        found,
        admin.username,
        reason=reason,
        block=block,
        now=admin.now(),
    )
    blocked = " and blocked its site" if block else ""
    return Done(
        f"Declined the {found.kind.value} of {found.url}{blocked}: {reason}. {emailed}",
        admin.paths.admin(f"queue/{found.id}"),
    )


# --- the block list --------------------------------------------------------------------


def _blocklist(admin: Admin, errors: Errors | None = None, **values: str) -> Response:
    return admin.render(
        "admin/blocklist.html",
        title="Block list",
        section="queue",
        blocked=admin.store.blocklist(),
        values=values,
        errors=errors,
    )


@page
def blocklist(admin: Admin) -> Response:
    return _blocklist(admin)


@action
def block(admin: Admin) -> Done | Response:
    typed = admin.form.line("host", 300)
    reason = admin.form.line("reason", MAX_REASON)
    address = web_address(typed) if typed else None
    host = (urlsplit(address).hostname or "").lower() if address else ""
    errors = Errors()
    if not host:
        errors.add("host", "Enter a site's address or domain, like spam.example")
    elif admin.store.blocked(host) is not None:
        errors.add("host", f"{host} is already blocked")
    if errors:
        return _blocklist(admin, errors, host=typed, reason=reason)
    admin.store.block(host, reason, admin.now())
    return Done(
        f"Blocked {host}" + (f": {reason}" if reason else ""), admin.paths.admin("blocklist")
    )


@action
def unblock(admin: Admin) -> Done:
    gone = admin.store.unblock(admin.param("id"))
    return Done(f"Unblocked {gone.host}", admin.paths.admin("blocklist"))
