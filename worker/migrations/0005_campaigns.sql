-- Campaigns as data: validated JSON definitions per site, the journey state messages need
-- (variant, holdout, trigger data, priority), engagement (opens, clicks) and attributed orders.

CREATE TABLE campaigns (
  site_id     TEXT NOT NULL,
  id          TEXT NOT NULL,                 -- e.g. 'abandoned_cart'; messages.campaign refers to it
  definition  TEXT NOT NULL,                 -- JSON, validated by worker/src/campaigns/definition.ts
  enabled     INTEGER NOT NULL DEFAULT 1,
  launched_at INTEGER,                       -- date-triggered campaigns: when the bulk run happened
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (site_id, id)
) WITHOUT ROWID;

ALTER TABLE messages ADD COLUMN variant TEXT;
ALTER TABLE messages ADD COLUMN holdout INTEGER NOT NULL DEFAULT 0;  -- control group: tracked, never delivered
ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN data TEXT NOT NULL DEFAULT '{}';     -- trigger payload: product, recipient, phone, started_at
ALTER TABLE messages ADD COLUMN coupon TEXT;
ALTER TABLE messages ADD COLUMN opened_at INTEGER;
ALTER TABLE messages ADD COLUMN clicked_at INTEGER;
-- Frequency caps and attribution look at what a contact recently received.
CREATE INDEX messages_contact_sent ON messages (site_id, contact_id, sent_at) WHERE sent_at IS NOT NULL;

-- An order attributed to the last message before it (clicked or sent within the window).
-- Holdout rows are attributed too, so lift = treated rate − holdout rate.
CREATE TABLE conversions (
  site_id    TEXT NOT NULL,
  order_id   TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  campaign   TEXT NOT NULL,
  variant    TEXT,
  holdout    INTEGER NOT NULL,
  amount     INTEGER NOT NULL,
  placed_at  INTEGER NOT NULL,
  PRIMARY KEY (site_id, order_id)
) WITHOUT ROWID;
CREATE INDEX conversions_campaign ON conversions (site_id, campaign);
