-- Nudge schema, version 1. Every row carries site_id: one Worker serves many stores.
-- Times are integer milliseconds since the epoch (UTC); money is integer minor units.

CREATE TABLE sites (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  public_key      TEXT NOT NULL UNIQUE,
  secret_hash     TEXT NOT NULL UNIQUE,      -- SHA-256 hex of the secret key; the key itself is never stored
  url             TEXT NOT NULL,             -- the store's base URL, used to build links in messages
  allowed_origins TEXT NOT NULL DEFAULT '[]',-- JSON array; empty means any origin may send with the public key
  time_zone       TEXT NOT NULL DEFAULT 'UTC',
  currency        TEXT NOT NULL DEFAULT 'GBP',
  created_at      INTEGER NOT NULL
);

-- Raw events, exactly once per (site, messageId): the SDK and Segment clients retry freely.
CREATE TABLE events (
  site_id      TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  type         TEXT NOT NULL,
  event        TEXT,
  anonymous_id TEXT,
  user_id      TEXT,
  previous_id  TEXT,                         -- alias only
  contact_id   TEXT,
  properties   TEXT NOT NULL DEFAULT '{}',
  traits       TEXT NOT NULL DEFAULT '{}',
  context      TEXT NOT NULL DEFAULT '{}',
  timestamp    INTEGER NOT NULL,             -- when it happened (client clock, corrected by sentAt)
  received_at  INTEGER NOT NULL,             -- when the Worker stored it
  processed    INTEGER NOT NULL DEFAULT 0,   -- 1 once profiles, carts and campaigns have seen it
  PRIMARY KEY (site_id, message_id)
) WITHOUT ROWID;
CREATE INDEX events_unprocessed ON events (received_at) WHERE processed = 0;
CREATE INDEX events_contact ON events (site_id, contact_id, timestamp);

CREATE TABLE contacts (
  site_id       TEXT NOT NULL,
  id            TEXT NOT NULL,
  email         TEXT,
  user_id       TEXT,
  phone         TEXT,
  name          TEXT,
  traits        TEXT NOT NULL DEFAULT '{}',
  first_seen    INTEGER NOT NULL,
  last_seen     INTEGER NOT NULL,
  last_order_at INTEGER,
  orders_count  INTEGER NOT NULL DEFAULT 0,
  total_spent   INTEGER NOT NULL DEFAULT 0,
  unsubscribed  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, id)
) WITHOUT ROWID;

-- Every way we know a person: an anonymous browser id, the store's user id, an email.
CREATE TABLE identities (
  site_id    TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('anonymous', 'user', 'email')),
  value      TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  PRIMARY KEY (site_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_contact ON identities (site_id, contact_id);

-- The open cart of a contact. A new cart_id starts after each order, so reminders are per cart.
CREATE TABLE carts (
  site_id    TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  cart_id    TEXT NOT NULL,
  currency   TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, contact_id)
) WITHOUT ROWID;

-- Lines are rows, not a JSON blob, so "add 2" and "remove 1" are single atomic statements
-- that cannot lose an update when two requests for the same shopper overlap.
CREATE TABLE cart_items (
  site_id    TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  name       TEXT NOT NULL,
  price      INTEGER NOT NULL,
  quantity   INTEGER NOT NULL CHECK (quantity > 0),
  url        TEXT,
  image_url  TEXT,
  PRIMARY KEY (site_id, contact_id, product_id)
) WITHOUT ROWID;

-- One row per message we intend to send. dedupe_key makes scheduling idempotent;
-- status moves pending -> sending -> sent | cancelled | dead.
CREATE TABLE messages (
  id          INTEGER PRIMARY KEY,
  site_id     TEXT NOT NULL,
  contact_id  TEXT NOT NULL,
  campaign    TEXT NOT NULL,
  step        INTEGER NOT NULL,
  channel     TEXT NOT NULL,
  dedupe_key  TEXT NOT NULL UNIQUE,
  due_at      INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'sending', 'sent', 'cancelled', 'dead')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  claimed_at  INTEGER,
  sent_at     INTEGER,
  reason      TEXT,
  created_at  INTEGER NOT NULL
);
-- The sweep reads only due rows: its cost follows the number due, not the table size.
CREATE INDEX messages_due ON messages (due_at) WHERE status = 'pending';
CREATE INDEX messages_claimed ON messages (claimed_at) WHERE status = 'sending';
CREATE INDEX messages_contact ON messages (site_id, contact_id, status);

-- What the local `outbox` channel "sent": the demo mailbox reads it.
CREATE TABLE outbox (
  message_id INTEGER PRIMARY KEY,
  site_id    TEXT NOT NULL,
  channel    TEXT NOT NULL,
  recipient  TEXT NOT NULL,
  subject    TEXT NOT NULL,
  html       TEXT NOT NULL,
  text       TEXT NOT NULL,
  headers    TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX outbox_site ON outbox (site_id, created_at);

-- Development only: how far POST /v1/dev/tick has moved the simulated clock ahead of the real one.
CREATE TABLE dev_clock (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  offset_ms INTEGER NOT NULL
);
