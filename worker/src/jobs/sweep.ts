import type { CampaignDef, Step } from "../campaigns/definition";
import { launchDueCampaigns, nextStep, pickVariant } from "../campaigns/engine";
import {
  LEAVE_REASONS,
  localeOf,
  MESSAGE_TEMPLATES,
  renderCallScript,
  renderMessage,
  renderSms,
} from "../campaigns/messages";
import type { MessageContext, MessageTemplate, Product } from "../campaigns/messages";
import { shownProducts } from "../campaigns/recommend";
import type { Shown, TopCache } from "../campaigns/recommend";
import { campaignById } from "../campaigns/store";
import { decide, type FlowNode, nodeAt } from "../campaigns/flow";
import type { Outgoing } from "../channels/channel";
import { NotConfigured, ProviderError } from "../channels/channel";
import { missingSetup, providerFor, transportFor } from "../channels";
import { twiml } from "../channels/twilio";
import type { Env } from "../env";
import { drainInbox, recoverEvents } from "../ingest/process";
import { isDict } from "../lib/values";
import { countCalls } from "../lib/d1-budget";
import { homeNames, isDev, routedTo } from "../env";
import { webhookUrlProblem } from "../lib/hosts";
import { linkUrl, publicBase } from "../lib/links";
import { normalisePhone, phoneAllowed, phoneCountries, phoneDigitsSql } from "../lib/phone";
import { countAll } from "../lib/rate-limit";
import { cartLines } from "../model/carts";
import { boundTo, heldCoupon, mintCoupon } from "../model/coupons";
import { rewardStands } from "../model/referrals";
import { DEAD_AFTER, deadLetter } from "../model/dead-letters";
import { siteById, webhookSecret } from "../model/sites";
import { suppressionOf } from "../model/suppressions";
import type { Site } from "../model/sites";
import { refreshRfm } from "../segments/rfm";
import { contactMatches } from "../segments/rules";
import { deferUntil, validTimeZone } from "./quiet-hours";
import { homesInMove } from "./move";
import { prune } from "./retention";
import { retryWebhooks } from "./webhooks";
import { EVENT } from "../model/events";
import {
  type ClaimedMessage,
  cancelClaimed,
  claimDue,
  deferClaimed,
  failClaimed,
  holdClaimed,
  keepCoupon,
  markSent,
  passFlow,
  releaseClaimed,
  setAside,
} from "../model/messages";

/**
 * The scheduler. Claims due messages with one UPDATE … RETURNING — D1 runs writes one at a time,
 * so two overlapping sweeps can never claim the same row — then, for each, in priority order:
 * re-checks consent and exit conditions, defers it out of quiet hours, applies the frequency cap
 * and the holdout, renders it and hands it to its channel. Failures retry with backoff (or a
 * provider's Retry-After) and are set aside after MAX_ATTEMPTS with the reason (status 'dead' and a
 * row in dead_letters). A row stuck in 'sending' (a sweep that died mid-send) is claimed again after
 * CLAIM_TIMEOUT_MS, under the same provider idempotency key; one claimed more than MAX_ATTEMPTS
 * times is set aside. A sweep claims rounds of BATCH until nothing is due or its time or D1-call
 * budget is spent, each round reading its contacts and their latest orders in one call, so a
 * delivery costs about one D1 call (its sent mark) and a sweep sends ~900.
 */

export const MAX_ATTEMPTS = DEAD_AFTER;
export const CLAIM_TIMEOUT_MS = 5 * 60 * 1000;
/** Rows per claim: one UPDATE … RETURNING; a round of this many is sent before the next claim. */
const BATCH = 100;
const CONCURRENCY = 8;
/**
 * How long one sweep keeps claiming: under the cron's minute, so runs rarely overlap (when they
 * do, the claim keeps them apart).
 */
export const SEND_BUDGET_MS = 45_000;
/** D1 calls one sweep may make: D1 allows ~1 000 per invocation; the rest is headroom. */
export const D1_CALL_BUDGET = 950;

export interface SweepResult {
  recovered: number;
  launched: number;
  webhooks: number;
  rounds: number;
  claimed: number;
  sent: number;
  cancelled: number;
  deferred: number;
  held: number;
  /** Branch and wait steps decided (each schedules the step its way leads to). */
  branched: number;
  failed: number;
  /** Claimed, but given back: the provider's rate or the sweep's budget left no room to send. */
  released: number;
  /** D1 calls this run made (a batch is one): D1 allows ~1 000 per invocation. */
  d1Calls: number;
  /** Phases that failed this run (the others ran): what an operator looks at in the logs. */
  errors: string[];
}

const EMPTY: SweepResult = {
  recovered: 0,
  launched: 0,
  webhooks: 0,
  rounds: 0,
  claimed: 0,
  sent: 0,
  cancelled: 0,
  deferred: 0,
  held: 0,
  branched: 0,
  failed: 0,
  released: 0,
  d1Calls: 0,
  errors: [],
};
const COUNTS = Object.keys(EMPTY).filter((k) => k !== "errors") as Exclude<keyof SweepResult, "errors">[];

export interface SweepBudget {
  ms?: number;
  calls?: number;
}

type Claimed = ClaimedMessage;

interface ContactRow {
  id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  traits: string;
  unsubscribed: number;
}

type Outcome = "sent" | "cancelled" | "deferred" | "held" | "branched" | "failed" | "released";

/**
 * One run of the scheduler. Each phase — the inbox, recovery, date launches, webhook retries,
 * sending — runs even when one before it failed (its error is listed in `errors`), so one poisoned
 * row or one site's bad data never stops the others. Sending claims rounds of BATCH until nothing
 * is due, or the time or D1-call budget is spent.
 */
export async function sweep(env: Env, now: number, publicUrl?: string, budget: SweepBudget = {}): Promise<SweepResult> {
  const started = Date.now();
  const { ms = SEND_BUDGET_MS, calls = D1_CALL_BUDGET } = budget;
  const counted = countCalls(env.DB);
  const db = counted.db;
  const counting: Env = { ...env, DB: db };
  const result: SweepResult = { ...EMPTY, errors: [] };
  const guard = async (phase: string, run: () => Promise<number>): Promise<number> => {
    try {
      return await run();
    } catch (e) {
      console.error(`sweep: ${phase} failed`, e);
      result.errors.push(`${phase}: ${e instanceof Error ? e.message.slice(0, 200) : String(e)}`);
      return 0;
    }
  };
  const sites = siteCache(db);
  // Batches accepted but not yet applied (their request failed to apply them, or INGEST_PROCESSING=sweep).
  result.recovered = await guard("inbox", () => drainInbox(db, sites, now, { budgetMs: ms / 2 }));
  result.recovered += await guard("recovery", () => recoverEvents(db, sites, now));
  result.launched = await guard("launch", () => launchDueCampaigns(db, now));
  result.webhooks = await guard("webhooks", () => retryWebhooks(db, now));

  const deadline = started + ms;
  const pace = pacer();
  const tops: TopCache = new Map();
  // D1 calls one delivery costs: a guess at first (~7 for a cart reminder), then measured.
  let perMessage = 10;
  while (Date.now() < deadline) {
    const size = Math.min(BATCH, Math.floor((calls - counted.calls() - 2) / perMessage));
    if (size <= 0) break;
    const before = counted.calls();
    let claimed: Claimed[] = [];
    await guard("claim", async () => {
      claimed = await claimDue(db, now, size, CLAIM_TIMEOUT_MS);
      return claimed.length;
    });
    if (claimed.length === 0) break;
    result.rounds++;
    result.claimed += claimed.length;
    // A round that fails as a whole (its contacts unreadable) leaves its rows 'sending': they are
    // claimed again after CLAIM_TIMEOUT_MS.
    const round = claimed;
    const branched = result.branched;
    await guard("send", async () => {
      await deliverRound(counting, round, now, sites, result, { pace, deadline, publicUrl, tops });
      return 0;
    });
    perMessage = Math.max(1, Math.ceil((counted.calls() - before) / claimed.length));
    // A branch or wait decided this round may have scheduled a step due at once: claim again for it.
    if (claimed.length < size && result.branched === branched) break;
  }
  // After sending: a few sites' RFM scores, when a day old (segments/rfm.ts).
  await guard("rfm", () => refreshRfm(db, now));
  // Last, so sending never waits on it: a bounded batch of what is past each site's retention.
  await guard("retention", async () => {
    await prune(db, now);
    return 0;
  });
  result.d1Calls = counted.calls();
  return result;
}

/**
 * The scheduled run over every database that holds sites (model/directory.ts): a sweep per home,
 * side by side, sharing the invocation's D1-call budget — evenly at first, then what the quiet
 * homes left goes to those that used their whole share (a sweep may run again: claims are
 * idempotent). A home at either end of a site's move is left for a later minute (jobs/move.ts), so
 * no due message is sent from a copy being made or deleted. With one database this is `sweep`.
 */
export async function sweepHomes(env: Env, now: number, publicUrl?: string): Promise<SweepResult> {
  const busy = await homesInMove(env);
  const homes = homeNames(env);
  const sum: SweepResult = { ...EMPTY, errors: [] };
  for (const home of homes) if (busy.has(home)) sum.errors.push(`${home}: waits while a site moves`);
  const deadline = Date.now() + SEND_BUDGET_MS;
  let left = D1_CALL_BUDGET;
  let pending = homes.filter((home) => !busy.has(home));
  const several = pending.length > 1;
  for (let pass = 0; pending.length > 0 && pass < 3; pass++) {
    const calls = Math.floor(left / pending.length);
    if (calls < SHARE_MARGIN) break;
    const ms = Math.max(0, deadline - Date.now());
    const round = await Promise.all(pending.map((home) => sweep(routedTo(env, home), now, publicUrl, { ms, calls })));
    for (const [i, r] of round.entries()) {
      for (const k of COUNTS) sum[k] += r[k];
      sum.errors.push(...(several ? r.errors.map((e) => `${pending[i]}: ${e}`) : r.errors));
      left -= r.d1Calls;
    }
    pending = pending.filter((_, i) => (round[i]?.d1Calls ?? 0) > calls - SHARE_MARGIN);
  }
  return sum;
}

/** A sweep that stopped within this many calls of its share ran out of budget, not of work. */
const SHARE_MARGIN = 50;

/** Each site is read once per sweep, however many of its messages are due. */
function siteCache(db: D1Database) {
  const sites = new Map<string, Promise<Site | null>>();
  return (id: string) => {
    let found = sites.get(id);
    if (!found) {
      found = siteById(db, id);
      sites.set(id, found);
    }
    return found;
  };
}

/** What a round reads once for all its messages: contacts, and each one's latest placed order. */
interface RoundReads {
  contacts: Map<string, ContactRow>;
  lastOrders: Map<string, number>;
}

interface RoundOptions {
  pace: Pacer;
  deadline: number;
  publicUrl: string | undefined;
  tops: TopCache;
}

async function deliverRound(
  env: Env,
  rows: Claimed[],
  now: number,
  site: (id: string) => Promise<Site | null>,
  result: SweepResult,
  options: RoundOptions,
): Promise<void> {
  // Contacts are served in claim order; priority orders only each contact's own messages (when a
  // frequency cap leaves room for one, it is theirs), so no campaign's priority puts one site's
  // messages ahead of another site's.
  const claimed = rows.sort((a, b) => a.id - b.id);
  // One contact's messages go one after another (the cap counts what was just sent); different
  // contacts in parallel, so a sweep waits on the network once per round, not once per message.
  const byContact = new Map<string, Claimed[]>();
  for (const m of claimed) {
    const key = `${m.site_id}\u0000${m.contact_id}`;
    byContact.set(key, [...(byContact.get(key) ?? []), m]);
  }
  const queues = [...byContact.values()].map((q) => q.sort((a, b) => b.priority - a.priority || a.id - b.id));
  // The round's contacts in one read, not one per message: a delivery's D1 calls are what bound a
  // sweep (D1 allows ~1 000 per invocation), and this was one of its three.
  const keys = JSON.stringify(queues.map((q) => [q[0]?.site_id, q[0]?.contact_id]));
  const [people, orders] = await env.DB.batch<ContactRow & { site_id: string; contact_id: string; last: number }>([
    env.DB.prepare(
      `SELECT site_id, id, email, phone, name, traits, unsubscribed FROM contacts
       WHERE (site_id, id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
    ).bind(keys),
    // orders_spend (site_id, contact_id, status, placed_at, …) makes this an index lookup per contact.
    env.DB.prepare(
      `SELECT site_id, contact_id, max(placed_at) AS last FROM orders
       WHERE (site_id, contact_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?)) AND status = 'placed'
       GROUP BY site_id, contact_id`,
    ).bind(keys),
  ]);
  const contacts = new Map((people?.results ?? []).map((r) => [`${r.site_id}\u0000${r.id}`, r]));
  const lastOrders = new Map((orders?.results ?? []).map((r) => [`${r.site_id}\u0000${r.contact_id}`, r.last]));
  const worker = async () => {
    for (let q = queues.shift(); q; q = queues.shift())
      for (const m of q) {
        try {
          result[await deliver(env, m, now, site, { ...options, contacts, lastOrders })]++;
        } catch (e) {
          // Even recording the failure failed (D1 unavailable): the row stays 'sending' and is
          // claimed again after CLAIM_TIMEOUT_MS, counting this attempt.
          console.error("sweep: delivery left to a later claim", e);
          result.failed++;
        }
      }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/**
 * Per-provider pacing within a sweep: each provider gets a send slot every 1/rate seconds. A
 * message whose slot falls after the sweep's deadline is given back to the next sweep.
 */
type Pacer = (provider: string, perSecond: number, deadline: number) => Promise<boolean>;

function pacer(): Pacer {
  const next = new Map<string, number>();
  return async (provider, perSecond, deadline) => {
    if (!Number.isFinite(perSecond)) return true;
    const at = Math.max(Date.now(), next.get(provider) ?? 0);
    if (at > deadline) return false;
    next.set(provider, at + 1000 / perSecond);
    // Date.now() stands still between I/O in workerd: only a wait of a millisecond or more is real.
    if (at - Date.now() >= 1) await scheduler.wait(at - Date.now());
    return true;
  };
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
  { pace, deadline, publicUrl, tops, contacts, lastOrders }: RoundOptions & RoundReads,
): Promise<Outcome> {
  const db = env.DB;
  // Claimed again and again without an outcome: every sweep that took it died mid-send (a crash,
  // or it was killed at its limits). Set aside rather than take down the next sweep too.
  if (m.attempts > MAX_ATTEMPTS) {
    const reason = `claimed ${m.attempts} times without finishing`;
    await db.batch([
      setAside(db, m.id, reason),
      deadLetter(
        db,
        { siteId: m.site_id, kind: "message", ref: m.id, contactId: m.contact_id, reason },
        m.attempts,
        now,
      ),
    ]);
    return "failed";
  }
  const finish = async (reason: string): Promise<Outcome> => {
    await cancelClaimed(db, m.id, reason).run();
    return "cancelled";
  };
  try {
    const site = await siteOf(m.site_id);
    const def = site && (await campaignById(db, site.id, m.campaign));
    const node = def ? nodeAt(def, m.step) : undefined;
    const step = node?.kind === "message" ? node.step : undefined;
    const template = step && MESSAGE_TEMPLATES.get(variantOf(step, m)?.template ?? step.template);
    const row = contacts.get(`${m.site_id}\u0000${m.contact_id}`);
    const data = parseData(m.data);
    const traits = parseData(row?.traits ?? "{}");
    const lastOrder = lastOrders.get(`${m.site_id}\u0000${m.contact_id}`);
    if (site && def && node && node.kind !== "message" && row)
      return await passBranch(db, { site, def, node, m, traits, data, now, lastOrder });
    if (!site || !def || !step || !template || !row) return finish("campaign disabled, or contact gone");

    // Consent and exit conditions, checked again now: things change between scheduling and sending.
    if (row.unsubscribed && !template.transactional) return finish("unsubscribed");
    const exit = await exitReason(db, def, m, data, now, lastOrder);
    if (exit) return finish(exit);
    let to =
      step.channel === "email"
        ? row.email
        : step.channel === "webhook"
          ? (step.url ?? null)
          : ((typeof data.phone === "string" ? data.phone : null) ?? row.phone);
    if (!to) return finish(step.channel === "email" ? "no email address" : "no phone number");
    if (step.channel === "sms" || step.channel === "call") {
      const checked = await checkPhone(db, site, m.contact_id, to, template.transactional === true);
      if ("refused" in checked) return finish(checked.refused);
      to = checked.phone;
    }
    if (step.channel === "webhook") {
      // Checked again when sending: a definition stored before the check existed is not trusted either.
      const problem = webhookUrlProblem(to, isDev(env));
      if (problem) return finish(`webhook URL ${problem}`);
    }
    // Bounced, complained or texted STOP: never again, transactional or not.
    const stopped = step.channel === "webhook" ? null : await suppressionOf(db, site.id, to);
    if (stopped && stopped !== "unsubscribed") return finish(`suppressed: ${stopped}`);
    // Someone who unsubscribed and was then erased is known only by a hash: checked at the door.
    if (stopped === "unsubscribed" && !template.transactional) return finish("unsubscribed (before an erasure)");

    // Transactional messages skip quiet hours, except calls: a robot ringing at night is never
    // welcome, whatever it is about (a payment failure's call waits for the morning).
    if (
      (!template.transactional || step.channel === "call") &&
      def.quietHours &&
      (def.quietHours.channels ?? [step.channel]).includes(step.channel)
    ) {
      const zone = validTimeZone(traits.timezone) ?? validTimeZone(traits.time_zone) ?? site.timeZone;
      const until = deferUntil(now, zone, def.quietHours);
      if (until > now) {
        // Not a failed attempt: give the attempt back.
        await deferClaimed(db, m.id, until, `quiet hours (${zone}): deferred`).run();
        return "deferred";
      }
    }
    if (!template.transactional) {
      if (def.frequencyCap) {
        const recent = await db
          .prepare(
            `SELECT count(*) AS n FROM messages WHERE site_id = ? AND contact_id = ? AND sent_at >= ?
               AND status = 'sent' AND holdout = 0 AND id != ?`,
          )
          .bind(m.site_id, m.contact_id, now - def.frequencyCap.hours * 3600_000, m.id)
          .first<{ n: number }>();
        if ((recent?.n ?? 0) >= def.frequencyCap.max) return finish("frequency cap");
      }
    }
    // The journey's next step, scheduled in the same batch as this one's outcome.
    const stepAfter = (holdout: 0 | 1) =>
      nextStep(
        db,
        def,
        { siteId: site.id, contactId: row.id, step: m.step, dedupeKey: m.dedupe_key, holdout, data: m.data },
        now,
      );
    if (m.holdout) {
      // The control group: nothing is delivered, but the time it would have gone is kept, and the
      // journey goes on virtually (its next step is scheduled and held in turn), so control and
      // treated contacts are compared over the same journey (routes/results.ts).
      await db.batch([holdClaimed(db, m.id, now), ...stepAfter(1)]);
      return "held";
    }

    // A deployment without a provider, sender or public address for this channel: dead at once.
    const missing = missingSetup(env, site, step.channel);
    if (missing) throw new NotConfigured(missing);
    const budget = budgetOf(site, def, step);
    if (budget && ((await countAll(db, [{ bucket: budget.bucket, windowMs: DAY }], now))[0] ?? 0) > budget.limit)
      return overBudget(db, site, m, budget, now);

    // A transactional mail's recommendations are marketing: not for someone who opted out of it.
    const shown =
      template.transactional && row.unsubscribed
        ? { products: [], basis: null, showcase: null }
        : await shownProducts(db, site, template.block, data, { contactId: row.id, traits, now, tops });
    // The product a bound code is for: the one the mail shows, else the journey's own (a viewed
    // product the mail cannot show still gets a code for that product, never one for the order).
    const target: BindTarget | undefined =
      shown.products[0] ??
      (typeof data.product_id === "string" && data.product_id
        ? { productId: data.product_id, name: data.product_id }
        : undefined);
    const offer = m.coupon || step.coupon ? await couponFor(db, site, def, step, m, target, now) : null;
    const variant = variantOf(step, m);
    const delivery: Delivery = { site, def, step, template, m, row, traits, data, now };
    const ctx = await context(env, delivery, { offer, shown, publicUrl });
    // The merchant's words for this locale over the template's. Subject: an A/B variant's (its test),
    // else this locale's, else the step's one for every locale.
    ctx.content = step.content?.[ctx.locale];
    const subject = variant?.subject ?? ctx.content?.subject ?? step.subject;
    if (subject) ctx.subject = subject;
    const out = await outgoing(delivery, ctx, to);
    const provider = providerFor(env, step.channel);
    if (!(await pace(provider.name, provider.perSecond, deadline))) {
      // No room left at this provider's rate in this sweep: back to pending, the attempt given back.
      await releaseClaimed(db, m.id).run();
      return "released";
    }
    if (step.channel === "webhook") out.signingSecret = (await webhookSecret(db, site.id)).secret;
    await transportFor(env, step.channel)(env, out, now);
    // Marking it sent and scheduling what follows commit together.
    await db.batch([markSent(db, m.id, now, variant?.id ?? null), ...stepAfter(0)]);
    return "sent";
  } catch (e) {
    const reason = e instanceof Error ? e.message.slice(0, 500) : "send failed";
    const dead = m.attempts >= MAX_ATTEMPTS || e instanceof NotConfigured;
    // A provider's Retry-After (a 429) is honoured when longer than the backoff.
    const retryAfter = e instanceof ProviderError ? e.retryAfterMs : 0;
    // Exponential backoff: 1, 2, 4, 8 … minutes; the last failure sets it aside as a dead letter.
    const mark = failClaimed(db, m.id, {
      dead,
      reason: e instanceof NotConfigured ? reason : dead ? `dead after ${m.attempts} attempts: ${reason}` : reason,
      retryAt: now + Math.max(60_000 * 2 ** (m.attempts - 1), retryAfter),
    });
    const letter = { siteId: m.site_id, kind: "message" as const, ref: m.id, contactId: m.contact_id, reason };
    await (dead ? db.batch([mark, deadLetter(db, letter, m.attempts, now)]) : mark.run());
    return "failed";
  }
}

const DAY = 86_400_000;

/**
 * A branch or a wait fell due: unless the journey has ended, decide it now and, in one batch,
 * record the way taken and schedule the step it leads to — for holdout contacts too, so the
 * control group walks the same branches (it opened nothing, so it reads as unopened). A wait still
 * waiting (woken early, or for a local hour) goes back to pending until then.
 */
async function passBranch(
  db: D1Database,
  x: Pick<Delivery, "site" | "def" | "m" | "traits" | "data" | "now"> & {
    node: FlowNode;
    lastOrder: number | undefined;
  },
): Promise<Outcome> {
  const { site, def, node, m, now } = x;
  const exit = await exitReason(db, def, m, x.data, now, x.lastOrder);
  if (exit) {
    await cancelClaimed(db, m.id, exit).run();
    return "cancelled";
  }
  const zone = validTimeZone(x.traits.timezone) ?? validTimeZone(x.traits.time_zone) ?? site.timeZone;
  // Quiet every hour but `hour`: deferUntil then answers the next time the local clock shows it.
  const untilLocalHour = (hour: number) => deferUntil(now, zone, { from: (hour + 1) % 24, to: hour });
  const d = await decide(db, node, m, now, untilLocalHour);
  if ("until" in d) {
    await deferClaimed(db, m.id, d.until, d.reason).run();
    return "deferred";
  }
  const at = { siteId: site.id, contactId: m.contact_id, step: m.step, dedupeKey: m.dedupe_key, holdout: m.holdout };
  await db.batch([
    passFlow(db, m.id, d.way, d.reason),
    ...nextStep(db, def, { ...at, data: m.data }, now, { id: m.id, way: d.way }),
  ]);
  return "branched";
}

/**
 * A number the sweep may text or call: E.164, in the site's countries and no premium range
 * (lib/phone.ts), and supplied either by the shopper in a consented widget (a `consents` row of
 * this contact or one of their browsers) or by the merchant's server (an event with the secret key
 * naming it). Any browser can `identify { phone }` its own new contact; without this, a cart left
 * by a script would text whatever number the script chose. A callback request's consent covers
 * the callback's own messages (transactional), not marketing: a stranger who typed someone's
 * number into the callback form must not earn that number cart texts and automated calls.
 */
async function checkPhone(
  db: D1Database,
  site: Site,
  contactId: string,
  raw: string,
  transactional: boolean,
): Promise<{ phone: string } | { refused: string }> {
  const phone = normalisePhone(raw);
  if (!phone) return { refused: "not an E.164 phone number" };
  const countries = phoneCountries(site);
  if (!phoneAllowed(phone, countries))
    return { refused: `phone number outside the site's countries (${countries.join(", ") || "none set"})` };
  const supplied = await db
    .prepare(
      `SELECT 1 FROM consents WHERE site_id = ?1 AND subject = ?3 AND purpose IN (SELECT value FROM json_each(?4))
         AND (contact_id = ?2 OR anonymous_id IN
              (SELECT value FROM identities WHERE site_id = ?1 AND kind = 'anonymous' AND contact_id = ?2))
       UNION ALL
       SELECT 1 FROM events WHERE site_id = ?1 AND contact_id = ?2 AND source = 'server'
         AND ?3 IN (${phoneDigitsSql("traits ->> 'phone'")}, ${phoneDigitsSql("properties ->> 'phone'")})
       LIMIT 1`,
    )
    .bind(site.id, contactId, phone, JSON.stringify(transactional ? ["callback", "sms"] : ["sms"]))
    .first();
  return supplied ? { phone } : { refused: "phone number not given by the merchant or in a consented widget" };
}

interface Budget {
  kind: "sms" | "call" | "referral";
  limit: number;
  setting: string;
  bucket: string;
}

/** The site's daily budget this message spends from, if any: SMS, calls, mail to a referred friend. */
function budgetOf(site: Site, def: CampaignDef, step: Step): Budget | null {
  const s = site.settings;
  const b =
    step.channel === "sms"
      ? { kind: "sms" as const, limit: s.smsPerDay, setting: "smsPerDay" }
      : step.channel === "call"
        ? { kind: "call" as const, limit: s.callsPerDay, setting: "callsPerDay" }
        : step.channel === "email" && def.trigger.type === "event" && def.trigger.recipient
          ? { kind: "referral" as const, limit: s.referralsPerDay, setting: "referralsPerDay" }
          : null;
  return b && { ...b, limit: Math.max(0, b.limit), bucket: `budget:${site.id}:${b.kind}` };
}

/**
 * Past the day's budget the message waits for the next UTC day (not a failed attempt), and the
 * merchant is told once a day per channel: an alert row (GET /v1/admin/alerts).
 */
async function overBudget(db: D1Database, site: Site, m: Claimed, b: Budget, now: number): Promise<Outcome> {
  const day = new Date(now).toISOString().slice(0, 10);
  await db.batch([
    deferClaimed(db, m.id, now - (now % DAY) + DAY, `daily ${b.kind} budget (${b.limit}) reached: deferred`),
    db
      .prepare(
        `INSERT INTO alerts (site_id, kind, day, message, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(
        site.id,
        `budget:${b.kind}`,
        day,
        `The daily ${b.kind} budget (${b.limit}) was reached on ${day}: further ${b.kind} messages wait for the next day. ` +
          `Raise it with the site setting ${b.setting} if this traffic is genuine.`,
        now,
      ),
  ]);
  return "deferred";
}

function variantOf(step: Step, m: Claimed) {
  const id = m.variant ?? pickVariant(step, m.dedupe_key);
  return step.variants?.find((v) => v.id === id);
}

/** Why this journey has ended since it was scheduled, or null. */
async function exitReason(
  db: D1Database,
  def: CampaignDef,
  m: Claimed,
  data: Record<string, unknown>,
  now: number,
  lastOrder: number | undefined,
) {
  const since = typeof data.started_at === "number" ? data.started_at : m.created_at;
  if (def.trigger.type === "cart" && (await cartLines(db, m.site_id, m.contact_id)).length === 0)
    return "cart emptied or ordered";
  if (def.trigger.type === "referral" && !(await rewardStands(db, m.site_id, data.order_id)))
    return "referred order cancelled or refunded";
  if (def.exit.ordered) {
    // An order placed since the journey began (the merchant's word: the contact's latest placed
    // order, read for the round), or the shopper's own browser saying they bought — that makes no
    // order row on a site that does not trust browser orders, but still ends their journeys.
    if (lastOrder !== undefined && lastOrder >= since) return "ordered";
    const bought = await db
      .prepare(
        `SELECT 1 FROM events WHERE site_id = ?1 AND contact_id = ?2 AND timestamp >= ?3 AND event = ?4
           AND source != 'server' LIMIT 1`,
      )
      .bind(m.site_id, m.contact_id, since, EVENT.orderCompleted)
      .first();
    if (bought) return "ordered";
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

/**
 * Mints the step's unique coupon once: stored on the message first, so a retry reuses it. A bound
 * step's code works only on the product the message shows (or its category), enforced wherever the
 * code is priced (promotions/engine.ts); with no product to bind to, it is the promotion as written.
 */
async function couponFor(
  db: D1Database,
  site: Site,
  def: CampaignDef,
  step: Step,
  m: Claimed,
  product: BindTarget | undefined,
  now: number,
): Promise<Offer | null> {
  const c = step.coupon;
  let code = m.coupon;
  if (!code && c) {
    // A code this shopper already holds (bound to them, or to one of their browsers) and has not used.
    const reused = c.reuse ? await heldCoupon(db, site.id, m.contact_id, c.reuse, now) : null;
    code = await keepCoupon(
      db,
      m.id,
      reused?.code ??
        (await mintCoupon(db, {
          siteId: site.id,
          promotionId: c.promotionId,
          contactId: m.contact_id,
          source: `campaign:${def.id}`,
          expiresAt: now + c.expiresDays * 86400_000,
          productId: c.bind === "product" ? (product?.productId ?? null) : null,
          category: c.bind === "category" ? (product?.category ?? null) : null,
          now,
        })),
    );
  }
  if (!code) return null;
  // What the kept code is bound to, read from the code itself: a retry or a reused code says so truly.
  const bound = await boundTo(db, site.id, code);
  const scope = bound.product_id
    ? bound.product_id === product?.productId
      ? product.name
      : bound.product_id
    : bound.category;
  return { code, scope };
}

/** What a bound code may name: a product shown, or the journey's product id. */
type BindTarget = Pick<Product, "productId" | "name" | "category">;

/** A message's code and what it works on (null: the whole order). */
interface Offer {
  code: string;
  scope: string | null;
}

/** One claimed message and what the sweep has read and decided for it so far. */
interface Delivery {
  site: Site;
  def: CampaignDef;
  step: Step;
  template: MessageTemplate;
  m: Claimed;
  row: ContactRow;
  traits: Record<string, unknown>;
  /** The journey's data (the trigger's details). */
  data: Record<string, unknown>;
  now: number;
}

async function context(
  env: Env,
  { site, row, traits, data, template, step, m, now }: Delivery,
  {
    offer,
    shown: { products: shown, basis, showcase },
    publicUrl,
  }: { offer: Offer | null; shown: Shown; publicUrl: string | undefined },
): Promise<MessageContext> {
  // The Worker's public address; in development (no PUBLIC_URL) the dev tick's origin, or the site's.
  const base = publicBase(env, site) ?? publicUrl ?? site.url;
  const link = (purpose: "unsubscribe" | "open", extra = {}) =>
    linkUrl(env, base, purpose, site.id, row.id, now, extra);
  // A cart button names no URL: the click link mints the restore link when followed, so it stays short.
  // A product link leads off the store's hosts only when the merchant wrote it (`x`, checked again
  // when the link is followed).
  const product = template.cta === "product" ? shown[0] : undefined;
  const click =
    template.cta === "restore"
      ? { m: m.id, r: "restore" as const }
      : template.cta === "journey" && typeof data.action_url === "string"
        ? { m: m.id, u: data.action_url, x: 1 as const } // only a server event sets it (campaigns/engine.ts)
        : product?.url
          ? { m: m.id, u: product.url, ...(product.merchant ? { x: 1 as const } : {}) }
          : { m: m.id, u: site.url };
  const cta =
    template.cta === "callback"
      ? await linkUrl(env, base, "callback", site.id, row.id, now, { m: m.id })
      : await linkUrl(env, base, "click", site.id, row.id, now, click);
  const event = typeof data.event === "string" ? data.event : "";
  return {
    site,
    locale: localeOf(traits.locale ?? traits.language),
    name: row.name,
    lines: template.block === "cart" ? await cartLines(env.DB, site.id, row.id) : [],
    products: shown,
    basis,
    showcase,
    coupon: offer?.code ?? null,
    couponScope: offer?.scope ?? null,
    sender: typeof data.sender === "string" ? data.sender : null,
    window: typeof data.window === "string" ? data.window : null,
    links: { cta, unsubscribe: await link("unsubscribe"), open: await link("open", { m: m.id }) },
    orderId: typeof data.order_id === "string" ? data.order_id : null,
    shipment: event === EVENT.orderShipped ? "shipped" : event === EVENT.orderDelivered ? "delivered" : null,
    ...(step.channel === "call" ? { linkSent: await linkSent(env.DB, m) } : {}),
    ...(template.ask === "leave_reason"
      ? {
          reasons: await Promise.all(
            LEAVE_REASONS.map(async (reason) => ({
              reason,
              url: await linkUrl(env, base, "reason", site.id, row.id, now, { m: m.id, a: reason }),
            })),
          ),
        }
      : {}),
  };
}

/**
 * Did an earlier step of this journey put a link in the shopper's hands (an email or SMS sent, not
 * held back)? The call says "we have sent you a link" only then.
 */
async function linkSent(db: D1Database, m: Claimed): Promise<boolean> {
  const journey = m.dedupe_key.slice(0, m.dedupe_key.length - String(m.step).length - 1);
  const row = await db
    .prepare(
      `SELECT 1 FROM messages WHERE site_id = ?1 AND contact_id = ?2 AND campaign = ?3 AND step < ?4
         AND dedupe_key = ?5 || ':' || step AND status = 'sent' AND holdout = 0 AND channel IN ('email', 'sms')
       LIMIT 1`,
    )
    .bind(m.site_id, m.contact_id, m.campaign, m.step, journey)
    .first();
  return row !== null;
}

async function outgoing(
  { site, def, step, template, m, row, data, now }: Delivery,
  ctx: MessageContext,
  to: string,
): Promise<Outgoing> {
  const s = site.settings;
  // The site's sender settings; each transport falls back to the deployment's (EMAIL_FROM, …).
  const sender =
    step.channel === "email"
      ? {
          ...(s.senderEmail
            ? { from: s.senderName ? `${quoteName(s.senderName)} <${s.senderEmail}>` : s.senderEmail }
            : {}),
          ...(s.replyTo ? { replyTo: s.replyTo } : {}),
        }
      : step.channel === "webhook"
        ? {}
        : s.smsFrom
          ? { from: s.smsFrom }
          : {};
  const base = { messageId: m.id, siteId: site.id, channel: step.channel, to, headers: {}, ...sender };
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
        html: "",
        twiml: twiml(script, ctx.locale),
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

/** An RFC 5322 display name: quoted when it holds anything beyond letters, digits and spaces. */
const quoteName = (name: string) =>
  /^[\p{L}\p{N} ]+$/u.test(name) ? name : `"${name.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
