"""Keeping the search index in step with the posts.

On SQLite the index is the FTS5 table ``post_search`` (migrations 0008 and
0013), and ``search_rows`` holds what each post in it was indexed with, but for
its text, which FTS5 reads from the post's HTML (``search_text``) when it needs it.
Only the text needs Python (``text_of`` the HTML, made while cleaning, in
the worker processes), so the store marks a post as waiting for the index
whenever it writes the post's text, after an insert or an edit, and
``index_pending`` writes the rows of a batch of them a little later
(migration 0011 says why), each under a search key given out as it is
indexed (``_new_keys``, migration 0016).
Triggers do the rest: an edit or a deletion takes the old row out, hiding a post or
marking it a duplicate tags its row ``hidden`` (and showing it again untags
it), and renaming a blog or changing its categories updates its posts' rows.

On PostgreSQL the database keeps ``posts.search_vector`` up to date by
itself, and there is nothing to do here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from ..model import CleanPost
from .db import Row
from .search_text import search_text, searchable
from .sources import SourceStore

_CHUNK = 400
_REBUILD_BATCH = 2_000
_REBUILD_CACHE_KB = 256_000
_DEFAULT_CACHE = -2_000  # SQLite's own default (2 MB)

# A search key is a minute and one of its slots: -(minute * SLOTS + slot), so the newest
# come first in ascending order (migration 0016).
SLOTS = 64
_LOOK_BACK = 256  # minutes whose slots are looked up at once, when a crowd spills over

_SOURCE_ROWS = """SELECT search_key, post_id, title, content_html, blog, author, tags
    FROM post_search_source"""


class SearchIndex(SourceStore):
    def _index_later(
        self, written: Mapping[int, CleanPost], later: dict[int, tuple[str, bytes]]
    ) -> None:
        """Mark posts just inserted or edited as waiting for the search index (in the
        transaction that wrote them, so a crash loses none), and keep their content
        hashes and texts in ``later`` for ``index_pending``."""
        if self.db.dialect != "sqlite" or not written:
            return
        self.db.executemany(
            "INSERT OR IGNORE INTO search_pending (post_id) VALUES (?)", [(i,) for i in written]
        )
        later.update((i, (post.content_hash, post.text_utf8)) for i, post in written.items())

    def index_pending(self, texts: Mapping[int, tuple[str, bytes]] | None = None) -> int:
        """Index every post waiting for the search index, in one transaction; gives how
        many.  ``texts`` holds the content hash and text (UTF-8) of posts whose text is at hand;
        the others' (left by a crash, or edited since by another process) are made
        again from their HTML."""
        if self.db.dialect != "sqlite":
            return 0
        texts = texts or {}
        with self.db.transaction():
            rows = self.db.fetchall(
                """SELECT v.search_key, v.post_id, v.title, v.blog, v.author, v.tags,
                          p.content_hash
                   FROM post_search_source v JOIN posts p ON p.id = v.post_id
                   WHERE v.post_id IN (SELECT post_id FROM search_pending)"""
            )
            if not rows:
                return 0
            chosen: dict[int, bytes | None] = {}
            for r in rows:
                content_hash, text = texts.get(r["post_id"], ("", b""))
                fresh = content_hash == r["content_hash"]
                chosen[r["post_id"]] = searchable(text) if fresh else None
            missing = [i for i, text in chosen.items() if text is None]
            for chunk in _chunks(missing):
                marks = ",".join("?" * len(chunk))
                for r in self.db.fetchall(
                    f"SELECT id, content_html FROM posts WHERE id IN ({marks})", chunk
                ):
                    chosen[r["id"]] = search_text(r["content_html"]).encode()
            self._write_rows(rows, chosen)
            self.db.execute("DELETE FROM search_pending")
        return len(rows)

    def search_pending(self) -> bool:
        """True when posts are waiting for the search index."""
        if self.db.dialect != "sqlite":
            return False
        return self.db.fetchone("SELECT 1 AS x FROM search_pending LIMIT 1") is not None

    def _write_rows(self, rows: list[Row], texts: Mapping[int, bytes | None]) -> None:
        """Index ``rows``, each with its text from ``texts``, in UTF-8 and no longer than
        ``search_text`` gives."""
        # A post waiting for the index is not in it (migration 0013's triggers).
        keys = self._new_keys(rows)
        # In key order: FTS5 writes out what it holds whenever a rowid comes in lower
        # than the last, and a segment per post would make indexing several times slower.
        rows.sort(key=lambda r: keys[r["post_id"]])
        self.db.executemany(
            "INSERT INTO search_rows (search_key, post_id, title, blog, author, tags)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (keys[r["post_id"]], r["post_id"], r["title"], r["blog"], r["author"], r["tags"])
                for r in rows
            ],
        )
        self.db.executemany(
            "INSERT INTO post_search (rowid, title, body, blog, author, tags)"
            f" VALUES (?, ?, {self.db.utf8_text}, ?, ?, ?)",
            [
                (
                    keys[r["post_id"]],
                    r["title"],
                    texts[r["post_id"]] or b"",
                    r["blog"],
                    r["author"],
                    r["tags"],
                )
                for r in rows
            ],
        )

    def _new_keys(self, rows: Sequence[Row]) -> dict[int, int]:
        """A search key for each row's post (by post id): the next free slot of the minute
        it was published, in the order the posts were stored.  When a minute's ``SLOTS``
        are taken (a feed of undated posts, all first seen in the same minute), the
        post takes a slot of the minute before, and so on back."""
        minutes = {r["post_id"]: _minute(r["search_key"]) for r in rows}
        taken: dict[int, int] = {}  # minute -> the next free slot
        self._slots_taken(sorted(set(minutes.values())), taken)
        # minute -> the latest minute at or before it with a free slot, when it is full:
        # each post of a crowd starts where the one before found room.
        room: dict[int, int] = {}
        keys = {}
        for post_id in sorted(minutes, key=lambda i: (minutes[i], i)):
            published = minutes[post_id]
            minute = room.get(published, published)
            while taken[minute] >= SLOTS:
                minute -= 1
                if minute not in taken:
                    self._slots_taken(list(range(minute, minute - _LOOK_BACK, -1)), taken)
            room[published] = minute
            keys[post_id] = -(minute * SLOTS + taken[minute])
            taken[minute] += 1
        return keys

    def _slots_taken(self, minutes: list[int], taken: dict[int, int]) -> None:
        """Put each minute's next free slot in ``taken``: the one after the last taken.
        (A slot below that, freed by a post that left the index, stays free.)"""
        for r in self.db.fetchall(
            f"""SELECT m.value AS minute,
                      (SELECT min(search_key) FROM search_rows
                       WHERE search_key BETWEEN -(m.value * {SLOTS} + {SLOTS - 1})
                                            AND -(m.value * {SLOTS})) AS last
               FROM json_each(?) m""",
            (json.dumps(minutes),),
        ):
            last = r["last"]
            taken.setdefault(int(r["minute"]), 0 if last is None else -last % SLOTS + 1)

    def search_index_missing(self) -> bool:
        """True when there are posts but no search index (a database made before search,
        or before migration 0013)."""
        if self.db.dialect != "sqlite":
            return False
        return (
            self.db.fetchone("SELECT 1 AS x FROM posts LIMIT 1") is not None
            and self.db.fetchone("SELECT 1 AS x FROM search_rows LIMIT 1") is None
        )

    def rebuild_search_index(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every post afresh, in one transaction; gives the number of posts."""
        if self.db.dialect != "sqlite":
            return self._count_all_posts()
        total = self._count_all_posts()
        done = last = 0
        # Merging segments as they fill up, as usual, would rewrite the index many
        # times over: merge once, at the end, with a page cache big enough for it.
        self.db.execute(f"PRAGMA cache_size = -{_REBUILD_CACHE_KB}")
        with self.db.transaction():
            # Put back after: migration 0012's setting.
            merging = self.db.fetchone("SELECT v FROM post_search_config WHERE k = 'automerge'")
            assert merging is not None
            self.db.execute("INSERT INTO post_search (post_search) VALUES ('delete-all')")
            self.db.execute("DELETE FROM search_rows")
            self.db.execute("DELETE FROM search_pending")
            self.db.execute("INSERT INTO post_search (post_search, rank) VALUES ('automerge', 0)")
            while True:
                rows = self.db.fetchall(
                    f"{_SOURCE_ROWS} WHERE post_id > ? ORDER BY post_id LIMIT ?",
                    (last, _REBUILD_BATCH),
                )
                if not rows:
                    break
                last = rows[-1]["post_id"]
                self._write_rows(
                    rows, {r["post_id"]: search_text(r["content_html"]).encode() for r in rows}
                )
                done += len(rows)
                if progress:
                    progress(done, total)
            self.db.execute(
                "INSERT INTO post_search (post_search, rank) VALUES ('automerge', ?)",
                (merging["v"],),
            )
            self.db.execute("INSERT INTO post_search (post_search) VALUES ('optimize')")
        self.db.execute(f"PRAGMA cache_size = {_DEFAULT_CACHE}")
        return done

    def _count_all_posts(self) -> int:
        row = self.db.fetchone("SELECT count(*) AS n FROM posts")
        assert row is not None
        return int(row["n"])


def _minute(post_key: int) -> int:
    """The minute a post was published, from ``posts.search_key`` (migration 0008)."""
    return -post_key >> 32


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
