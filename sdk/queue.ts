import type { Outbox } from "./storage";
import { local, memoryOutbox } from "./storage";
import type { Envelope } from "./types";

/**
 * The durable queue. `push` is a cheap, synchronous array push; the same task's microtask writes
 * what was pushed to the outbox (IndexedDB, keyed by messageId), and a timer sends it in batches.
 * An event leaves the outbox only when the server acknowledged it, so a reload, a crash or an
 * offline hour loses nothing; the server deduplicates by messageId, so a resend (beacon on page
 * hide, a retry after a lost response) doubles nothing. One tab sends at a time (Web Locks).
 *
 * The one window where an event lives only in memory — between `push` and the outbox write
 * committing, a few milliseconds — is closed on page hide: those events are written synchronously
 * to localStorage ("spill") and picked up by the next page load. Their key is their messageId, so
 * an event both committed and spilled is stored once.
 */

export interface QueueOptions {
  _url: string;
  _key: string;
  /** Where events wait; without one (no IndexedDB) they wait in memory and spill on page hide. */
  _outbox?: Outbox<Envelope>;
  _onSent(count: number): void;
  _onDrop(count: number, reason: string): void;
  _onError(error: unknown): void;
  /** Delay before a batch goes out, so bursts of calls share one request. */
  _delay?: number;
}

export interface Queue {
  _push(event: Envelope): void;
  /** Writes and sends everything now; resolves once sent or safely stored for a retry. */
  _flush(): Promise<void>;
  /** The page is being hidden or unloaded: spill, beacon, and try a last send. */
  _hide(): void;
}

export const BATCH_SIZE = 100;
/** Stay under the 64 KB keepalive/beacon budget and the server's 500 KB request limit. */
const BATCH_BYTES = 60_000;
/** The bound: past it the oldest events are dropped, and counted. */
export const MAX_QUEUE = 10_000;
/** Events kept for the page-hide beacon; older ones are safe in the outbox anyway. */
const MAX_UNACKED = 1_000;
const MAX_BACKOFF = 60_000;
export const SPILL = "nudge_spill";

export function createQueue(o: QueueOptions): Queue {
  let outbox = o._outbox ?? memoryOutbox<Envelope>();
  let durable = !!o._outbox;
  // Pushed, not yet handed to the outbox.
  let fresh: Envelope[] = [];
  // Not yet committed to the outbox (fresh or being written): what page hide must spill.
  const pending = new Map<string, Envelope>();
  // Made by this page and not seen acknowledged: what page hide beacons.
  const unacked = new Map<string, Envelope>();
  let writes: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let retryAfter: number | undefined;

  // The key rides in the body: sendBeacon cannot set an Authorization header.
  const body = (batch: Envelope[]) => JSON.stringify({ batch, sentAt: new Date().toISOString(), writeKey: o._key });

  const schedule = (ms: number) => {
    if (timer === undefined) timer = setTimeout(run, ms);
  };

  function run(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await drain();
      } while (again && timer === undefined);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  /** Chains outbox writes, so `await persist()` means everything pushed so far is stored. */
  function persist(): Promise<void> {
    if (fresh.length) {
      const items = fresh;
      fresh = [];
      writes = writes.then(() => write(items));
    }
    return writes;
  }

  async function write(items: Envelope[]) {
    const entries = items.map((e): [string, Envelope] => [e.messageId, e]);
    try {
      await outbox._put(entries);
    } catch (e) {
      // Storage full or broken: keep going in memory (bounded like the outbox), and say so.
      o._onError(e);
      if (durable) {
        durable = false;
        outbox = memoryOutbox();
      }
      await outbox._put(entries);
    }
    // In memory, an event stays "pending" (spilled on page hide) until the server has it.
    if (durable) for (const e of items) pending.delete(e.messageId);
  }

  async function drain() {
    try {
      await persist();
      // Web Locks keep two tabs from sending the same stored events at once.
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      if (locks) await locks.request("nudge-send", sendAll);
      else await sendAll();
    } catch (e) {
      o._onError(e);
    }
  }

  async function sendAll() {
    const excess = (await outbox._count()) - MAX_QUEUE;
    if (excess > 0) {
      await outbox._remove((await outbox._take(excess)).map((d) => d[0]));
      o._onDrop(excess, "queue full");
    }
    for (;;) {
      const batch = fitting(await outbox._take(BATCH_SIZE));
      if (!batch.length) return;
      const result = await post(batch.map((b) => b[1]));
      if (result === "retry") {
        failures++;
        // Exponential with full jitter, so a server coming back is not hit by every shopper at once.
        return schedule(retryAfter ?? Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures));
      }
      failures = 0;
      await outbox._remove(batch.map((b) => b[0]));
      for (const [k] of batch) {
        unacked.delete(k);
        pending.delete(k);
      }
      if (result === "ok") o._onSent(batch.length);
      else o._onDrop(batch.length, result);
    }
  }

  async function post(batch: Envelope[]): Promise<"ok" | "retry" | string> {
    try {
      const res = await fetch(o._url, {
        method: "POST",
        // text/plain keeps this a "simple" request: no CORS preflight round trip.
        headers: { "content-type": "text/plain" },
        body: body(batch),
        // Lets the request finish if the page goes away meanwhile.
        keepalive: true,
        credentials: "omit",
      });
      if (res.ok) return "ok";
      if (res.status === 429 || res.status >= 500 || res.status === 408) {
        const after = Number(res.headers.get("retry-after"));
        retryAfter = after > 0 ? after * 1000 : undefined;
        return "retry";
      }
      // 4xx: the server will never take this batch; keeping it would block the queue forever.
      o._onError(new Error(`nudge: server rejected ${batch.length} events (${res.status})`));
      return `rejected (${res.status})`;
    } catch {
      retryAfter = undefined;
      return "retry"; // offline or network error
    }
  }

  /** The leading entries that fit one request. */
  function fitting<T>(stored: [string, T][]) {
    let bytes = 0;
    let n = 0;
    while (n < stored.length) {
      bytes += JSON.stringify(stored[n]?.[1]).length;
      if (n > 0 && bytes > BATCH_BYTES) break;
      n++;
    }
    return stored.slice(0, n);
  }

  function push(event: Envelope) {
    if (!fresh.length) queueMicrotask(() => persist().catch(o._onError));
    fresh.push(event);
    pending.set(event.messageId, event);
    unacked.set(event.messageId, event);
    if (unacked.size > MAX_UNACKED) unacked.delete(unacked.keys().next().value as string);
    schedule(o._delay ?? 250);
  }

  // What a previous page spilled on its way out joins this page's queue (and is removed from
  // localStorage at once, so a page hiding meanwhile can spill its own without a race).
  try {
    const spilled = local._get(SPILL);
    if (spilled) {
      local._set(SPILL, null);
      for (const e of JSON.parse(spilled) as Envelope[]) push(e);
    }
  } catch (e) {
    o._onError(e);
  }
  if (typeof addEventListener === "function") addEventListener("online", () => run());

  return {
    _push: push,
    _flush: run,
    _hide() {
      try {
        if (pending.size) {
          const prior = JSON.parse(local._get(SPILL) ?? "[]") as Envelope[];
          local._set(SPILL, JSON.stringify(prior.concat([...pending.values()]).slice(-MAX_UNACKED)));
        }
        // Uncommitted first: they are the ones at risk. Stop when the browser's quota is used up.
        const all = [...new Set([...pending.values(), ...unacked.values()])];
        for (let i = 0; i < all.length; ) {
          const batch = fitting(all.slice(i, i + BATCH_SIZE).map((e): [string, Envelope] => [e.messageId, e]));
          if (typeof navigator.sendBeacon !== "function" || !navigator.sendBeacon(o._url, body(batch.map((b) => b[1]))))
            break;
          i += batch.length;
        }
      } catch (e) {
        o._onError(e);
      }
      // If the page lives on (a hidden tab), store and send the normal way.
      run();
    },
  };
}
