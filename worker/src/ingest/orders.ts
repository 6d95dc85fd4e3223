import type { Site } from "../model/sites";
import { countsMoney, currencyOf, EVENT, type Message, orderIdOf, releasesCoupons } from "../model/events";
import { toLine } from "../model/carts";
import { toMinor } from "../lib/money";
import { text } from "../lib/values";
import { redeemCoupons, releaseCoupons } from "../promotions/coupons";
import { referralStatements, reverseReferral } from "../model/referrals";

/**
 * Orders: what Order Completed, Order Cancelled and Order Refunded change. Ingest applies an order
 * event in the same transaction as the rest of its chunk:
 *  - the contact's open cart is closed (`cartStatements` in model/carts.ts), whoever sent it;
 *  - the campaigns whose definition says `exit.ordered` end the contact's pending journeys, with
 *    reason "ordered" (campaigns/engine.ts), whoever sent it — a merchant who set it to false keeps
 *    them; a journey the order itself triggers (payment confirmation) starts there too;
 *  - if the order counts as money (`countsMoney`, model/events.ts), here: the order row, the
 *    contact's spend aggregates, the coupons redeemed (or released on a cancel or refund), the
 *    order's attribution to the message that won it, and a referred friend's first order
 *    (model/referrals.ts: recorded once per friend, the referrer's reward scheduled).
 */

const DAY = 86400_000;

const ORDER_STATUS: Record<string, "cancelled" | "refunded"> = {
  [EVENT.orderCancelled]: "cancelled",
  [EVENT.orderRefunded]: "refunded",
};

/**
 * Orders are rows keyed by order id; the contact's aggregates are recomputed from them, so a
 * resent Order Completed (same order, new messageId) or a cancel/refund keeps them exact.
 * Only money the trust policy counts (`countsMoney`: the merchant's server, or a site that trusts
 * browser orders) makes rows; a browser's Order Completed elsewhere only ends its own contact's
 * cart and journeys. A cancel or refund touches an order of the same contact only, and only the server's
 * gives coupon uses back.
 */
export function orderStatements(db: D1Database, site: Site, contactId: string, m: Message): D1PreparedStatement[] {
  // A browser's word on a site that does not trust it: no order, spend, redemption, attribution or
  // reward (the cart and the journeys still end, above).
  if (!countsMoney(site, m)) return [];
  const p = m.properties;
  const currency = currencyOf(m, site.currency);
  const orderId = orderIdOf(m);
  const statements: D1PreparedStatement[] = [];
  if (m.event === EVENT.orderCompleted) {
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
      // Its lines as rows, from the stored order itself (a replay, or another contact's order with
      // this id, changes nothing): recommendations read them by product (campaigns/recommend.ts).
      db
        .prepare(
          `INSERT INTO order_items (site_id, order_id, product_id, contact_id, quantity, placed_at, status)
           SELECT o.site_id, o.order_id, j.value ->> '$.product_id', o.contact_id,
                  sum(coalesce(j.value ->> '$.quantity', 1)), o.placed_at, o.status
           FROM orders o, json_each(o.products) j
           WHERE o.site_id = ?1 AND o.order_id = ?2 AND j.value ->> '$.product_id' IS NOT NULL
           GROUP BY j.value ->> '$.product_id'
           ON CONFLICT DO NOTHING`,
        )
        .bind(site.id, orderId ?? m.messageId),
      ...redeemCoupons(db, site.id, orderId ?? m.messageId, contactId, coupons, m.timestamp),
      attribute(db, site.id, contactId, orderId ?? m.messageId),
      // After the order row: "had no other order" is read from the same transaction.
      ...referralStatements(db, site, {
        orderId: orderId ?? m.messageId,
        contactId,
        // A shop that captured `?ref=` without applying a discount reports it as `referral_code`.
        codes: [...coupons, text(p.referral_code, 64)?.toUpperCase()].filter((c): c is string => !!c),
        total,
        currency,
        placedAt: m.timestamp,
      }),
    );
  } else {
    const status = m.event ? ORDER_STATUS[m.event] : undefined;
    if (!status || !orderId) return [];
    statements.push(
      // Another shopper's order id names nothing here: the order must be this contact's.
      db
        .prepare(`UPDATE orders SET status = ? WHERE site_id = ? AND order_id = ? AND contact_id = ?`)
        .bind(status, site.id, orderId, contactId),
      db
        .prepare(`UPDATE order_items SET status = ? WHERE site_id = ? AND order_id = ? AND contact_id = ?`)
        .bind(status, site.id, orderId, contactId),
      ...(releasesCoupons(m) ? releaseCoupons(db, site.id, orderId, contactId, m.timestamp) : []),
      reverseReferral(db, site.id, orderId, contactId),
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

/**
 * Attribution: the order is a conversion of the last message the contact got (or, in the
 * holdout, would have got) before it, clicked or sent within the campaign's window.
 */
function attribute(db: D1Database, siteId: string, contactId: string, orderId: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO conversions (site_id, order_id, message_id, campaign, variant, holdout, amount, placed_at)
       SELECT o.site_id, o.order_id, m.id, m.campaign, m.variant, m.holdout, o.total, o.placed_at
       FROM orders o
       JOIN messages m ON m.site_id = o.site_id AND m.contact_id = o.contact_id
       JOIN campaigns cp ON cp.site_id = m.site_id AND cp.id = m.campaign
       WHERE o.site_id = ? AND o.order_id = ? AND o.contact_id = ?
         AND m.sent_at IS NOT NULL AND m.sent_at <= o.placed_at AND (m.status = 'sent' OR m.holdout = 1)
         AND max(m.sent_at, coalesce(m.clicked_at, 0))
             >= o.placed_at - coalesce(json_extract(cp.definition, '$.attributionDays'), 5) * ${DAY}
       ORDER BY max(m.sent_at, coalesce(m.clicked_at, 0)) DESC LIMIT 1
       ON CONFLICT DO NOTHING`,
    )
    .bind(siteId, orderId, contactId);
}
