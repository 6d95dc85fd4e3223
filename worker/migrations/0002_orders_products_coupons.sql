-- Orders, the product catalogue learned from events, recently viewed products, and coupons.
-- Shared ground for profiles (aggregates), campaigns (attribution, cross-sell, browse
-- abandonment), promotions (redemption) and widgets (minted codes).

-- One row per order id: a resent "Order Completed" (new messageId, same order) counts once.
CREATE TABLE orders (
  site_id    TEXT NOT NULL,
  order_id   TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  total      INTEGER NOT NULL,              -- minor units
  currency   TEXT NOT NULL,
  placed_at  INTEGER NOT NULL,
  status     TEXT NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'cancelled', 'refunded')),
  coupons    TEXT NOT NULL DEFAULT '[]',    -- JSON array of codes used
  products   TEXT NOT NULL DEFAULT '[]',    -- JSON array of { product_id, quantity, price }
  PRIMARY KEY (site_id, order_id)
) WITHOUT ROWID;
CREATE INDEX orders_contact ON orders (site_id, contact_id, placed_at);

CREATE TABLE products (
  site_id    TEXT NOT NULL,
  product_id TEXT NOT NULL,
  name       TEXT NOT NULL,
  price      INTEGER NOT NULL,
  currency   TEXT NOT NULL,
  category   TEXT,
  url        TEXT,
  image_url  TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (site_id, product_id)
) WITHOUT ROWID;

-- The last time each contact viewed each product (browse abandonment, "last viewed" segments).
CREATE TABLE product_views (
  site_id    TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  viewed_at  INTEGER NOT NULL,
  views      INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (site_id, contact_id, product_id)
) WITHOUT ROWID;
CREATE INDEX product_views_recent ON product_views (site_id, viewed_at);

-- Coupon codes: static (contact_id NULL, shared) or unique per recipient.
CREATE TABLE coupons (
  site_id      TEXT NOT NULL,
  code         TEXT NOT NULL,               -- stored upper-case
  promotion_id TEXT NOT NULL,
  contact_id   TEXT,                        -- bound recipient of a unique code
  anonymous_id TEXT,                        -- bound visitor, before they are known
  max_uses     INTEGER,                     -- NULL = unlimited
  uses         INTEGER NOT NULL DEFAULT 0,
  expires_at   INTEGER,
  source       TEXT,                        -- 'exit_intent', 'campaign:abandoned_cart', 'admin', …
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (site_id, code)
) WITHOUT ROWID;
CREATE INDEX coupons_contact ON coupons (site_id, contact_id);
