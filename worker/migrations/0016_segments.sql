-- Named segments: a rule the merchant saved under a name, listed and exported as an audience for
-- ad platforms. `feed_token_hash` is the SHA-256 of the token in the audience's pull URL (null: no
-- URL); the token itself is shown once, when made.
CREATE TABLE segments (
  site_id         TEXT NOT NULL,
  id              TEXT NOT NULL,
  name            TEXT NOT NULL,
  rule            TEXT NOT NULL,
  feed_token_hash TEXT UNIQUE,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (site_id, id)
) WITHOUT ROWID;
