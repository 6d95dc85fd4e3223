-- Personal offers (issue 18). A coupon code may be bound to one product or one category: the
-- pricing engine then applies its promotion to those cart lines only (promotions/engine.ts), so
-- "10% off the speaker you looked at" is the code, not a second promotion per product.
ALTER TABLE coupons ADD COLUMN product_id TEXT;
ALTER TABLE coupons ADD COLUMN category TEXT;
-- The sizes a merchant's product comes in (JSON array of short strings, NULL = not sized): the
-- loyalty mail's showcase shows products in the size a contact's `size` trait names.
ALTER TABLE products ADD COLUMN sizes TEXT;
-- Order lines as rows (one per order and product), written with the order from its `products`:
-- "bought together" and the best-seller read an index range instead of expanding every order's
-- JSON (measured in node:sqlite: 370 ms per cross-sell mail over 50 000 orders before, see README).
-- `status` follows the order's (placed, cancelled, refunded).
CREATE TABLE order_items (
  site_id    TEXT NOT NULL,
  order_id   TEXT NOT NULL,
  product_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  quantity   INTEGER NOT NULL,
  placed_at  INTEGER NOT NULL,
  status     TEXT NOT NULL DEFAULT 'placed',
  PRIMARY KEY (site_id, order_id, product_id)
) WITHOUT ROWID;
CREATE INDEX order_items_product ON order_items (site_id, product_id, placed_at) WHERE status = 'placed';
CREATE INDEX order_items_recent ON order_items (site_id, placed_at, product_id, quantity) WHERE status = 'placed';
INSERT INTO order_items (site_id, order_id, product_id, contact_id, quantity, placed_at, status)
  SELECT o.site_id, o.order_id, j.value ->> '$.product_id', o.contact_id, sum(coalesce(j.value ->> '$.quantity', 1)),
         o.placed_at, o.status
  FROM orders o, json_each(o.products) j WHERE j.value ->> '$.product_id' IS NOT NULL
  GROUP BY o.site_id, o.order_id, j.value ->> '$.product_id';
