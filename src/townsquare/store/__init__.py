"""The store: everything Townsquare keeps, behind one class.

``Store`` is split by domain (``sources``, ``categories``, ``posts``,
``revision``, ``service``) into mixins over one ``Database``; the same code runs on
SQLite and PostgreSQL.
Open it with ``open_store(url)``, which also brings the schema up to date.
"""

from __future__ import annotations

from .db import Database, connect
from .posts import BlogActivity, FetchLogEntry, LeftOutPost, LoggedFetch, PostStore
from .revision import Revision, RevisionStore
from .service import ServiceFigures, ServiceStore

__all__ = [
    "BlogActivity",
    "FetchLogEntry",
    "LeftOutPost",
    "LoggedFetch",
    "Revision",
    "ServiceFigures",
    "Store",
    "open_store",
]


class Store(PostStore, RevisionStore, ServiceStore):
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
