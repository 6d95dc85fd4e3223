-- The merchant dashboard (/admin): sign-in sessions, and an index for campaign results.

-- A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a read of this
-- table cannot sign anyone in. Deleted on sign-out; expired ones are ignored and swept on sign-in.
CREATE TABLE admin_sessions (
  token_hash TEXT PRIMARY KEY,               -- hex SHA-256 of the cookie's token
  site_id    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- Results read one campaign's journeys by their first step's send time (results/campaign.ts).
CREATE INDEX messages_campaign ON messages (site_id, campaign, step, sent_at);
