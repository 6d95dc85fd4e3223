import { normaliseEmail } from "../model/contacts";
import { cancelCampaignExits, rearmCarts, schedule, wakeWaits } from "../model/messages";
import { type AppliedEvent, countsMoney, currencyOf, EVENT, familyOf, type Message } from "../model/events";
import { toLine } from "../model/carts";
import { text } from "../lib/values";
import { compileRule } from "../segments/rules";
import type { Rule } from "../segments/rules";
import type { Site } from "../model/sites";
import type { CampaignDef, Step } from "./definition";
import { dueAt, type FlowNode, following, messageSteps, nodeAt, nodes, waitsByEvent } from "./flow";
import { MESSAGE_TEMPLATES } from "./messages";
import { enabledCampaigns } from "./store";

/**
 * The campaign engine at event time. For a chunk of processed events it returns the SQL that
 * starts, re-arms or ends journeys; ingest commits it in the same transaction as the events'
 * effects, so the statements see the contacts, carts and orders as the chunk left them (a loyalty
 * threshold crossed by this very order, a cart emptied by this removal).
 *
 * The SQL is set-based: per campaign, one INSERT … SELECT over a JSON list of rows starts every
 * journey of the chunk, and one UPDATE ends them, however many events and contacts the chunk
 * holds. Folding is exact because every statement runs after all of the chunk's effects anyway:
 * of a contact's repeated starts of the same journey only the one that would win is kept (the
 * first, or the last for a journey that restarts its timer), and starts followed by an exit event
 * are written before the exit's cancel, as event by event they would have been.
 */

/** A chunk of events ingest has just applied, in event order, with the time they were processed. */
export interface CampaignBatch {
  site: Site;
  now: number;
  events: AppliedEvent[];
}

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
export function journeyData(event: Message, now: number, currency: string): Record<string, string | number> {
  const p = event.properties;
  const data: Record<string, string | number> = { started_at: now, event: event.event ?? event.type };
  // The shopper's own view of the product (price in minor units): what her mail shows of a product
  // the merchant never listed, rather than whatever the first browser to view it wrote.
  const line = toLine(p, currencyOf(event, currency));
  if (line?.name) data.product_name = line.name;
  if (line && Number.isFinite(line.price)) data.price = line.price;
  const keep: Record<string, unknown> = {
    product_id: p.product_id ?? p.productId ?? p.sku,
    order_id: p.order_id ?? p.orderId,
    phone: p.phone,
    recipient_email: normaliseEmail(p.recipient_email),
    sender: p.sender_name ?? p.from_name ?? event.traits.name,
    window: p.preferred_time ?? p.window,
    message_id: event.messageId,
  };
  for (const [k, v] of Object.entries(keep)) {
    const t = text(v, 200);
    if (t) data[k] = t;
  }
  // Where a shipping or payment mail's button leads: only the merchant's server names it (a
  // browser could point someone's "track my order" anywhere), and only over http(s).
  const url = text(p.tracking_url ?? p.payment_url, 2000);
  if (event.source === "server" && url && /^https?:\/\//i.test(url) && URL.canParse(url)) data.action_url = url;
  return data;
}

function journeyKey(pattern: string, data: Record<string, string | number>): string {
  return pattern.replace(/\{(\w+)\}/g, (_, k: string) => String(data[k] ?? "-"));
}

/**
 * SQL that must hold for contact `c` to be reachable on `step`'s channel; `triggerPhone` is an SQL
 * expression for a phone number the trigger carried (a callback request), which counts too.
 */
function reachable(def: CampaignDef, step: Step, triggerPhone: string): string {
  const transactional = MESSAGE_TEMPLATES.get(step.template)?.transactional === true;
  const consent = transactional ? "" : " AND c.unsubscribed = 0";
  if (step.channel === "email") return `${consent} AND c.email IS NOT NULL`;
  if (step.channel === "sms" || step.channel === "call")
    return `${consent} AND coalesce(${triggerPhone}, c.phone) IS NOT NULL`;
  return def.trigger.type === "event" ? "" : consent;
}

/**
 * One message to schedule, as a row of the JSON list a start statement reads. `k` is the dedupe
 * key (for cart journeys its prefix: the cart id completes it), `d` the due time (cart journeys:
 * computed from the cart), `v` the A/B variant, `h` 1 in the holdout, `p` a phone the trigger
 * carried. A row names its contact (`c`) or, for a referred friend, their email (`e`).
 */
interface StartRow {
  c?: string;
  e?: string;
  k: string;
  d?: number;
  v: string | null;
  h: 0 | 1;
  p?: string;
  data: string;
}

interface Starts {
  def: CampaignDef;
  node: FlowNode | undefined;
  siteId: string;
  now: number;
  rows: StartRow[];
  /** Restart a pending journey's timer (and data) instead of leaving it be. */
  reset: boolean;
  /**
   * After a branch or a wait: schedule only if that row holds this way (`passFlow` in the same
   * batch set it), so a sweep that lost the row to another cannot schedule the other way too.
   */
  after?: { id: number; way: "then" | "else" };
}

/**
 * One INSERT … SELECT that schedules `stepIndex` for every row whose contact qualifies (reachable,
 * in the audience — and, for the first step of a segment-entry journey, in the segment).
 * Idempotent by dedupe key. The row list drives the join, so the cost follows the rows, not the
 * site's contacts.
 */
function startStatements(db: D1Database, x: Starts): D1PreparedStatement[] {
  const node = x.node;
  if (!node || x.rows.length === 0) return [];
  const t = x.def.trigger;
  const first = node.n === 1;
  // A branch or a wait reaches no one itself: the messages after it are checked when scheduled.
  const reach = node.kind === "message" ? reachable(x.def, node.step, "r.value ->> 'p'") : "";
  const after = x.after
    ? {
        sql: " AND EXISTS (SELECT 1 FROM messages f WHERE f.id = ? AND f.branch = ?)",
        params: [x.after.id, x.after.way],
      }
    : { sql: "", params: [] };
  const audience = x.def.audience ? compileRule(x.def.audience, x.now) : { sql: "1", params: [] };
  const segment =
    first && t.type === "segment_entry" ? compileRule(t.segment as Rule, x.now) : { sql: "1", params: [] };
  // A journey that restarts on its trigger also restarts after an exit ended it (a cart emptied,
  // then filled again): a cancelled first step becomes pending again. Not a holdout's (sent_at set).
  const conflict = x.reset
    ? `UPDATE SET due_at = excluded.due_at, data = excluded.data, status = 'pending',
         attempts = iif(status = 'cancelled', 0, attempts), reason = iif(status = 'cancelled', NULL, reason)
       WHERE status = 'pending' OR (status = 'cancelled' AND sent_at IS NULL)`
    : "NOTHING";
  const statement = (rows: StartRow[], source: "contact" | "email" | "cart") => {
    const from =
      source === "cart"
        ? `FROM json_each(?) r CROSS JOIN carts k ON k.site_id = ? AND k.contact_id = r.value ->> 'c'
           JOIN contacts c ON c.site_id = k.site_id AND c.id = k.contact_id
           WHERE EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = k.site_id AND i.contact_id = k.contact_id)`
        : source === "email"
          ? `FROM json_each(?) r CROSS JOIN identities i ON i.site_id = ? AND i.kind = 'email' AND i.value = r.value ->> 'e'
             JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id WHERE true`
          : `FROM json_each(?) r CROSS JOIN contacts c ON c.site_id = ? AND c.id = r.value ->> 'c' WHERE true`;
    const cart = source === "cart";
    return schedule(
      db,
      `SELECT c.site_id, c.id, ?, ?, ?, r.value ->> 'k'${cart ? " || k.cart_id || ':1'" : ""},
         ${cart ? "k.updated_at + ?" : "r.value ->> 'd'"}, ?, r.value ->> 'v', r.value ->> 'h', ?, r.value ->> 'data'
       ${from}${reach} AND ${audience.sql} AND ${segment.sql}${after.sql}`,
      [
        x.def.id,
        node.n,
        node.channel,
        ...(cart ? [node.delayMs] : []),
        x.now,
        x.def.priority,
        JSON.stringify(rows),
        x.siteId,
        ...audience.params,
        ...segment.params,
        ...after.params,
      ],
      conflict,
    );
  };
  if (first && t.type === "cart") return [statement(x.rows, "cart")];
  const byEmail = x.rows.filter((r) => r.e !== undefined);
  const byContact = x.rows.filter((r) => r.e === undefined);
  return [
    ...(byContact.length > 0 ? [statement(byContact, "contact")] : []),
    ...(byEmail.length > 0 ? [statement(byEmail, "email")] : []),
  ];
}

/**
 * What one campaign does with a chunk, folded per contact and journey. A contact's exit event
 * ends a generation: the journeys started before it are cancelled by it (with its reason), as
 * event by event they would be, and — unless the journey restarts on its trigger — their
 * cancelled messages block a restart of the same key.
 * Generations are counted per contact, so the statements follow the most exits any one contact
 * had in the chunk (almost always 0 or 1), not the number of events.
 */
interface Generation {
  /** Starts by fold key: two starts of the same journey keep the first, or the last with `reset`. */
  starts: Map<string, () => StartRow>;
  /** Contacts whose exit event ended this generation, with its reason. */
  exits: Map<string, string>;
}

interface Plan {
  generations: Generation[];
  /** Each contact's last generation: the one its cart journey is started in. */
  lastOf: Map<string, number>;
  /** Referred friends to create as contacts before their journeys start: email → new id. */
  friends: Map<string, string>;
}

/**
 * A journey that texts, calls, or mails someone other than the event's own contact (a referred
 * friend) costs the merchant money or reaches a third person: it starts only from events a
 * consented, capped widget endpoint (`widget`) or the merchant's server (`server`) sent — never
 * from the public key, which every store page prints (SECURITY.md). A browser's `Callback
 * Requested` or `Product Shared { recipient_email }` is kept as behaviour and sends nothing.
 * Journeys of other triggers (cart, segment, date) are checked where they send: the sweep texts
 * only numbers the merchant or a consented widget supplied.
 */
export function reachesOut(def: CampaignDef): boolean {
  const t = def.trigger;
  return (
    (t.type === "event" && t.recipient !== undefined) ||
    messageSteps(def).some((s) => s.channel === "sms" || s.channel === "call")
  );
}

/** A start of `def`'s first step for one event, keyed by what makes two starts the same journey. */
function startOf(def: CampaignDef, site: Site, e: AppliedEvent, now: number, plan: Plan) {
  const siteId = site.id;
  const t = def.trigger;
  const name = e.event.event;
  const step = firstMessage(def);
  if (!step) return null;
  // Built only for the start that wins its fold: most of a chunk's starts are folded away.
  const row = (k: string, variantKey: string, who: { c?: string; e?: string }) => (): StartRow => {
    // Entering a segment is a change of state, not an event: its journey keeps no event's details,
    // so it reads the same whichever event of the chunk made the contact enter.
    const data =
      t.type === "segment_entry"
        ? { started_at: now, event: "segment entry" }
        : journeyData(e.event, now, site.currency);
    // An event's journey runs from the event, not from when it was applied: one that waited in the
    // inbox (or in a browser that was offline) keeps its "a day after the view", not a day after that.
    const from = t.type === "segment_entry" ? now : Math.min(now, e.event.timestamp);
    return {
      ...who,
      k,
      d: from + step.delayMs,
      v: pickVariant(step, `${def.id}:${k}:${variantKey}:0`),
      h: def.holdoutPercent > 0 && bucket(`${def.id}:${e.contactId}`) < def.holdoutPercent ? 1 : 0,
      ...(typeof data.phone === "string" ? { p: data.phone } : {}),
      data: JSON.stringify(data),
    };
  };
  if (t.type === "cart") {
    if (name === EVENT.orderCompleted) return null;
    // One journey per cart: the cart id completes the key in SQL.
    const prefix = `${def.id}:${siteId}:${e.contactId}:`;
    return { key: e.contactId, last: true, row: row(prefix, "cart", { c: e.contactId }) };
  }
  if (t.type === "segment_entry") {
    const key = `${def.id}:${siteId}:${e.contactId}:entry:1`;
    return { key, last: false, row: row(key, "", { c: e.contactId }) };
  }
  if (t.type !== "event" || !name || !t.events.includes(name)) return null;
  // A payment confirmation for an order the merchant never reported would confirm nothing.
  if (familyOf(e.event) === "money" && !countsMoney(site, e.event)) return null;
  if (t.match && !Object.entries(t.match).every(([k, v]) => String(e.event.properties[k] ?? "") === v)) return null;
  if (e.event.source === "browser" && reachesOut(def)) return null;
  if (t.sources && !t.sources.includes(e.event.source)) return null;
  let who: { c?: string; e?: string } = { c: e.contactId };
  let whoKey = e.contactId;
  if (t.recipient) {
    // The friend becomes a contact (or is one already): their consent and unsubscribes apply.
    const email = normaliseEmail(e.event.properties[t.recipient]);
    if (!email) return null;
    if (!plan.friends.has(email)) plan.friends.set(email, crypto.randomUUID());
    who = { e: email };
    whoKey = email;
  }
  const key = `${def.id}:${siteId}:${whoKey}:${journeyKey(t.journey, journeyData(e.event, now, site.currency))}:1`;
  return { key, last: t.reset, row: row(key, "", who) };
}

/** Folds a chunk's events for one campaign into a plan. */
function plan(def: CampaignDef, batch: CampaignBatch): Plan {
  const p: Plan = { generations: [], lastOf: new Map(), friends: new Map() };
  const generation = (contactId: string) => {
    const g = p.lastOf.get(contactId) ?? 0;
    p.generations[g] ??= { starts: new Map(), exits: new Map() };
    return p.generations[g];
  };
  for (const e of batch.events) {
    const name = e.event.event;
    // Exits first: an event that ends a journey must not also be counted as starting one.
    const exit =
      name === EVENT.orderCompleted && def.exit.ordered
        ? "ordered"
        : name && def.exit.events.includes(name)
          ? `goal reached: ${name}`
          : null;
    if (exit) {
      generation(e.contactId).exits.set(e.contactId, exit);
      p.lastOf.set(e.contactId, (p.lastOf.get(e.contactId) ?? 0) + 1);
    }
    const start = startOf(def, batch.site, e, batch.now, p);
    if (!start) continue;
    const { starts } = generation(e.contactId);
    if (start.last || !starts.has(start.key)) {
      starts.delete(start.key);
      starts.set(start.key, start.row);
    }
  }
  return p;
}

/** The statements for a chunk of processed events, across all of the site's enabled campaigns. */
export async function campaignStatements(db: D1Database, batch: CampaignBatch): Promise<D1PreparedStatement[]> {
  const defs = await enabledCampaigns(db, batch.site.id);
  if (defs.length === 0) return [];
  const siteId = batch.site.id;
  const now = batch.now;
  const out: D1PreparedStatement[] = [];
  for (const def of defs) {
    const p = plan(def, batch);
    const cart = def.trigger.type === "cart";
    const reset = cart || (def.trigger.type === "event" && def.trigger.reset);
    if (p.friends.size > 0) out.push(...createFriends(db, siteId, p.friends, now));
    for (const [g, { starts, exits }] of p.generations.entries()) {
      const rows = [...starts.values()].map((make) => make());
      // A journey that restarts on its trigger is not blocked by a cancelled first step (see
      // startStatements), so one started and ended within the chunk would leave only a cancelled
      // row: skip it. (For a cart, the order even deleted that cart; the cart the contact holds
      // now is the one a later event started.) Others keep it: it blocks their key, as it would.
      const started = reset ? rows.filter((r) => r.c === undefined || (p.lastOf.get(r.c) ?? 0) === g) : rows;
      out.push(...startStatements(db, { def, node: nodeAt(def, 1), siteId, now, rows: started, reset }));
      // For the contacts of cart journeys that changed: an emptied cart ends the journey; otherwise
      // the shopper came back, and the pending reminder waits its full delay again.
      if (cart && rows.length > 0)
        out.push(
          rearmCarts(db, {
            siteId,
            campaign: def.id,
            contacts: rows.map((r) => r.c ?? ""),
            delays: nodes(def).map((st) => st.delayMs),
            now,
          }),
        );
      if (exits.size > 0) out.push(cancelCampaignExits(db, siteId, def.id, [...exits]));
    }
    out.push(...wakes(db, def, batch));
  }
  return out;
}

/** The schema guarantees a journey opens with a message; a date launch and a start schedule it. */
function firstMessage(def: CampaignDef) {
  const first = nodeAt(def, 1);
  return first?.kind === "message" ? first.step : undefined;
}

/**
 * The chunk's events that end a wait (`waitUntil: { event }`): that journey's wait row falls due
 * now, in the same transaction as the event, and the sweep takes its `then` way. Only pending rows
 * move; one statement per campaign that waits for any of the chunk's events.
 */
function wakes(db: D1Database, def: CampaignDef, batch: CampaignBatch): D1PreparedStatement[] {
  const waits = waitsByEvent(def);
  if (waits.size === 0) return [];
  const pairs = new Set<string>();
  for (const e of batch.events)
    for (const n of waits.get(e.event.event ?? "") ?? []) pairs.add(JSON.stringify([n, e.contactId]));
  if (pairs.size === 0) return [];
  return [
    wakeWaits(
      db,
      batch.site.id,
      def.id,
      [...pairs].map((p) => JSON.parse(p) as [number, string]),
      batch.now,
    ),
  ];
}

/** Referred friends as contacts with their email, unless someone already has that email. */
function createFriends(db: D1Database, siteId: string, friends: Map<string, string>, now: number) {
  const list = JSON.stringify([...friends]);
  return [
    db
      .prepare(
        `INSERT INTO contacts (site_id, id, email, first_seen, last_seen)
         SELECT ?1, f.value ->> 1, f.value ->> 0, ?3, ?3 FROM json_each(?2) f
         WHERE NOT EXISTS (SELECT 1 FROM identities WHERE site_id = ?1 AND kind = 'email' AND value = f.value ->> 0)`,
      )
      .bind(siteId, list, now),
    db
      .prepare(
        `INSERT INTO identities (site_id, kind, value, contact_id)
         SELECT ?1, 'email', f.value ->> 0, f.value ->> 1 FROM json_each(?2) f WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(siteId, list),
  ];
}

/**
 * After step `m.step` was sent (or held, or — for a branch or a wait — went `way`): the step that
 * follows, due its delay after now.
 */
export function nextStep(
  db: D1Database,
  def: CampaignDef,
  m: { siteId: string; contactId: string; step: number; dedupeKey: string; holdout: number; data: string },
  now: number,
  after?: { id: number; way: "then" | "else" },
): D1PreparedStatement[] {
  const done = nodeAt(def, m.step);
  const node = done && nodeAt(def, following(done, after?.way));
  if (!node) return [];
  const data = JSON.parse(m.data) as Record<string, unknown>;
  const key = `${m.dedupeKey.replace(/:\d+$/, "")}:${node.n}`;
  const row: StartRow = {
    c: m.contactId,
    k: key,
    d: dueAt(node, now),
    v: node.kind === "message" ? pickVariant(node.step, `${def.id}:${key}::${node.n - 1}`) : null,
    h: m.holdout === 1 ? 1 : 0,
    ...(typeof data.phone === "string" ? { p: data.phone } : {}),
    data: m.data,
  };
  return startStatements(db, {
    def,
    node,
    siteId: m.siteId,
    now,
    rows: [row],
    reset: false,
    ...(after ? { after } : {}),
  });
}

/**
 * The latest occurrence of a (possibly repeating) date at or before `now`, or null before the first.
 * Every occurrence is counted from the first date, never from the one before it, and a day the
 * month lacks is clamped to its end: monthly from 31 January is 28 (or 29) February, 31 March,
 * 30 April… — `setUTCMonth` instead rolled 31 February over to 3 March, which skipped February and
 * sent twice in March; stepping from the previous occurrence would have drifted to the 28th for good.
 * Yearly from 29 February is 28 February in other years. All in UTC (the definition's `at` carries
 * its offset), so there are no DST gaps here; quiet hours deal with local time when sending.
 * Closed form: the number of steps is computed, not looped to (workerd has no Temporal yet).
 */
export function latestOccurrence(
  at: string,
  every: "day" | "week" | "month" | "year" | undefined,
  now: number,
): number | null {
  const first = Date.parse(at);
  if (!(first <= now)) return null;
  if (!every) return first;
  if (every === "day" || every === "week") {
    const step = (every === "day" ? 1 : 7) * 86400_000;
    return first + Math.floor((now - first) / step) * step;
  }
  const months = every === "month" ? 1 : 12;
  const start = new Date(first);
  const end = new Date(now);
  const span = (end.getUTCFullYear() - start.getUTCFullYear()) * 12 + end.getUTCMonth() - start.getUTCMonth();
  let k = Math.floor(span / months);
  // The k-th occurrence may fall later in `now`'s month than `now` itself: then it is the one before.
  if (nthOccurrence(first, k * months) > now) k--;
  return nthOccurrence(first, k * months);
}

/** `first` moved by `months` calendar months, its day clamped to the target month's last day. */
export function nthOccurrence(first: number, months: number): number {
  const d = new Date(first);
  const month = d.getUTCMonth() + months;
  const year = d.getUTCFullYear() + Math.floor(month / 12);
  const m = ((month % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
  const timeOfDay = first - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Date.UTC(year, m, Math.min(d.getUTCDate(), lastDay)) + timeOfDay;
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
    const step = def && firstMessage(def);
    if (!def?.audience || !step || def.trigger.type !== "date") continue;
    const occurrence = latestOccurrence(def.trigger.at, def.trigger.every, now);
    if (occurrence === null || (row.launched_at !== null && row.launched_at >= occurrence)) continue;
    const audience = compileRule(def.audience, now);
    const data = JSON.stringify({ started_at: now, event: "date" });
    const prefix = `${def.id}:${row.site_id}:`;
    await db.batch([
      schedule(
        db,
        `SELECT c.site_id, c.id, ?, 1, ?, ? || c.id || ?, ?, ?, NULL, abs(random()) % 100 < ?, ?, ?
         FROM contacts c WHERE c.site_id = ?${reachable(def, step, "NULL")} AND ${audience.sql}`,
        [
          def.id,
          step.channel,
          prefix,
          `:${new Date(occurrence).toISOString()}:1`,
          now + step.delayMs,
          now,
          def.holdoutPercent,
          def.priority,
          data,
          row.site_id,
          ...audience.params,
        ],
      ),
      db
        .prepare(`UPDATE campaigns SET launched_at = ? WHERE site_id = ? AND id = ? AND launched_at IS ?`)
        .bind(now, row.site_id, row.id, row.launched_at),
    ]);
    launched++;
  }
  return launched;
}
