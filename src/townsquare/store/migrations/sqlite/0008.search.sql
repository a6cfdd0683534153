-- Full-text search (issue 8): an FTS5 index over each post's title, text, blog name and author.
-- depends: 0007.websub
--
-- The index's rowid is the post's search key: the minute it was published,
-- then its id, negated, so the newest matches come first in FTS5's own
-- (ascending) order without a sort, and a date range is a range of rowids.
-- (Reading FTS5 in descending order can miss rows of phrase queries before
-- SQLite 3.42.)  Post ids must stay below 2^32.
--
-- The store writes a post's text into the index (HTML turned into plain text
-- in Python); the triggers below keep everything else in step: an edited or
-- deleted post leaves the index until the store writes it again; a hidden
-- or duplicate post is tagged 'hidden', which every search leaves out; a
-- renamed blog or a change of categories updates its posts' rows.
ALTER TABLE posts ADD COLUMN search_key INTEGER GENERATED ALWAYS AS
    (-((CAST(strftime('%s', published) AS INTEGER) / 60) * 4294967296 + id)) VIRTUAL;

CREATE VIRTUAL TABLE post_search USING fts5 (
    title, body, blog, author, tags,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- A post's row in the index, but for its text. 'tags' holds tokens for
-- filters: 'all', 's<source id>', 'c<category id>' and 'hidden'.
CREATE VIEW post_search_source AS
SELECT
    p.id AS post_id,
    p.search_key,
    p.title,
    p.content_html,
    s.title AS blog,
    coalesce(p.author, '') AS author,
    'all s' || p.source_id
        || coalesce(
            (SELECT ' ' || group_concat('c' || sc.category_id, ' ')
             FROM source_categories sc WHERE sc.source_id = p.source_id),
            '')
        || CASE WHEN p.duplicate_of IS NULL AND p.hidden_reason IS NULL THEN '' ELSE ' hidden' END
        AS tags
FROM posts p JOIN sources s ON s.id = p.source_id;

CREATE TRIGGER post_search_delete AFTER DELETE ON posts BEGIN
    DELETE FROM post_search WHERE rowid = old.search_key;
END;

CREATE TRIGGER post_search_edit AFTER UPDATE OF title, author, content_html, published, source_id
ON posts BEGIN
    DELETE FROM post_search WHERE rowid = old.search_key;
END;

CREATE TRIGGER post_search_visibility AFTER UPDATE OF hidden_reason, duplicate_of ON posts BEGIN
    UPDATE post_search
    SET tags = (SELECT v.tags FROM post_search_source v WHERE v.post_id = new.id)
    WHERE rowid = new.search_key;
END;

CREATE TRIGGER post_search_blog_name AFTER UPDATE OF title ON sources BEGIN
    UPDATE post_search SET blog = new.title WHERE post_search MATCH ('tags : s' || new.id);
END;

CREATE TRIGGER post_search_category_added AFTER INSERT ON source_categories BEGIN
    UPDATE post_search
    SET tags = (SELECT v.tags FROM post_search_source v
                WHERE v.post_id = (-post_search.rowid) & 4294967295)
    WHERE post_search MATCH ('tags : s' || new.source_id);
END;

CREATE TRIGGER post_search_category_removed AFTER DELETE ON source_categories BEGIN
    UPDATE post_search
    SET tags = (SELECT v.tags FROM post_search_source v
                WHERE v.post_id = (-post_search.rowid) & 4294967295)
    WHERE post_search MATCH ('tags : s' || old.source_id);
END;
