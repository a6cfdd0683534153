"""Categories: create, rename, put in order, delete.

A category keeps its address (slug) when renamed, so links to it keep
working.  Deleting one leaves its blogs listed, in their other categories
or among "Other blogs".
"""

from __future__ import annotations

from starlette.responses import Response

from ...errors import InputError
from ..forms import Errors
from .context import Admin, Done, action, page

MAX_NAME = 100


def _list(admin: Admin, errors: Errors | None = None, name: str = "") -> Response:
    return admin.render(
        "admin/categories.html",
        title="Categories",
        section="categories",
        categories=admin.store.categories(),
        name=name,
        errors=errors,
    )


@page
def categories(admin: Admin) -> Response:
    return _list(admin)


@action
def create(admin: Admin) -> Done | Response:
    name = admin.form.line("name", MAX_NAME)
    try:
        made = admin.store.create_category(name)
    except InputError as exc:
        errors = Errors()
        errors.add("name", str(exc)[:1].upper() + str(exc)[1:])
        return _list(admin, errors, name)
    return Done(f"Created the category {made.name}", admin.paths.admin("categories"))


@page
def rename_form(admin: Admin) -> Response:
    found = admin.store.category(admin.param("id"))
    return admin.render(
        "admin/rename.html",
        title=f"Rename {found.name}",
        section="categories",
        category=found,
        name=found.name,
    )


@action
def rename(admin: Admin) -> Done | Response:
    found = admin.store.category(admin.param("id"))
    name = admin.form.line("name", MAX_NAME)
    try:
        after = admin.store.rename_category(found.id, name)
    except InputError as exc:
        errors = Errors()
        errors.add("name", str(exc)[:1].upper() + str(exc)[1:])
        return admin.render(
            "admin/rename.html",
            title=f"Rename {found.name}",
            section="categories",
            category=found,
            name=name,
            errors=errors,
        )
    return Done(
        f"Renamed the category {found.name} to {after.name}", admin.paths.admin("categories")
    )


@action
def move(admin: Admin) -> Done:
    found = admin.store.category(admin.param("id"))
    up = admin.form.text("direction", 10) == "up"
    admin.store.move_category(found.id, -1 if up else 1)
    return Done(
        f"Moved the category {found.name} {'up' if up else 'down'}", admin.paths.admin("categories")
    )


@page
def delete_form(admin: Admin) -> Response:
    found = admin.store.category(admin.param("id"))
    blogs = admin.store.sources(category_id=found.id)
    return admin.render(
        "admin/category_delete.html",
        title=f"Delete {found.name}",
        section="categories",
        category=found,
        blogs=blogs,
    )


@action
def delete(admin: Admin) -> Done:
    found = admin.store.delete_category(admin.param("id"))
    return Done(f"Deleted the category {found.name}", admin.paths.admin("categories"))
