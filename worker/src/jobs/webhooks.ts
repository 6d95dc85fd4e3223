import { signature } from "../channels/webhook";
import { DEAD_AFTER, deadLetter } from "../model/dead-letters";
import type { Callback } from "../model/onsite";
import { callbackById, markNotified } from "../model/onsite";
import { webhookSecret } from "../model/sites";

/**
 * The merchant's callback webhook: tried at once when the shopper asks (routes/onsite.ts), then
 * from the sweep with backoff until the merchant's server accepts it — 1, 2, 4, 8 minutes — and set
 * aside as a dead letter after DEAD_AFTER failures. Each try is signed afresh (the timestamp is the
 * try's) and carries the same `Idempotency-Key`, so a receiver that got an earlier try can drop it.
 */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
/** The callback as the webhook and the admin API show it. */
export const present = (c: Callback) => ({
  ...c,
  notified_at: iso(c.notified_at),
  created_at: iso(c.created_at),
});

/**
 * How long after the request the sweep picks up a callback the first try did not deliver. Longer
 * than that try can take (a 10 s timeout, run after the answer in `waitUntil`), so a sweep never
 * sends a second copy while the first is still in flight — seen when it was a minute: a tick a
 * minute ahead (the e2e suite) raced the request's own try and delivered twice.
 */
export const FIRST_RETRY_MS = 5 * 60_000;
/** Callbacks older than this are not retried: a callback request a week late helps nobody. */
const GIVE_UP_MS = 7 * 86400_000;

export interface Hook {
  url: string;
  secret: string;
}

/** One try: true when the merchant's server accepted it (and the callback is marked notified). */
export async function notifyCallback(
  db: D1Database,
  hook: Hook,
  siteId: string,
  callback: Callback,
  at: number,
): Promise<boolean> {
  const body = JSON.stringify({ type: "callback.requested", site: siteId, callback: present(callback) });
  let reason: string;
  try {
    const res = await fetch(hook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "idempotency-key": `nudge-callback/${callback.id}`,
        "x-nudge-signature": await signature(hook.secret, body, at),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    if (res.ok) {
      await markNotified(db, callback.id, at);
      return true;
    }
    reason = `webhook answered ${res.status}`;
  } catch (e) {
    reason = `webhook failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  // Exponential backoff from this try; the DEAD_AFTER-th failure sets it aside.
  const row = await db
    .prepare(
      `UPDATE callbacks SET notify_attempts = notify_attempts + 1, notify_after = ?2 + 60000 * (1 << notify_attempts)
       WHERE id = ?1 RETURNING notify_attempts`,
    )
    .bind(callback.id, at)
    .first<{ notify_attempts: number }>();
  if (row && row.notify_attempts >= DEAD_AFTER)
    await deadLetter(
      db,
      { siteId, kind: "webhook", ref: callback.id, contactId: callback.contact_id, reason },
      row.notify_attempts,
      at,
    ).run();
  return false;
}

/** Retries the callback webhooks that are due; returns how many were delivered. */
export async function retryWebhooks(db: D1Database, now: number): Promise<number> {
  const { results } = await db
    .prepare(
      `SELECT c.id, c.site_id, o.webhook_url FROM callbacks c
       JOIN onsite_configs o ON o.site_id = c.site_id
       WHERE c.notified_at IS NULL AND c.created_at > ?1 - ?2 AND c.notify_attempts < ?3
         AND coalesce(c.notify_after, c.created_at + ?4) <= ?1
         AND o.webhook_url IS NOT NULL
       ORDER BY c.created_at LIMIT 50`,
    )
    .bind(now, GIVE_UP_MS, DEAD_AFTER, FIRST_RETRY_MS)
    .all<{ id: number; site_id: string; webhook_url: string }>();
  let delivered = 0;
  for (const r of results ?? []) {
    const callback = await callbackById(db, r.site_id, r.id);
    if (!callback) continue;
    // Signed with the site's own key, made on first need (model/sites.ts).
    const hook = { url: r.webhook_url, secret: (await webhookSecret(db, r.site_id)).secret };
    if (await notifyCallback(db, hook, r.site_id, callback, now)) delivered++;
  }
  return delivered;
}
