"""Categories: a curator's grouping of sources."""

from __future__ import annotations

from ..errors import CategoryNotFoundError
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
