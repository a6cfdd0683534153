-- What each blog's feed was, the last time it was read without fault (issue 3): its
-- length and CRC-32.  A server that answers every fetch with the whole feed, whatever
-- it was asked, sends the same bytes most of the time; those are not parsed again.
-- depends: 0009.service
ALTER TABLE sources ADD COLUMN body_hash TEXT;
