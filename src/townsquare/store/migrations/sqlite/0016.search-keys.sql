-- Smaller search keys (issue 3).
-- depends: 0015.search-pages
--
-- The search index's rowid was the minute a post was published and its id, negated:
-- -(minute * 2^32 + id).  FTS5 writes each post in a word's list as the difference
-- from the post before it, so those differences (about the gap between two posts,
-- times 2^32) took six or seven bytes each: a third of the index.  A key is now the
-- minute and one of its 64 slots, -(minute * 64 + slot), given out by the store as it
-- indexes a post (search_index.py), and search_rows says which post has which key.
-- The index of 1,000 blogs is 109 MB instead of 148 MB, and takes a tenth less work
-- to write.
-- Newest first is still ascending order, and a date range a range of keys.
--
-- Every post is indexed again, under its new key, when the store is next opened.
INSERT INTO post_search (post_search) VALUES ('delete-all');
DELETE FROM search_rows;
DELETE FROM search_pending;
