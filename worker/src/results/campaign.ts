import { LEAVE_REASONS, type LeaveReason } from "../campaigns/messages";
import type { CampaignDef } from "../campaigns/definition";
import { journeyLengthMs, nodeAt } from "../campaigns/flow";
import { abVerdict, type Moments, proportionLift, sampleSizePerArm, type Verdict, welch } from "./stats";

/**
 * A campaign's results, compared per recipient over the same window in both groups.
 *
 * A *journey* is the messages of one contact sharing a dedupe key (`campaign:site:contact:…:step`
 * without the step). It counts from its first step's send — real for the treated group, virtual
 * for the holdout, which the sweep records at the moment it would have gone and whose later steps
 * it keeps scheduling and holding — so both groups are exposed at the same point of the journey.
 * The *window* runs from there for the journey's length (the later steps' delays) plus the
 * campaign's attribution days. A recipient *converted* when they placed an order (status
 * `placed`: cancelled and refunded orders do not count) inside one of their windows, whichever
 * campaign the order was also credited to; revenue is the sum of those orders. Rates are per
 * recipient (distinct contacts), never per message.
 *
 * Days are UTC dates. There is no bounce status yet (a transport either accepts a message or
 * fails it): `bounced` is 0 and `failed` counts messages dead-lettered after their retries.
 * `unsubscribed` counts recipients who are unsubscribed now (the flag has no time).
 */

export const DAY = 86400_000;

export interface GroupResult {
  /** "holdout", a variant id of the first step, or "all" without variants. */
  group: string;
  recipients: number;
  messages: number;
  delivered: number;
  opened: number;
  clicked: number;
  converted: number;
  orders: number;
  revenue: number;
  unsubscribed: number;
  bounced: number;
  failed: number;
  conversionRate: number;
  revenuePerRecipient: number;
}

export interface StepResult {
  step: number;
  /** The step as the definition's tree numbers it: "3 · email cart_last_call (then of 2)". */
  label: string;
  channel: string | null;
  /**
   * Per group, for a branch or a wait: recipients are the contacts it was decided for, and
   * `wentThen` / `wentElse` how many went each way (holdout contacts too: they walk the same branches).
   */
  groups: (Omit<GroupResult, "conversionRate" | "revenuePerRecipient" | "orders"> & {
    wentThen?: number;
    wentElse?: number;
  })[];
}

export interface DayResult {
  date: string;
  group: string;
  recipients: number;
  delivered: number;
  opened: number;
  clicked: number;
  orders: number;
  revenue: number;
}

export interface CampaignResults {
  campaign: string;
  from: string;
  to: string;
  windowDays: number;
  groups: GroupResult[];
  steps: StepResult[];
  days: DayResult[];
  /** Treated (every non-holdout group) against the holdout; null without a holdout. */
  lift: {
    conversion: ReturnType<typeof proportionLift>;
    revenuePerRecipient: ReturnType<typeof welch>;
    /** Recipients per arm for `mde` relative lift at the control's rate (α 0.05, power 80 %). */
    sampleNeeded: { mde: number; perArm: number | null; remaining: number | null };
  } | null;
  ab: Verdict | null;
  /**
   * What recipients answered the journey's messages: one-tap "why did you leave?" answers (one per
   * message, the latest tap) and callbacks taken from a callback offer, by how (link form or SMS reply).
   */
  responses: { leaveReasons: Record<LeaveReason, number>; callbacks: { link: number; reply: number } };
  notes: string[];
}

const GROUP = `CASE WHEN holdout = 1 THEN 'holdout' ELSE coalesce(variant, 'all') END`;
const JOURNEY = (t: string) => `substr(${t}.dedupe_key, 1, length(${t}.dedupe_key) - length(${t}.step) - 1)`;

/** The journeys of the period (?1 site, ?2 campaign, ?3 from, ?4 to, ?5 window length) and their orders. */
const BASE = `
  j AS MATERIALIZED (
    SELECT m.contact_id AS c, ${GROUP} AS g, m.sent_at AS t1, ${JOURNEY("m")} AS k
    FROM messages m WHERE m.site_id = ?1 AND m.campaign = ?2 AND m.step = 1 AND m.sent_at IS NOT NULL
      AND m.sent_at >= ?3 AND m.sent_at < ?4),
  jm AS MATERIALIZED (
    SELECT m.id, j.g, j.c, j.t1, m.step, m.channel, m.status, m.holdout, m.sent_at, m.opened_at, m.clicked_at, m.branch
    FROM j JOIN messages m ON m.site_id = ?1 AND m.campaign = ?2 AND m.contact_id = j.c AND ${JOURNEY("m")} = j.k),
  o AS MATERIALIZED (
    SELECT DISTINCT j.g, j.c, o.order_id, o.total, o.placed_at
    FROM j JOIN orders o ON o.site_id = ?1 AND o.contact_id = j.c AND o.status = 'placed'
      AND o.placed_at >= j.t1 AND o.placed_at <= j.t1 + ?5)`;

const UNSUBSCRIBED = `(SELECT unsubscribed FROM contacts k WHERE k.site_id = ?1 AND k.id = r.c)`;

export async function campaignResults(
  db: D1Database,
  siteId: string,
  def: CampaignDef,
  range: { from: number; to: number },
  mde = 0.1,
): Promise<CampaignResults> {
  const windowMs = journeyLengthMs(def) + def.attributionDays * DAY;
  const bind = (sql: string) => db.prepare(sql).bind(siteId, def.id, range.from, range.to, windowMs);
  const [groups, messages, steps, stepOrders, days, dayOrders, answered] = await db.batch([
    bind(`WITH ${BASE},
      r AS (SELECT DISTINCT g, c FROM j),
      rr AS (SELECT r.g, r.c, ${UNSUBSCRIBED} AS unsub,
               (SELECT count(*) FROM o WHERE o.g = r.g AND o.c = r.c) AS orders,
               coalesce((SELECT sum(total) FROM o WHERE o.g = r.g AND o.c = r.c), 0) AS revenue FROM r)
      SELECT g, count(*) AS recipients, sum(orders > 0) AS converted, sum(orders) AS orders, sum(revenue) AS revenue,
             sum(revenue * 1.0 * revenue) AS revenue_sq, sum(coalesce(unsub, 0)) AS unsubscribed
      FROM rr GROUP BY g ORDER BY g`),
    bind(`WITH ${BASE}
      SELECT g, count(sent_at) AS messages, sum(status = 'sent' AND holdout = 0) AS delivered,
             count(opened_at) AS opened, count(clicked_at) AS clicked, sum(status = 'dead') AS failed
      FROM jm GROUP BY g`),
    bind(`WITH ${BASE},
      r AS (SELECT DISTINCT g, c, step FROM jm WHERE sent_at IS NOT NULL)
      SELECT jm.step, jm.g, max(jm.channel) AS channel,
             count(DISTINCT CASE WHEN jm.sent_at IS NOT NULL OR jm.branch IS NOT NULL THEN jm.c END) AS recipients,
             sum(jm.branch = 'then') AS took_then, sum(jm.branch = 'else') AS took_else,
             count(jm.sent_at) AS messages, sum(jm.status = 'sent' AND jm.holdout = 0) AS delivered,
             count(jm.opened_at) AS opened, count(jm.clicked_at) AS clicked, sum(jm.status = 'dead') AS failed,
             (SELECT sum(coalesce(${UNSUBSCRIBED}, 0)) FROM r WHERE r.g = jm.g AND r.step = jm.step) AS unsubscribed
      FROM jm GROUP BY jm.step, jm.g ORDER BY jm.step, jm.g`),
    // Per step: recipients of the step who ordered after it, within their journey's window.
    bind(`WITH ${BASE},
      so AS (SELECT DISTINCT jm.step, o.g, o.c, o.order_id, o.total FROM jm
             JOIN o ON o.g = jm.g AND o.c = jm.c AND o.placed_at >= jm.sent_at AND o.placed_at <= jm.t1 + ?5
             WHERE jm.sent_at IS NOT NULL)
      SELECT step, g, count(DISTINCT c) AS converted, sum(total) AS revenue FROM so GROUP BY step, g`),
    bind(`WITH ${BASE},
      d AS (SELECT date(t1 / 1000, 'unixepoch') AS date, g, c, 1 AS started, 0 AS delivered, 0 AS opened, 0 AS clicked FROM j
            UNION ALL SELECT date(sent_at / 1000, 'unixepoch'), g, c, 0, 1, 0, 0 FROM jm WHERE status = 'sent' AND holdout = 0
            UNION ALL SELECT date(opened_at / 1000, 'unixepoch'), g, c, 0, 0, 1, 0 FROM jm WHERE opened_at IS NOT NULL
            UNION ALL SELECT date(clicked_at / 1000, 'unixepoch'), g, c, 0, 0, 0, 1 FROM jm WHERE clicked_at IS NOT NULL)
      SELECT date, g, count(DISTINCT CASE WHEN started = 1 THEN c END) AS recipients, sum(delivered) AS delivered,
             sum(opened) AS opened, sum(clicked) AS clicked
      FROM d GROUP BY date, g ORDER BY date, g`),
    bind(`WITH ${BASE}
      SELECT date(placed_at / 1000, 'unixepoch') AS date, g, count(*) AS orders, sum(total) AS revenue
      FROM o GROUP BY date, g ORDER BY date, g`),
    bind(`WITH ${BASE}
      SELECT 'reason' AS kind, reason AS k, count(*) AS n FROM leave_reasons
        WHERE site_id = ?1 AND message_id IN (SELECT id FROM jm) GROUP BY reason
      UNION ALL
      SELECT 'callback', via, count(*) FROM callbacks WHERE site_id = ?1 AND message_id IN (SELECT id FROM jm) GROUP BY via`),
  ]);
  type Row = Record<string, number | string | null>;
  const rows = (r: D1Result | undefined) => (r?.results ?? []) as Row[];
  const n = (v: unknown) => (typeof v === "number" ? v : 0);
  const s = (v: unknown) => (typeof v === "string" ? v : "");

  const msgs = new Map(rows(messages).map((r) => [s(r.g), r]));
  const out: GroupResult[] = rows(groups).map((r) => {
    const m = msgs.get(s(r.g)) ?? {};
    const recipients = n(r.recipients);
    return {
      group: s(r.g),
      recipients,
      messages: n(m.messages),
      delivered: n(m.delivered),
      opened: n(m.opened),
      clicked: n(m.clicked),
      converted: n(r.converted),
      orders: n(r.orders),
      revenue: n(r.revenue),
      unsubscribed: n(r.unsubscribed),
      bounced: 0,
      failed: n(m.failed),
      conversionRate: recipients ? n(r.converted) / recipients : 0,
      revenuePerRecipient: recipients ? n(r.revenue) / recipients : 0,
    };
  });
  const moments = (gs: Row[]): Moments => ({
    n: gs.reduce((t, r) => t + n(r.recipients), 0),
    sum: gs.reduce((t, r) => t + n(r.revenue), 0),
    sumSquares: gs.reduce((t, r) => t + n(r.revenue_sq), 0),
  });

  const perStep = new Map<number, StepResult>();
  const stepConv = new Map(rows(stepOrders).map((r) => [`${n(r.step)}:${s(r.g)}`, r]));
  for (const r of rows(steps)) {
    const step = n(r.step);
    const node = nodeAt(def, step);
    const entry = perStep.get(step) ?? {
      step,
      label: node?.label ?? String(step),
      channel: node?.channel ?? s(r.channel),
      groups: [],
    };
    const conv = stepConv.get(`${step}:${s(r.g)}`) ?? {};
    entry.groups.push({
      ...(node && node.kind !== "message" ? { wentThen: n(r.took_then), wentElse: n(r.took_else) } : {}),
      group: s(r.g),
      recipients: n(r.recipients),
      messages: n(r.messages),
      delivered: n(r.delivered),
      opened: n(r.opened),
      clicked: n(r.clicked),
      converted: n(conv.converted),
      revenue: n(conv.revenue),
      unsubscribed: n(r.unsubscribed),
      bounced: 0,
      failed: n(r.failed),
    });
    perStep.set(step, entry);
  }

  const dayMap = new Map<string, DayResult>();
  const day = (date: string, group: string) => {
    const key = `${date}\u0000${group}`;
    let d = dayMap.get(key);
    if (!d) {
      d = { date, group, recipients: 0, delivered: 0, opened: 0, clicked: 0, orders: 0, revenue: 0 };
      dayMap.set(key, d);
    }
    return d;
  };
  for (const r of rows(days))
    Object.assign(day(s(r.date), s(r.g)), {
      recipients: n(r.recipients),
      delivered: n(r.delivered),
      opened: n(r.opened),
      clicked: n(r.clicked),
    });
  for (const r of rows(dayOrders))
    Object.assign(day(s(r.date), s(r.g)), { orders: n(r.orders), revenue: n(r.revenue) });

  const control = out.find((g) => g.group === "holdout");
  const treatedRows = rows(groups).filter((r) => r.g !== "holdout");
  const controlRow = rows(groups).find((r) => r.g === "holdout");
  let lift: CampaignResults["lift"] = null;
  if (control && controlRow) {
    const treated = out.filter((g) => g.group !== "holdout");
    const tn = treated.reduce((t, g) => t + g.recipients, 0);
    const tx = treated.reduce((t, g) => t + g.converted, 0);
    const p0 = control.conversionRate;
    const perArm = p0 > 0 && p0 * (1 + mde) < 1 ? sampleSizePerArm(p0, p0 * (1 + mde)) : null;
    lift = {
      conversion: proportionLift(tx, tn, control.converted, control.recipients),
      revenuePerRecipient: welch(moments(treatedRows), moments([controlRow])),
      sampleNeeded: {
        mde,
        perArm,
        remaining: perArm === null ? null : Math.max(0, perArm - Math.min(tn, control.recipients)),
      },
    };
  }
  const arms = out.filter((g) => g.group !== "holdout" && g.group !== "all");
  const ab =
    arms.length >= 2
      ? abVerdict(arms.map((g) => ({ id: g.group, recipients: g.recipients, converted: g.converted })))
      : null;

  const responses: CampaignResults["responses"] = {
    leaveReasons: Object.fromEntries(LEAVE_REASONS.map((r) => [r, 0])) as Record<LeaveReason, number>,
    callbacks: { link: 0, reply: 0 },
  };
  for (const r of rows(answered)) {
    const k = s(r.k);
    if (r.kind === "reason" && (LEAVE_REASONS as readonly string[]).includes(k))
      responses.leaveReasons[k as LeaveReason] = n(r.n);
    if (r.kind === "callback" && (k === "link" || k === "reply")) responses.callbacks[k] = n(r.n);
  }

  const notes = [
    `Recipients are distinct contacts whose first step was sent (or, in the holdout, would have been) between the dates; each is followed for ${Math.round((windowMs / DAY) * 10) / 10} days from then (the journey's later steps plus ${def.attributionDays} attribution days).`,
    "Bounces are not reported by the transports yet: bounced is 0; failed counts messages dead-lettered after their retries.",
    "Unsubscribed counts recipients unsubscribed now.",
    "Days are UTC dates.",
  ];
  if (!control)
    notes.push("No holdout group: lift cannot be measured. Set holdoutPercent to compare with a control group.");
  return {
    campaign: def.id,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    windowDays: windowMs / DAY,
    groups: out,
    steps: [...perStep.values()],
    days: [...dayMap.values()].sort((a, b) => a.date.localeCompare(b.date) || a.group.localeCompare(b.group)),
    lift,
    ab,
    responses,
    notes,
  };
}
