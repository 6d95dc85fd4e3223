import { CAMPAIGNS } from "../campaigns";
import { applyTraits, resolveContact } from "../model/contacts";
import { cartStatements, toLine } from "../model/carts";
import type { Site } from "../model/sites";
import { toMinor } from "../lib/money";
import { text } from "../lib/values";
import { redeemCoupons, releaseCoupons } from "../promotions/coupons";
import { isDict } from "./validate";
import type { Message } from "./validate";

/**
 * Applies new events to profiles, carts and campaigns. Each event's effects and its `processed`
 * mark commit in one D1 batch (a transaction), so an event is applied entirely or not at all;
 * events left unprocessed by a crash are picked up by the scheduled sweep (`recoverEvents`).
 */
export async function processEvents(db: D1Database, site: Site, events: Message[], now: number): Promise<void> {
  const ordered = [...events].sort((a, b) => a.timestamp - b.timestamp);
  for (const m of ordered) {
    const { contactId, statements } = await resolveContact(db, site.id, m);
    statements.push(
      db
        .prepare(`UPDATE contacts SET last_seen = max(last_seen, ?3) WHERE site_id = ?1 AND id = ?2`)
        .bind(site.id, contactId, m.timestamp),
    );
    if (m.type === "identify" || Object.keys(m.traits).length > 0)
      statements.push(applyTraits(db, site.id, contactId, m));
    if (m.type === "track") {
      statements.push(...cartStatements(db, site.id, contactId, m, site.currency));
      statements.push(...productStatements(db, site, contactId, m), ...orderStatements(db, site, contactId, m));
    }
    for (const campaign of CAMPAIGNS.values())
      statements.push(...campaign.onEvent(db, { site, contactId, event: m, now }));
    statements.push(
      db
        .prepare(`UPDATE events SET contact_id = ?3, processed = 1 WHERE site_id = ?1 AND message_id = ?2`)
        .bind(site.id, m.messageId, contactId),
    );
    await db.batch(statements);
  }
}

const ORDER_STATUS: Record<string, "cancelled" | "refunded"> = {
  "Order Cancelled": "cancelled",
  "Order Refunded": "refunded",
};

/** Orders are rows keyed by order id; the contact's aggregates are recomputed from them, so a
 * resent Order Completed (same order, new messageId) or a cancel/refund keeps them exact. */
function orderStatements(db: D1Database, site: Site, contactId: string, m: Message): D1PreparedStatement[] {
  const p = m.properties;
  const currency = typeof p.currency === "string" ? p.currency.slice(0, 3).toUpperCase() : site.currency;
  const orderId = text(p.order_id ?? p.orderId ?? p.checkout_id, 200);
  const statements: D1PreparedStatement[] = [];
  if (m.event === "Order Completed") {
    const total = toMinor(p.total ?? p.revenue ?? p.value ?? 0, currency);
    const products = (Array.isArray(p.products) ? p.products.slice(0, 200) : [])
      .map((x) => toLine(x, currency))
      .filter((l) => l !== null)
      .map((l) => ({ product_id: l.productId, quantity: l.quantity, price: l.price }));
    const coupons = [p.coupon, ...(Array.isArray(p.coupons) ? p.coupons : [])]
      .map((c) => text(c, 64)?.toUpperCase())
      .filter((c) => !!c)
      .slice(0, 10);
    statements.push(
      db
        .prepare(
          `INSERT INTO orders (site_id, order_id, contact_id, total, currency, placed_at, coupons, products)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .bind(
          site.id,
          orderId ?? m.messageId,
          contactId,
          total,
          currency,
          m.timestamp,
          JSON.stringify(coupons),
          JSON.stringify(products),
        ),
      // The shopper bought: nothing still waiting to remind them of this cart may go out.
      db
        .prepare(
          `UPDATE messages SET status = 'cancelled', reason = 'ordered'
           WHERE site_id = ?1 AND contact_id = ?2 AND status = 'pending' AND campaign = 'abandoned_cart'`,
        )
        .bind(site.id, contactId),
      ...redeemCoupons(db, site.id, orderId ?? m.messageId, contactId, coupons, m.timestamp),
    );
  } else {
    const status = m.event ? ORDER_STATUS[m.event] : undefined;
    if (!status || !orderId) return [];
    statements.push(
      db.prepare(`UPDATE orders SET status = ? WHERE site_id = ? AND order_id = ?`).bind(status, site.id, orderId),
      ...releaseCoupons(db, site.id, orderId, m.timestamp),
    );
  }
  statements.push(
    db
      .prepare(
        `UPDATE contacts SET
           orders_count = (SELECT count(*) FROM orders o WHERE o.site_id = ?1 AND o.contact_id = ?2 AND o.status = 'placed'),
           total_spent = (SELECT coalesce(sum(total), 0) FROM orders o WHERE o.site_id = ?1 AND o.contact_id = ?2 AND o.status = 'placed'),
           last_order_at = (SELECT max(placed_at) FROM orders o WHERE o.site_id = ?1 AND o.contact_id = ?2 AND o.status = 'placed')
         WHERE site_id = ?1 AND id = ?2`,
      )
      .bind(site.id, contactId),
  );
  return statements;
}

const PRODUCT_EVENTS = new Set([
  "Product Viewed",
  "Product Added",
  "Product Removed",
  "Product Clicked",
  "Product Shared",
]);

/** The catalogue learns products from product events; views are kept per contact and product. */
function productStatements(db: D1Database, site: Site, contactId: string, m: Message): D1PreparedStatement[] {
  if (!m.event || !PRODUCT_EVENTS.has(m.event)) return [];
  const currency =
    typeof m.properties.currency === "string" ? m.properties.currency.slice(0, 3).toUpperCase() : site.currency;
  const line = toLine(m.properties, currency);
  if (!line) return [];
  const statements = [
    db
      .prepare(
        `INSERT INTO products (site_id, product_id, name, price, currency, category, url, image_url, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, currency = excluded.currency,
           category = coalesce(excluded.category, category), url = coalesce(excluded.url, url),
           image_url = coalesce(excluded.image_url, image_url), updated_at = excluded.updated_at
         WHERE excluded.updated_at >= updated_at`,
      )
      .bind(
        site.id,
        line.productId,
        line.name,
        line.price,
        currency,
        text(m.properties.category, 200),
        line.url,
        line.imageUrl,
        m.timestamp,
      ),
  ];
  if (m.event === "Product Viewed") {
    statements.push(
      db
        .prepare(
          `INSERT INTO product_views (site_id, contact_id, product_id, viewed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET viewed_at = max(viewed_at, excluded.viewed_at), views = views + 1`,
        )
        .bind(site.id, contactId, line.productId, m.timestamp),
    );
  }
  return statements;
}

interface EventRow {
  site_id: string;
  message_id: string;
  type: Message["type"];
  event: string | null;
  anonymous_id: string | null;
  user_id: string | null;
  previous_id: string | null;
  properties: string;
  traits: string;
  context: string;
  timestamp: number;
}

const parse = (text: string): Record<string, unknown> => {
  const v: unknown = JSON.parse(text);
  return isDict(v) ? v : {};
};

/** Events stored but not processed for over `graceMs` (the request that stored them died). */
export async function recoverEvents(
  db: D1Database,
  siteById: (id: string) => Promise<Site | null>,
  now: number,
  graceMs = 60_000,
): Promise<number> {
  const { results } = await db
    .prepare(
      `SELECT site_id, message_id, type, event, anonymous_id, user_id, previous_id, properties, traits, context, timestamp
       FROM events WHERE processed = 0 AND received_at < ? ORDER BY received_at LIMIT 500`,
    )
    .bind(now - graceMs)
    .all<EventRow>();
  const rows = results ?? [];
  for (const siteId of new Set(rows.map((r) => r.site_id))) {
    const site = await siteById(siteId);
    if (!site) continue;
    const events = rows
      .filter((r) => r.site_id === siteId)
      .map(
        (r): Message => ({
          type: r.type,
          messageId: r.message_id,
          anonymousId: r.anonymous_id,
          userId: r.user_id,
          previousId: r.previous_id,
          event: r.event,
          properties: parse(r.properties),
          traits: parse(r.traits),
          context: parse(r.context),
          timestamp: r.timestamp,
        }),
      );
    await processEvents(db, site, events, now);
  }
  return rows.length;
}
