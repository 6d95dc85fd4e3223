import type { Message } from "./validate";
import { isDict } from "./validate";

/**
 * The inbox of accepted batches. Ingest stores a validated batch as ONE row and answers: a single
 * small write is the cheapest durable step D1 offers, so the request costs little more than parsing.
 * `expand` then, in one transaction, turns the row into `events` (deduplicated by (site,
 * messageId): a retry, a second tab or a beacon after a fetch is stored once) and deletes it — so
 * however many invocations expand the same row, its events come out of exactly one of them.
 *
 * A request that applies its own batch stores the row already claimed, so no drain takes it
 * meanwhile (a claim older than CLAIM_TIMEOUT_MS — the invocation died — is taken again); drains
 * `take` the rest, expanding as they take.
 */

export const CLAIM_TIMEOUT_MS = 60_000;
/** What one drain pass applies at most: large enough to fold many batches, small enough for one transaction. */
export const MAX_EVENTS_PER_PASS = 2000;

export interface Claimed {
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
 * Stores a validated batch durably; returns the inbox row id. `claimed`: the caller applies the
 * batch itself right after (the row is born claimed), rather than leaving it to the sweep.
 */
export async function enqueue(
  db: D1Database,
  siteId: string,
  messages: Message[],
  receivedAt: number,
  claimed = false,
): Promise<number> {
  const row = await db
    .prepare(`INSERT INTO inbox (site_id, body, events, received_at, claimed_at) VALUES (?, ?, ?, ?, ?) RETURNING id`)
    .bind(siteId, JSON.stringify(messages), messages.length, receivedAt, claimed ? receivedAt : null)
    .first<{ id: number }>();
  if (!row) throw new Error("inbox insert returned no id");
  return row.id;
}

/** The oldest unclaimed or stale rows, as many as fit in ?3 messages (at least one row). Binds ?1 now, ?2 timeout. */
const TAKEABLE = `SELECT id FROM (SELECT id, events, sum(events) OVER (ORDER BY id) AS upto
                   FROM inbox WHERE claimed_at IS NULL OR claimed_at < ?1 - ?2 ORDER BY id LIMIT 100)
                 WHERE upto <= ?3 OR upto = events`;

/**
 * Takes the oldest unclaimed or stale rows — as many as fit in `maxEvents` messages, at least one
 * row — and expands them like `expand`, in one transaction: no claim round trip, and two drains
 * that run at once take disjoint rows (the second finds them gone). Returns the rows taken (none:
 * the inbox is empty) and the new messages per site.
 */
export async function take(
  db: D1Database,
  now: number,
  maxEvents = MAX_EVENTS_PER_PASS,
): Promise<{ rows: Claimed[]; fresh: Map<string, Message[]> }> {
  const [inserted, deleted] = await db.batch<{ site_id: string; message_id: string } & InboxRow>([
    db.prepare(`${INSERT_EVENTS} WHERE i.id IN (${TAKEABLE}) ${INSERT_TAIL}`).bind(now, CLAIM_TIMEOUT_MS, maxEvents),
    db
      .prepare(`DELETE FROM inbox WHERE id IN (${TAKEABLE}) RETURNING id, site_id, body, received_at`)
      .bind(now, CLAIM_TIMEOUT_MS, maxEvents),
  ]);
  const rows = (deleted?.results ?? [])
    .sort((a, b) => a.id - b.id)
    .map((r) => ({ id: r.id, siteId: r.site_id, receivedAt: r.received_at, messages: parseMessages(r.body) }));
  return { rows, fresh: freshOf(rows, inserted?.results ?? []) };
}

/** Our own serialisation of validated messages; anything else would be a bug, so it is dropped. */
function parseMessages(body: string): Message[] {
  const v: unknown = JSON.parse(body);
  return Array.isArray(v) ? v.filter((m): m is Message => isDict(m) && typeof m.messageId === "string") : [];
}

const INSERT_EVENTS = `INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, previous_id,
    properties, traits, context, timestamp, received_at)
  SELECT i.site_id, m.value ->> 'messageId', m.value ->> 'type', m.value ->> 'event',
    m.value ->> 'anonymousId', m.value ->> 'userId', m.value ->> 'previousId',
    m.value -> 'properties', m.value -> 'traits', m.value -> 'context', m.value ->> 'timestamp', i.received_at
  FROM inbox i, json_each(i.body) m`;
const INSERT_TAIL = `ORDER BY i.id, m.key ON CONFLICT DO NOTHING RETURNING site_id, message_id`;

/**
 * Moves batches the caller holds into `events` and deletes them from the inbox, in one
 * transaction; returns the new messages per site — none of a row another invocation took first.
 */
export async function expand(db: D1Database, rows: Claimed[]): Promise<Map<string, Message[]>> {
  if (rows.length === 0) return new Map();
  const ids = JSON.stringify(rows.map((r) => r.id));
  const [inserted] = await db.batch<{ site_id: string; message_id: string }>([
    db.prepare(`${INSERT_EVENTS} WHERE i.id IN (SELECT value FROM json_each(?1)) ${INSERT_TAIL}`).bind(ids),
    db.prepare(`DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(?))`).bind(ids),
  ]);
  return freshOf(rows, inserted?.results ?? []);
}

/**
 * The messages of `rows` that were inserted as new events, per site, in row and batch order: the
 * first of each messageId only (later copies, in the same batch or another, are not new).
 */
function freshOf(rows: Claimed[], inserted: { site_id: string; message_id: string }[]): Map<string, Message[]> {
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
