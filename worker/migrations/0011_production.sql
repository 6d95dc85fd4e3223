-- Production path (issue 16).

-- Addresses that must not be contacted again on a site: hard bounces and complaints reported by the
-- email provider, STOP texts. Keyed by the SHA-256 hex of the normalised address (email trimmed and
-- lower-cased, phone in E.164), so the list holds no address and survives a contact's erasure.
-- Migration 0009 made the table for erasure (people who had unsubscribed); provider feedback adds why.
ALTER TABLE suppressions ADD COLUMN reason TEXT NOT NULL DEFAULT 'unsubscribed';

-- Retention (jobs/retention.ts) deletes per site what is older than its period, a bounded batch
-- per sweep: these make each batch a range read per site instead of a scan of the table.
CREATE INDEX IF NOT EXISTS events_received ON events (site_id, received_at);
CREATE INDEX IF NOT EXISTS messages_created ON messages (site_id, created_at);
