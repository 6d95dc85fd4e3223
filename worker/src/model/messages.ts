/**
 * The `messages` table: one row per message of a journey, from scheduled to sent. This module is
 * its only writer; every change of a message's state is one of these statements, so the lifecycle
 * reads in one place:
 *
 *   pending ──claim──▶ sending ──markSent──▶ sent          (open and click recorded afterwards)
 *      ▲                  │ ├──hold──▶ cancelled 'holdout' (sent_at kept: the control group)
 *      └──defer/release───┘ ├──cancelClaimed──▶ cancelled  (consent, exit, caps… re-checked at send)
 *      ▲                    ├──fail──▶ pending (backoff) or dead
 *      └──retryDead── dead ◀┴──setAside (claimed too often)
 *   pending ──cancelPending / cancelCampaignExits / rearmCarts──▶ cancelled (events at ingest)
 *   branch and wait rows (channel 'branch' / 'wait') deliver nothing: claimed when due, then
 *      sending ──passFlow──▶ cancelled with `branch` = the way taken (no sent_at: never a delivery)
 *      pending ──wakeWaits──▶ pending, due now (the event a wait listened for arrived at ingest)
 *   sent, cancelled, dead ──pruneSettled──▶ deleted (retention); a merge moves them (moveMessages)
 *
 * Scheduling inserts rows with `INSERT … SELECT` over the campaign engine's audience SQL; the
 * engine builds that SELECT (campaigns/engine.ts) and `schedule` owns the INSERT around it.
 * Builders return statements, not promises: callers commit them in the D1 batch they already make,
 * so owning the SQL here adds no round trip to ingest or the sweep.
 */

/** A claimed row, as the sweep sends it. */
export interface ClaimedMessage {
  id: number;
  site_id: string;
  contact_id: string;
  campaign: string;
  step: number;
  channel: string;
  attempts: number;
  dedupe_key: string;
  variant: string | null;
  holdout: number;
  priority: number;
  data: string;
  coupon: string | null;
  created_at: number;
}

/** The columns a schedule's SELECT yields, in this order. */
export const SCHEDULED_COLUMNS =
  "site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at, variant, holdout, priority, data";

/**
 * Schedules the rows `select` yields (SCHEDULED_COLUMNS, in order); a dedupe key already present
 * is left be, or — `onConflict` — updated (a journey that restarts its timer).
 */
export function schedule(
  db: D1Database,
  select: string,
  params: unknown[],
  onConflict = "NOTHING",
): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO messages (${SCHEDULED_COLUMNS}) ${select} ON CONFLICT (dedupe_key) DO ${onConflict}`)
    .bind(...params);
}

/**
 * Claims up to `size` due rows, and rows stuck in 'sending' for `timeoutMs` (a sweep died
 * mid-send), in one UPDATE … RETURNING: D1 runs writes one at a time, so two overlapping sweeps
 * never claim the same row. The index on due_at (pending rows only) keeps this proportional to
 * what is due.
 */
export async function claimDue(db: D1Database, now: number, size: number, timeoutMs: number) {
  const { results } = await db
    .prepare(
      `UPDATE messages SET status = 'sending', claimed_at = ?1, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM (SELECT id FROM messages WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2)
         UNION ALL
         SELECT id FROM (SELECT id FROM messages WHERE status = 'sending' AND claimed_at < ?1 - ?3 LIMIT ?2))
       RETURNING id, site_id, contact_id, campaign, step, channel, attempts, dedupe_key, variant, holdout, priority,
                 data, coupon, created_at`,
    )
    .bind(now, size, timeoutMs)
    .all<ClaimedMessage>();
  return results ?? [];
}

/** A claimed message that will not go: cancelled with why. */
export const cancelClaimed = (db: D1Database, id: number, reason: string) =>
  db
    .prepare(`UPDATE messages SET status = 'cancelled', reason = ? WHERE id = ? AND status = 'sending'`)
    .bind(reason, id);

/** A claimed message that must wait until `until` (quiet hours, a daily budget): not a failed attempt. */
export const deferClaimed = (db: D1Database, id: number, until: number, reason: string) =>
  db
    .prepare(
      `UPDATE messages SET status = 'pending', due_at = ?, attempts = attempts - 1, reason = ?
       WHERE id = ? AND status = 'sending'`,
    )
    .bind(until, reason, id);

/** A claimed message the sweep had no room to send (the provider's rate): back to pending, as it was. */
export const releaseClaimed = (db: D1Database, id: number) =>
  db
    .prepare(`UPDATE messages SET status = 'pending', attempts = attempts - 1 WHERE id = ? AND status = 'sending'`)
    .bind(id);

/** The holdout's message: never delivered, but the time it would have gone is kept for the comparison. */
export const holdClaimed = (db: D1Database, id: number, now: number) =>
  db
    .prepare(
      `UPDATE messages SET status = 'cancelled', reason = 'holdout', sent_at = ? WHERE id = ? AND status = 'sending'`,
    )
    .bind(now, id);

/**
 * A branch or a wait decided: `branch` records the way (`then` / `else`), once. The row is
 * 'cancelled' with no `sent_at` — it delivered nothing — so every count of deliveries, caps and
 * attribution leaves it out without knowing about it. The next step's INSERT, in the same batch,
 * checks `branch`, so only the sweep whose mark landed schedules it.
 */
export const passFlow = (db: D1Database, id: number, way: "then" | "else", reason: string) =>
  db
    .prepare(
      `UPDATE messages SET status = 'cancelled', branch = ?2, reason = ?3
       WHERE id = ?1 AND status = 'sending' AND branch IS NULL`,
    )
    .bind(id, way, reason);

/**
 * The event a wait listened for arrived: the journeys' pending wait rows (pairs of [step,
 * contact]) fall due now, in the event's own transaction; the sweep then sees the event and goes on.
 */
export const wakeWaits = (db: D1Database, siteId: string, campaign: string, pairs: [number, string][], now: number) =>
  db
    .prepare(
      `UPDATE messages SET due_at = min(due_at, ?4)
       WHERE site_id = ?1 AND campaign = ?2 AND status = 'pending' AND channel = 'wait'
         AND contact_id IN (SELECT value ->> 1 FROM json_each(?3))
         AND (step, contact_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?3))`,
    )
    .bind(siteId, campaign, JSON.stringify(pairs), now);

export const markSent = (db: D1Database, id: number, now: number, variant: string | null) =>
  db
    .prepare(`UPDATE messages SET status = 'sent', reason = NULL, sent_at = ?, variant = ? WHERE id = ?`)
    .bind(now, variant, id);

/** A failed try: pending again at `retryAt`, or dead (with a dead letter written beside it). */
export const failClaimed = (db: D1Database, id: number, x: { dead: boolean; reason: string; retryAt: number }) =>
  db
    .prepare(`UPDATE messages SET status = ?2, reason = ?3, due_at = ?4 WHERE id = ?1 AND status = 'sending'`)
    .bind(id, x.dead ? "dead" : "pending", x.reason, x.retryAt);

/** Claimed again and again without an outcome: set aside, so it cannot take down the next sweep too. */
export const setAside = (db: D1Database, id: number, reason: string) =>
  db.prepare(`UPDATE messages SET status = 'dead', reason = ? WHERE id = ? AND status = 'sending'`).bind(reason, id);

/** A dead message retried from the dead letters: pending now, its attempts counted afresh. */
export const retryDead = (db: D1Database, siteId: string, id: number, now: number) =>
  db
    .prepare(
      `UPDATE messages SET status = 'pending', attempts = 0, due_at = ?3, reason = 'retried from dead letters'
       WHERE site_id = ?1 AND id = ?2 AND status = 'dead'`,
    )
    .bind(siteId, id, now);

/**
 * The step's unique coupon, stored on the message before it is sent: a retry finds it and reuses
 * it. Returns the code the message holds (another try's, if one got there first).
 */
export async function keepCoupon(db: D1Database, id: number, code: string): Promise<string> {
  await db.prepare(`UPDATE messages SET coupon = ? WHERE id = ? AND coupon IS NULL`).bind(code, id).run();
  const row = await db.prepare(`SELECT coupon FROM messages WHERE id = ?`).bind(id).first<{ coupon: string }>();
  return row?.coupon ?? code;
}

/**
 * Cancels a contact's pending messages with `reason`, except those of the `keep` templates (a
 * message's template is its campaign's step): transactional messages survive a marketing opt-out.
 * Step n is the n-th step of the definition's tree in reading order (campaigns/flow.ts): the
 * objects of `steps`, `then` and `else` lists, which json_tree visits in that same order.
 */
export function cancelPending(
  db: D1Database,
  siteId: string,
  contactId: string,
  reason: string,
  keep: { templates: string[] } = { templates: [] },
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE messages SET status = 'cancelled', reason = ?3
       WHERE site_id = ?1 AND contact_id = ?2 AND status = 'pending'
         AND coalesce((SELECT s.template FROM
                         (SELECT t.value ->> 'template' AS template, row_number() OVER (ORDER BY t.id) AS n
                          FROM campaigns cp, json_tree(cp.definition, '$.steps') t
                          WHERE cp.site_id = messages.site_id AND cp.id = messages.campaign AND t.type = 'object'
                            AND (t.path = '$.steps' OR t.path LIKE '%].then' OR t.path LIKE '%].else')) s
                       WHERE s.n = messages.step), '')
             NOT IN (SELECT value FROM json_each(?4))`,
    )
    .bind(siteId, contactId, reason, JSON.stringify(keep.templates));
}

/** Ends one campaign's pending journeys of the listed contacts, each with its own reason: [contact, reason][]. */
export const cancelCampaignExits = (db: D1Database, siteId: string, campaign: string, exits: [string, string][]) =>
  db
    .prepare(
      `UPDATE messages SET status = 'cancelled',
         reason = (SELECT value ->> 1 FROM json_each(?3) WHERE value ->> 0 = messages.contact_id)
       WHERE site_id = ?1 AND contact_id IN (SELECT value ->> 0 FROM json_each(?3))
         AND status = 'pending' AND campaign = ?2`,
    )
    .bind(siteId, campaign, JSON.stringify(exits));

const HAS_ITEMS =
  "EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = messages.site_id AND i.contact_id = messages.contact_id)";

/**
 * For the contacts of a cart journey that changed: an emptied cart ends the journey; otherwise the
 * shopper came back, and the pending reminder waits its full delay (`delays[step - 1]`) again.
 */
export function rearmCarts(
  db: D1Database,
  x: { siteId: string; campaign: string; contacts: string[]; delays: number[]; now: number },
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE messages SET
         status = CASE WHEN ${HAS_ITEMS} THEN status ELSE 'cancelled' END,
         reason = CASE WHEN ${HAS_ITEMS} THEN reason ELSE 'cart emptied or ordered' END,
         due_at = max(due_at, ? + CASE step ${x.delays.map(() => "WHEN ? THEN ?").join(" ")} ELSE 0 END)
       WHERE site_id = ? AND campaign = ? AND status = 'pending'
         AND contact_id IN (SELECT value FROM json_each(?))`,
    )
    .bind(x.now, ...x.delays.flatMap((d, i) => [i + 1, d]), x.siteId, x.campaign, JSON.stringify(x.contacts));
}

/** The first open or click of a message sent to this contact; later ones change nothing. */
export const recordOpen = (db: D1Database, x: { id: number; siteId: string; contactId: string; at: number }) =>
  db
    .prepare(`UPDATE messages SET opened_at = coalesce(opened_at, ?) WHERE id = ? AND site_id = ? AND contact_id = ?`)
    .bind(x.at, x.id, x.siteId, x.contactId);

export const recordClick = (db: D1Database, x: { id: number; siteId: string; contactId: string; at: number }) =>
  db
    .prepare(`UPDATE messages SET clicked_at = coalesce(clicked_at, ?) WHERE id = ? AND site_id = ? AND contact_id = ?`)
    .bind(x.at, x.id, x.siteId, x.contactId);

/** A merge: the messages of contact `from` become `into`'s. */
export const moveMessages = (db: D1Database, siteId: string, from: string, into: string) =>
  db.prepare(`UPDATE messages SET contact_id = ?3 WHERE site_id = ?1 AND contact_id = ?2`).bind(siteId, from, into);

/**
 * Retention: deletes up to `?2` settled messages (sent, cancelled or dead, their outbox copy gone
 * first) created before their site's cutoff. `cutoff` is a SELECT of (id, before) per site over
 * `params` (jobs/retention.ts).
 */
export const pruneSettled = (db: D1Database, cutoff: string, params: unknown[]) =>
  db
    .prepare(
      `DELETE FROM messages WHERE id IN (
         SELECT m.id FROM (${cutoff}) s JOIN messages m ON m.site_id = s.id AND m.created_at < s.before
         WHERE m.status IN ('sent', 'cancelled', 'dead')
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id) LIMIT ?2)`,
    )
    .bind(...params);
