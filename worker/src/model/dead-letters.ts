import { retryDead } from "./messages";
/**
 * Dead letters: work that kept failing, set aside with its reason so the rest flows on. An inbox
 * batch, an event, a message or a merchant webhook is tried DEAD_AFTER times first — a D1 hiccup
 * or a provider outage of a few minutes is survived by the retries, a row the database refuses
 * every time stops costing every sweep after a handful. Retrying puts the work back where it came
 * from (the inbox, the unprocessed events, the pending messages, the webhook queue); dropping
 * forgets the dead letter and leaves the work set aside.
 */

export type DeadKind = "batch" | "event" | "message" | "webhook";

/** Attempts before work is set aside: with the sweep's backoff, a message gets 1+2+4+8 = 15 min. */
export const DEAD_AFTER = 5;

export interface DeadLetter {
  id: number;
  kind: DeadKind;
  ref: string;
  contact_id: string | null;
  reason: string;
  attempts: number;
  created_at: number;
}

/** The statement that records one dead letter (or refreshes it: a retried one that failed again). */
export function deadLetter(
  db: D1Database,
  d: { siteId: string; kind: DeadKind; ref: string | number; contactId?: string | null; reason: string },
  attempts: number,
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO dead_letters (site_id, kind, ref, contact_id, reason, attempts, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (site_id, kind, ref) DO UPDATE SET reason = excluded.reason, attempts = excluded.attempts,
         created_at = excluded.created_at`,
    )
    .bind(d.siteId, d.kind, String(d.ref), d.contactId ?? null, d.reason.slice(0, 500), attempts, now);
}

/**
 * One failed attempt at inbox row `id`; at DEAD_AFTER its batch moves to the dead letters (body and
 * all) and leaves the inbox — one transaction, so it is in exactly one of the two.
 */
export async function inboxFailed(db: D1Database, id: number, reason: string, now: number): Promise<void> {
  await db.batch([
    db.prepare(`UPDATE inbox SET attempts = attempts + 1 WHERE id = ?`).bind(id),
    db
      .prepare(
        `INSERT INTO dead_letters (site_id, kind, ref, body, received_at, reason, attempts, created_at)
         SELECT site_id, 'batch', id, body, received_at, ?2, attempts, ?3 FROM inbox WHERE id = ?1 AND attempts >= ?4
         ON CONFLICT (site_id, kind, ref) DO UPDATE SET body = excluded.body, reason = excluded.reason,
           attempts = excluded.attempts, created_at = excluded.created_at`,
      )
      .bind(id, reason.slice(0, 500), now, DEAD_AFTER),
    db.prepare(`DELETE FROM inbox WHERE id = ? AND attempts >= ?`).bind(id, DEAD_AFTER),
  ]);
}

/** One failed attempt at applying a stored event; at DEAD_AFTER it is set aside (processed = 2). */
export async function eventFailed(
  db: D1Database,
  siteId: string,
  messageId: string,
  reason: string,
  now: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `UPDATE events SET attempts = attempts + 1, processed = iif(attempts + 1 >= ?3, 2, processed)
         WHERE site_id = ?1 AND message_id = ?2 AND processed = 0`,
      )
      .bind(siteId, messageId, DEAD_AFTER),
    db
      .prepare(
        `INSERT INTO dead_letters (site_id, kind, ref, contact_id, reason, attempts, created_at)
         SELECT site_id, 'event', message_id, contact_id, ?3, attempts, ?4 FROM events
         WHERE site_id = ?1 AND message_id = ?2 AND processed = 2
         ON CONFLICT (site_id, kind, ref) DO UPDATE SET reason = excluded.reason, attempts = excluded.attempts,
           created_at = excluded.created_at`,
      )
      .bind(siteId, messageId, reason.slice(0, 500), now),
  ]);
}

export async function listDeadLetters(db: D1Database, siteId: string, kind: DeadKind | null, limit: number) {
  const { results } = await db
    .prepare(
      `SELECT id, kind, ref, contact_id, reason, attempts, created_at FROM dead_letters
       WHERE site_id = ?1 AND (?2 IS NULL OR kind = ?2) ORDER BY created_at DESC, id DESC LIMIT ?3`,
    )
    .bind(siteId, kind, limit)
    .all<DeadLetter>();
  return results ?? [];
}

/**
 * Puts the work back where it came from, in one transaction with forgetting the dead letter; the
 * next sweep tries it again from scratch (attempts at 0). False: no such dead letter.
 */
export async function retryDeadLetter(db: D1Database, siteId: string, id: number, now: number): Promise<boolean> {
  const found = await db
    .prepare(`SELECT kind, ref FROM dead_letters WHERE site_id = ? AND id = ?`)
    .bind(siteId, id)
    .first<{ kind: DeadKind; ref: string }>();
  if (!found) return false;
  const back: Record<DeadKind, D1PreparedStatement> = {
    batch: db
      .prepare(
        `INSERT INTO inbox (site_id, body, events, received_at)
         SELECT site_id, body, iif(json_valid(body), json_array_length(body), 1), received_at FROM dead_letters WHERE site_id = ?1 AND id = ?2`,
      )
      .bind(siteId, id),
    event: db
      .prepare(`UPDATE events SET processed = 0, attempts = 0 WHERE site_id = ? AND message_id = ? AND processed = 2`)
      .bind(siteId, found.ref),
    message: retryDead(db, siteId, Number(found.ref), now),
    webhook: db
      .prepare(
        `UPDATE callbacks SET notify_attempts = 0, notify_after = ?3 WHERE site_id = ?1 AND id = ?2 AND notified_at IS NULL`,
      )
      .bind(siteId, Number(found.ref), now),
  };
  await db.batch([
    back[found.kind],
    db.prepare(`DELETE FROM dead_letters WHERE site_id = ? AND id = ?`).bind(siteId, id),
  ]);
  return true;
}

/** Forgets a dead letter; the work stays set aside. False: no such dead letter. */
export async function dropDeadLetter(db: D1Database, siteId: string, id: number): Promise<boolean> {
  const r = await db.prepare(`DELETE FROM dead_letters WHERE site_id = ? AND id = ?`).bind(siteId, id).run();
  return r.meta.changes > 0;
}
