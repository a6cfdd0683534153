-- For the website.
--
-- A counter that moves whenever something the public site shows changes, so
-- the website can keep a rendered page until it moves.  Triggers keep it in
-- step with every writer, present and future.  Fetch state alone (a source's
-- status, its next attempt) does not move it: pages that show it are not kept.
CREATE TABLE store_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO store_revision (id, value, changed_at)
VALUES (1, 0, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));

CREATE TRIGGER posts_revision_insert AFTER INSERT ON posts BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER posts_revision_update AFTER UPDATE ON posts BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER posts_revision_delete AFTER DELETE ON posts BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER sources_revision_insert AFTER INSERT ON sources BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER sources_revision_update AFTER UPDATE ON sources
WHEN OLD.url IS NOT NEW.url OR OLD.site_url IS NOT NEW.site_url OR OLD.title IS NOT NEW.title
    OR OLD.slug IS NOT NEW.slug OR OLD.excerpts_only IS NOT NEW.excerpts_only
BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER sources_revision_delete AFTER DELETE ON sources BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER categories_revision_insert AFTER INSERT ON categories BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER categories_revision_update AFTER UPDATE ON categories BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER categories_revision_delete AFTER DELETE ON categories BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER source_categories_revision_insert AFTER INSERT ON source_categories BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
CREATE TRIGGER source_categories_revision_delete AFTER DELETE ON source_categories BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;

-- Pages of visible posts from the indexes alone: the river (a deep page skips
-- index entries, not rows) and a blog's posts, count and latest post.  The
-- visibility columns are in the indexes so SQLite needs no row to check them.
DROP INDEX posts_river;
CREATE INDEX posts_river ON posts (published DESC, id DESC, duplicate_of, hidden_reason)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
CREATE INDEX posts_source_visible
    ON posts (source_id, published DESC, id DESC, duplicate_of, hidden_reason)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
