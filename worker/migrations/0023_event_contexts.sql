-- Each distinct event context stored once per site, not copied into every event row. The SDK sends
-- the same context (library, user agent, locale, screen, time zone, the page) with every event of a
-- page view, and it was more than half of a stored event's bytes (429 of 807 B in the benchmark).
-- Keyed by a hash of the context's JSON computed by the Worker (SQLite has no hash function):
-- base64url of the first 12 bytes of its SHA-256, so a collision within a site is ~2^-96 per pair.
CREATE TABLE event_contexts (
  site_id TEXT NOT NULL,
  hash    TEXT NOT NULL,
  context TEXT NOT NULL,
  -- How many events point here, kept by the triggers below whatever path inserts or deletes events
  -- (request, inbox, Queue; retention, erasure, reset). 0 = garbage: the retention sweep and every
  -- erasure delete such rows, so a context (an IP, a URL with an email in it) does not outlive its events.
  refs    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, hash)
) WITHOUT ROWID;
-- Holds only the orphans, so collecting them never scans the live contexts.
CREATE INDEX event_contexts_orphans ON event_contexts (site_id) WHERE refs <= 0;

-- NULL: the context is in events.context, as in rows stored before this migration (they are read in
-- both shapes rather than rewritten: rewriting would be one statement over the whole table, and D1
-- cannot hash in SQL; they age out with retention) and in rows whose context is shorter than a key.
ALTER TABLE events ADD COLUMN context_hash TEXT;

CREATE TRIGGER events_context_ref AFTER INSERT ON events WHEN NEW.context_hash IS NOT NULL
BEGIN
  UPDATE event_contexts SET refs = refs + 1 WHERE site_id = NEW.site_id AND hash = NEW.context_hash;
END;

CREATE TRIGGER events_context_unref AFTER DELETE ON events WHEN OLD.context_hash IS NOT NULL
BEGIN
  UPDATE event_contexts SET refs = refs - 1 WHERE site_id = OLD.site_id AND hash = OLD.context_hash;
END;
