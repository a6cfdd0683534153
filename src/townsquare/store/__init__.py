"""The store: everything Townsquare keeps, behind one class.

``Store`` is split by domain (``sources``, ``categories``, ``posts``,
``search``) into mixins over one ``Database``; the same code runs on SQLite
and PostgreSQL.  Open it with ``open_store(url)``, which also brings the
schema up to date (and, on SQLite, builds the search index for posts stored
before there was one).
"""

from __future__ import annotations

from .db import Database, connect
from .posts import FetchLogEntry
from .search import SearchPage, SearchRow, SearchStore

__all__ = ["FetchLogEntry", "SearchPage", "SearchRow", "Store", "open_store"]


class Store(SearchStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    store = Store(connect(url))
    if store.search_index_missing():
        store.rebuild_search_index()
    return store
