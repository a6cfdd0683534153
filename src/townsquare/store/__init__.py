"""The store: everything Townsquare keeps, behind one class.

``Store`` is split by domain (``sources``, ``categories``, ``posts``,
``subscribers``, ``revision``, ``websub``, ``filters``, ``accounts``, ``queue``,
``search``, ``service``) into mixins over one ``Database``; the same code runs on
SQLite and PostgreSQL.  Open it with ``open_store(url)``, which also brings the schema
up to date (and, on SQLite, builds the search index for posts stored before there was one).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager

from .accounts import AccountStore, AuditEntry, Curator, Session
from .db import Database, connect
from .filters import FilterStore
from .posts import (
    BlogActivity,
    FetchLogEntry,
    FetchSave,
    FilterablePost,
    HiddenPost,
    LeftOutPost,
    LoggedFetch,
)
from .queue import Blocked, Check, FoundFeed, ItemKind, ItemState, QueueItem, QueueStore
from .revision import Revision, RevisionStore
from .search import SearchPage, SearchRow, SearchStore
from .service import ServiceFigures, ServiceStore
from .subscribers import SubscriberStore
from .websub import WebSubStore

__all__ = [
    "AuditEntry",
    "Blocked",
    "BlogActivity",
    "Check",
    "Curator",
    "FetchLogEntry",
    "FetchSave",
    "FilterablePost",
    "FoundFeed",
    "HiddenPost",
    "ItemKind",
    "ItemState",
    "LeftOutPost",
    "LoggedFetch",
    "QueueItem",
    "Revision",
    "SearchPage",
    "SearchRow",
    "ServiceFigures",
    "Session",
    "Store",
    "open_store",
]


class Store(
    SubscriberStore,
    SearchStore,
    FilterStore,
    RevisionStore,
    AccountStore,
    QueueStore,
    WebSubStore,
    ServiceStore,
):
    def __init__(self, db: Database) -> None:
        self.db = db

    def snapshot(self) -> AbstractContextManager[None]:
        """``with store.snapshot():`` every read sees the store as it was at the first one,
        while writers elsewhere carry on (for ``townsquare build``, which reads a lot)."""
        return self.db.snapshot()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    store = Store(connect(url))
    if store.search_index_missing():
        # Once, after an upgrade that changed the index: say so, as it takes a while.
        print(
            "Indexing every post for search, once after an upgrade "
            "(about half a second for each 1,000 posts)...",
            file=sys.stderr,
        )
        store.rebuild_search_index()
    elif store.search_pending():  # left by a pass that stopped before indexing them
        store.index_pending()
    return store
