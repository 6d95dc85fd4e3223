import { inboxFailed } from "../model/dead-letters";
import type { Message } from "../model/events";
import { isDict } from "../lib/values";
import { storedContexts } from "../model/event-contexts";

/**
 * The inbox: batches accepted but not applied yet. A request applies its batch itself
 * (`applyBatch` in ingest/process.ts); when that fails, or INGEST_PROCESSING is "sweep", it stores
 * the validated batch here as ONE row — a single small write, the cheapest durable step D1 offers —
 * and the scheduled sweep `take`s the rows: in one transaction it turns them into `events`
 * (deduplicated by (site, messageId): a retry, a second tab, or an event the failed apply did store,
 * is kept once) and deletes them, so however many invocations take at once, each row comes out of
 * exactly one.
 */

/** What one drain pass applies at most: large enough to fold many batches, small enough for one transaction. */
export const MAX_EVENTS_PER_PASS = 2000;

export interface Taken {
  id: number;
  siteId: string;
  receivedAt: number;
  messages: Message[];
}

interface InboxRow {
  id: number;
  site_id: string;
  body: string;
  received_at: number;
}

/**
 * Stores a validated batch durably; returns the inbox row id. Each message carries its context's key
 * (`contextHash`, model/event-contexts.ts): `take` stores events in SQL alone, and SQL cannot hash.
 */
export async function enqueue(
  db: D1Database,
  siteId: string,
  messages: Message[],
  receivedAt: number,
): Promise<number> {
  const { keys } = await storedContexts(messages.map((m) => m.context));
  const body = messages.map((m, i) => ({ ...m, contextHash: keys[i] }));
  const row = await db
    .prepare(`INSERT INTO inbox (site_id, body, events, received_at) VALUES (?, ?, ?, ?) RETURNING id`)
    .bind(siteId, JSON.stringify(body), messages.length, receivedAt)
    .first<{ id: number }>();
  if (!row) throw new Error("inbox insert returned no id");
  return row.id;
}

/** The oldest rows, as many as fit in ?1 messages (at least one row). */
const TAKEABLE = `SELECT id FROM (SELECT id, events, sum(events) OVER (ORDER BY id) AS upto
                   FROM inbox ORDER BY id LIMIT 100)
                 WHERE upto <= ?1 OR upto = events`;

/**
 * Takes the oldest rows — as many as fit in `maxEvents` messages, at least one row — into `events`
 * and deletes them, in one transaction: two sweeps that run at once take disjoint rows (the second
 * finds them gone). Returns the rows taken (none: the inbox is empty) and the new messages per site.
 *
 * A row the database refuses (say, JSON it cannot parse) fails the whole transaction; then the
 * same rows are taken one at a time, so the others still go through, and the refused one counts a
 * failed attempt — set aside as a dead letter after a few (model/dead-letters.ts) instead of failing
 * every sweep, for every site, forever.
 */
export async function take(
  db: D1Database,
  maxEvents = MAX_EVENTS_PER_PASS,
  now = Date.now(),
): Promise<{ rows: Taken[]; fresh: Map<string, Message[]>; failed: number }> {
  try {
    return { ...(await takeWhere(db, `IN (${TAKEABLE})`, maxEvents)), failed: 0 };
  } catch (e) {
    console.error("inbox: taking rows one at a time", e);
  }
  const { results } = await db.prepare(TAKEABLE).bind(maxEvents).all<{ id: number }>();
  const rows: Taken[] = [];
  const fresh = new Map<string, Message[]>();
  let failed = 0;
  for (const { id } of results ?? []) {
    try {
      const one = await takeWhere(db, "= ?1", id);
      rows.push(...one.rows);
      for (const [site, list] of one.fresh) fresh.set(site, [...(fresh.get(site) ?? []), ...list]);
    } catch (e) {
      failed++;
      await inboxFailed(db, id, e instanceof Error ? e.message : String(e), now);
    }
  }
  return { rows, fresh, failed };
}

/** Takes the rows whose id is `where` (a fixed fragment of this file, bound to ?1). */
async function takeWhere(
  db: D1Database,
  where: string,
  param: number,
): Promise<{ rows: Taken[]; fresh: Map<string, Message[]> }> {
  const [, inserted, deleted] = await db.batch<{ site_id: string; message_id: string } & InboxRow>([
    db.prepare(`${INSERT_CONTEXTS} WHERE i.id ${where} ${CONTEXTS_TAIL}`).bind(param),
    db.prepare(`${INSERT_EVENTS} WHERE i.id ${where} ${INSERT_TAIL}`).bind(param),
    db.prepare(`DELETE FROM inbox WHERE id ${where} RETURNING id, site_id, body, received_at`).bind(param),
  ]);
  const rows = (deleted?.results ?? [])
    .sort((a, b) => a.id - b.id)
    .map((r) => ({ id: r.id, siteId: r.site_id, receivedAt: r.received_at, messages: parseMessages(r.body) }));
  return { rows, fresh: freshOf(rows, inserted?.results ?? []) };
}

/** Our own serialisation of validated messages; anything else would be a bug, so it is dropped. */
function parseMessages(body: string): Message[] {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v
    .filter((m): m is Message & { contextHash?: unknown } => isDict(m) && typeof m.messageId === "string")
    .map(({ contextHash: _, ...m }) => ({ ...m, source: m.source ?? "browser" })); // rows stored before sources were kept
}

// A message without a contextHash (no context worth a key, or a row stored before migration 0023)
// keeps its context inline, the shape readers take from either.
const INSERT_CONTEXTS = `INSERT INTO event_contexts (site_id, hash, context)
  SELECT i.site_id, m.value ->> 'contextHash', m.value -> 'context'
  FROM inbox i, json_each(i.body) m`;
const CONTEXTS_TAIL = `AND m.value ->> 'contextHash' IS NOT NULL ON CONFLICT DO NOTHING`;
const INSERT_EVENTS = `INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, previous_id,
    properties, traits, context, timestamp, received_at, source, context_hash)
  SELECT i.site_id, m.value ->> 'messageId', m.value ->> 'type', m.value ->> 'event',
    m.value ->> 'anonymousId', m.value ->> 'userId', m.value ->> 'previousId',
    m.value -> 'properties', m.value -> 'traits', iif(m.value ->> 'contextHash' IS NULL, m.value -> 'context', '{}'),
    m.value ->> 'timestamp', i.received_at, coalesce(m.value ->> 'source', 'browser'), m.value ->> 'contextHash'
  FROM inbox i, json_each(i.body) m`;
const INSERT_TAIL = `ORDER BY i.id, m.key ON CONFLICT DO NOTHING RETURNING site_id, message_id`;

/**
 * The messages of `rows` that were inserted as new events, per site, in row and batch order: the
 * first of each messageId only (later copies, in the same batch or another, are not new).
 */
function freshOf(rows: Taken[], inserted: { site_id: string; message_id: string }[]): Map<string, Message[]> {
  const key = (siteId: string, messageId: string) => `${siteId}\u0000${messageId}`;
  const fresh = new Set(inserted.map((r) => key(r.site_id, r.message_id)));
  const bySite = new Map<string, Message[]>();
  for (const row of rows) {
    const list = bySite.get(row.siteId) ?? [];
    bySite.set(row.siteId, list);
    for (const m of row.messages) if (fresh.delete(key(row.siteId, m.messageId))) list.push(m);
  }
  return bySite;
}

/** Unclaimed and in-flight batches: what a benchmark or an operator waits on. */
export async function backlog(db: D1Database): Promise<{ batches: number; unprocessed: number }> {
  const [a, b] = await db.batch<{ n: number }>([
    db.prepare(`SELECT count(*) AS n FROM inbox`),
    db.prepare(`SELECT count(*) AS n FROM events WHERE processed = 0`),
  ]);
  return { batches: a?.results[0]?.n ?? 0, unprocessed: b?.results[0]?.n ?? 0 };
}
