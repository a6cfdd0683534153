-- Posts stored but not yet in the search index (issue 3).
-- depends: 0010.search-write
--
-- A large pass indexes its posts in batches of a few thousand, sorted by search key,
-- a second or more after storing them: FTS5 indexes a big sorted batch at a fraction
-- of the cost of many small ones, and the one writer stores the next blogs meanwhile.
-- A post waits here, in the transaction that stored it, until its batch is indexed;
-- one left by a crash is indexed when the store is next opened.
CREATE TABLE search_pending (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE
);
