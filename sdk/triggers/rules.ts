import type { Visitor, Widget } from "../contract";

/**
 * Who sees which widget and how often: pure functions over the configuration, the page, the
 * visitor and what they have already seen. No DOM, no timers — table-tested in
 * test/sdk/triggers.test.ts.
 */

/** What a browser remembers about widgets (localStorage, plus a session counter). */
export interface History {
  /** First visit, ms: tells new visitors from returning ones. */
  first: number;
  /** When this session started, ms. */
  session: number;
  /** Last activity, ms: a gap over SESSION_GAP starts a new session. */
  last: number;
  /** Per widget: last shown (ms), shows this session, dismissed, converted. */
  seen: Record<string, { at: number; n: number; s: number; dismissed?: 1; converted?: 1 }>;
}

const DAY = 86_400_000;
/** A visit more than 30 minutes after the last activity starts a new session, as in analytics tools. */
export const SESSION_GAP = 30 * 60_000;

/** `*` matches any run of characters; everything else is literal. */
export function matchPath(pattern: string, path: string): boolean {
  const re = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${re.join(".*")}$`).test(path);
}

export function onPage(w: Widget, path: string): boolean {
  const { include, exclude } = w.pages ?? {};
  if (include?.length && !include.some((p) => matchPath(p, path))) return false;
  return !exclude?.some((p) => matchPath(p, path));
}

/** Does the widget need the server's view of the visitor? Only then is it fetched. */
export const needsVisitor = (w: Widget): boolean =>
  !!w.cart || w.audience?.identified !== undefined || !!w.audience?.segment;

export function inAudience(w: Widget, visitor: Visitor | null, history: History): boolean {
  const a = w.audience;
  const returning = history.first < history.session;
  if (a?.visitor === "new" && returning) return false;
  if (a?.visitor === "returning" && !returning) return false;
  if (!needsVisitor(w)) return true;
  if (!visitor) return false;
  if (a?.identified !== undefined && a.identified !== visitor.identified) return false;
  if (a?.segment && !visitor.segments.includes(a.segment)) return false;
  const c = w.cart;
  if (c?.hasItems !== undefined && c.hasItems !== visitor.cart.items > 0) return false;
  if (c?.minValue !== undefined && visitor.cart.value < c.minValue) return false;
  return true;
}

/** Frequency caps. Launchers (click) ignore caps: the shopper asked for the widget. */
export function capAllows(w: Widget, history: History, now: number): boolean {
  const seen = history.seen[w.id];
  if (!seen || w.trigger.on === "click") return true;
  const cap = w.cap ?? {};
  if (cap.convert && seen.converted) return false;
  if (cap.dismiss && seen.dismissed) return false;
  if (cap.session !== undefined && seen.s === history.session && seen.n >= cap.session) return false;
  if (cap.days !== undefined && now - seen.at < cap.days * DAY) return false;
  return true;
}

/** The widget to show among those whose triggers fired together: the highest priority. */
export const pick = (fired: Widget[]): Widget | undefined =>
  fired.reduce<Widget | undefined>((best, w) => (!best || w.priority > best.priority ? w : best), undefined);

/** The history after showing `w`. */
export function shown(history: History, w: Widget, now: number): History {
  const prev = history.seen[w.id];
  const n = prev && prev.s === history.session ? prev.n + 1 : 1;
  return { ...history, seen: { ...history.seen, [w.id]: { ...prev, at: now, n, s: history.session } } };
}

/** The history after the shopper closed (`dismissed`) or used (`converted`) `w`. */
export function outcome(history: History, w: Widget, what: "dismissed" | "converted"): History {
  const prev = history.seen[w.id] ?? { at: 0, n: 0, s: history.session };
  return { ...history, seen: { ...history.seen, [w.id]: { ...prev, [what]: 1 } } };
}

/** Reads the stored history (anything malformed counts as none), starting a new session after
 * SESSION_GAP of quiet. */
export function resume(stored: unknown, now: number): History {
  const h = stored && typeof stored === "object" ? (stored as Partial<History>) : {};
  const first = typeof h.first === "number" ? h.first : now;
  const going = typeof h.session === "number" && typeof h.last === "number" && now - h.last < SESSION_GAP;
  const seen = h.seen && typeof h.seen === "object" ? h.seen : {};
  return { first, session: going ? (h.session as number) : now, last: now, seen };
}
