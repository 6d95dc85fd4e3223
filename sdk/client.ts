import { deviceContext, pageContext, timeZone } from "./context";
import { checkEventName, warn } from "./dev";
import { uuid7 } from "./id";
import { onsiteChunk, startOnsite } from "./onsite";
import { createQueue } from "./queue";
import type { Queue } from "./queue";
import { idbOutbox, localGet, localSet } from "./storage";
import type { Consent, Envelope, IdentifyOptions, InitOptions, Properties, SdkEvents, Traits } from "./types.js";

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

/** A call made before the SDK was set up: the call, when it was made, its messageId if fixed. */
export type Call = [() => void, number | undefined, string | undefined];

let state: State | undefined;
/** init's setup, until it has run (in the task after init; at once on flush or page hide). */
let setup: (() => void) | undefined;
let stopEmails: (() => void) | undefined;
/** Calls made before setup (ESM users may track before init), replayed by it, in order. */
let early: Call[] = [];
/** The call being replayed: when it was made, and its messageId if fixed. */
let replaying: [number?, string?] = [];
const listeners = new Map<keyof SdkEvents, ((payload: never) => void)[]>();
/**
 * What the script-tag entry (global.ts) tells the core: where the SDK script came from (the
 * default endpoint), and the calls earlier pages' loader stubs kept (read at setup).
 */
export const loadedFrom: { _origin?: string; _stored?: () => Call[] } = {};

/** Keeps a call for setup to replay, with the time it was made. */
const later = (call: () => void): void => void early.push([call, replaying[0] ?? Date.now(), replaying[1]]);

/** Runs `call` as if it were made at `t`, its event (if any) with messageId `id`. */
export function replay(call: () => void, t?: number, id?: string): void {
  replaying = [t, id];
  try {
    call();
  } catch (e) {
    report(e);
  }
  replaying = [];
}

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
  const e = error instanceof Error ? error : Error(String(error));
  log("error", e);
  emit("error", e);
}

function privacySignal(): boolean {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  return n.globalPrivacyControl === true || n.doNotTrack === "1";
}

function start(s: State): void {
  if (s._queue) return;
  s._queue = createQueue({
    _url: `${s._opts.endpoint}/v1/batch`,
    _key: s._opts.key,
    // `in`, not `typeof`: reading the global instantiates the IDB factory (up to ~1 ms). Opening
    // the database waits for the first write, so this cannot throw.
    _outbox: "indexedDB" in globalThis ? idbOutbox() : undefined,
    _on: (count, reason) => {
      const name = reason ? "dropped" : "sent";
      log(name, count, reason ?? "");
      emit(name, { count, reason } as SdkEvents["dropped"]);
    },
    _onError: report,
  });
  // Anything a previous page left in the outbox goes out soon — in its own task, since opening
  // IndexedDB blocks the main thread for milliseconds.
  setTimeout(() => s._queue?._flush().catch(report));
}

function send(partial: Omit<Envelope, "messageId" | "anonymousId" | "context" | "timestamp">): void {
  const s = state;
  if (!s) {
    later(() => send(partial));
    return;
  }
  if (s._off) return;
  // The hot path: only what must be captured now. The queue stamps the messageId and formats
  // the time when it writes the event, off the caller's time (see queue.ts `stamp`).
  const event = partial as Envelope;
  event.anonymousId = s._aid;
  event.userId = s._uid; // a string or undefined (then not in the JSON)
  event.context = s._ctx;
  event.timestamp = replaying[0] ?? Date.now();
  // A replayed stub call's fixed id; otherwise none yet (the queue stamps one).
  event.messageId = replaying[1] as string;
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
  if (typeof options?.key !== "string" || !options.key)
    throw TypeError("nudge: init needs { key: 'pk_…' }, the site's public key.");
  if (state || setup) {
    if (__DEV__) warn("init was called twice; the second call is ignored.");
    return;
  }
  // From here every call is accepted (and kept, in `early`). The rest waits for the next task:
  // the page's first localStorage access alone — reading the ids — costs 1.5–8 ms of IPC in
  // Chromium, and the context, the queue and the onsite config request add more.
  let s: State | undefined;
  const run = () => {
    if (setup !== run) return;
    setup = undefined;
    // Not inlined into init: V8 compiles a function when it is first called, so init's own
    // compile (on the ready path) stays small; boot's waits for the next task.
    s = /*@__NOINLINE__*/ boot(options);
    // pagehide too, for browsers that skip visibilitychange on unload (Safari before 14.1). Not
    // on the init path: in Chromium, adding a page-lifecycle listener costs up to ~8 ms of IPC.
    addEventListener("pagehide", bye);
  };
  setup = run;
  setTimeout(run);
  // visibilitychange fires on tab close, navigation, bfcache and a mobile app switch.
  const bye = () => {
    run();
    s?._queue?._hide();
  };
  addEventListener("visibilitychange", () => document.hidden && bye());
  // The page view is made now, so it comes before the page's other calls; navigations are watched
  // from now on, so a router's pushState before setup is seen too.
  if (options.trackPages !== false) {
    page();
    watchNavigation();
  }
}

function boot(options: InitOptions): State {
  const opts: InitOptions = {
    ...options,
    endpoint: (options.endpoint ?? loadedFrom._origin ?? location.origin).replace(/\/+$/, ""),
  };
  const off = opts.respectPrivacySignals !== false && privacySignal();
  const consented = !opts.requireConsent || localGet(CONSENT) === "1";
  const s: State = {
    _opts: opts,
    _aid: (consented && localGet(AID)) || uuid7(),
    _uid: (consented && localGet(UID)) || undefined,
    _hash: (consented && localGet(HASH)) || undefined,
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
  // A new context object, not the shared one changed: the queue tells contexts apart by identity.
  setTimeout(() => {
    s._device.timezone = timeZone();
    contextOf(s);
  });
  log("init", opts, off ? "(off: privacy signal)" : "");
  // What earlier pages' stubs kept goes first: those calls were made before this page's.
  let calls = early;
  early = [];
  try {
    calls = [...(loadedFrom._stored?.() ?? []), ...calls];
  } catch (e) {
    report(e);
  }
  if (off) return s;
  if (consented) {
    localSet(AID, s._aid);
    start(s);
  }
  for (const call of calls) replay(...call);
  // Email capture is opt-in, so its code rides in the onsite chunk, loaded only when asked for.
  if (__DEV__ && opts.captureEmails && localGet(MARKETING) !== "1")
    warn("captureEmails is on, but emails are only captured after consent({ marketing: true }).");
  if (opts.captureEmails)
    onsiteChunk.load(`${opts.endpoint}/sdk/onsite.js`).then((m: typeof import("./triggers/index")) => {
      stopEmails = m.watchEmails((email) => {
        if (localGet(MARKETING) === "1" && email !== s._email) {
          s._email = email;
          identify({ email });
        }
      });
    }, report);
  // Onsite widgets (sdk/onsite.ts): config first, triggers and widgets load lazily. In a task of
  // its own: a page's first fetch() costs 1–15 ms of main thread in Chromium, as much as the rest
  // of the setup.
  if (opts.onsite !== false)
    setTimeout(() =>
      startOnsite({ endpoint: opts.endpoint as string, key: opts.key, aid: () => s._aid, track }, report),
    );
  return s;
}

/** Rebuilds the shared context object after the page or the identity changed. */
function contextOf(s: State): void {
  // Without a hash, `nudge` is undefined: JSON leaves it out.
  s._ctx = { ...s._device, ...s._page, nudge: s._hash && { userHash: s._hash } };
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
  // Object(): whatever the page passes (null, a number), this never throws.
  const { userId, ...t }: Traits = byId ? { ...traits, userId: idOrTraits } : Object(idOrTraits);
  const o: IdentifyOptions = (byId ? options : (traits as IdentifyOptions)) ?? {};
  if (userId !== undefined && typeof userId !== "string") {
    report(TypeError("nudge: userId must be a string"));
    return;
  }
  if (__DEV__ && !userId && !t.email && !t.phone)
    warn("identify without a userId, email or phone only adds traits to the anonymous visitor.");
  if (!state) {
    later(() => identify(idOrTraits, traits, options));
    return;
  }
  const s = state;
  if (userId) {
    s._uid = userId;
    if (s._consented) localSet(UID, userId);
  }
  const hash = o.userHash;
  if (typeof hash === "string" && hash) {
    s._hash = hash;
    if (s._consented) localSet(HASH, hash);
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
    report(TypeError("nudge: track needs an event name"));
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
  // The page as it is now: before setup, the view is replayed later, maybe after a navigation.
  const p = pageContext();
  const view = () => {
    const s = state as State;
    s._page = p;
    contextOf(s);
    send({ type: "page", ...(name ? { name } : {}), properties });
  };
  if (state) view();
  else later(view);
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
    later(() => consent(choice));
    return;
  }
  if (choice.analytics === true) {
    s._consented = true;
    localSet(CONSENT, "1");
    localSet(AID, s._aid);
    if (s._uid) localSet(UID, s._uid);
    if (s._off) return;
    start(s);
    for (const e of s._held) s._queue?._push(e);
    s._held = [];
  } else if (choice.analytics === false) {
    s._consented = false;
    s._held = [];
    localSet(CONSENT, "0");
    localSet(AID);
    localSet(UID);
    localSet(HASH);
  }
  log("consent", choice);
  if (choice.marketing !== undefined) {
    localSet(MARKETING, choice.marketing ? "1" : "0");
    send({ type: "track", event: "Consent Updated", properties: { ...choice } });
  }
}

/**
 * Forgets who the visitor is (call on logout): a new anonymous id, no user id.
 * @example
 * nudge('reset')
 */
export function reset(): void {
  const s = state;
  if (!s) {
    later(reset);
    return;
  }
  s._aid = uuid7();
  s._uid = s._hash = s._email = undefined;
  contextOf(s);
  localSet(UID);
  localSet(HASH);
  if (s._consented) localSet(AID, s._aid);
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
    setup?.();
    await state?._queue?._flush();
  } catch (e) {
    report(e);
  }
}

/** SPA page views: pushState and popstate, but not a replaceState that keeps the same path. */
function watchNavigation(): void {
  let { pathname, search } = location;
  // A replaceState that keeps the path (scroll state, filters written into the query) is the same
  // view; pushState, popstate, and a replaceState to another path (a redirect) are new ones.
  const changed = (replace?: boolean) => {
    const same = location.pathname === pathname && (replace || location.search === search);
    ({ pathname, search } = location);
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
  state = setup = undefined;
  early = [];
  replaying = [];
  listeners.clear();
}
