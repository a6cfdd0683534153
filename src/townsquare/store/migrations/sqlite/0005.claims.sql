-- Claims: which process is fetching a source now, and until when.
-- Several workers share the polling by claiming due sources with a lease.
ALTER TABLE sources ADD COLUMN claimed_by TEXT;
ALTER TABLE sources ADD COLUMN claim_expires TIMESTAMP;
