"""Takedowns: hiding a post with a reason, undoing it, and the list of posts taken down.

A post taken down leaves every page, feed and list, its page answers 410
Gone, and no later fetch brings it back (the store keeps matching it by
identity and leaves its hidden state alone).  The reason is shown on the
blog's public status page.
"""

from __future__ import annotations

from starlette.responses import Response

from ...errors import InputError
from ...store import HiddenPost
from ..forms import Errors
from .context import Admin, Done, action, page

MAX_REASON = 500


def _hide_page(admin: Admin, item: HiddenPost, errors: Errors, reason: str) -> Response:
    return admin.render(
        "admin/hide.html",
        title=f"Take down {item.post.title}",
        section="takedowns",
        item=item,
        reason=reason,
        errors=errors,
    )


@page
def hide_form(admin: Admin) -> Response:
    item = admin.store.any_post(admin.param("id"))
    return _hide_page(admin, item, Errors(), "")


@action
def hide(admin: Admin) -> Done | Response:
    item = admin.store.any_post(admin.param("id"))
    reason = admin.form.line("reason", MAX_REASON)
    if item.hidden_by == "curator":
        raise InputError(f"{item.post.title!r} is already taken down")
    if not reason:
        errors = Errors()
        errors.add("reason", "Enter the reason readers will see on the blog's status page")
        return _hide_page(admin, item, errors, reason)
    admin.store.hide_post(item.post.id, reason, admin.now())
    return Done(
        f"Took down {item.post.title!r} from {item.post.source_title}: {reason}",
        admin.paths.admin(f"blogs/{item.post.source_id}"),
    )


@action
def show(admin: Admin) -> Done:
    item = admin.store.any_post(admin.param("id"))
    if item.hidden_by != "curator":
        raise InputError(f"{item.post.title!r} is not taken down")
    admin.store.show_post(item.post.id)
    return Done(
        f"Showed {item.post.title!r} from {item.post.source_title} again (takedown undone)",
        admin.paths.admin(f"blogs/{item.post.source_id}"),
    )


@page
def takedowns(admin: Admin) -> Response:
    return admin.render(
        "admin/takedowns.html",
        title="Takedowns",
        section="takedowns",
        items=admin.store.taken_down(limit=200),
    )
