-- Work that keeps failing is set aside here with its reason, so the rest flows on: an inbox batch
-- the database refuses, an event whose effects fail to apply, a message its channel keeps refusing,
-- a merchant webhook that keeps failing. Each is tried DEAD_AFTER times (worker/src/model/dead-letters.ts)
-- before it lands here; the admin API (/v1/admin/dead-letters) lists, retries or drops it.
CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY,
  site_id     TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('batch', 'event', 'message', 'webhook')),
  ref         TEXT NOT NULL,              -- batch: the inbox row id; event: messageId; message: messages.id; webhook: callbacks.id
  contact_id  TEXT,                       -- when known: export, erasure and merges follow it
  body        TEXT,                       -- batch only: the validated messages (the inbox row is gone)
  received_at INTEGER,                    -- batch only
  reason      TEXT NOT NULL,
  attempts    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (site_id, kind, ref)
);
CREATE INDEX dead_letters_site ON dead_letters (site_id, created_at);

-- Failed attempts so far: a row is set aside when it reaches the limit.
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- events.processed: 0 to apply, 1 applied, 2 set aside (a dead letter); only 0 is in events_unprocessed.
ALTER TABLE events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- The callback webhook is retried from the sweep with backoff: how often it failed, when next.
ALTER TABLE callbacks ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN notify_after INTEGER;
CREATE INDEX callbacks_unnotified ON callbacks (created_at) WHERE notified_at IS NULL;
