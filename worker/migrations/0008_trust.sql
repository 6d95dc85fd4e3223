-- Who sent an event (ingest/validate.ts, `Source`): 'browser' — the public key, printed in every
-- store page, so a claim by a stranger; 'server' — the site's secret key, the merchant speaking;
-- 'widget' — a consented, capped onsite endpoint (routes/onsite.ts). What each may change is decided
-- in one place (see SECURITY.md).
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'browser';

-- Per-site settings as one JSON object; model/sites.ts (`SiteSettings`) owns the fields and their
-- defaults, so adding a setting needs no migration.
ALTER TABLE sites ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
