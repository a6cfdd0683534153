"""Categories: a curator's grouping of sources."""

from __future__ import annotations

from ..errors import CategoryNotFoundError, InputError
from ..model import Category
from ..text import slugify
from .db import Database, Row


def _category(row: Row) -> Category:
    return Category(
        id=row["id"],
        name=row["name"],
        slug=row["slug"],
        position=row["position"],
        source_count=row.get("source_count", 0),
    )


class CategoryStore:
    db: Database

    def ensure_category(self, name: str) -> int:
        """The id of the category with this name, creating it if needed."""
        name = " ".join(name.split())
        row = self.db.fetchone("SELECT id FROM categories WHERE lower(name) = lower(?)", (name,))
        if row:
            return int(row["id"])
        slug = self._free_slug(slugify(name, fallback="category"))
        position = self.db.fetchone("SELECT coalesce(max(position), 0) + 1 AS p FROM categories")
        assert position is not None
        return self.db.insert(
            "INSERT INTO categories (name, slug, position) VALUES (?, ?, ?) RETURNING id",
            (name, slug, position["p"]),
        )

    def categories(self) -> list[Category]:
        rows = self.db.fetchall(
            """SELECT c.id, c.name, c.slug, c.position, count(sc.source_id) AS source_count
               FROM categories c LEFT JOIN source_categories sc ON sc.category_id = c.id
               GROUP BY c.id, c.name, c.slug, c.position
               ORDER BY c.position, c.name"""
        )
        return [_category(r) for r in rows]

    def category_by_slug(self, slug: str) -> Category:
        row = self.db.fetchone(
            "SELECT id, name, slug, position FROM categories WHERE slug = ?", (slug,)
        )
        if row is None:
            raise CategoryNotFoundError(slug)
        return _category(row)

    def category(self, category_id: int) -> Category:
        row = self.db.fetchone(
            "SELECT id, name, slug, position FROM categories WHERE id = ?", (category_id,)
        )
        if row is None:
            raise CategoryNotFoundError(category_id)
        return _category(row)

    def create_category(self, name: str) -> Category:
        """A new category, last in the order; its name must be new."""
        name = " ".join(name.split())
        with self.db.transaction():
            self._check_name_free(name, None)
            return self.category(self.ensure_category(name))

    def rename_category(self, category_id: int, name: str) -> Category:
        """A new name; the address (slug) stays, so links to the category keep working."""
        name = " ".join(name.split())
        with self.db.transaction():
            self.category(category_id)
            self._check_name_free(name, category_id)
            self.db.execute("UPDATE categories SET name = ? WHERE id = ?", (name, category_id))
        return self.category(category_id)

    def move_category(self, category_id: int, step: int) -> None:
        """Move a category one place up (-1) or down (+1) in the order."""
        with self.db.transaction():
            order = [c.id for c in self.categories()]
            if category_id not in order:
                raise CategoryNotFoundError(category_id)
            at = order.index(category_id)
            to = max(0, min(len(order) - 1, at + step))
            order.insert(to, order.pop(at))
            self.db.executemany(
                "UPDATE categories SET position = ? WHERE id = ? AND position <> ?",
                [(n, cid, n) for n, cid in enumerate(order, start=1)],
            )

    def delete_category(self, category_id: int) -> Category:
        """Remove a category; its blogs stay, in their other categories or none."""
        found = self.category(category_id)
        self.db.execute("DELETE FROM categories WHERE id = ?", (category_id,))
        return found

    def _check_name_free(self, name: str, category_id: int | None) -> None:
        if not name:
            raise InputError("enter a name for the category")
        row = self.db.fetchone("SELECT id FROM categories WHERE lower(name) = lower(?)", (name,))
        if row is not None and row["id"] != category_id:
            raise InputError(f"there is already a category called {name!r}")

    def set_source_categories(self, source_id: int, names: list[str]) -> None:
        with self.db.transaction():
            ids = [self.ensure_category(n) for n in names if n.strip()]
            self.db.execute("DELETE FROM source_categories WHERE source_id = ?", (source_id,))
            self.db.executemany(
                "INSERT INTO source_categories (source_id, category_id) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                [(source_id, cid) for cid in ids],
            )

    def _free_slug(self, base: str) -> str:
        taken = {
            r["slug"]
            for r in self.db.fetchall(
                "SELECT slug FROM categories WHERE slug = ? OR slug LIKE ?", (base, base + "-%")
            )
        }
        return _first_free(base, taken)


def _first_free(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
