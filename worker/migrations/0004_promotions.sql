-- Promotions (definitions as validated JSON), per-contact coupon limits, redemptions by order, and
-- failed-code counters that rate-limit coupon guessing.

CREATE TABLE promotions (
  site_id    TEXT NOT NULL,
  id         TEXT NOT NULL,
  definition TEXT NOT NULL,                 -- JSON Promotion, validated by parsePromotion
  active     INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, id)
) WITHOUT ROWID;

ALTER TABLE coupons ADD COLUMN max_uses_per_contact INTEGER;  -- NULL = unlimited

-- One row per code and order: a resent Order Completed redeems once; a cancel or refund releases.
-- coupons.uses is recomputed from the unreleased rows, so it never drifts.
CREATE TABLE coupon_redemptions (
  site_id     TEXT NOT NULL,
  code        TEXT NOT NULL,
  order_id    TEXT NOT NULL,
  contact_id  TEXT NOT NULL,
  redeemed_at INTEGER NOT NULL,
  released_at INTEGER,
  PRIMARY KEY (site_id, code, order_id)
) WITHOUT ROWID;
CREATE INDEX coupon_redemptions_order ON coupon_redemptions (site_id, order_id);
CREATE INDEX coupon_redemptions_contact ON coupon_redemptions (site_id, code, contact_id);

-- Unknown codes tried per client and 10-minute window (bucket first: old windows delete as a range).
CREATE TABLE coupon_attempts (
  bucket   INTEGER NOT NULL,
  site_id  TEXT NOT NULL,
  client   TEXT NOT NULL,
  failures INTEGER NOT NULL,
  PRIMARY KEY (bucket, site_id, client)
) WITHOUT ROWID;
