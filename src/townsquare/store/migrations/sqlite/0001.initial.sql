-- Sources, categories, posts and the fetch log.
CREATE TABLE categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    site_url TEXT,
    title TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL DEFAULT 1,
    excerpts_only INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new',
    http_status INTEGER,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_fetched_at TIMESTAMP,
    last_success_at TIMESTAMP,
    next_due_at TIMESTAMP,
    retry_after TIMESTAMP,
    etag TEXT,
    last_modified TEXT,
    redirect_url TEXT,
    redirect_count INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX sources_due ON sources (next_due_at) WHERE enabled;

-- Feed URLs a source was known by before a permanent redirect.
CREATE TABLE source_urls (
    url TEXT PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE
);

CREATE TABLE source_categories (
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (source_id, category_id)
);
CREATE INDEX source_categories_category ON source_categories (category_id);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    guid TEXT,
    link TEXT,
    canonical_link TEXT,
    title TEXT NOT NULL,
    author TEXT,
    published TIMESTAMP NOT NULL,
    updated TIMESTAMP,
    first_seen TIMESTAMP NOT NULL,
    last_changed TIMESTAMP NOT NULL,
    content_html TEXT NOT NULL,
    summary_html TEXT NOT NULL,
    categories TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    duplicate_of INTEGER REFERENCES posts (id) ON DELETE SET NULL,
    hidden_reason TEXT
);
CREATE INDEX posts_source_guid ON posts (source_id, guid);
CREATE INDEX posts_source_link ON posts (source_id, link);
CREATE INDEX posts_canonical ON posts (canonical_link);
CREATE INDEX posts_river ON posts (published DESC, id DESC)
    WHERE duplicate_of IS NULL AND hidden_reason IS NULL;
CREATE INDEX posts_source_river ON posts (source_id, published DESC, id DESC);

CREATE TABLE fetch_log (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    fetched_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    error TEXT,
    new_posts INTEGER NOT NULL DEFAULT 0,
    updated_posts INTEGER NOT NULL DEFAULT 0,
    unchanged_posts INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX fetch_log_source ON fetch_log (source_id, fetched_at DESC);
