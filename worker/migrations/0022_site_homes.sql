-- Sites spread over several D1 databases (env.ts: `DB` is the directory, `DB_*` more homes).
-- The directory answers, before anything else, "whose key is this, and where does that site live?";
-- the site's own row and all its data live in its home. Every database gets this migration, but
-- only the directory's rows are read.
CREATE TABLE site_homes (
  site_id      TEXT PRIMARY KEY,
  home         TEXT NOT NULL,               -- a binding name: DB, DB_EU…
  public_key   TEXT NOT NULL UNIQUE,
  secret_hash  TEXT NOT NULL UNIQUE,        -- SHA-256 of the secret key, as in sites
  moving_to    TEXT,                        -- while a move runs (routes/operator.ts): requests get 503
  paused_at    INTEGER,                     -- when the move paused the site
  cleanup_from TEXT                         -- after a move: the old home, until its copy is deleted
) WITHOUT ROWID;

-- Existing sites live where they always did.
INSERT INTO site_homes (site_id, home, public_key, secret_hash)
  SELECT id, 'DB', public_key, secret_hash FROM sites;
