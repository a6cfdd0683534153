-- Writing the search index faster (issue 3).
-- depends: 0009.service
--
-- FTS5 holds new rows in memory and writes them out as a segment when it holds
-- more than 'hashsize' bytes (1 MB by default), or at a commit or savepoint.  The
-- store indexes a pass's posts a group of blogs at a time, in rowid order, so
-- 16 MB lets each group make one large segment instead of many small ones that
-- must be merged later: about a fifth less work to index the same posts.
INSERT INTO post_search (post_search, rank) VALUES ('hashsize', 16777216);
