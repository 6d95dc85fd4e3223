import { watchEmails } from "./capture";
import { deviceContext, pageContext, timeZone } from "./context";
import { checkEventName, warn } from "./dev";
import { uuid7 } from "./id";
import { createQueue } from "./queue";
import type { Queue } from "./queue";
import { idbOutbox, local } from "./storage";
import type { Consent, Envelope, IdentifyOptions, InitOptions, Properties, SdkEvents, Traits } from "./types";

const AID = "nudge_aid";
const UID = "nudge_uid";
const HASH = "nudge_uhash";
const CONSENT = "nudge_consent";
const MARKETING = "nudge_marketing";

/** Everything the SDK holds; one per page. Fields start with `_` so terser mangles them. */
interface State {
  _opts: InitOptions;
  _queue?: Queue;
  _aid: string;
  _uid?: string;
  /** Identity verification: HMAC of the user id from the merchant's server. */
  _hash?: string;
  /** Last email captured from a form, so it is identified once. */
  _email?: string;
  _device: Properties;
  _page: Properties;
  /** The context every event carries: device + page (+ verification); shared, never mutated. */
  _ctx: Properties;
  /** Events waiting for consent: memory only, never stored or sent until granted. */
  _held: Envelope[];
  _consented: boolean;
  _off: boolean;
}

let state: State | undefined;
let stopEmails: (() => void) | undefined;
/** Calls made before init, replayed by it (ESM users may track before init resolves). */
let early: (() => void)[] = [];
const listeners = new Map<keyof SdkEvents, ((payload: never) => void)[]>();
/** Where the SDK script came from: the default endpoint (set by the script-tag entry). */
export const loadedFrom: { _origin?: string } = {};

function emit<K extends keyof SdkEvents>(name: K, payload: SdkEvents[K]): void {
  for (const cb of (listeners.get(name) ?? []) as ((payload: SdkEvents[K]) => void)[]) {
    try {
      cb(payload);
    } catch {
      // A listener's bug is the merchant's; it must not stop the SDK.
    }
  }
}

function log(...args: unknown[]): void {
  if (state?._opts.debug) console.debug("[nudge]", ...args);
}

/** Reports an error to listeners and the debug log; never throws into the page. */
export function report(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  log("error", e);
  emit("error", e);
}

function privacySignal(): boolean {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  return n.globalPrivacyControl === true || n.doNotTrack === "1";
}

function start(s: State): void {
  if (s._queue) return;
  let outbox: ReturnType<typeof idbOutbox<string>> | undefined;
  try {
    // `in`, not `typeof`: reading the global instantiates the IDB factory (up to ~1 ms) on the init path.
    if ("indexedDB" in globalThis) outbox = idbOutbox<string>();
  } catch (e) {
    report(e);
  }
  s._queue = createQueue({
    _url: `${s._opts.endpoint}/v1/batch`,
    _key: s._opts.key,
    _outbox: outbox,
    _onSent: (count) => {
      log("sent", count);
      emit("sent", { count });
    },
    _onDrop: (count, reason) => {
      log("dropped", count, reason);
      emit("dropped", { count, reason });
    },
    _onError: report,
  });
  // pagehide fires on tab close, navigation and bfcache; visibilitychange covers mobile app switch.
  const bye = () => s._queue?._hide();
  addEventListener("pagehide", bye);
  addEventListener("visibilitychange", () => document.visibilityState === "hidden" && bye());
  // Anything a previous page left in the outbox goes out soon — in its own task, since opening
  // IndexedDB blocks the main thread for milliseconds.
  setTimeout(() => s._queue?._flush().catch(report));
}

function send(partial: Omit<Envelope, "messageId" | "anonymousId" | "context" | "timestamp">): void {
  const s = state;
  if (!s) {
    early.push(() => send(partial));
    return;
  }
  if (s._off) return;
  // The hot path: only what must be captured now. The queue stamps the messageId and formats
  // the time when it writes the event, off the caller's time (see queue.ts `stamp`).
  const event = partial as Envelope;
  event.anonymousId = s._aid;
  if (s._uid) event.userId = s._uid;
  event.context = s._ctx;
  event.timestamp = Date.now();
  log(event.type, event.event ?? event.name ?? "", event);
  if (!s._consented) {
    if (s._held.length < 1000) s._held.push(event);
    return;
  }
  s._queue?._push(event);
}

/**
 * Starts the SDK. Only misuse here throws (a missing key); everything after fails quietly.
 * @example
 * nudge('init', { key: 'pk_live_123', endpoint: 'https://nudge.example.com' })
 */
export function init(options: InitOptions): void {
  if (!options || typeof options.key !== "string" || !options.key)
    throw new TypeError("nudge: init needs { key: 'pk_…' }, the site's public key.");
  if (state) {
    if (__DEV__) warn("init was called twice; the second call is ignored.");
    return;
  }
  const opts: InitOptions = {
    respectPrivacySignals: true,
    trackPages: true,
    ...options,
    endpoint: (options.endpoint ?? loadedFrom._origin ?? location.origin).replace(/\/+$/, ""),
  };
  const off = opts.respectPrivacySignals !== false && privacySignal();
  const stored = local._get(CONSENT);
  const consented = !opts.requireConsent || stored === "1";
  const s: State = {
    _opts: opts,
    _aid: (consented && local._get(AID)) || uuid7(),
    _uid: (consented && local._get(UID)) || undefined,
    _hash: (consented && local._get(HASH)) || undefined,
    _device: deviceContext(__VERSION__),
    _page: pageContext(),
    _ctx: {},
    _held: [],
    _consented: consented,
    _off: off,
  };
  contextOf(s);
  state = s;
  // Before the queue's first write (timers run in order), so the first events carry it too.
  setTimeout(() => {
    s._device.timezone = s._ctx.timezone = timeZone();
  });
  log("init", opts, off ? "(off: privacy signal)" : "");
  if (off) return;
  if (consented) {
    local._set(AID, s._aid);
    start(s);
  }
  const replay = early;
  early = [];
  for (const call of replay) call();
  if (opts.trackPages) {
    page();
    watchNavigation();
  }
  if (opts.captureEmails) {
    if (__DEV__ && local._get(MARKETING) !== "1")
      warn("captureEmails is on, but emails are only captured after consent({ marketing: true }).");
    stopEmails = watchEmails((email) => {
      if (local._get(MARKETING) === "1" && email !== s._email) {
        s._email = email;
        identify({ email });
      }
    });
  }
}

/** Rebuilds the shared context object after the page or the identity changed. */
function contextOf(s: State): void {
  s._ctx = { ...s._device, ...s._page, ...(s._hash ? { nudge: { userHash: s._hash } } : {}) };
}

/**
 * Names the visitor by user id, email or phone, with traits. Their anonymous history joins the
 * known contact on the server. As in Segment's analytics.js, the options come after the traits
 * (or second, when the first argument is the traits object).
 *
 * `options.userHash` is identity verification: the hex HMAC-SHA256 of the user id (or, without
 * one, the email) keyed with the site's secret, computed by the merchant's server and printed
 * into the page. It rides on every later event as `context.nudge.userHash`, so the Worker can
 * refuse a visitor who claims to be someone else.
 * @example
 * nudge('identify', { email: 'ada@example.com', name: 'Ada' })
 * nudge('identify', 'user-42', { plan: 'gold' }, { userHash: '<%= hmac(user.id) %>' })
 */
export function identify(idOrTraits: string | Traits, traits: Traits = {}, options: IdentifyOptions = {}): void {
  const byId = typeof idOrTraits === "string";
  const t: Traits = byId ? { ...traits, userId: idOrTraits } : { ...idOrTraits };
  const o: IdentifyOptions = (byId ? options : (traits as IdentifyOptions)) ?? {};
  const userId = t.userId;
  delete t.userId;
  if (userId !== undefined && typeof userId !== "string") {
    report(new TypeError("nudge: userId must be a string"));
    return;
  }
  if (__DEV__ && !userId && !t.email && !t.phone)
    warn("identify without a userId, email or phone only adds traits to the anonymous visitor.");
  if (!state) {
    early.push(() => identify(idOrTraits, traits, options));
    return;
  }
  const s = state;
  if (userId) {
    s._uid = userId;
    if (s._consented) local._set(UID, userId);
  }
  if (typeof o.userHash === "string" && o.userHash) {
    s._hash = o.userHash;
    if (s._consented) local._set(HASH, o.userHash);
    contextOf(s);
  }
  send({ type: "identify", traits: t });
}

/**
 * Records an action, named after Segment's e-commerce spec where one fits.
 * @example
 * nudge('track', 'Product Added', { product_id: 'E7247', name: 'Speaker', price: 79, quantity: 1 })
 */
export function track(event: string, properties: Properties = {}): void {
  if (typeof event !== "string" || !event) {
    report(new TypeError("nudge: track needs an event name"));
    return;
  }
  if (__DEV__) checkEventName(event);
  send({ type: "track", event, properties });
}

/**
 * Records a page view. Called automatically on load and on SPA navigations unless
 * `trackPages: false`.
 * @example
 * nudge('page')
 */
export function page(name?: string, properties: Properties = {}): void {
  if (state) {
    state._page = pageContext();
    contextOf(state);
  }
  send({ type: "page", ...(name ? { name } : {}), properties });
}

/**
 * Records the shopper's choice. With `requireConsent`, nothing is stored or sent before
 * `analytics: true`; `analytics: false` discards what was held.
 * @example
 * nudge('consent', { analytics: true, marketing: false })
 */
export function consent(choice: Consent): void {
  const s = state;
  if (!s) {
    early.push(() => consent(choice));
    return;
  }
  if (choice.analytics === true) {
    s._consented = true;
    local._set(CONSENT, "1");
    local._set(AID, s._aid);
    if (s._uid) local._set(UID, s._uid);
    if (s._off) return;
    start(s);
    for (const e of s._held) s._queue?._push(e);
    s._held = [];
  } else if (choice.analytics === false) {
    s._consented = false;
    s._held = [];
    local._set(CONSENT, "0");
    local._set(AID, null);
    local._set(UID, null);
    local._set(HASH, null);
  }
  if (choice.marketing !== undefined) local._set(MARKETING, choice.marketing ? "1" : "0");
  log("consent", choice);
  if (choice.marketing !== undefined) send({ type: "track", event: "Consent Updated", properties: { ...choice } });
}

/**
 * Forgets who the visitor is (call on logout): a new anonymous id, no user id.
 * @example
 * nudge('reset')
 */
export function reset(): void {
  const s = state;
  if (!s) return;
  s._aid = uuid7();
  s._uid = s._hash = s._email = undefined;
  contextOf(s);
  local._set(UID, null);
  local._set(HASH, null);
  if (s._consented) local._set(AID, s._aid);
  log("reset");
}

/**
 * Listens to SDK events: 'error', 'sent', 'dropped'.
 * @example
 * nudge('on', 'error', (e) => console.warn(e))
 */
export function on<K extends keyof SdkEvents>(name: K, callback: (payload: SdkEvents[K]) => void): void {
  if (typeof callback !== "function") return;
  listeners.set(name, [...(listeners.get(name) ?? []), callback]);
}

/**
 * Sends everything queued now; resolves when the server has it (or it is safely stored to retry).
 * @example
 * await nudge('flush')
 */
export async function flush(): Promise<void> {
  try {
    await state?._queue?._flush();
  } catch (e) {
    report(e);
  }
}

let watching = false;
/** SPA page views: pushState and popstate, but not a replaceState that keeps the same path. */
function watchNavigation(): void {
  if (watching) return;
  watching = true;
  let last = location.pathname + location.search;
  // A replaceState that keeps the path (scroll state, filters written into the query) is the same
  // view; pushState, popstate, and a replaceState to another path (a redirect) are new ones.
  const changed = (replace?: boolean) => {
    const now = location.pathname + location.search;
    const same = replace ? location.pathname === last.split("?")[0] : now === last;
    last = now;
    if (!same) page();
  };
  for (const method of ["pushState", "replaceState"] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
      const result = original.apply(this, args);
      try {
        changed(method === "replaceState");
      } catch (e) {
        report(e);
      }
      return result;
    };
  }
  addEventListener("popstate", () => changed());
}

/** For tests: forget all state, as if the page had reloaded. */
export function _resetForTests(): void {
  stopEmails?.();
  state = undefined;
  early = [];
  watching = false;
  listeners.clear();
}
