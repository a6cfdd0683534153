-- The service (#10): each blog's posting rhythm, for its adaptive fetch interval, and
-- the periodic jobs that 'townsquare run' processes share.
-- activity_posts posts were published from activity_since to the last time the feed was read.
ALTER TABLE sources ADD COLUMN activity_since TIMESTAMP;
ALTER TABLE sources ADD COLUMN activity_posts INTEGER NOT NULL DEFAULT 0;

-- One row per periodic job: when it next runs, and who is running it now (a lease).
CREATE TABLE jobs (
    name TEXT PRIMARY KEY,
    next_run_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claim_expires TIMESTAMP,
    last_started_at TIMESTAMP,
    last_finished_at TIMESTAMP,
    last_error TEXT
);

-- The fetch log is pruned by age every day.
CREATE INDEX fetch_log_time ON fetch_log (fetched_at);

-- Every claim looks for claims left by dead processes: only claimed rows are indexed.
CREATE INDEX sources_claimed ON sources (claimed_by) WHERE claimed_by IS NOT NULL;
