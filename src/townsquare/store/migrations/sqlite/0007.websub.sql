-- WebSub, both ways (issue 6).
--
-- What a blog's feed says about its hub, learnt on every fetch that reads it,
-- and until when a live subscription pushes its posts (the source is polled
-- daily until then, normally after).
ALTER TABLE sources ADD COLUMN hub_url TEXT;
ALTER TABLE sources ADD COLUMN topic_url TEXT;
ALTER TABLE sources ADD COLUMN push_until TIMESTAMP;
CREATE INDEX sources_hub ON sources (id) WHERE hub_url IS NOT NULL;

-- Our subscriptions to blogs' hubs.  A removed blog leaves its row behind
-- (source_id NULL) until the hub has been told to stop.
CREATE TABLE websub_subscriptions (
    id INTEGER PRIMARY KEY,
    source_id INTEGER UNIQUE REFERENCES sources (id) ON DELETE SET NULL,
    callback_key TEXT NOT NULL UNIQUE,
    hub TEXT NOT NULL,
    topic TEXT NOT NULL,
    secret TEXT NOT NULL,
    state TEXT NOT NULL,
    lease_seconds INTEGER,
    lease_expires TIMESTAMP,
    requested_at TIMESTAMP,
    verified_at TIMESTAMP,
    last_push_at TIMESTAMP,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_action_at TIMESTAMP NOT NULL
);
CREATE INDEX websub_subscriptions_due ON websub_subscriptions (next_action_at);

-- Our own hub: who subscribed to which of our feeds, and what is to be sent.
CREATE TABLE hub_subscriptions (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    callback TEXT NOT NULL,
    secret TEXT,
    lease_seconds INTEGER NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (topic, callback)
);

CREATE TABLE hub_deliveries (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL UNIQUE
        REFERENCES hub_subscriptions (id) ON DELETE CASCADE,
    due_at TIMESTAMP NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_by TEXT,
    claim_expires TIMESTAMP
);
CREATE INDEX hub_deliveries_due ON hub_deliveries (due_at);

-- Blogs with new visible posts since the hub last looked: a trigger notes
-- them in the same transaction, so every writer is seen and none twice.
CREATE TABLE feed_changes (
    source_id INTEGER PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE
);
CREATE TRIGGER posts_feed_changes AFTER INSERT ON posts
WHEN NEW.duplicate_of IS NULL AND NEW.hidden_reason IS NULL
BEGIN
    INSERT OR IGNORE INTO feed_changes (source_id) VALUES (NEW.source_id);
END;
