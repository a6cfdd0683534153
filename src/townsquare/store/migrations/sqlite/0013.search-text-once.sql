-- The search index no longer keeps its own copy of each post's text (issue 3).
-- depends: 0012.search-merge
--
-- FTS5 kept a copy of every post's text beside its index: a third of the database
-- (200 MB of 606 MB for 1,000 blogs), and a large part of what a first pass
-- writes.  The text is made from the post's HTML (``text_of``), so the index now
-- reads it from there when a search asks for a snippet, through the SQL function
-- ``search_text``, which the store adds to each of its connections.
--
-- What else each row was indexed with (title, blog name, author and tags: small) is
-- kept in search_rows, and a post is in the index exactly when it has a row there.
-- FTS5 takes a row out of its index by reading what it was indexed with, so each
-- change takes the row out first, while that is still at hand: before a post's HTML
-- changes or the post goes, and before search_rows is brought up to date for a hidden
-- post, a renamed blog or a change of categories.  ``text_of`` must therefore give
-- what it gave when a post was indexed: a change to it needs a migration that
-- indexes every post again.
DROP TRIGGER post_search_delete;
DROP TRIGGER post_search_edit;
DROP TRIGGER post_search_visibility;
DROP TRIGGER post_search_blog_name;
DROP TRIGGER post_search_category_added;
DROP TRIGGER post_search_category_removed;
DROP TABLE post_search;
-- The posts the old index held are indexed again when the store is next opened.
DELETE FROM search_pending;

CREATE TABLE search_rows (
    search_key INTEGER PRIMARY KEY,  -- the row's rowid in post_search
    post_id INTEGER NOT NULL UNIQUE,
    title TEXT NOT NULL,
    blog TEXT NOT NULL,
    author TEXT NOT NULL,
    tags TEXT NOT NULL
);

-- What FTS5 reads; source_id picks a blog's rows for the triggers below.
CREATE VIEW post_search_content AS
SELECT r.search_key, r.title, search_text(p.content_html) AS body, r.blog, r.author, r.tags,
       p.source_id
FROM search_rows r JOIN posts p ON p.id = r.post_id;

CREATE VIRTUAL TABLE post_search USING fts5 (
    title, body, blog, author, tags,
    tokenize = 'porter unicode61 remove_diacritics 2',
    content = 'post_search_content', content_rowid = 'search_key'
);
INSERT INTO post_search (post_search, rank) VALUES ('hashsize', 16777216);
INSERT INTO post_search (post_search, rank) VALUES ('automerge', 8);

-- A post that goes, or whose indexed parts change, leaves the index while its
-- HTML is still there to read; the store indexes an edited post again.
CREATE TRIGGER post_search_delete BEFORE DELETE ON posts BEGIN
    DELETE FROM post_search
    WHERE rowid = (SELECT search_key FROM search_rows WHERE post_id = old.id);
    DELETE FROM search_rows WHERE post_id = old.id;
END;

CREATE TRIGGER post_search_edit BEFORE UPDATE OF title, author, content_html, published, source_id
ON posts BEGIN
    DELETE FROM post_search
    WHERE rowid = (SELECT search_key FROM search_rows WHERE post_id = old.id);
    DELETE FROM search_rows WHERE post_id = old.id;
END;

-- A post waiting for the index is not in it, however it came to wait.
CREATE TRIGGER search_pending_out AFTER INSERT ON search_pending
WHEN EXISTS (SELECT 1 FROM search_rows WHERE post_id = new.post_id) BEGIN
    DELETE FROM post_search
    WHERE rowid = (SELECT search_key FROM search_rows WHERE post_id = new.post_id);
    DELETE FROM search_rows WHERE post_id = new.post_id;
END;

-- Hiding a post, or marking it a duplicate, changes its tags: out with the old row,
-- in with the new.
CREATE TRIGGER post_search_visibility AFTER UPDATE OF hidden_reason, duplicate_of ON posts
WHEN (new.hidden_reason IS NULL) IS NOT (old.hidden_reason IS NULL)
    OR (new.duplicate_of IS NULL) IS NOT (old.duplicate_of IS NULL) BEGIN
    DELETE FROM post_search
    WHERE rowid = (SELECT search_key FROM search_rows WHERE post_id = new.id);
    UPDATE search_rows
    SET tags = (SELECT v.tags FROM post_search_source v WHERE v.post_id = new.id)
    WHERE post_id = new.id;
    INSERT INTO post_search (rowid, title, body, blog, author, tags)
    SELECT search_key, title, body, blog, author, tags FROM post_search_content
    WHERE search_key = (SELECT search_key FROM search_rows WHERE post_id = new.id);
END;

-- A blog's name and categories are in each of its posts' rows.
CREATE TRIGGER post_search_blog_name AFTER UPDATE OF title ON sources
WHEN new.title IS NOT old.title BEGIN
    DELETE FROM post_search WHERE post_search MATCH ('tags : s' || new.id);
    UPDATE search_rows SET blog = new.title
    WHERE post_id IN (SELECT id FROM posts WHERE source_id = new.id);
    INSERT INTO post_search (rowid, title, body, blog, author, tags)
    SELECT search_key, title, body, blog, author, tags FROM post_search_content
    WHERE source_id = new.id;
END;

CREATE TRIGGER post_search_category_added AFTER INSERT ON source_categories BEGIN
    DELETE FROM post_search WHERE post_search MATCH ('tags : s' || new.source_id);
    UPDATE search_rows
    SET tags = (SELECT v.tags FROM post_search_source v WHERE v.post_id = search_rows.post_id)
    WHERE post_id IN (SELECT id FROM posts WHERE source_id = new.source_id);
    INSERT INTO post_search (rowid, title, body, blog, author, tags)
    SELECT search_key, title, body, blog, author, tags FROM post_search_content
    WHERE source_id = new.source_id;
END;

CREATE TRIGGER post_search_category_removed AFTER DELETE ON source_categories BEGIN
    DELETE FROM post_search WHERE post_search MATCH ('tags : s' || old.source_id);
    UPDATE search_rows
    SET tags = (SELECT v.tags FROM post_search_source v WHERE v.post_id = search_rows.post_id)
    WHERE post_id IN (SELECT id FROM posts WHERE source_id = old.source_id);
    INSERT INTO post_search (rowid, title, body, blog, author, tags)
    SELECT search_key, title, body, blog, author, tags FROM post_search_content
    WHERE source_id = old.source_id;
END;
