-- People who unsubscribed and were then erased: the SHA-256 (hex) of their normalised email or phone,
-- so a person who asked to be forgotten is not mailed again when they come back (model/privacy.ts).
-- No contact_id on purpose: erasure, driven by the tables that have one, leaves this table alone,
-- and a hash names nobody to whoever reads the table without already knowing the address.
CREATE TABLE suppressions (
  site_id    TEXT NOT NULL,
  hash       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, hash)
) WITHOUT ROWID;
