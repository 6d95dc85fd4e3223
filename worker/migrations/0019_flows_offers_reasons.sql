-- Issue 18 (Carts Guru's flows): callbacks asked for from a message, and one-tap "why did you leave?" answers.

-- A callback taken from a message's offer (the SMS link's one-field form, or a reply "CALL") names
-- that message; `via` says how it came: 'widget' (the onsite form), 'link' or 'reply'.
ALTER TABLE callbacks ADD COLUMN message_id INTEGER;
ALTER TABLE callbacks ADD COLUMN via TEXT NOT NULL DEFAULT 'widget';

-- One answer per message (a second tap changes it); counted per campaign in results.
CREATE TABLE leave_reasons (
  site_id    TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  contact_id TEXT NOT NULL,          -- export, erasure and merges follow it
  campaign   TEXT NOT NULL,
  step       INTEGER NOT NULL,
  reason     TEXT NOT NULL,          -- campaigns/messages.ts LEAVE_REASONS
  created_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, message_id)
);
CREATE INDEX leave_reasons_campaign ON leave_reasons (site_id, campaign, created_at);
