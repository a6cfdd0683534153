-- Larger pages in the search index (issue 3).
-- depends: 0014.body-hash
--
-- FTS5 writes each word's list of posts in pages of at most 'pgsz' bytes (4,050 by
-- default), each a row of post_search_data, and merging segments reads and writes them
-- all again.  At 16,000 bytes, building the index of 1,000 blogs (20,000 posts) takes a
-- tenth less time, and searches of 100,000 posts take as long as before (see
-- docs/performance.md).  Segments written before keep their pages; both kinds are read.
INSERT INTO post_search (post_search, rank) VALUES ('pgsz', 16000);
