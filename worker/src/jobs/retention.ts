import { collectOrphans } from "../model/event-contexts";
import { pruneSettled } from "../model/messages";
import { DEFAULT_RETENTION_DAYS } from "../model/sites";

/**
 * Retention: raw events, messages and outbox copies older than each site's period (`retentionDays`,
 * default 13 months) are deleted; what was derived from them — profiles and their aggregates,
 * orders, carts, product views, conversions — stays. A D1 database is capped at 10 GB and its sites
 * share it (model/directory.ts), so without this it only grows.
 *
 * Four statements per sweep whatever the number of sites: each deletes at most PRUNE_BATCH rows,
 * found through a (site_id, time) index range per site (migration 0011), so a sweep's cost is bounded
 * and a backlog drains over the following minutes. Only settled rows go: events already applied,
 * messages sent, cancelled or dead (their outbox copy first). Last, the event contexts no event
 * points at any more (those events just pruned, among others), which may hold personal data.
 */

/** Rows per table per sweep: 1 000 a minute is 1.4 M a day, past what a store of 1 M visits a month adds. */
export const PRUNE_BATCH = 1000;
const DAY_MS = 86_400_000;

export interface Pruned {
  events: number;
  messages: number;
  outbox: number;
  contexts: number;
}

export async function prune(db: D1Database, now: number, batch = PRUNE_BATCH): Promise<Pruned> {
  // Each site's cutoff, computed in SQL from its settings; sites is small and read by primary key order.
  const cutoff = `SELECT id, ?1 - coalesce(settings ->> '$.retentionDays', ?3) * ?4 AS before FROM sites`;
  const [outbox, messages, events, contexts] = await db.batch([
    db
      .prepare(
        `DELETE FROM outbox WHERE message_id IN (
           SELECT o.message_id FROM (${cutoff}) s JOIN outbox o ON o.site_id = s.id AND o.created_at < s.before
           JOIN messages m ON m.id = o.message_id AND m.status IN ('sent', 'cancelled', 'dead') LIMIT ?2)`,
      )
      .bind(now, batch, DEFAULT_RETENTION_DAYS, DAY_MS),
    pruneSettled(db, cutoff, [now, batch, DEFAULT_RETENTION_DAYS, DAY_MS]),
    db
      .prepare(
        `DELETE FROM events WHERE (site_id, message_id) IN (
           SELECT e.site_id, e.message_id FROM (${cutoff}) s
           JOIN events e ON e.site_id = s.id AND e.received_at < s.before AND e.processed = 1 LIMIT ?2)
         RETURNING 1`, // counted by its rows: D1's `changes` would add those the context trigger updates
      )
      .bind(now, batch, DEFAULT_RETENTION_DAYS, DAY_MS),
    collectOrphans(db, batch),
  ]);
  return {
    outbox: outbox?.meta.changes ?? 0,
    messages: messages?.meta.changes ?? 0,
    events: events?.results.length ?? 0,
    contexts: contexts?.meta.changes ?? 0,
  };
}
