import { CAMPAIGNS } from "../campaigns";
import { CHANNELS } from "../channels";
import type { Env } from "../env";
import { drainInbox, recoverEvents } from "../ingest/process";
import { linkUrl } from "../lib/links";
import { cartLines } from "../model/carts";
import { siteById } from "../model/sites";

/**
 * The scheduler. Claims due messages with one UPDATE … RETURNING — D1 runs writes one at a time,
 * so two overlapping sweeps can never claim the same row — then re-checks each against its exit
 * conditions, renders it and hands it to its channel. Failures retry with backoff and are
 * dead-lettered after MAX_ATTEMPTS. A row stuck in 'sending' (a sweep that died mid-send) is
 * claimed again after CLAIM_TIMEOUT_MS; channels are idempotent by message id, so that resend is
 * safe.
 */

export const MAX_ATTEMPTS = 5;
export const CLAIM_TIMEOUT_MS = 5 * 60 * 1000;
const BATCH = 100;

export interface SweepResult {
  recovered: number;
  claimed: number;
  sent: number;
  cancelled: number;
  failed: number;
}

interface Claimed {
  id: number;
  site_id: string;
  contact_id: string;
  campaign: string;
  step: number;
  channel: string;
  attempts: number;
}

interface ContactRow {
  id: string;
  email: string | null;
  name: string | null;
  unsubscribed: number;
}

export async function sweep(env: Env, now: number, publicUrl?: string): Promise<SweepResult> {
  const db = env.DB;
  const result: SweepResult = { recovered: 0, claimed: 0, sent: 0, cancelled: 0, failed: 0 };
  // Batches accepted but not yet applied (their request's waitUntil has not run or died).
  result.recovered = await drainInbox(db, (id) => siteById(db, id), now);
  result.recovered += await recoverEvents(db, (id) => siteById(db, id), now);
  // The index on due_at (pending rows only) keeps this proportional to what is due.
  const { results } = await db
    .prepare(
      `UPDATE messages SET status = 'sending', claimed_at = ?1, attempts = attempts + 1
       WHERE id IN (
         SELECT id FROM (SELECT id FROM messages WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2)
         UNION ALL
         SELECT id FROM (SELECT id FROM messages WHERE status = 'sending' AND claimed_at < ?1 - ?3 LIMIT ?2))
       RETURNING id, site_id, contact_id, campaign, step, channel, attempts`,
    )
    .bind(now, BATCH, CLAIM_TIMEOUT_MS)
    .all<Claimed>();
  const claimed = results ?? [];
  result.claimed = claimed.length;
  for (const m of claimed) {
    const outcome = await deliver(env, m, now, publicUrl);
    result[outcome]++;
  }
  return result;
}

async function deliver(
  env: Env,
  m: Claimed,
  now: number,
  publicUrl?: string,
): Promise<"sent" | "cancelled" | "failed"> {
  const db = env.DB;
  const finish = (status: "cancelled", reason: string) =>
    db
      .prepare(`UPDATE messages SET status = ?2, reason = ?3 WHERE id = ?1 AND status = 'sending'`)
      .bind(m.id, status, reason)
      .run();
  try {
    const campaign = CAMPAIGNS.get(m.campaign);
    const channel = CHANNELS.get(m.channel);
    const site = await siteById(db, m.site_id);
    const row = await db
      .prepare(`SELECT id, email, name, unsubscribed FROM contacts WHERE site_id = ? AND id = ?`)
      .bind(m.site_id, m.contact_id)
      .first<ContactRow>();
    if (!campaign || !channel || !site || !row) {
      await finish("cancelled", "campaign, channel, site or contact no longer exists");
      return "cancelled";
    }
    const contact = { id: row.id, email: row.email, name: row.name, unsubscribed: row.unsubscribed === 1 };
    if (contact.unsubscribed || !contact.email) {
      await finish("cancelled", contact.unsubscribed ? "unsubscribed" : "no email address");
      return "cancelled";
    }
    const base = publicUrl ?? site.url;
    const ctx = {
      step: m.step,
      site,
      contact,
      lines: await cartLines(db, site.id, contact.id),
      links: {
        restore: await linkUrl(env, base, "restore", site.id, contact.id, now),
        unsubscribe: await linkUrl(env, base, "unsubscribe", site.id, contact.id, now),
      },
    };
    const reason = campaign.exitReason(ctx);
    if (reason) {
      await finish("cancelled", reason);
      return "cancelled";
    }
    const content = await campaign.render(ctx);
    await channel(
      env,
      {
        messageId: m.id,
        siteId: site.id,
        to: contact.email,
        ...content,
        // RFC 8058 one-click unsubscribe: mail clients POST to this URL.
        headers: {
          "List-Unsubscribe": `<${ctx.links.unsubscribe}>`,
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
      },
      now,
    );
    // Marking it sent and scheduling what follows commit together.
    await db.batch([
      db.prepare(`UPDATE messages SET status = 'sent', reason = NULL, sent_at = ?2 WHERE id = ?1`).bind(m.id, now),
      ...campaign.followUp(db, { siteId: site.id, contactId: contact.id, step: m.step }, now),
    ]);
    return "sent";
  } catch (e) {
    const reason = e instanceof Error ? e.message.slice(0, 500) : "send failed";
    const dead = m.attempts >= MAX_ATTEMPTS;
    // Exponential backoff: 1, 2, 4, 8 … minutes.
    await db
      .prepare(`UPDATE messages SET status = ?2, reason = ?3, due_at = ?4 WHERE id = ?1 AND status = 'sending'`)
      .bind(m.id, dead ? "dead" : "pending", reason, now + 60_000 * 2 ** (m.attempts - 1))
      .run();
    return "failed";
  }
}
