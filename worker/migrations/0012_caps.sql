-- Costs and catalogue trust (SECURITY.md): per-site webhook signing secrets, the catalogue's
-- provenance, and the merchant's alerts (a daily budget reached).

-- Every webhook Nudge sends for a site (campaign steps, callback tasks) is signed with this key,
-- generated when first needed and shown to the merchant once (POST /v1/admin/webhook-secret).
-- It replaces the Worker-wide WEBHOOK_SECRET and the merchant-chosen onsite_configs.webhook_secret,
-- which is no longer read.
ALTER TABLE sites ADD COLUMN webhook_secret TEXT;

-- 1 when the merchant wrote the row (secret-key events, PUT /v1/admin/products/:id): browser claims
-- may then only fill its empty fields, and its url may lead off the site's hosts.
ALTER TABLE products ADD COLUMN merchant INTEGER NOT NULL DEFAULT 0;

-- Things the merchant must hear about once: kind + day make it once (e.g. 'budget:sms' on 2026-12-02).
CREATE TABLE alerts (
  site_id    TEXT NOT NULL,
  kind       TEXT NOT NULL,
  day        TEXT NOT NULL,                -- UTC date, YYYY-MM-DD
  message    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, kind, day)
) WITHOUT ROWID;
