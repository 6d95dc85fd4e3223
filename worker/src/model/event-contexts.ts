import { sha256Key } from "../lib/crypto";

/**
 * Event contexts, stored once per site (migration 0023). Every event of a page view carries the
 * same context — library, user agent, locale, screen, time zone, the page — and copied into each
 * row it was more than half of a stored event (429 of 807 B in `npm run bench:ingest`). Each
 * distinct context is a row of `event_contexts` keyed by a hash of its JSON, and an event row holds
 * the key (`events.context_hash`). The Worker hashes, since SQLite cannot: the key travels with the
 * events into the same D1 batch, so storing a context costs one statement, not a round trip.
 *
 * The whole context is one key, page included: per-page fields change every page view, not every
 * event. A device key plus a page key would save 46 B more per event in the benchmark's mix
 * (ARCHITECTURE.md has the figures) for a second key per row, and a context rebuilt from two parts
 * that no longer keeps the key order it was sent in; the page left in the row would cost 106 B more.
 *
 * `refs` counts the events pointing at a context; triggers keep it on every insert and delete of an
 * event, whichever path does it. A context nothing points at any more is garbage and may hold
 * personal data (an IP, a page URL with an email in its query): the retention sweep and every
 * erasure delete such rows (`collectOrphans`).
 */

/** 12 bytes: a collision between two contexts of a site is a 2^-96 chance per pair. */
const KEY_BYTES = 12;
/** A context whose JSON is no longer than its key (16 characters) stays in the row: `{}` mostly. */
const INLINE_CHARS = 16;

export interface StoredContexts {
  /** Per context given, in order: its key, or null when it stays inline in the event row. */
  keys: (string | null)[];
  /** The distinct contexts to store: [key, JSON]. */
  rows: [string, string][];
}

/** The keys of `contexts`, hashing each distinct JSON once. */
export async function storedContexts(contexts: Record<string, unknown>[]): Promise<StoredContexts> {
  const jsons = contexts.map((c) => JSON.stringify(c));
  const distinct = [...new Set(jsons.filter((j) => j.length > INLINE_CHARS))];
  const hashes = await Promise.all(distinct.map((j) => sha256Key(j, KEY_BYTES)));
  const keyOf = new Map(distinct.map((j, i) => [j, hashes[i] as string]));
  return { keys: jsons.map((j) => keyOf.get(j) ?? null), rows: [...keyOf].map(([j, k]) => [k, j]) };
}

/** Stores the contexts not stored yet, before the events that point at them (the trigger counts them). */
export function upsertContexts(db: D1Database, siteId: string, rows: [string, string][]): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO event_contexts (site_id, hash, context)
       SELECT ?1, value ->> 0, value ->> 1 FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING`,
    )
    .bind(siteId, JSON.stringify(rows));
}

/**
 * SQL for the context of the events row aliased `e`, as it was sent, in either shape: from
 * `event_contexts`, or inline (rows stored before migration 0023, and tiny contexts).
 * `e` is a fixed alias from our own queries, never input.
 */
export const contextOf = (e: string) =>
  `coalesce((SELECT c.context FROM event_contexts c WHERE c.site_id = ${e}.site_id AND c.hash = ${e}.context_hash), ${e}.context)`;

/**
 * Deletes up to `limit` contexts no event points at any more (of `siteId` only, when given), found
 * through the partial index that holds only those. The retention sweep bounds it, so its cost is
 * bounded too; an erasure takes all of its site's (-1: SQLite's "no limit"), so none is left behind.
 */
export function collectOrphans(db: D1Database, limit: number, siteId?: string): D1PreparedStatement {
  return siteId === undefined
    ? db
        .prepare(
          `DELETE FROM event_contexts WHERE (site_id, hash) IN (
             SELECT site_id, hash FROM event_contexts WHERE refs <= 0 LIMIT ?1)`,
        )
        .bind(limit)
    : db
        .prepare(
          `DELETE FROM event_contexts WHERE (site_id, hash) IN (
             SELECT site_id, hash FROM event_contexts WHERE site_id = ?2 AND refs <= 0 LIMIT ?1)`,
        )
        .bind(limit, siteId);
}
