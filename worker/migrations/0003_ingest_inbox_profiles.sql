-- Ingest and profiles: the accepted-batch inbox, identity verification, and the aggregates
-- segments read (trailing spend, open cart, last viewed products).

-- Batches accepted by ingest and not yet applied. The request stores the validated batch as ONE
-- row (the cheapest durable write D1 offers) and answers; expanding it into `events` (deduplicated
-- by messageId) and applying it to profiles happens right after, off the request
-- (ctx.waitUntil), or in the sweep if that invocation died. claimed_at works like messages'.
CREATE TABLE inbox (
  id          INTEGER PRIMARY KEY,
  site_id     TEXT NOT NULL,
  body        TEXT NOT NULL,               -- JSON array of validated messages
  received_at INTEGER NOT NULL,
  claimed_at  INTEGER
);
CREATE INDEX inbox_received ON inbox (received_at);

-- Identity verification: when set, identify calls and events with a userId must carry
-- context.nudge.userHash = hex HMAC-SHA256(userId, identity_secret). NULL = not enforced.
-- Kept apart from the (hashed) admin secret so the admin key itself is never stored.
ALTER TABLE sites ADD COLUMN identity_secret TEXT;

-- Trailing spend (e.g. 365 days) is computed, not stored: a stored figure would go stale as
-- orders age out of the window. This covering index makes it an index-only range sum per contact.
CREATE INDEX orders_spend ON orders (site_id, contact_id, status, placed_at, total);

-- The open cart as segments see it: items, value (minor units) and when it last changed.
CREATE VIEW open_carts AS
  SELECT c.site_id, c.contact_id, c.cart_id, c.currency, c.updated_at,
         sum(i.quantity) AS items, sum(i.quantity * i.price) AS value
  FROM carts c JOIN cart_items i ON i.site_id = c.site_id AND i.contact_id = c.contact_id
  GROUP BY c.site_id, c.contact_id;

-- Last viewed products of a contact, newest first, without sorting the whole table.
CREATE INDEX product_views_contact ON product_views (site_id, contact_id, viewed_at);
