"""The store: everything Townsquare keeps, behind one class.

``Store`` is split by domain (``sources``, ``categories``, ``posts``,
``subscribers``, ``revision``, ``websub``, ``filters``, ``accounts``, ``queue``,
``service``) into mixins over one ``Database``; the same code runs on SQLite and
PostgreSQL.
Open it with ``open_store(url)``, which also brings the schema up to date.
"""

from __future__ import annotations

from .accounts import AccountStore, AuditEntry, Curator, Session
from .db import Database, connect
from .filters import FilterStore
from .posts import (
    BlogActivity,
    FetchLogEntry,
    FilterablePost,
    HiddenPost,
    LeftOutPost,
    LoggedFetch,
    PostStore,
)
from .queue import Blocked, Check, FoundFeed, ItemKind, ItemState, QueueItem, QueueStore
from .revision import Revision, RevisionStore
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
    "FilterablePost",
    "FoundFeed",
    "HiddenPost",
    "ItemKind",
    "ItemState",
    "LeftOutPost",
    "LoggedFetch",
    "QueueItem",
    "Revision",
    "ServiceFigures",
    "Session",
    "Store",
    "open_store",
]


class Store(
    SubscriberStore,
    PostStore,
    FilterStore,
    RevisionStore,
    AccountStore,
    QueueStore,
    WebSubStore,
    ServiceStore,
):
    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    return Store(connect(url))
