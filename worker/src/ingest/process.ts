import { CAMPAIGNS } from "../campaigns";
import { applyTraits, resolveContact } from "../model/contacts";
import { cartStatements } from "../model/carts";
import type { Site } from "../model/sites";
import { toMinor } from "../lib/money";
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
      if (m.event === "Order Completed") statements.push(...orderStatements(db, site, contactId, m));
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

function orderStatements(db: D1Database, site: Site, contactId: string, m: Message): D1PreparedStatement[] {
  const p = m.properties;
  const currency = typeof p.currency === "string" ? p.currency.slice(0, 3).toUpperCase() : site.currency;
  const total = toMinor(p.total ?? p.revenue ?? p.value ?? 0, currency);
  return [
    db
      .prepare(
        `UPDATE contacts SET orders_count = orders_count + 1, total_spent = total_spent + ?3,
           last_order_at = max(coalesce(last_order_at, 0), ?4)
         WHERE site_id = ?1 AND id = ?2`,
      )
      .bind(site.id, contactId, total, m.timestamp),
    // The shopper bought: nothing still waiting to remind them of this cart may go out.
    db
      .prepare(
        `UPDATE messages SET status = 'cancelled', reason = 'ordered'
         WHERE site_id = ?1 AND contact_id = ?2 AND status = 'pending' AND campaign = 'abandoned_cart'`,
      )
      .bind(site.id, contactId),
  ];
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
