import type { CampaignDef, Step } from "../campaigns/definition";
import { launchDueCampaigns, nextStep, pickVariant } from "../campaigns/engine";
import { localeOf, MESSAGE_TEMPLATES, renderCallScript, renderMessage, renderSms } from "../campaigns/messages";
import type { MessageContext, MessageTemplate, Product } from "../campaigns/messages";
import { campaignById } from "../campaigns/store";
import type { Outgoing } from "../channels/channel";
import { transportFor } from "../channels";
import { twiml } from "../channels/twilio";
import type { Env } from "../env";
import { drainInbox, recoverEvents } from "../ingest/process";
import { isDict } from "../ingest/validate";
import { linkUrl } from "../lib/links";
import { cartLines } from "../model/carts";
import { mintCoupon } from "../model/coupons";
import { siteById } from "../model/sites";
import type { Site } from "../model/sites";
import { contactMatches } from "../segments/rules";
import { deferUntil, validTimeZone } from "./quiet-hours";

/**
 * The scheduler. Claims due messages with one UPDATE … RETURNING — D1 runs writes one at a time,
 * so two overlapping sweeps can never claim the same row — then, for each, in priority order:
 * re-checks consent and exit conditions, defers it out of quiet hours, applies the frequency cap
 * and the holdout, renders it and hands it to its channel. Failures retry with backoff and are
 * dead-lettered after MAX_ATTEMPTS with the reason. A row stuck in 'sending' (a sweep that died
 * mid-send) is claimed again after CLAIM_TIMEOUT_MS; transports are idempotent by message id.
 */

export const MAX_ATTEMPTS = 5;
export const CLAIM_TIMEOUT_MS = 5 * 60 * 1000;
const BATCH = 100;
const CONCURRENCY = 8;

export interface SweepResult {
  recovered: number;
  launched: number;
  claimed: number;
  sent: number;
  cancelled: number;
  deferred: number;
  held: number;
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
  dedupe_key: string;
  variant: string | null;
  holdout: number;
  priority: number;
  data: string;
  coupon: string | null;
  created_at: number;
}

interface ContactRow {
  id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  traits: string;
  unsubscribed: number;
}

type Outcome = "sent" | "cancelled" | "deferred" | "held" | "failed";

export async function sweep(env: Env, now: number, publicUrl?: string): Promise<SweepResult> {
  const db = env.DB;
  const result: SweepResult = {
    recovered: 0,
    launched: 0,
    claimed: 0,
    sent: 0,
    cancelled: 0,
    deferred: 0,
    held: 0,
    failed: 0,
  };
  // Batches accepted but not yet applied (their request's waitUntil has not run or died).
  result.recovered = await drainInbox(db, (id) => siteById(db, id), now);
  result.recovered += await recoverEvents(db, (id) => siteById(db, id), now);
  result.launched = await launchDueCampaigns(db, now);
  // The index on due_at (pending rows only) keeps this proportional to what is due.
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
    .bind(now, BATCH, CLAIM_TIMEOUT_MS)
    .all<Claimed>();
  // Higher priority first: when a frequency cap leaves room for one message, it is theirs.
  const claimed = (results ?? []).sort((a, b) => b.priority - a.priority || a.id - b.id);
  result.claimed = claimed.length;
  // One contact's messages go one after another (the cap counts what was just sent); different
  // contacts in parallel, so a sweep waits on the network once per round, not once per message.
  const byContact = new Map<string, Claimed[]>();
  for (const m of claimed) {
    const key = `${m.site_id}\u0000${m.contact_id}`;
    byContact.set(key, [...(byContact.get(key) ?? []), m]);
  }
  const queues = [...byContact.values()];
  // Each site is read once per sweep, however many of its messages are due.
  const sites = new Map<string, Promise<Site | null>>();
  const site = (id: string) => {
    let found = sites.get(id);
    if (!found) {
      found = siteById(db, id);
      sites.set(id, found);
    }
    return found;
  };
  const worker = async () => {
    for (let q = queues.shift(); q; q = queues.shift())
      for (const m of q) result[await deliver(env, m, now, site, publicUrl)]++;
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return result;
}

const parseData = (text: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(text);
    return isDict(v) ? v : {};
  } catch {
    return {};
  }
};

async function deliver(
  env: Env,
  m: Claimed,
  now: number,
  siteOf: (id: string) => Promise<Site | null>,
  publicUrl?: string,
): Promise<Outcome> {
  const db = env.DB;
  const finish = async (reason: string): Promise<Outcome> => {
    await db
      .prepare(`UPDATE messages SET status = 'cancelled', reason = ? WHERE id = ? AND status = 'sending'`)
      .bind(reason, m.id)
      .run();
    return "cancelled";
  };
  try {
    const site = await siteOf(m.site_id);
    const def = site && (await campaignById(db, site.id, m.campaign));
    const step = def?.steps[m.step - 1];
    const template = step && MESSAGE_TEMPLATES.get(variantOf(step, m)?.template ?? step.template);
    const row = await db
      .prepare(`SELECT id, email, phone, name, traits, unsubscribed FROM contacts WHERE site_id = ? AND id = ?`)
      .bind(m.site_id, m.contact_id)
      .first<ContactRow>();
    if (!site || !def || !step || !template || !row) return finish("campaign disabled, or contact gone");
    const data = parseData(m.data);
    const traits = parseData(row.traits);

    // Consent and exit conditions, checked again now: things change between scheduling and sending.
    if (row.unsubscribed && !template.transactional) return finish("unsubscribed");
    const exit = await exitReason(db, def, m, data, now);
    if (exit) return finish(exit);
    const to =
      step.channel === "email"
        ? row.email
        : step.channel === "webhook"
          ? (step.url ?? null)
          : ((typeof data.phone === "string" ? data.phone : null) ?? row.phone);
    if (!to) return finish(step.channel === "email" ? "no email address" : "no phone number");

    if (!template.transactional) {
      if (def.quiet_hours && (def.quiet_hours.channels ?? [step.channel]).includes(step.channel)) {
        const zone = validTimeZone(traits.timezone) ?? validTimeZone(traits.time_zone) ?? site.timeZone;
        const until = deferUntil(now, zone, def.quiet_hours);
        if (until > now) {
          // Not a failed attempt: give the attempt back.
          await db
            .prepare(
              `UPDATE messages SET status = 'pending', due_at = ?, attempts = attempts - 1, reason = ?
               WHERE id = ? AND status = 'sending'`,
            )
            .bind(until, `quiet hours (${zone}): deferred`, m.id)
            .run();
          return "deferred";
        }
      }
      if (def.frequency_cap) {
        const recent = await db
          .prepare(
            `SELECT count(*) AS n FROM messages WHERE site_id = ? AND contact_id = ? AND sent_at >= ?
               AND status = 'sent' AND holdout = 0 AND id != ?`,
          )
          .bind(m.site_id, m.contact_id, now - def.frequency_cap.hours * 3600_000, m.id)
          .first<{ n: number }>();
        if ((recent?.n ?? 0) >= def.frequency_cap.max) return finish("frequency cap");
      }
    }
    if (m.holdout) {
      // The control group: nothing is delivered, but the time it would have gone is kept, and the
      // journey goes on virtually (its next step is scheduled and held in turn), so control and
      // treated contacts are compared over the same journey (routes/results.ts).
      await db.batch([
        db
          .prepare(
            `UPDATE messages SET status = 'cancelled', reason = 'holdout', sent_at = ? WHERE id = ? AND status = 'sending'`,
          )
          .bind(now, m.id),
        ...nextStep(
          db,
          def,
          { siteId: site.id, contactId: row.id, step: m.step, dedupeKey: m.dedupe_key, holdout: 1, data: m.data },
          now,
        ),
      ]);
      return "held";
    }

    const coupon = m.coupon ?? (step.coupon ? await couponFor(db, site, def, step, m, now) : null);
    const variant = variantOf(step, m);
    const ctx = await context(env, site, row, traits, data, template, m, coupon, now, publicUrl);
    if (variant?.subject ?? step.subject) ctx.subject = variant?.subject ?? step.subject;
    const out = await outgoing(site, def, step, template, ctx, m, to, row, data, now);
    await transportFor(env, step.channel)(env, out, now);
    // Marking it sent and scheduling what follows commit together.
    await db.batch([
      db
        .prepare(`UPDATE messages SET status = 'sent', reason = NULL, sent_at = ?, variant = ? WHERE id = ?`)
        .bind(now, variant?.id ?? null, m.id),
      ...nextStep(
        db,
        def,
        { siteId: site.id, contactId: row.id, step: m.step, dedupeKey: m.dedupe_key, holdout: 0, data: m.data },
        now,
      ),
    ]);
    return "sent";
  } catch (e) {
    const reason = e instanceof Error ? e.message.slice(0, 500) : "send failed";
    const dead = m.attempts >= MAX_ATTEMPTS;
    // Exponential backoff: 1, 2, 4, 8 … minutes.
    await db
      .prepare(`UPDATE messages SET status = ?2, reason = ?3, due_at = ?4 WHERE id = ?1 AND status = 'sending'`)
      .bind(
        m.id,
        dead ? "dead" : "pending",
        dead ? `dead after ${m.attempts} attempts: ${reason}` : reason,
        now + 60_000 * 2 ** (m.attempts - 1),
      )
      .run();
    return "failed";
  }
}

function variantOf(step: Step, m: Claimed) {
  const id = m.variant ?? pickVariant(step, m.dedupe_key);
  return step.variants?.find((v) => v.id === id);
}

/** Why this journey has ended since it was scheduled, or null. */
async function exitReason(db: D1Database, def: CampaignDef, m: Claimed, data: Record<string, unknown>, now: number) {
  const since = typeof data.started_at === "number" ? data.started_at : m.created_at;
  if (def.trigger.type === "cart" && (await cartLines(db, m.site_id, m.contact_id)).length === 0)
    return "cart emptied or ordered";
  if (def.exit.ordered) {
    const order = await db
      .prepare(
        `SELECT 1 FROM orders WHERE site_id = ? AND contact_id = ? AND placed_at >= ? AND status = 'placed' LIMIT 1`,
      )
      .bind(m.site_id, m.contact_id, since)
      .first();
    if (order) return "ordered";
  }
  for (const event of def.exit.events) {
    const hit = await db
      .prepare(`SELECT 1 FROM events WHERE site_id = ? AND contact_id = ? AND timestamp >= ? AND event = ? LIMIT 1`)
      .bind(m.site_id, m.contact_id, since, event)
      .first();
    if (hit) return `goal reached: ${event}`;
  }
  if (def.audience && !(await contactMatches(db, m.site_id, m.contact_id, def.audience, now)))
    return "no longer in the audience";
  return null;
}

/** Mints the step's unique coupon once: stored on the message first, so a retry reuses it. */
async function couponFor(db: D1Database, site: Site, def: CampaignDef, step: Step, m: Claimed, now: number) {
  const c = step.coupon;
  if (!c) return null;
  // A code this shopper already holds (bound to them, or to one of their browsers) and has not used.
  const reused = c.reuse
    ? await db
        .prepare(
          `SELECT code FROM coupons WHERE site_id = ?1 AND source = ?3
             AND (contact_id = ?2 OR anonymous_id IN
                  (SELECT value FROM identities WHERE site_id = ?1 AND kind = 'anonymous' AND contact_id = ?2))
             AND (expires_at IS NULL OR expires_at > ?4) AND (max_uses IS NULL OR uses < max_uses)
           ORDER BY created_at DESC LIMIT 1`,
        )
        .bind(site.id, m.contact_id, c.reuse, now)
        .first<{ code: string }>()
    : null;
  const code =
    reused?.code ??
    (await mintCoupon(db, {
      siteId: site.id,
      promotionId: c.promotion_id,
      contactId: m.contact_id,
      source: `campaign:${def.id}`,
      expiresAt: now + c.expires_days * 86400_000,
      now,
    }));
  await db.prepare(`UPDATE messages SET coupon = ? WHERE id = ? AND coupon IS NULL`).bind(code, m.id).run();
  const row = await db.prepare(`SELECT coupon FROM messages WHERE id = ?`).bind(m.id).first<{ coupon: string }>();
  return row?.coupon ?? code;
}

async function products(db: D1Database, site: Site, template: MessageTemplate, data: Record<string, unknown>) {
  const cols = `product_id AS productId, name, price, url, image_url AS imageUrl`;
  const list = async (sql: string, ...params: unknown[]) =>
    (
      await db
        .prepare(sql)
        .bind(...params)
        .all<Product>()
    ).results ?? [];
  switch (template.block) {
    case "viewed":
    case "shared":
      return list(
        `SELECT ${cols} FROM products WHERE site_id = ? AND product_id = ?`,
        site.id,
        String(data.product_id ?? ""),
      );
    case "related":
      // Same categories as the order, not in it; newest first.
      return list(
        `SELECT ${cols} FROM products p WHERE p.site_id = ?1
           AND p.product_id NOT IN (SELECT value ->> '$.product_id' FROM orders o, json_each(o.products) WHERE o.site_id = ?1 AND o.order_id = ?2)
         ORDER BY p.category IN (SELECT q.category FROM products q JOIN orders o ON o.site_id = q.site_id, json_each(o.products) j
                                 WHERE o.site_id = ?1 AND o.order_id = ?2 AND q.product_id = j.value ->> '$.product_id') DESC,
                  p.updated_at DESC LIMIT 3`,
        site.id,
        String(data.order_id ?? ""),
      );
    case "top":
      return list(
        `SELECT ${cols} FROM products p WHERE p.site_id = ?1 AND p.product_id =
           (SELECT product_id FROM product_views WHERE site_id = ?1 GROUP BY product_id ORDER BY sum(views) DESC LIMIT 1)`,
        site.id,
      );
    default:
      return [];
  }
}

async function context(
  env: Env,
  site: Site,
  row: ContactRow,
  traits: Record<string, unknown>,
  data: Record<string, unknown>,
  template: MessageTemplate,
  m: Claimed,
  coupon: string | null,
  now: number,
  publicUrl?: string,
): Promise<MessageContext> {
  const base = publicUrl ?? site.url;
  const shown = await products(env.DB, site, template, data);
  const link = (purpose: "unsubscribe" | "open", extra = {}) =>
    linkUrl(env, base, purpose, site.id, row.id, now, extra);
  // A cart button names no URL: the click link mints the restore link when followed, so it stays short.
  const click =
    template.cta === "restore"
      ? { m: m.id, r: "restore" as const }
      : { m: m.id, u: template.cta === "product" && shown[0]?.url ? shown[0].url : site.url };
  return {
    site,
    locale: localeOf(traits.locale ?? traits.language),
    name: row.name,
    lines: template.block === "cart" ? await cartLines(env.DB, site.id, row.id) : [],
    products: shown,
    coupon,
    sender: typeof data.sender === "string" ? data.sender : null,
    window: typeof data.window === "string" ? data.window : null,
    links: {
      cta: await linkUrl(env, base, "click", site.id, row.id, now, click),
      unsubscribe: await link("unsubscribe"),
      open: await link("open", { m: m.id }),
    },
  };
}

async function outgoing(
  site: Site,
  def: CampaignDef,
  step: Step,
  template: MessageTemplate,
  ctx: MessageContext,
  m: Claimed,
  to: string,
  row: ContactRow,
  data: Record<string, unknown>,
  now: number,
): Promise<Outgoing> {
  const base = { messageId: m.id, siteId: site.id, channel: step.channel, to, headers: {} };
  switch (step.channel) {
    case "email": {
      const r = await renderMessage(template, ctx);
      // RFC 8058 one-click unsubscribe: mail clients POST to this URL.
      const headers = {
        "List-Unsubscribe": `<${ctx.links.unsubscribe}>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      };
      return { ...base, ...r, headers };
    }
    case "sms":
      return {
        ...base,
        subject: (await renderMessage(template, ctx)).subject,
        html: "",
        text: renderSms(template, ctx),
      };
    case "call": {
      const script = renderCallScript(template, ctx);
      return {
        ...base,
        subject: (await renderMessage(template, ctx)).subject,
        html: twiml(script, ctx.locale),
        text: script,
      };
    }
    case "webhook": {
      const payload = {
        id: m.id,
        campaign: def.id,
        step: m.step,
        sent_at: new Date(now).toISOString(),
        contact: { id: row.id, email: row.email, phone: row.phone, name: row.name },
        data,
      };
      return { ...base, subject: `${def.name}`, html: "", text: JSON.stringify(payload) };
    }
  }
}
