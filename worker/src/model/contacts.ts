import { sha256Hex } from "../lib/crypto";
import type { Message } from "./events";
import { moveMessages } from "./messages";

/**
 * Contacts and their identities. A browser's anonymous id, the store's user id and an email each
 * point at one contact; when an event shows two of them belong together, they are linked, and an
 * anonymous contact is merged into the known one (its history, cart and messages move with it).
 */

export type IdentityKind = "anonymous" | "user" | "email";

export interface Identity {
  kind: IdentityKind;
  value: string;
}

export interface IdentityRow extends Identity {
  contact_id: string;
  email: string | null;
  user_id: string | null;
}

/**
 * A bare address: no spaces, and none of the characters RFC 5322 gives meaning to in an address
 * list (`<>(),;:"[]\`). `x<her@example.com>` or `a@b.test, her@example.com` would pass a looser
 * check, miss her suppression entry, and still be delivered to her by a provider that parses the
 * field as RFC 5322.
 */
const EMAIL = /^[^\s@<>(),;:"[\]\\]{1,64}@[^\s@<>(),;:"[\]\\]{1,189}\.[^\s@<>(),;:"[\]\\]{1,63}$/;

/** A normalised email, or null when the value is not one. */
export function normaliseEmail(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const email = value.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : null;
}

/** The identities an event names: anonymous id, user id, and (for identify) the email trait. */
export function identitiesOf(m: Message): Identity[] {
  const ids: Identity[] = [];
  if (m.anonymousId) ids.push({ kind: "anonymous", value: m.anonymousId });
  if (m.userId) ids.push({ kind: "user", value: m.userId });
  const email = normaliseEmail(m.traits.email);
  if (email) ids.push({ kind: "email", value: email });
  // alias(previousId -> userId): the previous id may have been anonymous or a user id.
  if (m.type === "alias" && m.previousId) {
    ids.push({ kind: "anonymous", value: m.previousId }, { kind: "user", value: m.previousId });
  }
  return ids;
}

export interface Resolution {
  contactId: string;
  /** Statements that create the contact, link identities and merge duplicates; run them first. */
  statements: D1PreparedStatement[];
  /** Contacts folded into `contactId` by those statements. */
  merged: string[];
}

/**
 * Finds (or creates) the contact an event belongs to, from `found`: the event's identities as
 * stored (`findIdentities`). Every write is returned as a statement so the caller can commit it
 * atomically with the event's other effects. `authoritative`: may merge known contacts and move
 * identities away from them — the server, or a verified claim.
 */
export async function resolveContact(
  db: D1Database,
  siteId: string,
  m: Message,
  found: IdentityRow[],
  { authoritative }: { authoritative: boolean },
): Promise<Resolution> {
  const wanted = identitiesOf(m);

  const row = (kind: IdentityKind) => found.find((r) => r.kind === kind);
  const strong = row("user") ?? row("email");
  const contactId = strong?.contact_id ?? row("anonymous")?.contact_id ?? (await newContactId(siteId, m));
  const statements: D1PreparedStatement[] = [];

  if (!found.some((r) => r.contact_id === contactId)) {
    statements.push(
      db
        .prepare(`INSERT INTO contacts (site_id, id, first_seen, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
        .bind(siteId, contactId, m.timestamp, m.timestamp),
    );
  }

  const merged = new Set<string>();
  // Only the merchant's server (or a verified claim) may merge or relink; ingest/trust.ts keeps other
  // claims on known contacts out of `m` already — this is the net under it, should a row slip past.
  for (const r of found) {
    if (r.contact_id === contactId || merged.has(r.contact_id)) continue;
    if (!authoritative && (r.email !== null || r.user_id !== null)) continue;
    if (r.email === null && r.user_id === null) {
      // An anonymous contact that turns out to be this person: fold it in.
      merged.add(r.contact_id);
      statements.push(...mergeContacts(db, siteId, r.contact_id, contactId));
    } else if (r.kind !== "anonymous" && (r.user_id === null || r.user_id === m.userId)) {
      // The event ties this user id and this email together, and they belong to two known contacts
      // whose user ids do not conflict: one person, known twice. Merge, keeping both histories.
      merged.add(r.contact_id);
      statements.push(...mergeContacts(db, siteId, r.contact_id, contactId));
    } else if (r.kind === "anonymous") {
      // A shared browser now used by someone else: the device moves, the other person stays whole.
      statements.push(linkIdentity(db, siteId, r, contactId));
    }
    // An identity of a known contact with a different user id is left with them.
  }
  for (const id of wanted) {
    if (!found.some((r) => r.kind === id.kind && r.value === id.value)) {
      // alias names previousId under both kinds; only link the kind that exists or is anonymous.
      if (m.type === "alias" && id.value === m.previousId && id.kind === "user") continue;
      statements.push(linkIdentity(db, siteId, id, contactId));
    }
  }
  return { contactId, statements, merged: [...merged] };
}

/** The stored identities among `wanted`, with their contact's email and user id: one read. */
export async function findIdentities(db: D1Database, siteId: string, wanted: Identity[]): Promise<IdentityRow[]> {
  if (wanted.length === 0) return [];
  const { results } = await identitiesQuery(db, siteId, wanted).all<IdentityRow>();
  return results ?? [];
}

/** findIdentities' statement, to run in a batch with other reads. */
export function identitiesQuery(db: D1Database, siteId: string, wanted: Identity[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT i.kind, i.value, i.contact_id, c.email, c.user_id
       FROM identities i JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
       WHERE i.site_id = ?1 AND (i.kind, i.value) IN (SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(?2))`,
    )
    .bind(siteId, JSON.stringify(wanted.map((i) => [i.kind, i.value])));
}

/**
 * The id of a contact created for a new shopper, derived from their strongest identity (user id,
 * else email, else anonymous id). Two requests that meet the same new shopper at once — Segment's
 * libraries send batches in parallel — then create the same contact instead of two, one of which
 * would lose its identities to the other.
 */
export async function newContactId(siteId: string, m: Message): Promise<string> {
  return (await sha256Hex(newContactKey(siteId, m))).slice(0, 32);
}

/** What newContactId hashes: the site and the message's strongest identity. */
export function newContactKey(siteId: string, m: Message): string {
  const email = normaliseEmail(m.traits.email);
  const [kind, value] = m.userId ? ["user", m.userId] : email ? ["email", email] : ["anonymous", m.anonymousId ?? ""];
  return `${siteId}\u0000${kind}\u0000${value}`;
}

/** newContactId for many messages at once: each distinct shopper hashed once, all in parallel. */
export async function newContactIds(siteId: string, messages: Message[]): Promise<Map<string, string>> {
  const keys = [...new Set(messages.map((m) => newContactKey(siteId, m)))];
  const ids = await Promise.all(keys.map(async (k) => (await sha256Hex(k)).slice(0, 32)));
  return new Map(keys.map((k, i) => [k, ids[i] ?? ""]));
}

/**
 * New shoppers — none of whose identities exist yet — created with their identities: two
 * statements for any number of them.
 */
export function createContacts(
  db: D1Database,
  siteId: string,
  contacts: { id: string; at: number; identities: Identity[] }[],
): D1PreparedStatement[] {
  if (contacts.length === 0) return [];
  const links = contacts.flatMap((c) => c.identities.map((i) => [i.kind, i.value, c.id]));
  return [
    db
      .prepare(
        `INSERT INTO contacts (site_id, id, first_seen, last_seen)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 1 FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(siteId, JSON.stringify(contacts.map((c) => [c.id, c.at]))),
    db
      .prepare(
        `INSERT INTO identities (site_id, kind, value, contact_id)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2) WHERE true
         ON CONFLICT (site_id, kind, value) DO UPDATE SET contact_id = excluded.contact_id`,
      )
      .bind(siteId, JSON.stringify(links)),
  ];
}

function linkIdentity(db: D1Database, siteId: string, id: Identity, contactId: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO identities (site_id, kind, value, contact_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (site_id, kind, value) DO UPDATE SET contact_id = excluded.contact_id`,
    )
    .bind(siteId, id.kind, id.value, contactId);
}

/**
 * The per-contact tables (those with `site_id` and `contact_id`) that mergeContacts moves. A test
 * compares this with the live schema, so a table added later cannot be forgotten here and leave
 * rows on a deleted contact (as coupon redemptions were, which let a merged shopper reuse a
 * once-per-customer code).
 */
export const MERGED_TABLES = [
  "callbacks",
  "cart_items",
  "carts",
  "consents",
  "contacts",
  "coupon_redemptions",
  "coupons",
  "dead_letters",
  "events",
  "identities",
  "leave_reasons",
  "messages",
  "order_items",
  "orders",
  "product_views",
  "referral_codes",
  "referrals",
];

/** Moves everything of contact `from` onto contact `into`, then deletes `from`. */
export function mergeContacts(db: D1Database, siteId: string, from: string, into: string): D1PreparedStatement[] {
  const move = (sql: string) => db.prepare(sql).bind(siteId, from, into);
  const drop = (sql: string) => db.prepare(sql).bind(siteId, from);
  return [
    move(`UPDATE identities SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE events SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    moveMessages(db, siteId, from, into),
    move(`UPDATE orders SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE order_items SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE coupons SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE callbacks SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE consents SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE coupon_redemptions SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE dead_letters SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE leave_reasons SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    // A referrer's codes all keep working; a friend counted twice (both halves were referred) keeps one row.
    move(`UPDATE referral_codes SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    move(`UPDATE referrals SET referrer_id = ?3 WHERE site_id = ?1 AND referrer_id = ?2`),
    move(`UPDATE OR IGNORE referrals SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`),
    drop(`DELETE FROM referrals WHERE site_id = ?1 AND contact_id = ?2`),
    move(
      `INSERT INTO product_views (site_id, contact_id, product_id, viewed_at, views)
       SELECT site_id, ?3, product_id, viewed_at, views FROM product_views WHERE site_id = ?1 AND contact_id = ?2
       ON CONFLICT DO UPDATE SET viewed_at = max(viewed_at, excluded.viewed_at), views = views + excluded.views`,
    ),
    drop(`DELETE FROM product_views WHERE site_id = ?1 AND contact_id = ?2`),
    // Cart lines: the larger quantity wins when both carts hold the product.
    move(
      `INSERT INTO cart_items (site_id, contact_id, product_id, name, price, quantity, url, image_url)
       SELECT site_id, ?3, product_id, name, price, quantity, url, image_url
       FROM cart_items WHERE site_id = ?1 AND contact_id = ?2
       ON CONFLICT DO UPDATE SET quantity = max(quantity, excluded.quantity)`,
    ),
    move(
      `INSERT INTO carts (site_id, contact_id, cart_id, currency, updated_at)
       SELECT site_id, ?3, cart_id, currency, updated_at FROM carts WHERE site_id = ?1 AND contact_id = ?2
       ON CONFLICT DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)`,
    ),
    drop(`DELETE FROM cart_items WHERE site_id = ?1 AND contact_id = ?2`),
    drop(`DELETE FROM carts WHERE site_id = ?1 AND contact_id = ?2`),
    move(
      `UPDATE contacts SET
         first_seen = min(contacts.first_seen, f.first_seen), last_seen = max(contacts.last_seen, f.last_seen),
         orders_count = contacts.orders_count + f.orders_count, total_spent = contacts.total_spent + f.total_spent,
         last_order_at = nullif(max(coalesce(contacts.last_order_at, 0), coalesce(f.last_order_at, 0)), 0),
         unsubscribed = max(contacts.unsubscribed, f.unsubscribed),
         email = coalesce(contacts.email, f.email), user_id = coalesce(contacts.user_id, f.user_id),
         phone = coalesce(contacts.phone, f.phone), name = coalesce(contacts.name, f.name),
         traits = json_patch(f.traits, contacts.traits)
       FROM (SELECT * FROM contacts WHERE site_id = ?1 AND id = ?2) AS f
       WHERE contacts.site_id = ?1 AND contacts.id = ?3`,
    ),
    drop(`DELETE FROM contacts WHERE site_id = ?1 AND id = ?2`),
  ];
}

/** identify: store the traits we use as columns, the rest as JSON. */
export function applyTraits(db: D1Database, siteId: string, contactId: string, m: Message): D1PreparedStatement {
  const t = m.traits;
  const text = (v: unknown, max: number) => (typeof v === "string" && v.trim() ? v.trim().slice(0, max) : null);
  const name =
    text(t.name, 200) ?? text([t.firstName ?? t.first_name, t.lastName ?? t.last_name].filter(Boolean).join(" "), 200);
  return db
    .prepare(
      `UPDATE contacts SET
         email = coalesce(?3, email), user_id = coalesce(?4, user_id), phone = coalesce(?5, phone),
         name = coalesce(?6, name), traits = json_patch(traits, ?7)
       WHERE site_id = ?1 AND id = ?2`,
    )
    .bind(
      siteId,
      contactId,
      normaliseEmail(t.email),
      m.userId,
      text(t.phone, 32),
      name,
      JSON.stringify(t).length <= 16_384 ? JSON.stringify(t) : "{}",
    );
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

/**
 * Spend of a contact since `?3` (ms), for segments: an index-only range sum over orders_spend
 * (migration 0003). Trailing windows are computed rather than stored, so they never go stale.
 * Bind (site_id, contact_id, since).
 */
export const SPEND_SINCE_SQL = `SELECT coalesce(sum(total), 0) FROM orders
  WHERE site_id = ?1 AND contact_id = ?2 AND status = 'placed' AND placed_at >= ?3`;

/**
 * Lifecycle stages, one per contact, first match wins: never ordered — `left_cart` with an open
 * cart, else `prospect` (browsing); ordered — `lapsing` when the last order is LAPSING_DAYS old,
 * `loyal` from LOYAL_ORDERS orders, else `customer`.
 */
export const STAGES = ["prospect", "left_cart", "customer", "loyal", "lapsing"] as const;
export type Stage = (typeof STAGES)[number];
export const LAPSING_DAYS = 180;
export const LOYAL_ORDERS = 3;

/**
 * The stage of contacts row `c` as SQL, the one definition segments and profiles read;
 * `cutoff` is the placeholder bound to now − LAPSING_DAYS.
 */
export const stageSql = (cutoff: string) => `(CASE
  WHEN c.orders_count = 0 THEN
    iif(EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.id), 'left_cart', 'prospect')
  WHEN c.last_order_at IS NOT NULL AND c.last_order_at <= ${cutoff} THEN 'lapsing'
  WHEN c.orders_count >= ${LOYAL_ORDERS} THEN 'loyal' ELSE 'customer' END)`;

export interface Profile {
  id: string;
  email: string | null;
  userId: string | null;
  phone: string | null;
  name: string | null;
  traits: Record<string, unknown>;
  firstSeen: number;
  lastSeen: number;
  lastOrderAt: number | null;
  ordersCount: number;
  totalSpent: number;
  spent365: number;
  unsubscribed: boolean;
  stage: Stage;
  /** Quintiles 1–5 among the site's customers (segments/rfm.ts); null without an order or before the first run. */
  rfm: { recency: number; frequency: number; monetary: number } | null;
  identities: { kind: IdentityKind; value: string }[];
  cart: { cartId: string; currency: string; items: number; value: number; updatedAt: number } | null;
  lastViewed: { productId: string; viewedAt: number; views: number }[];
}

interface ProfileRow {
  id: string;
  email: string | null;
  user_id: string | null;
  phone: string | null;
  name: string | null;
  traits: string;
  first_seen: number;
  last_seen: number;
  last_order_at: number | null;
  orders_count: number;
  total_spent: number;
  unsubscribed: number;
  spent_365: number;
  stage: Stage;
  rfm_r: number | null;
  rfm_f: number | null;
  rfm_m: number | null;
}

/** A contact with the aggregates segments use: one batch of index lookups. */
export async function profile(db: D1Database, siteId: string, contactId: string, now: number): Promise<Profile | null> {
  const [c, ids, cart, views] = await db.batch([
    db
      .prepare(
        `SELECT c.*, (${SPEND_SINCE_SQL}) AS spent_365, ${stageSql("?4")} AS stage FROM contacts c
         WHERE c.site_id = ?1 AND c.id = ?2`,
      )
      .bind(siteId, contactId, now - YEAR_MS, now - LAPSING_DAYS * 86400_000),
    db
      .prepare(`SELECT kind, value FROM identities WHERE site_id = ? AND contact_id = ? ORDER BY kind, value`)
      .bind(siteId, contactId),
    db
      .prepare(
        `SELECT cart_id AS cartId, currency, items, value, updated_at AS updatedAt FROM open_carts
         WHERE site_id = ? AND contact_id = ?`,
      )
      .bind(siteId, contactId),
    db
      .prepare(
        `SELECT product_id AS productId, viewed_at AS viewedAt, views FROM product_views
         WHERE site_id = ? AND contact_id = ? ORDER BY viewed_at DESC LIMIT 20`,
      )
      .bind(siteId, contactId),
  ]);
  const row = c?.results[0] as ProfileRow | undefined;
  if (!row) return null;
  return {
    id: row.id,
    email: row.email,
    userId: row.user_id,
    phone: row.phone,
    name: row.name,
    traits: JSON.parse(row.traits) as Record<string, unknown>,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastOrderAt: row.last_order_at,
    ordersCount: row.orders_count,
    totalSpent: row.total_spent,
    spent365: row.spent_365,
    unsubscribed: row.unsubscribed === 1,
    stage: row.stage,
    rfm:
      row.rfm_r !== null && row.rfm_f !== null && row.rfm_m !== null
        ? { recency: row.rfm_r, frequency: row.rfm_f, monetary: row.rfm_m }
        : null,
    identities: (ids?.results ?? []) as Profile["identities"],
    cart: (cart?.results[0] as Profile["cart"] | undefined) ?? null,
    lastViewed: (views?.results ?? []) as Profile["lastViewed"],
  };
}
