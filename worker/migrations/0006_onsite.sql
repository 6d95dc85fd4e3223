-- Onsite widgets: per-site configuration, callback tasks, consent records, rate-limit counters,
-- and one exit-intent coupon per visitor.

-- The widget configuration the SDK fetches (`config` is public: it is served to every browser),
-- plus the merchant-only settings of the callback webhook, which never leave the admin API.
CREATE TABLE onsite_configs (
  site_id        TEXT PRIMARY KEY,
  config         TEXT NOT NULL,            -- JSON, validated by worker/src/onsite/schema.ts
  webhook_url    TEXT,                     -- where callback requests are POSTed, signed
  webhook_secret TEXT,                     -- HMAC key of that signature
  updated_at     INTEGER NOT NULL
);

-- Callback requests: a task for the merchant's team.
CREATE TABLE callbacks (
  id           INTEGER PRIMARY KEY,
  site_id      TEXT NOT NULL,
  request_id   TEXT NOT NULL,              -- the widget's id for the request: a retry is not a second task
  contact_id   TEXT,                       -- who asked, once known (export, erasure and merges follow it)
  anonymous_id TEXT NOT NULL,              -- the browser that asked
  name         TEXT,
  phone        TEXT NOT NULL,              -- E.164
  time_window  TEXT NOT NULL,              -- 'asap' | 'morning' | 'afternoon' | 'evening'
  note         TEXT,
  page_url     TEXT,
  status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
  notified_at  INTEGER,                    -- when the merchant's webhook accepted it
  created_at   INTEGER NOT NULL,
  UNIQUE (site_id, request_id)
);
CREATE INDEX callbacks_open ON callbacks (site_id, status, created_at);

-- What a shopper agreed to, in which words, and when: the proof behind every opt-in.
CREATE TABLE consents (
  id           INTEGER PRIMARY KEY,
  site_id      TEXT NOT NULL,
  contact_id   TEXT,                       -- export, erasure and merges follow it
  anonymous_id TEXT NOT NULL,
  subject      TEXT NOT NULL,              -- the email or phone the consent is about
  purpose      TEXT NOT NULL,              -- 'newsletter' | 'callback' | 'send_to_friend'
  wording      TEXT NOT NULL,              -- the text the shopper saw next to the checkbox
  created_at   INTEGER NOT NULL
);
CREATE INDEX consents_subject ON consents (site_id, subject);

-- Fixed-window counters: one upsert per request answers "how many in this window?".
CREATE TABLE rate_limits (
  bucket       TEXT NOT NULL,              -- e.g. 'friend:demo:<anonymous id>'
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL,
  PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
CREATE INDEX rate_limits_old ON rate_limits (window_start);

-- One exit-intent code per visitor, even when two tabs ask at once.
CREATE UNIQUE INDEX coupons_exit_intent ON coupons (site_id, anonymous_id) WHERE source = 'exit_intent';
