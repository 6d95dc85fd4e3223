import { cartLines } from "../model/carts";
import { contactMatches } from "../segments/rules";
import type { BranchStep, CampaignDef, Condition, FlowStep, Step, WaitStep } from "./definition";

/**
 * A journey's steps as the scheduler sees them: the definition's tree (campaigns/definition.ts)
 * numbered in reading order — a step, then its `then` steps, then its `else` steps, then the next
 * step — so `messages.step` names one step of the tree, and a definition without branches numbers
 * its steps 1…N exactly as before. Each step knows which step follows it (`next`; a branch or a wait
 * knows one per way), so the engine never walks the tree while scheduling.
 *
 * Branches and waits are decided by the sweep when their row falls due (`decide`): the condition is
 * read then, not when the journey started, and only the transaction that records the way taken
 * schedules what follows (model/messages.ts `passFlow`), so a retried or overlapping sweep cannot
 * take both ways.
 */

interface Numbered {
  /** The step's number: `messages.step`. */
  n: number;
  /** 1 for the journey's own list, 2 inside one branch, … */
  depth: number;
  /** The step after this one (0: the journey ends). */
  next: number;
  /** Read to the dashboard and the results: "3 · email cart_last_call (then of 2)". */
  label: string;
}

export type FlowNode = Numbered &
  (
    | { kind: "message"; step: Step; channel: Step["channel"]; delayMs: number }
    | { kind: "branch"; step: BranchStep; channel: "branch"; delayMs: number; then: number; else: number }
    | { kind: "wait"; step: WaitStep; channel: "wait"; delayMs: 0; then: number; else: number }
  );

/** Channels of the rows that deliver nothing: the sweep decides them instead of sending. */
export const FLOW_CHANNELS = ["branch", "wait"] as const;

const cache = new WeakMap<CampaignDef, FlowNode[]>();

/** Every step of `def`, numbered: `nodes(def)[n - 1]` is step n. Computed once per definition object. */
export function nodes(def: CampaignDef): FlowNode[] {
  const hit = cache.get(def);
  if (hit) return hit;
  const out: FlowNode[] = [];
  // Numbers are handed out in reading order; a step's successors are known only once the whole
  // tree is numbered, so they are resolved from thunks at the end.
  const links: (() => void)[] = [];
  const walk = (list: FlowStep[], depth: number, after: () => number, where: string): (() => number) => {
    const numbers: number[] = [];
    list.forEach((s, i) => {
      const n = out.length + 1;
      numbers.push(n);
      const next = () => (i + 1 < list.length ? (numbers[i + 1] ?? 0) : after());
      if ("template" in s) {
        const node: FlowNode = {
          kind: "message",
          n,
          depth,
          next: 0,
          step: s,
          channel: s.channel,
          delayMs: s.delayMs,
          label: `${n} · ${s.channel} ${s.template}${where}`,
        };
        out.push(node);
        links.push(() => {
          node.next = next();
        });
        return;
      }
      const common = { n, depth, next: 0, then: 0, else: 0 };
      const node: FlowNode =
        "if" in s
          ? { ...common, kind: "branch", step: s, channel: "branch", delayMs: s.delayMs, label: "" }
          : { ...common, kind: "wait", step: s, channel: "wait", delayMs: 0, label: "" };
      node.label = `${n} · ${describe(node)}${where}`;
      out.push(node);
      const first = walk(s.then, depth + 1, next, ` (then of ${n})`);
      const otherwise = walk(s.else, depth + 1, next, ` (else of ${n})`);
      links.push(() => {
        node.next = next();
        node.then = first();
        node.else = otherwise();
      });
    });
    return () => numbers[0] ?? after();
  };
  walk(def.steps, 1, () => 0, "");
  for (const link of links) link();
  cache.set(def, out);
  return out;
}

/** Step `n` of `def`, or undefined (a definition edited since the row was scheduled). */
export const nodeAt = (def: CampaignDef, n: number): FlowNode | undefined => nodes(def)[n - 1];

/** The message steps, wherever they sit in the tree. */
export const messageSteps = (def: CampaignDef): Step[] =>
  nodes(def).flatMap((x) => (x.kind === "message" ? [x.step] : []));

/** The step that follows `node` — the way taken, for a branch or a wait. */
export function following(node: FlowNode, way?: "then" | "else"): number {
  if (node.kind === "message" || !way) return node.next;
  return way === "then" ? node.then : node.else;
}

/** When a row of `node` scheduled at `now` falls due. A wait falls due at its deadline (an event wakes it sooner). */
export function dueAt(node: FlowNode, now: number): number {
  if (node.kind !== "wait") return now + node.delayMs;
  const w = node.step.waitUntil;
  if ("event" in w) return now + w.timeoutMs;
  if ("at" in w) return Math.max(now, Date.parse(w.at));
  // A local hour: due at once; the sweep, which knows the contact's zone, defers it to that hour.
  return now;
}

/** Event name → the wait steps listening for it: what ingest wakes when the event arrives. */
export function waitsByEvent(def: CampaignDef): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const x of nodes(def))
    if (x.kind === "wait" && "event" in x.step.waitUntil) {
      const name = x.step.waitUntil.event;
      out.set(name, [...(out.get(name) ?? []), x.n]);
    }
  return out;
}

/**
 * The longest time a journey can take after its first message: the delays and wait timeouts along
 * its slowest path (a wait for a date or an hour counts as up to a day). Results follow each
 * recipient for this long plus the attribution window.
 */
export function journeyLengthMs(def: CampaignDef): number {
  const all = nodes(def);
  const memo = new Map<number, number>();
  const from = (n: number): number => {
    const x = all[n - 1];
    if (!x) return 0;
    const known = memo.get(n);
    if (known !== undefined) return known;
    const w = x.kind === "wait" ? x.step.waitUntil : null;
    const own = w ? ("event" in w ? w.timeoutMs : 86_400_000) : x.delayMs;
    const rest = x.kind === "message" ? from(x.next) : Math.max(from(x.then), from(x.else));
    memo.set(n, own + rest);
    return own + rest;
  };
  const first = all[0];
  return first ? from(first.next) : 0;
}

function describe(x: FlowNode): string {
  if (x.kind === "branch") {
    const c = x.step.if;
    const what =
      "opened" in c
        ? `${c.opened ? "" : "not "}opened the previous message`
        : "clicked" in c
          ? `${c.clicked ? "" : "not "}clicked the previous message`
          : "cartValue" in c
            ? `cart value ${[c.cartValue.gte !== undefined ? `≥ ${c.cartValue.gte}` : "", c.cartValue.lt !== undefined ? `< ${c.cartValue.lt}` : ""].filter(Boolean).join(" and ")}`
            : "in the segment";
    return `if ${what}`;
  }
  if (x.kind === "wait") {
    const w = x.step.waitUntil;
    return "event" in w
      ? `wait for ${w.event} (at most ${Math.round(w.timeoutMs / 3600_000)} h)`
      : "at" in w
        ? `wait until ${w.at}`
        : `wait until ${String(w.hour).padStart(2, "0")}:00 local time`;
  }
  return x.channel;
}

/** A branch or wait row as the sweep claimed it. */
export interface FlowRow {
  id: number;
  site_id: string;
  contact_id: string;
  campaign: string;
  dedupe_key: string;
  created_at: number;
}

/** The way a branch or a wait went, with why (kept as the row's reason); or, for a wait, when to look again. */
export type Decision = { way: "then" | "else"; reason: string } | { until: number; reason: string };

/**
 * Decides a branch or a wait at the moment it fell due. `untilLocalHour` answers when the
 * contact's clock next shows an hour (the sweep knows their zone): `now` if it shows it now.
 */
export async function decide(
  db: D1Database,
  node: FlowNode,
  m: FlowRow,
  now: number,
  untilLocalHour: (hour: number) => number,
): Promise<Decision> {
  if (node.kind === "branch") {
    const holds = await conditionHolds(db, node.step.if, m, now);
    return {
      way: holds ? "then" : "else",
      reason: `${holds ? "then" : "else"}: ${describe(node).replace(/^if /, "")} ${holds ? "holds" : "does not hold"}`,
    };
  }
  if (node.kind !== "wait") throw new Error(`step ${node.n} is a message`);
  const w = node.step.waitUntil;
  if ("event" in w) {
    // The wait began when its row was scheduled; an event after the deadline is too late, even if
    // the sweep had not yet come round to the row.
    const deadline = m.created_at + w.timeoutMs;
    const came = await db
      .prepare(
        `SELECT 1 FROM events WHERE site_id = ? AND contact_id = ? AND event = ? AND timestamp >= ? AND timestamp <= ? LIMIT 1`,
      )
      .bind(m.site_id, m.contact_id, w.event, m.created_at, deadline)
      .first();
    if (came) return { way: "then", reason: `then: ${w.event} came` };
    // Woken by an event from before the wait, or claimed early: wait on until the deadline.
    if (now < deadline) return { until: deadline, reason: `waiting for ${w.event}` };
    return { way: "else", reason: `else: no ${w.event} in time` };
  }
  const until = "at" in w ? Date.parse(w.at) : untilLocalHour(w.hour);
  if (until > now) return { until, reason: `waiting until ${new Date(until).toISOString()}` };
  return { way: "then", reason: "waited" };
}

async function conditionHolds(db: D1Database, c: Condition, m: FlowRow, now: number): Promise<boolean> {
  if ("opened" in c || "clicked" in c) {
    // The journey's latest message before this step: whichever way the journey came, that is the
    // one the shopper last got. A holdout contact got none (it was held), so it reads as unopened.
    const prefix = m.dedupe_key.replace(/\d+$/, "");
    const last = await db
      .prepare(
        `SELECT opened_at, clicked_at FROM messages
         WHERE site_id = ? AND contact_id = ? AND campaign = ? AND id < ? AND channel NOT IN ('branch', 'wait')
           AND substr(dedupe_key, 1, ?) = ?
         ORDER BY id DESC LIMIT 1`,
      )
      .bind(m.site_id, m.contact_id, m.campaign, m.id, prefix.length, prefix)
      .first<{ opened_at: number | null; clicked_at: number | null }>();
    // A click is an open the pixel missed (images off): it counts as one.
    const did = "opened" in c ? last?.opened_at != null || last?.clicked_at != null : last?.clicked_at != null;
    return did === ("opened" in c ? c.opened : c.clicked);
  }
  if ("cartValue" in c) {
    const value = (await cartLines(db, m.site_id, m.contact_id)).reduce((t, l) => t + l.price * l.quantity, 0);
    const { gte, lt } = c.cartValue;
    return (gte === undefined || value >= gte) && (lt === undefined || value < lt);
  }
  return contactMatches(db, m.site_id, m.contact_id, c.segment, now);
}
