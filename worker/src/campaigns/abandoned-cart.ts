import { html } from "hono/html";
import type { CartLine } from "../model/carts";
import { formatMoney } from "../lib/money";
import type { Campaign } from "./campaign";

/**
 * Abandoned cart: an identified contact with items in the cart and no order gets a reminder an
 * hour after the cart last changed, and a second one a day after the first. Every cart change
 * resets the first timer; an order, an emptied cart or an unsubscribe cancels what is pending —
 * both when it happens and again at send time.
 */

/** Step n is due `delayMs` after the cart's last change (step 1) or after step n-1 was sent. */
export const STEPS = [
  {
    delayMs: 60 * 60 * 1000,
    subject: (items: number) => `You left ${items === 1 ? "something" : `${items} items`} in your cart`,
  },
  { delayMs: 24 * 60 * 60 * 1000, subject: () => "Still thinking it over? Your cart is saved" },
] as const;

/** Inserts step `step` for the contact's current cart, due at `from + delay`; resets a pending one. */
function scheduleStep(db: D1Database, siteId: string, contactId: string, step: number, from: string, now: number) {
  const delay = STEPS[step - 1]?.delayMs ?? 0;
  return db
    .prepare(
      `INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at)
       SELECT c.site_id, c.contact_id, 'abandoned_cart', ?3, 'outbox',
              'abandoned_cart:' || c.site_id || ':' || c.contact_id || ':' || c.cart_id || ':' || ?3, ${from} + ?4, ?5
       FROM carts c JOIN contacts k ON k.site_id = c.site_id AND k.id = c.contact_id
       WHERE c.site_id = ?1 AND c.contact_id = ?2 AND k.email IS NOT NULL AND k.unsubscribed = 0
         AND EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.contact_id)
       ON CONFLICT (dedupe_key) DO UPDATE SET due_at = excluded.due_at WHERE status = 'pending'`,
    )
    .bind(siteId, contactId, step, delay, now);
}

export const abandonedCart: Campaign = {
  name: "abandoned_cart",

  onEvent(db, { site, contactId, now }) {
    const siteId = site.id;
    return [
      scheduleStep(db, siteId, contactId, 1, "c.updated_at", now),
      db
        .prepare(
          `UPDATE messages SET status = 'cancelled', reason = 'cart emptied or ordered'
           WHERE site_id = ?1 AND contact_id = ?2 AND campaign = 'abandoned_cart' AND status = 'pending'
             AND NOT EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = ?1 AND i.contact_id = ?2)`,
        )
        .bind(siteId, contactId),
    ];
  },

  followUp(db, m, now) {
    return m.step < STEPS.length ? [scheduleStep(db, m.siteId, m.contactId, m.step + 1, String(now), now)] : [];
  },

  exitReason(ctx) {
    if (ctx.lines.length === 0) return "cart emptied or ordered";
    return null;
  },

  async render({ site, contact, lines, links, step }) {
    const total = lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
    const greeting = contact.name ? `Hi ${contact.name},` : "Hi,";
    const subject = (STEPS[step - 1] ?? STEPS[0]).subject(lines.length);
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
