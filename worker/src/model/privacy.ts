import { collectOrphans } from "./event-contexts";
import { EVENT } from "./events";
import { suppressionHash } from "./suppressions";

/**
 * Everything stored about one contact: export (the right of access) and erasure (the right to be
 * forgotten). Both are driven by the schema rather than a hand-kept list: every table with
 * `site_id` and `contact_id` columns holds per-contact data, so a table added by a later migration
 * is exported and erased without touching this file. A few rows point at a person another way and
 * are named here: events not yet linked to a contact (by anonymous/user id), coupons bound to an
 * anonymous visitor, the outbox copy of each message, the identities and the contact itself.
 * Table names come from sqlite_master (our own schema), never from input; values are always bound.
 */

export interface ContactRef {
  id?: string;
  email?: string;
  userId?: string;
  anonymousId?: string;
}

/** The contact a reference names, or null. */
export async function findContact(db: D1Database, siteId: string, ref: ContactRef): Promise<string | null> {
  if (ref.id) {
    const row = await db.prepare(`SELECT id FROM contacts WHERE site_id = ? AND id = ?`).bind(siteId, ref.id).first();
    return row ? ref.id : null;
  }
  const [kind, value] = ref.email
    ? ["email", ref.email.trim().toLowerCase()]
    : ref.userId
      ? ["user", ref.userId]
      : ["anonymous", ref.anonymousId ?? ""];
  const row = await db
    .prepare(`SELECT contact_id FROM identities WHERE site_id = ? AND kind = ? AND value = ?`)
    .bind(siteId, kind, value)
    .first<{ contact_id: string }>();
  return row?.contact_id ?? null;
}

/** Tables keyed by (site_id, contact_id), read from the live schema. */
export async function contactTables(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT m.name FROM sqlite_master m
       WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '\\_cf%' ESCAPE '\\'
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'contact_id')
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'site_id')
       ORDER BY m.name`,
    )
    .all<{ name: string }>();
  return (results ?? []).map((r) => r.name).filter((n) => /^[a-z_][a-z0-9_]*$/.test(n));
}

// Rows that name the person without a contact_id.
const IDS = (kind: string) =>
  `(SELECT value FROM identities WHERE site_id = ?1 AND contact_id = ?2 AND kind = '${kind}')`;
const UNLINKED_EVENTS = `FROM events WHERE site_id = ?1 AND contact_id IS NULL
  AND (anonymous_id IN ${IDS("anonymous")} OR user_id IN ${IDS("user")} OR previous_id IN ${IDS("anonymous")})`;
const ANONYMOUS_COUPONS = `FROM coupons WHERE site_id = ?1 AND contact_id IS NULL AND anonymous_id IN ${IDS("anonymous")}`;
const OUTBOX = `FROM outbox WHERE site_id = ?1 AND message_id IN (SELECT id FROM messages WHERE site_id = ?1 AND contact_id = ?2)`;
// A batch set aside before it was applied names its shoppers only inside its body — which may be
// JSON the database refuses (why it was set aside), so it is searched as text, never parsed.
const DEAD_BATCHES = `FROM dead_letters WHERE site_id = ?1 AND kind = 'batch' AND EXISTS (
  SELECT 1 FROM identities i WHERE i.site_id = ?1 AND i.contact_id = ?2 AND i.kind IN ('anonymous', 'user')
    AND instr(dead_letters.body, json_quote(i.value)) > 0)`;

// The friends the person referred: each row is the friend's (contact_id) but names her as referrer.
const REFERRED = `FROM referrals WHERE site_id = ?1 AND referrer_id = ?2`;

// The stored contexts of the person's events (linked or not), put back into each event row below.
const CONTEXTS = `SELECT hash, context FROM event_contexts WHERE site_id = ?1 AND hash IN (
  SELECT context_hash FROM events WHERE site_id = ?1 AND contact_id = ?2 UNION SELECT context_hash ${UNLINKED_EVENTS})`;

/** An exported event as it was stored before contexts had their own table: its context in the row. */
function withContext(row: Record<string, unknown>, contexts: Map<unknown, unknown>): Record<string, unknown> {
  const { context_hash: hash, ...rest } = row;
  return contexts.has(hash) ? { ...rest, context: contexts.get(hash) } : rest;
}

/** Every row stored about the contact, by table. */
export async function exportContact(db: D1Database, siteId: string, contactId: string) {
  const others = (await contactTables(db)).filter((t) => t !== "identities");
  const queries = [
    db.prepare(`SELECT * FROM contacts WHERE site_id = ?1 AND id = ?2`),
    db.prepare(`SELECT * FROM identities WHERE site_id = ?1 AND contact_id = ?2`),
    ...others.map((t) => db.prepare(`SELECT * FROM ${t} WHERE site_id = ?1 AND contact_id = ?2`)),
    db.prepare(`SELECT * ${UNLINKED_EVENTS}`),
    db.prepare(`SELECT * ${ANONYMOUS_COUPONS}`),
    db.prepare(`SELECT * ${OUTBOX}`),
    db.prepare(`SELECT * ${DEAD_BATCHES}`),
    db.prepare(`SELECT * ${REFERRED}`),
    db.prepare(CONTEXTS),
  ].map((q) => q.bind(siteId, contactId));
  const results = await db.batch<Record<string, unknown>>(queries);
  const rows = (i: number) => results[i]?.results ?? [];
  const data: Record<string, Record<string, unknown>[]> = { identities: rows(1) };
  for (const [i, t] of others.entries()) data[t] = rows(2 + i);
  const extra = 2 + others.length;
  data.events = [...(data.events ?? []), ...rows(extra)];
  data.coupons = [...(data.coupons ?? []), ...rows(extra + 1)];
  data.outbox = rows(extra + 2);
  data.dead_letters = [...(data.dead_letters ?? []), ...rows(extra + 3)];
  data.referrals = [...(data.referrals ?? []), ...rows(extra + 4)];
  const contexts = new Map(rows(extra + 5).map((r) => [r.hash, r.context]));
  data.events = data.events.map((e) => withContext(e, contexts));
  return { contact: rows(0)[0] ?? null, data };
}

// Rows of other contacts, or of no one, that name the person by address: the emails and phone the
// contact holds (?3, a JSON list, read before erasing).
const NAMED_SHARES = `FROM events WHERE site_id = ?1 AND event = '${EVENT.productShared}'
  AND properties ->> 'recipient_email' IN (SELECT value FROM json_each(?3))`;
const NAMED_CONSENTS = `FROM consents WHERE site_id = ?1 AND subject IN (SELECT value FROM json_each(?3))`;
const CONVERSIONS = `FROM conversions WHERE site_id = ?1
  AND order_id IN (SELECT order_id FROM orders WHERE site_id = ?1 AND contact_id = ?2)`;

/** A phone number as stored and compared for suppression: digits and a leading plus only. */
const normalisePhone = (v: string) => v.replace(/[\s().-]/g, "");

/** The contact's addresses: its email and phone columns and every email identity. */
async function addressesOf(db: D1Database, siteId: string, contactId: string) {
  const [c, ids] = await db.batch<{ email: string | null; phone: string | null; unsubscribed: number; value: string }>([
    db.prepare(`SELECT email, phone, unsubscribed FROM contacts WHERE site_id = ? AND id = ?`).bind(siteId, contactId),
    db
      .prepare(`SELECT value FROM identities WHERE site_id = ? AND contact_id = ? AND kind = 'email'`)
      .bind(siteId, contactId),
  ]);
  const row = c?.results[0];
  const emails = [row?.email, ...(ids?.results ?? []).map((r) => r.value)].filter((e): e is string => !!e);
  const phones = row?.phone ? [row.phone, normalisePhone(row.phone)] : [];
  return { addresses: [...new Set([...emails, ...phones])], unsubscribed: row?.unsubscribed === 1 };
}

/** Deletes everything stored about the contact in one transaction; returns rows deleted per table. */
export async function eraseContact(db: D1Database, siteId: string, contactId: string) {
  const tables = (await contactTables(db)).filter((t) => t !== "identities");
  const { addresses, unsubscribed } = await addressesOf(db, siteId, contactId);
  const named = JSON.stringify(addresses);
  // Someone who had unsubscribed stays unsubscribed when they come back: kept as hashes only.
  const hashes = unsubscribed ? await Promise.all(addresses.map(suppressionHash)) : [];
  const steps: [string, string][] = [
    // Rows found through identities, messages or orders go before those.
    ["events", `DELETE ${UNLINKED_EVENTS}`],
    ["events", `DELETE ${NAMED_SHARES}`],
    ["consents", `DELETE ${NAMED_CONSENTS}`],
    ["conversions", `DELETE ${CONVERSIONS}`],
    ["coupons", `DELETE ${ANONYMOUS_COUPONS}`],
    ["outbox", `DELETE ${OUTBOX}`],
    ["dead_letters", `DELETE ${DEAD_BATCHES}`],
    ["referrals", `DELETE ${REFERRED}`],
    ...tables.map((t): [string, string] => [t, `DELETE FROM ${t} WHERE site_id = ?1 AND contact_id = ?2`]),
    ["identities", `DELETE FROM identities WHERE site_id = ?1 AND contact_id = ?2`],
    ["contacts", `DELETE FROM contacts WHERE site_id = ?1 AND id = ?2`],
  ];
  const results = await db.batch([
    // Bound with as many values as each statement names: the address list only where ?3 is used.
    // Counted by RETURNING: D1's `changes` would add the rows the events' triggers update.
    ...steps.map(([, sql]) =>
      db.prepare(`${sql} RETURNING 1`).bind(siteId, contactId, ...(sql.includes("?3") ? [named] : [])),
    ),
    db
      .prepare(
        `INSERT INTO suppressions (site_id, hash, created_at)
         SELECT ?1, value, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(siteId, JSON.stringify(hashes)),
    // Contexts only the person's events pointed at (the events' triggers counted them down).
    collectOrphans(db, -1, siteId),
  ]);
  const deleted: Record<string, number> = {};
  for (const [i, [t]] of steps.entries()) deleted[t] = (deleted[t] ?? 0) + (results[i]?.results.length ?? 0);
  deleted.event_contexts = results.at(-1)?.meta.changes ?? 0;
  return deleted;
}
