-- Curation: curator accounts and their sessions, rate limits, the audit log,
-- per-blog filters and full-article extraction, takedowns, retired blogs, and
-- the moderation queue of suggestions and requests from the public.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

-- Server-side sessions, so several web processes share them.  The cookie holds
-- a random token; only its SHA-256 is kept here.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    flash TEXT
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- One row per counted event (a failed sign-in, a form sent) for rate limits.
CREATE TABLE rate_events (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    subject TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (bucket, subject, at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);

-- Keys the site makes for itself (the key that signs public forms' tokens).
CREATE TABLE site_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

ALTER TABLE sources ADD COLUMN extract_full INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;

CREATE TABLE source_filters (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    action TEXT NOT NULL,   -- 'include' or 'exclude'
    field TEXT NOT NULL,    -- 'title', 'text' or 'tags'
    words TEXT NOT NULL,    -- JSON list of words and phrases
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX source_filters_source ON source_filters (source_id);

-- Why a post is hidden: 'curator' (a takedown, kept whatever later fetches
-- bring) or 'filter' (decided again at every fetch).
ALTER TABLE posts ADD COLUMN hidden_by TEXT;
ALTER TABLE posts ADD COLUMN filter_id INTEGER;
ALTER TABLE posts ADD COLUMN hidden_at TIMESTAMP;
CREATE INDEX posts_hidden ON posts (hidden_by, hidden_at) WHERE hidden_by IS NOT NULL;
CREATE INDEX posts_source_hash ON posts (source_id, content_hash);

-- Suggestions of blogs, and takedown or excerpts-only requests from blog owners.
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- 'suggestion', 'takedown' or 'excerpts'
    state TEXT NOT NULL DEFAULT 'open', -- 'open', 'approved' or 'declined'
    url TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    checked_at TIMESTAMP,
    checks TEXT,                        -- JSON list of checks and their results
    feed_url TEXT,
    feed_title TEXT,
    site_url TEXT,
    decided_at TIMESTAMP,
    decided_by TEXT,
    reason TEXT,
    emailed TEXT
);
CREATE INDEX requests_state ON requests (state, created_at);

CREATE TABLE blocklist (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);

-- A retired blog leaves the list of blogs: the site's pages must change.
DROP TRIGGER sources_revision_update;
CREATE TRIGGER sources_revision_update AFTER UPDATE ON sources
WHEN OLD.url IS NOT NEW.url OR OLD.site_url IS NOT NEW.site_url OR OLD.title IS NOT NEW.title
    OR OLD.slug IS NOT NEW.slug OR OLD.excerpts_only IS NOT NEW.excerpts_only
    OR OLD.retired IS NOT NEW.retired
BEGIN
    UPDATE store_revision SET value = value + 1,
        changed_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now');
END;
