-- How many messages an inbox row holds, so one drain can take many rows (group commit) and still
-- bound what it applies in one pass. Rows stored before this migration count as 0.
ALTER TABLE inbox ADD COLUMN events INTEGER NOT NULL DEFAULT 0;
