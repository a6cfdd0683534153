-- Email digests (issue 7): subscribers, their categories, one delivery record
-- per subscriber and period, and fixed-window rate limits.
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,                 -- as it is sent to
    address_key TEXT NOT NULL UNIQUE,      -- lower case: one subscription per mailbox
    frequency TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    all_categories INTEGER NOT NULL DEFAULT 1,
    link_key TEXT NOT NULL,                -- random; part of every signed link, so old links die
    created_at TIMESTAMP NOT NULL,         -- or the last request to subscribe, while unconfirmed
    confirmed_at TIMESTAMP,
    paused_at TIMESTAMP,
    paused_reason TEXT,
    permanent_failures INTEGER NOT NULL DEFAULT 0, -- 5xx answers in a row
    last_error TEXT,
    digest_through TIMESTAMP               -- posts first seen up to here have been sent
);
CREATE INDEX subscribers_unconfirmed ON subscribers (created_at) WHERE confirmed_at IS NULL;
CREATE INDEX subscribers_frequency ON subscribers (frequency) WHERE confirmed_at IS NOT NULL;

CREATE TABLE subscriber_categories (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, category_id)
);
CREATE INDEX subscriber_categories_category ON subscriber_categories (category_id);

-- One digest: planned as 'pending', claimed as 'sending' just before SMTP DATA,
-- then 'sent', 'temp_failed' (4xx: tried again), 'failed' (5xx), 'empty' (nothing
-- new), 'superseded' (a later period took its posts) or 'unknown' (a run stopped
-- while the mail server was taking it: never sent again).
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    period TEXT NOT NULL,                  -- '2026-11-24' (daily) or '2026-W48' (weekly)
    status TEXT NOT NULL,
    covers_from TIMESTAMP NOT NULL,        -- posts first seen after this ...
    covers_until TIMESTAMP NOT NULL,       -- ... and up to this
    post_count INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (subscriber_id, period)
);
CREATE INDEX deliveries_open ON deliveries (period, id)
    WHERE status IN ('pending', 'temp_failed', 'sending');
CREATE INDEX deliveries_updated ON deliveries (updated_at);

CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,                  -- a keyed hash, never an address or IP in clear
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

-- Digests read posts by when they were first seen.
CREATE INDEX posts_first_seen ON posts (first_seen);
