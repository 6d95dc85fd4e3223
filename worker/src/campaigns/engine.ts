import { normaliseEmail } from "../model/contacts";
import { text } from "../lib/values";
import { compileRule } from "../segments/rules";
import type { CampaignEvent } from "./campaign";
import type { CampaignDef, Step } from "./definition";
import { MESSAGE_TEMPLATES } from "./messages";
import { enabledCampaigns } from "./store";

/**
 * The campaign engine at event time. For each processed event it returns the SQL that starts,
 * re-arms or ends journeys; ingest commits it in the same transaction as the event's effects, so
 * the statements see the contact, cart and orders as the event left them (a loyalty threshold
 * crossed by this very order, a cart emptied by this removal).
 */

const DAY = 86400_000;

/** Stable in [0, 100): the same contact lands in the same group of a campaign every time. */
export function bucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 100;
}

/** A/B: picks a variant by weight, stably for a given message key. */
export function pickVariant(step: Step, key: string): string | null {
  if (!step.variants) return null;
  const total = step.variants.reduce((n, v) => n + v.weight, 0);
  let at = (bucket(`variant:${key}`) / 100) * total;
  for (const v of step.variants) {
    if (at < v.weight) return v.id;
    at -= v.weight;
  }
  return step.variants[step.variants.length - 1]?.id ?? null;
}

/** The trigger data a journey keeps: what its messages show and whom they go to. */
export function journeyData(e: CampaignEvent): Record<string, string | number> {
  const p = e.event.properties;
  const data: Record<string, string | number> = { started_at: e.now, event: e.event.event ?? e.event.type };
  const keep: Record<string, unknown> = {
    product_id: p.product_id ?? p.productId ?? p.sku,
    order_id: p.order_id ?? p.orderId,
    phone: p.phone,
    recipient_email: normaliseEmail(p.recipient_email),
    sender: p.sender_name ?? p.from_name ?? e.event.traits.name,
    window: p.preferred_time ?? p.window,
    message_id: e.event.messageId,
  };
  for (const [k, v] of Object.entries(keep)) {
    const t = text(v, 200);
    if (t) data[k] = t;
  }
  return data;
}

function journeyKey(pattern: string, data: Record<string, string | number>): string {
  return pattern.replace(/\{(\w+)\}/g, (_, k: string) => String(data[k] ?? "-"));
}

/** SQL that must hold for a contact to be reachable on `step`'s channel (phone from the trigger counts). */
function reachable(def: CampaignDef, step: Step, data: Record<string, unknown>): string {
  const transactional = MESSAGE_TEMPLATES.get(step.template)?.transactional === true;
  const consent = transactional ? "" : " AND c.unsubscribed = 0";
  if (step.channel === "email") return `${consent} AND c.email IS NOT NULL`;
  if (step.channel === "sms" || step.channel === "call")
    return data.phone ? consent : `${consent} AND c.phone IS NOT NULL`;
  return def.trigger.type === "event" ? "" : consent;
}

interface Insert {
  def: CampaignDef;
  stepIndex: number;
  siteId: string;
  /** SQL selecting the contact row `c` (and `k`, the cart, for cart journeys), with its params. */
  from: string;
  fromParams: unknown[];
  keySql: string;
  keyParams: unknown[];
  dueSql: string;
  dueParams: unknown[];
  data: Record<string, string | number>;
  holdout: boolean;
  variantKey: string;
  now: number;
  reset: boolean;
}

/** One INSERT … SELECT that schedules a step when the contact qualifies; idempotent by dedupe key. */
function insertStep(db: D1Database, x: Insert): D1PreparedStatement {
  const step = x.def.steps[x.stepIndex] as Step;
  const audience = x.def.audience ? compileRule(x.def.audience, x.now) : { sql: "1", params: [] };
  return db
    .prepare(
      `INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at,
                             variant, holdout, priority, data)
       SELECT c.site_id, c.id, ?, ?, ?, ${x.keySql}, ${x.dueSql}, ?, ?, ?, ?, ?
       ${x.from}${reachable(x.def, step, x.data)} AND ${audience.sql}
       ON CONFLICT (dedupe_key) DO ${x.reset ? "UPDATE SET due_at = excluded.due_at, data = excluded.data WHERE status = 'pending'" : "NOTHING"}`,
    )
    .bind(
      x.def.id,
      x.stepIndex + 1,
      step.channel,
      ...x.keyParams,
      ...x.dueParams,
      x.now,
      pickVariant(step, `${x.def.id}:${x.keyParams.join(":")}:${x.variantKey}:${x.stepIndex}`),
      x.holdout ? 1 : 0,
      x.def.priority,
      JSON.stringify(x.data),
      ...x.fromParams,
      ...audience.params,
    );
}

const CONTACT = "FROM contacts c WHERE c.site_id = ? AND c.id = ?";
const HAS_ITEMS =
  "EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = messages.site_id AND i.contact_id = messages.contact_id)";

/** insertStep with a dedupe key and due time known up front (everything but cart journeys). */
function keyedStep(
  db: D1Database,
  x: Pick<Insert, "def" | "stepIndex" | "siteId" | "from" | "fromParams" | "data" | "holdout" | "now" | "reset">,
  key: string,
  due: number,
): D1PreparedStatement {
  return insertStep(db, { ...x, keySql: "?", keyParams: [key], dueSql: "?", dueParams: [due], variantKey: "" });
}

/** The statements for one processed event, across all of the site's enabled campaigns. */
export async function campaignStatements(db: D1Database, e: CampaignEvent): Promise<D1PreparedStatement[]> {
  const defs = await enabledCampaigns(db, e.site.id);
  if (defs.length === 0) return [];
  const siteId = e.site.id;
  const name = e.event.event;
  const out: D1PreparedStatement[] = [];
  const cancel = (def: CampaignDef, reason: string) =>
    db
      .prepare(
        `UPDATE messages SET status = 'cancelled', reason = ?
         WHERE site_id = ? AND contact_id = ? AND campaign = ? AND status = 'pending'`,
      )
      .bind(reason, siteId, e.contactId, def.id);

  for (const def of defs) {
    // Exits first: an event that ends a journey must not also be counted as starting one.
    if (name === "Order Completed" && def.exit.ordered) out.push(cancel(def, "ordered"));
    if (name && def.exit.events.includes(name)) out.push(cancel(def, `goal reached: ${name}`));

    const data = journeyData(e);
    const holdout = def.holdout_percent > 0 && bucket(`${def.id}:${e.contactId}`) < def.holdout_percent;
    const t = def.trigger;
    if (t.type === "cart") {
      if (name === "Order Completed") continue;
      const prefix = `${def.id}:${siteId}:${e.contactId}:`;
      out.push(
        insertStep(db, {
          def,
          stepIndex: 0,
          siteId,
          from: `FROM carts k JOIN contacts c ON c.site_id = k.site_id AND c.id = k.contact_id
                 WHERE k.site_id = ? AND k.contact_id = ?
                   AND EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = k.site_id AND i.contact_id = k.contact_id)`,
          fromParams: [siteId, e.contactId],
          keySql: "? || k.cart_id || ':1'",
          keyParams: [prefix],
          dueSql: "k.updated_at + ?",
          dueParams: [def.steps[0]?.delay_ms ?? 0],
          data,
          holdout,
          variantKey: "cart",
          now: e.now,
          reset: true,
        }),
        // One statement per event for the rest (ingest runs it for every event): an emptied cart
        // ends the journey; otherwise the shopper came back, and the pending reminder waits its
        // full delay again.
        db
          .prepare(
            `UPDATE messages SET
               status = CASE WHEN ${HAS_ITEMS} THEN status ELSE 'cancelled' END,
               reason = CASE WHEN ${HAS_ITEMS} THEN reason ELSE 'cart emptied or ordered' END,
               due_at = max(due_at, ? + CASE step ${def.steps.map(() => "WHEN ? THEN ?").join(" ")} ELSE 0 END)
             WHERE site_id = ? AND contact_id = ? AND campaign = ? AND status = 'pending'`,
          )
          .bind(e.now, ...def.steps.flatMap((st, i) => [i + 1, st.delay_ms]), siteId, e.contactId, def.id),
      );
    } else if (t.type === "event" && name && t.events.includes(name)) {
      if (t.match && !Object.entries(t.match).every(([k, v]) => String(e.event.properties[k] ?? "") === v)) continue;
      let from = CONTACT;
      let fromParams: unknown[] = [siteId, e.contactId];
      let who = e.contactId;
      if (t.recipient) {
        const email = normaliseEmail(e.event.properties[t.recipient]);
        if (!email) continue;
        // The friend becomes a contact (or is one already): their consent and unsubscribes apply.
        const id = crypto.randomUUID();
        out.push(
          db
            .prepare(
              `INSERT INTO contacts (site_id, id, email, first_seen, last_seen)
               SELECT ?1, ?2, ?3, ?4, ?4 WHERE NOT EXISTS
                 (SELECT 1 FROM identities WHERE site_id = ?1 AND kind = 'email' AND value = ?3)`,
            )
            .bind(siteId, id, email, e.now),
          db
            .prepare(
              `INSERT INTO identities (site_id, kind, value, contact_id) VALUES (?, 'email', ?, ?) ON CONFLICT DO NOTHING`,
            )
            .bind(siteId, email, id),
        );
        from = `FROM contacts c WHERE c.site_id = ? AND c.id = (SELECT contact_id FROM identities WHERE site_id = ? AND kind = 'email' AND value = ?)`;
        fromParams = [siteId, siteId, email];
        who = email;
      }
      const key = `${def.id}:${siteId}:${who}:${journeyKey(t.journey, data)}:1`;
      const first = { def, stepIndex: 0, siteId, from, fromParams, data, holdout, now: e.now, reset: t.reset };
      out.push(keyedStep(db, first, key, e.now + (def.steps[0]?.delay_ms ?? 0)));
    } else if (t.type === "segment_entry") {
      const segment = compileRule(t.segment, e.now);
      const from = `${CONTACT} AND ${segment.sql}`;
      const first = {
        def,
        stepIndex: 0,
        siteId,
        from,
        fromParams: [siteId, e.contactId, ...segment.params],
        data,
        holdout,
        now: e.now,
        reset: false,
      };
      out.push(
        keyedStep(db, first, `${def.id}:${siteId}:${e.contactId}:entry:1`, e.now + (def.steps[0]?.delay_ms ?? 0)),
      );
    }
  }
  if (name === "Order Completed") out.push(attribute(db, e));
  return out;
}

/**
 * Attribution: the order is a conversion of the last message the contact got (or, in the
 * holdout, would have got) before it, clicked or sent within the campaign's window.
 */
function attribute(db: D1Database, e: CampaignEvent): D1PreparedStatement {
  const p = e.event.properties;
  const orderId = text(p.order_id ?? p.orderId ?? p.checkout_id, 200) ?? e.event.messageId;
  return db
    .prepare(
      `INSERT INTO conversions (site_id, order_id, message_id, campaign, variant, holdout, amount, placed_at)
       SELECT o.site_id, o.order_id, m.id, m.campaign, m.variant, m.holdout, o.total, o.placed_at
       FROM orders o
       JOIN messages m ON m.site_id = o.site_id AND m.contact_id = o.contact_id
       JOIN campaigns cp ON cp.site_id = m.site_id AND cp.id = m.campaign
       WHERE o.site_id = ? AND o.order_id = ? AND o.contact_id = ?
         AND m.sent_at IS NOT NULL AND m.sent_at <= o.placed_at AND (m.status = 'sent' OR m.holdout = 1)
         AND max(m.sent_at, coalesce(m.clicked_at, 0))
             >= o.placed_at - coalesce(json_extract(cp.definition, '$.attribution_days'), 5) * ${DAY}
       ORDER BY max(m.sent_at, coalesce(m.clicked_at, 0)) DESC LIMIT 1
       ON CONFLICT DO NOTHING`,
    )
    .bind(e.site.id, orderId, e.contactId);
}

/** After step `m.step` was sent: the next step, due its delay after now. */
export function nextStep(
  db: D1Database,
  def: CampaignDef,
  m: { siteId: string; contactId: string; step: number; dedupeKey: string; holdout: number; data: string },
  now: number,
): D1PreparedStatement[] {
  const step = def.steps[m.step];
  if (!step) return [];
  const data = JSON.parse(m.data) as Record<string, string | number>;
  const key = `${m.dedupeKey.replace(/:\d+$/, "")}:${m.step + 1}`;
  const next = {
    def,
    stepIndex: m.step,
    siteId: m.siteId,
    from: CONTACT,
    fromParams: [m.siteId, m.contactId],
    data,
    holdout: m.holdout === 1,
    now,
    reset: false,
  };
  return [keyedStep(db, next, key, now + step.delay_ms)];
}

/** The latest occurrence of a (possibly repeating) date at or before `now`, or null before the first. */
export function latestOccurrence(
  at: string,
  every: "day" | "week" | "month" | "year" | undefined,
  now: number,
): number | null {
  const first = Date.parse(at);
  if (!(first <= now)) return null;
  if (!every) return first;
  let latest = first;
  // Calendar steps from the first date (months and years vary in length); bounded for safety.
  for (let k = 1; k < 100_000; k++) {
    const d = new Date(first);
    if (every === "day") d.setUTCDate(d.getUTCDate() + k);
    else if (every === "week") d.setUTCDate(d.getUTCDate() + 7 * k);
    else if (every === "month") d.setUTCMonth(d.getUTCMonth() + k);
    else d.setUTCFullYear(d.getUTCFullYear() + k);
    if (d.getTime() > now) break;
    latest = d.getTime();
  }
  return latest;
}

/**
 * Date-triggered campaigns whose time has come: one bulk INSERT … SELECT over the audience per
 * occurrence. The dedupe key names the occurrence, so overlapping sweeps launch it once.
 */
export async function launchDueCampaigns(db: D1Database, now: number): Promise<number> {
  const { results } = await db
    .prepare(
      `SELECT site_id, id, launched_at FROM campaigns WHERE enabled = 1
         AND json_extract(definition, '$.trigger.type') = 'date'
         AND unixepoch(json_extract(definition, '$.trigger.at')) * 1000 <= ?
         AND (launched_at IS NULL OR json_extract(definition, '$.trigger.every') IS NOT NULL)`,
    )
    .bind(now)
    .all<{ site_id: string; id: string; launched_at: number | null }>();
  let launched = 0;
  for (const row of results ?? []) {
    const def = (await enabledCampaigns(db, row.site_id)).find((d) => d.id === row.id);
    const step = def?.steps[0];
    if (!def?.audience || !step || def.trigger.type !== "date") continue;
    const occurrence = latestOccurrence(def.trigger.at, def.trigger.every, now);
    if (occurrence === null || (row.launched_at !== null && row.launched_at >= occurrence)) continue;
    const audience = compileRule(def.audience, now);
    const data = JSON.stringify({ started_at: now, event: "date" });
    const prefix = `${def.id}:${row.site_id}:`;
    await db.batch([
      db
        .prepare(
          `INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at,
                                 variant, holdout, priority, data)
           SELECT c.site_id, c.id, ?, 1, ?, ? || c.id || ?, ?, ?, NULL, abs(random()) % 100 < ?, ?, ?
           FROM contacts c WHERE c.site_id = ?${reachable(def, step, {})} AND ${audience.sql}
           ON CONFLICT (dedupe_key) DO NOTHING`,
        )
        .bind(
          def.id,
          step.channel,
          prefix,
          `:${new Date(occurrence).toISOString()}:1`,
          now + step.delay_ms,
          now,
          def.holdout_percent,
          def.priority,
          data,
          row.site_id,
          ...audience.params,
        ),
      db
        .prepare(`UPDATE campaigns SET launched_at = ? WHERE site_id = ? AND id = ? AND launched_at IS ?`)
        .bind(now, row.site_id, row.id, row.launched_at),
    ]);
    launched++;
  }
  return launched;
}
