import { phoneDigitsSql } from "../lib/phone";
import type { OnsiteConfig } from "../../../sdk/contract";

/** Onsite data: the widget configuration, callback tasks and consent records. */

export interface StoredConfig {
  config: OnsiteConfig;
  webhookUrl: string | null;
  webhookSecret: string | null;
}

export async function onsiteConfig(db: D1Database, siteId: string, fallback: OnsiteConfig): Promise<StoredConfig> {
  const row = await db
    .prepare(`SELECT config, webhook_url, webhook_secret FROM onsite_configs WHERE site_id = ?`)
    .bind(siteId)
    .first<{ config: string; webhook_url: string | null; webhook_secret: string | null }>();
  if (!row) return { config: fallback, webhookUrl: null, webhookSecret: null };
  return {
    config: JSON.parse(row.config) as OnsiteConfig,
    webhookUrl: row.webhook_url,
    webhookSecret: row.webhook_secret,
  };
}

export async function saveOnsiteConfig(db: D1Database, siteId: string, c: StoredConfig, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO onsite_configs (site_id, config, webhook_url, webhook_secret, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (site_id) DO UPDATE SET config = excluded.config, webhook_url = excluded.webhook_url,
         webhook_secret = excluded.webhook_secret, updated_at = excluded.updated_at`,
    )
    .bind(siteId, JSON.stringify(c.config), c.webhookUrl, c.webhookSecret, now)
    .run();
}

/** The contact an anonymous browser id belongs to, once any event has named it. */
export async function contactOfAnonymous(db: D1Database, siteId: string, anonymousId: string): Promise<string | null> {
  const row = await db
    .prepare(`SELECT contact_id FROM identities WHERE site_id = ? AND kind = 'anonymous' AND value = ?`)
    .bind(siteId, anonymousId)
    .first<{ contact_id: string }>();
  return row?.contact_id ?? null;
}

/** SQL for the contact of browser ?2 on site ?1 (NULL while unknown); the caller applies the
 * browser's events first, so a visitor seen before has one. */
const CONTACT_OF_BROWSER = `(SELECT contact_id FROM identities WHERE site_id = ?1 AND kind = 'anonymous' AND value = ?2)`;

export const consentStatement = (
  db: D1Database,
  r: { siteId: string; anonymousId: string; subject: string; purpose: string; wording: string; now: number },
): D1PreparedStatement =>
  db
    .prepare(
      `INSERT INTO consents (site_id, contact_id, anonymous_id, subject, purpose, wording, created_at)
       VALUES (?1, ${CONTACT_OF_BROWSER}, ?2, ?3, ?4, ?5, ?6)`,
    )
    .bind(r.siteId, r.anonymousId, r.subject, r.purpose, r.wording, r.now);

export interface NewCallback {
  siteId: string;
  requestId: string;
  anonymousId: string;
  name: string | null;
  phone: string;
  window: string;
  note: string | null;
  pageUrl: string | null;
  now: number;
}

export interface Callback {
  id: number;
  contact_id: string | null;
  email: string | null;
  anonymous_id: string;
  name: string | null;
  phone: string;
  time_window: string;
  note: string | null;
  page_url: string | null;
  status: string;
  notified_at: number | null;
  created_at: number;
  /** How it was asked: 'widget' (the onsite form), 'link' (a message's callback form) or 'reply' (an SMS reply). */
  via: string;
  /** The message whose callback offer was taken ('link', 'reply'). */
  message_id: number | null;
}

/** Callbacks with who asked: the contact is looked up through the browser's id when read, so a
 * later sign-in or merge shows up without rewriting the task. */
const CALLBACKS = `SELECT cb.id, coalesce(cb.contact_id, i.contact_id) AS contact_id, c.email, cb.anonymous_id, cb.name, cb.phone, cb.time_window, cb.note,
    cb.page_url, cb.status, cb.notified_at, cb.created_at, cb.via, cb.message_id
  FROM callbacks cb
  LEFT JOIN identities i ON i.site_id = cb.site_id AND i.kind = 'anonymous' AND i.value = cb.anonymous_id
  LEFT JOIN contacts c ON c.site_id = cb.site_id AND c.id = coalesce(cb.contact_id, i.contact_id)`;

/** Creates the task once per request id (a retried request finds the first: `created: false`),
 * in one transaction with the consent record. */
export async function createCallback(
  db: D1Database,
  c: NewCallback,
  consent: D1PreparedStatement,
): Promise<{ id: number; created: boolean }> {
  const [inserted] = await db.batch<{ id: number }>([
    db
      .prepare(
        `INSERT INTO callbacks (site_id, request_id, contact_id, anonymous_id, name, phone, time_window, note, page_url, created_at)
         VALUES (?1, ?3, ${CONTACT_OF_BROWSER}, ?2, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (site_id, request_id) DO NOTHING RETURNING id`,
      )
      .bind(c.siteId, c.anonymousId, c.requestId, c.name, c.phone, c.window, c.note, c.pageUrl, c.now),
    consent,
  ]);
  return made(db, c.siteId, c.requestId, inserted?.results?.[0]);
}

/** The callback task a request id made, if any ('offer:<message id>' for a message's offer). */
export async function callbackIdOf(db: D1Database, siteId: string, requestId: string): Promise<number | null> {
  const row = await db
    .prepare(`SELECT id FROM callbacks WHERE site_id = ? AND request_id = ?`)
    .bind(siteId, requestId)
    .first<{ id: number }>();
  return row?.id ?? null;
}

/** The outcome of a create: the row it inserted, else the one an earlier request made. */
async function made(db: D1Database, siteId: string, requestId: string, fresh: { id: number } | undefined) {
  if (fresh) return { id: fresh.id, created: true };
  const id = await callbackIdOf(db, siteId, requestId);
  if (id === null) throw new Error("callback vanished");
  return { id, created: false };
}

/** The request id of the callback taken from message `messageId`'s offer: one per message. */
export const offerRequestId = (messageId: number) => `offer:${messageId}`;

/**
 * A callback taken from message `messageId`'s offer (its link's form, or an SMS reply): one per
 * message however often the shopper taps or replies, with the consent record beside it (the
 * shopper's own act: they submitted the form or texted CALL). Not from a browser, so no anonymous id.
 */
export async function createOfferedCallback(
  db: D1Database,
  c: {
    siteId: string;
    contactId: string;
    messageId: number;
    phone: string;
    via: "link" | "reply";
    wording: string;
    now: number;
  },
): Promise<{ id: number; created: boolean }> {
  const [inserted] = await db.batch<{ id: number }>([
    db
      .prepare(
        `INSERT INTO callbacks (site_id, request_id, contact_id, anonymous_id, phone, time_window, via, message_id, created_at)
         VALUES (?1, ?7, ?2, '', ?4, 'asap', ?5, ?3, ?6)
         ON CONFLICT (site_id, request_id) DO NOTHING RETURNING id`,
      )
      .bind(c.siteId, c.contactId, c.messageId, c.phone, c.via, c.now, offerRequestId(c.messageId)),
    db
      .prepare(
        `INSERT INTO consents (site_id, contact_id, anonymous_id, subject, purpose, wording, created_at)
         SELECT ?1, ?2, '', ?3, 'callback', ?4, ?5 WHERE changes() > 0`, // only beside a new task
      )
      .bind(c.siteId, c.contactId, c.phone, c.wording, c.now),
  ]);
  return made(db, c.siteId, offerRequestId(c.messageId), inserted?.results?.[0]);
}

/**
 * The latest callback offer (a message of one of `templates`, sent as SMS since `since`) that went
 * to `phone` on this site: what an inbound reply "CALL" answers. The number is the one the offer
 * was sent to — the journey's (a callback's own) or the contact's.
 */
export async function latestOfferTo(
  db: D1Database,
  x: { siteId: string; phone: string; since: number; templates: string[] },
): Promise<{ id: number; contact_id: string; locale: string | null } | null> {
  return db
    .prepare(
      `SELECT m.id, m.contact_id, coalesce(c.traits ->> 'locale', c.traits ->> 'language') AS locale FROM messages m
       JOIN contacts c ON c.site_id = m.site_id AND c.id = m.contact_id
       JOIN campaigns cp ON cp.site_id = m.site_id AND cp.id = m.campaign
       WHERE m.site_id = ?1 AND m.channel = 'sms' AND m.status = 'sent' AND m.holdout = 0 AND m.sent_at >= ?2
         AND json_extract(cp.definition, '$.steps[' || (m.step - 1) || '].template') IN (SELECT value FROM json_each(?3))
         AND ${phoneDigitsSql("coalesce(m.data ->> 'phone', c.phone)")} = ?4
       ORDER BY m.sent_at DESC, m.id DESC LIMIT 1`,
    )
    .bind(x.siteId, x.since, JSON.stringify(x.templates), x.phone)
    .first<{ id: number; contact_id: string; locale: string | null }>();
}

/** Fills in the contact of a browser's callbacks and consents once its events made one. */
export async function linkBrowser(db: D1Database, siteId: string, anonymousId: string): Promise<void> {
  await db.batch(
    ["callbacks", "consents"].map((t) =>
      db
        .prepare(
          `UPDATE ${t} SET contact_id = ${CONTACT_OF_BROWSER}
           WHERE site_id = ?1 AND anonymous_id = ?2 AND contact_id IS NULL`,
        )
        .bind(siteId, anonymousId),
    ),
  );
}

export async function callbackById(db: D1Database, siteId: string, id: number): Promise<Callback | null> {
  return db.prepare(`${CALLBACKS} WHERE cb.site_id = ? AND cb.id = ?`).bind(siteId, id).first<Callback>();
}

export async function listCallbacks(db: D1Database, siteId: string, status: string | null): Promise<Callback[]> {
  const { results } = await db
    .prepare(
      `${CALLBACKS} WHERE cb.site_id = ?1 AND (?2 IS NULL OR cb.status = ?2) ORDER BY cb.created_at DESC, cb.id DESC LIMIT 200`,
    )
    .bind(siteId, status)
    .all<Callback>();
  return results ?? [];
}

export async function setCallbackStatus(db: D1Database, siteId: string, id: number, status: string) {
  await db.prepare(`UPDATE callbacks SET status = ? WHERE site_id = ? AND id = ?`).bind(status, siteId, id).run();
  return callbackById(db, siteId, id);
}

export async function markNotified(db: D1Database, id: number, now: number): Promise<void> {
  await db.prepare(`UPDATE callbacks SET notified_at = ? WHERE id = ?`).bind(now, id).run();
}

/**
 * The exit-intent code already minted for this visitor, while it can still be used. One that
 * expired or was spent is retired (its source marked), so the visitor's next exit intent gets a
 * fresh code and the one-code-per-visitor index still holds.
 */
export async function exitCoupon(db: D1Database, siteId: string, anonymousId: string, now: number) {
  const row = await db
    .prepare(
      `SELECT code, expires_at, uses, max_uses FROM coupons
       WHERE site_id = ? AND anonymous_id = ? AND source = 'exit_intent'`,
    )
    .bind(siteId, anonymousId)
    .first<{ code: string; expires_at: number | null; uses: number; max_uses: number | null }>();
  if (!row) return null;
  const spent = row.max_uses !== null && row.uses >= row.max_uses;
  if (!spent && (row.expires_at === null || row.expires_at > now)) return row;
  await db
    .prepare(`UPDATE coupons SET source = 'exit_intent:retired' WHERE site_id = ? AND code = ?`)
    .bind(siteId, row.code)
    .run();
  return null;
}

/** What onsite audience rules need to know about a visitor: known? cart? bought before? */
export async function visitorState(db: D1Database, siteId: string, anonymousId: string) {
  const row = await db
    .prepare(
      `SELECT c.email IS NOT NULL OR c.user_id IS NOT NULL AS identified, c.orders_count AS orders,
         (SELECT count(*) FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.id) AS items,
         (SELECT coalesce(sum(i.price * i.quantity), 0) FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.id) AS value
       FROM identities d JOIN contacts c ON c.site_id = d.site_id AND c.id = d.contact_id
       WHERE d.site_id = ? AND d.kind = 'anonymous' AND d.value = ?`,
    )
    .bind(siteId, anonymousId)
    .first<{ identified: number; orders: number; items: number; value: number }>();
  const items = row?.items ?? 0;
  const segments = [...(row && row.orders > 0 ? ["customer"] : []), ...(items > 0 ? ["has_cart"] : [])];
  return { identified: row?.identified === 1, cart: { items, value: row?.value ?? 0 }, segments };
}
