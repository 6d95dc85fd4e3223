-- The referral programme (issue 18). A referrer's code is also a coupon row (the friend's offer,
-- source 'referral'), so the friend applies it at checkout like any code and the order carries it.
-- A contact keeps one code (issued once, read back after); the index is not unique so that merging
-- two referrers keeps both of their codes working (links already shared stay attributed).
CREATE TABLE referral_codes (
  site_id    TEXT NOT NULL,
  code       TEXT NOT NULL,              -- upper-case, as coupons
  contact_id TEXT NOT NULL,              -- the referrer
  created_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, code)
) WITHOUT ROWID;
CREATE INDEX referral_codes_contact ON referral_codes (site_id, contact_id, created_at);

-- One row per referred friend (contact_id), written by the first order the merchant reports with a
-- referral code: the key makes "once per new customer" a constraint, not a check. `status` says
-- whether it earned the referrer a reward and, if not, why.
CREATE TABLE referrals (
  site_id     TEXT NOT NULL,
  contact_id  TEXT NOT NULL,             -- the friend
  referrer_id TEXT NOT NULL,
  code        TEXT NOT NULL,
  order_id    TEXT NOT NULL,
  total       INTEGER NOT NULL,          -- minor units
  currency    TEXT NOT NULL,
  placed_at   INTEGER NOT NULL,
  -- reversed: the friend's order was cancelled or refunded; an unsent reward is then not sent.
  status      TEXT NOT NULL CHECK (status IN ('rewarded', 'capped', 'self', 'returning', 'off', 'reversed')),
  PRIMARY KEY (site_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX referrals_referrer ON referrals (site_id, referrer_id, status, placed_at);
