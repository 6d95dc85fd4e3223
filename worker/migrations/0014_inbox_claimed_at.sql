-- inbox.claimed_at was never read or written: a row is taken by deleting it in the same transaction
-- that turns it into events (ingest/inbox.ts), so no claim needs a time. No index uses the column.
ALTER TABLE inbox DROP COLUMN claimed_at;
