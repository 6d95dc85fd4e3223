import { html } from "hono/html";
import type { CartLine } from "../model/carts";
import { formatMoney } from "../lib/money";
import type { Campaign } from "./campaign";

/**
 * Abandoned cart: an identified contact with items in the cart and no order gets a reminder
 * `DELAY_MS` after the cart last changed. Every cart change resets the timer; an order, an emptied
 * cart or an unsubscribe cancels it — both when it happens and again at send time.
 */

export const DELAY_MS = 60 * 60 * 1000;

export const abandonedCart: Campaign = {
  name: "abandoned_cart",

  schedule(db, siteId, contactId, now) {
    const key = `abandoned_cart:${siteId}:${contactId}:`;
    return [
      db
        .prepare(
          `INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at)
           SELECT c.site_id, c.contact_id, 'abandoned_cart', 1, 'outbox', ?3 || c.cart_id || ':1', c.updated_at + ?4, ?5
           FROM carts c JOIN contacts k ON k.site_id = c.site_id AND k.id = c.contact_id
           WHERE c.site_id = ?1 AND c.contact_id = ?2 AND k.email IS NOT NULL AND k.unsubscribed = 0
             AND EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.contact_id)
           ON CONFLICT (dedupe_key) DO UPDATE SET due_at = excluded.due_at WHERE status = 'pending'`,
        )
        .bind(siteId, contactId, key, DELAY_MS, now),
      db
        .prepare(
          `UPDATE messages SET status = 'cancelled', reason = 'cart emptied or ordered'
           WHERE site_id = ?1 AND contact_id = ?2 AND campaign = 'abandoned_cart' AND status = 'pending'
             AND NOT EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = ?1 AND i.contact_id = ?2)`,
        )
        .bind(siteId, contactId),
    ];
  },

  exitReason(ctx) {
    if (ctx.lines.length === 0) return "cart emptied or ordered";
    return null;
  },

  async render({ site, contact, lines, links }) {
    const total = lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
    const greeting = contact.name ? `Hi ${contact.name},` : "Hi,";
    const subject = `You left ${lines.length === 1 ? "something" : `${lines.length} items`} in your cart`;
    const row = (l: CartLine) => html`<tr>
      <td>${l.imageUrl ? html`<img src="${l.imageUrl}" alt="" width="64" height="64">` : ""}</td>
      <td>${l.name} × ${l.quantity}</td>
      <td align="right">${formatMoney(l.price * l.quantity, site.currency)}</td>
    </tr>`;
    const body = await html`<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1f2933">
<p>${greeting}</p>
<p>Your cart at ${site.name} is waiting for you.</p>
<table cellpadding="6">${lines.map(row)}
<tr><td></td><td><strong>Total</strong></td><td align="right"><strong>${formatMoney(total, site.currency)}</strong></td></tr></table>
<p><a href="${links.restore}" style="background:#2457d6;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">Return to your cart</a></p>
<p style="font-size:12px;color:#667"><a href="${links.unsubscribe}">Unsubscribe</a></p>
</body></html>`;
    const text = [
      greeting,
      "",
      `Your cart at ${site.name} is waiting for you:`,
      ...lines.map((l) => `- ${l.name} × ${l.quantity}: ${formatMoney(l.price * l.quantity, site.currency)}`),
      `Total: ${formatMoney(total, site.currency)}`,
      "",
      `Return to your cart: ${links.restore}`,
      "",
      `Unsubscribe: ${links.unsubscribe}`,
    ].join("\n");
    return { subject, html: body.toString(), text };
  },
};
