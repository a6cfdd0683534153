-- For the website.
--
-- A counter that moves whenever something the public site shows changes, so
-- the website can keep a rendered page until it moves.  Triggers keep it in
-- step with every writer, present and future.  Fetch state alone (a source's
-- status, its next attempt) does not move it: pages that show it are not kept.
CREATE TABLE store_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
INSERT INTO store_revision (id, value, changed_at) VALUES (1, 0, date_trunc('second', now()));

CREATE FUNCTION store_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE store_revision SET value = value + 1, changed_at = date_trunc('second', now());
    RETURN NULL;
END;
$$;

CREATE TRIGGER posts_revision AFTER INSERT OR UPDATE OR DELETE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION store_revision_bump();
CREATE TRIGGER sources_revision AFTER INSERT OR DELETE ON sources
    FOR EACH STATEMENT EXECUTE FUNCTION store_revision_bump();
CREATE TRIGGER sources_revision_update AFTER UPDATE ON sources
    FOR EACH ROW WHEN (
        OLD.url IS DISTINCT FROM NEW.url OR OLD.site_url IS DISTINCT FROM NEW.site_url
        OR OLD.title IS DISTINCT FROM NEW.title OR OLD.slug IS DISTINCT FROM NEW.slug
        OR OLD.excerpts_only IS DISTINCT FROM NEW.excerpts_only
    )
    EXECUTE FUNCTION store_revision_bump();
CREATE TRIGGER categories_revision AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION store_revision_bump();
CREATE TRIGGER source_categories_revision AFTER INSERT OR DELETE ON source_categories
    FOR EACH STATEMENT EXECUTE FUNCTION store_revision_bump();

-- Pages of visible posts from the indexes alone: the river (a deep page skips
-- index entries, not rows) and a blog's posts, count and latest post.  The
-- visibility columns are in the indexes so SQLite needs no row to check them.
DROP INDEX posts_river;
CREATE INDEX posts_river ON posts (published DESC, id DESC, duplicate_of, hidden_reason)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
CREATE INDEX posts_source_visible
    ON posts (source_id, published DESC, id DESC, duplicate_of, hidden_reason)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
