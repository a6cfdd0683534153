"""What every page needs to know about the blogs and categories, read once per revision.

``SiteIndex`` is a snapshot: the blogs by id and slug, the categories by
slug and name, which blogs are in each category, and how many posts each
blog has.  Pages look slugs up here, so a bad slug costs no query.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CategoryNotFoundError, SourceNotFoundError
from ..model import Category, Source
from ..store import BlogActivity, Store


@dataclass(frozen=True, slots=True)
class SiteIndex:
    revision: int
    blogs: tuple[Source, ...]  # by name
    categories: tuple[Category, ...]  # in the curator's order
    activity: dict[int, BlogActivity]
    _by_id: dict[int, Source]
    _by_slug: dict[str, Source]
    _categories_by_slug: dict[str, Category]
    _categories_by_name: dict[str, Category]

    @classmethod
    def load(cls, store: Store, revision: int) -> SiteIndex:
        blogs = tuple(store.sources())
        categories = tuple(store.categories())
        return cls(
            revision=revision,
            blogs=blogs,
            categories=categories,
            activity=store.blog_activity(),
            _by_id={b.id: b for b in blogs},
            _by_slug={b.slug: b for b in blogs},
            _categories_by_slug={c.slug: c for c in categories},
            _categories_by_name={c.name: c for c in categories},
        )

    def blog(self, source_id: int) -> Source:
        try:
            return self._by_id[source_id]
        except KeyError:
            raise SourceNotFoundError(source_id) from None

    def blog_by_slug(self, slug: str) -> Source:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise SourceNotFoundError(slug) from None

    def category_by_slug(self, slug: str) -> Category:
        try:
            return self._categories_by_slug[slug]
        except KeyError:
            raise CategoryNotFoundError(slug) from None

    def categories_of(self, blog: Source) -> list[Category]:
        by_name = self._categories_by_name
        return [by_name[n] for n in blog.categories if n in by_name]

    @property
    def listed(self) -> list[Source]:
        """The blogs the site lists: not the retired ones (whose posts are kept)."""
        return [b for b in self.blogs if not b.retired]

    def blogs_in(self, category: Category) -> list[Source]:
        return [b for b in self.listed if category.name in b.categories]

    def uncategorised(self) -> list[Source]:
        return [b for b in self.listed if not b.categories]
