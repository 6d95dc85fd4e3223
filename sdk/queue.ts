import { uuid7 } from "./id";
import type { Outbox } from "./storage";
import { local, memoryOutbox } from "./storage";
import type { Envelope } from "./types";

/**
 * The durable queue. `push` is a cheap, synchronous array push. In later tasks, a chunk at a time
 * (so no long task), each event is stamped — messageId (a UUIDv7, also its outbox key), ISO time,
 * serialised once to JSON — and written to the outbox (IndexedDB); a timer sends the outbox in
 * batches. An event leaves the outbox only when the server acknowledged it, so a reload, a crash
 * or an offline hour loses nothing; the server deduplicates by messageId, so a resend (beacon on
 * page hide, a retry after a lost response) doubles nothing. One tab sends at a time (Web Locks).
 *
 * The one window where an event lives only in memory — between `push` and its outbox write
 * committing, a few milliseconds — is closed on page hide: those events are stamped and written
 * synchronously to localStorage ("spill"), and the next page load picks them up. Their key is
 * their messageId, so an event both committed and spilled is stored once.
 */

export interface QueueOptions {
  _url: string;
  _key: string;
  /** Where events wait; without one (no IndexedDB) they wait in memory and spill on page hide. */
  _outbox?: Outbox<string>;
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

/** An event ready to store or send: its messageId and its JSON. */
type Stamped = [string, string];

export const BATCH_SIZE = 100;
/** Stay under the 64 KB keepalive/beacon budget and the server's 500 KB request limit. */
const BATCH_BYTES = 60_000;
/** The bound: past it the oldest events are dropped, and counted. */
export const MAX_QUEUE = 10_000;
/** Events kept for the page-hide beacon; older ones are safe in the outbox anyway. */
const MAX_UNACKED = 1_000;
const MAX_BACKOFF = 60_000;
/** Events stamped and written per task. */
const CHUNK = 500;
export const SPILL = "nudge_spill";

export function createQueue(o: QueueOptions): Queue {
  let outbox = o._outbox ?? memoryOutbox<string>();
  let durable = !!o._outbox;
  // Pushed, not yet stamped.
  const fresh: Envelope[] = [];
  // Stamped on page hide or read from a spill, not yet written.
  let stamped: Stamped[] = [];
  // Stamped, not yet committed to the outbox: what page hide must spill.
  const pending = new Map<string, string>();
  // Made by this page and not seen acknowledged: what page hide beacons.
  const unacked = new Map<string, string>();
  let writes: Promise<void> = Promise.resolve();
  let writing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let retryAfter: number | undefined;

  // The key rides in the body: sendBeacon cannot set an Authorization header. Events are JSON
  // already (serialised once, when stamped), so a body is a concatenation.
  const body = (events: string[]) =>
    `{"batch":[${events.join(",")}],"sentAt":"${new Date().toISOString()}","writeKey":${JSON.stringify(o._key)}}`;

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

  /** Gives events their identity, once; from here on an event is the same wherever it goes. */
  function stamp(events: Envelope[]): Stamped[] {
    const out: Stamped[] = [];
    for (const e of events) {
      const t = e.timestamp as number;
      e.messageId = uuid7(t);
      e.timestamp = new Date(t).toISOString();
      let json: string;
      try {
        json = JSON.stringify(e);
      } catch (error) {
        // A circular or exotic property: this event cannot be sent, the others can.
        o._onError(error);
        o._onDrop(1, "not serialisable");
        continue;
      }
      out.push([e.messageId, json]);
      track(e.messageId, json);
    }
    return out;
  }

  function track(id: string, json: string) {
    pending.set(id, json);
    unacked.set(id, json);
    if (unacked.size > MAX_UNACKED) unacked.delete(unacked.keys().next().value as string);
  }

  /** Chains outbox writes, so `await persist()` means everything pushed so far is stored. */
  function persist(): Promise<void> {
    // A failed write is reported, not kept: it must not poison every later write.
    if (fresh.length || stamped.length) writes = writes.then(writeAll).catch(o._onError);
    return writes;
  }

  async function writeAll() {
    writing = true;
    try {
      await writeChunks();
    } finally {
      writing = false;
    }
  }

  async function writeChunks() {
    while (stamped.length || fresh.length) {
      await write(stamped.length ? stamped.splice(0) : stamp(fresh.splice(0, CHUNK)));
      // Yield between chunks, so a burst of thousands of calls never makes a long task.
      if (fresh.length) await new Promise((r) => setTimeout(r));
    }
    // The bound, applied where the outbox grows: past it the oldest go, counted.
    const excess = (await outbox._count()) - MAX_QUEUE;
    if (excess > 0) {
      await outbox._remove((await outbox._take(excess)).map((d) => d[0]));
      o._onDrop(excess, "queue full");
    }
  }

  async function write(items: Stamped[]) {
    try {
      await outbox._put(items);
    } catch (e) {
      // Storage full or broken: keep going in memory (bounded like the outbox), and say so.
      o._onError(e);
      if (durable) {
        durable = false;
        outbox = memoryOutbox();
      }
      await outbox._put(items);
    }
    // In memory, an event stays "pending" (spilled on page hide) until the server has it.
    if (durable) for (const [k] of items) pending.delete(k);
  }

  async function drain() {
    try {
      // Writing goes on while the first chunks are sent (see sendAll).
      persist().catch(o._onError);
      // Web Locks keep two tabs from sending the same stored events at once.
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      if (locks) await locks.request("nudge-send", sendAll);
      else await sendAll();
    } catch (e) {
      o._onError(e);
    }
  }

  async function sendAll() {
    for (;;) {
      // Several batches per read: fewer IndexedDB round trips on a long backlog.
      let stored = await outbox._take(BATCH_SIZE * 5);
      if (!stored.length) {
        // Done, unless this page's events are still being written.
        if (!writing && !fresh.length && !stamped.length) return;
        await persist();
        continue;
      }
      while (stored.length) {
        const batch = fitting(stored);
        stored = stored.slice(batch.length);
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
  }

  async function post(events: string[]): Promise<"ok" | "retry" | string> {
    try {
      const res = await fetch(o._url, {
        method: "POST",
        // text/plain keeps this a "simple" request: no CORS preflight round trip.
        headers: { "content-type": "text/plain" },
        body: body(events),
        // Lets the request outlive a page that is going away. Only then: Chromium counts a
        // keepalive body against a 64 KB budget until its response is read.
        keepalive: document.visibilityState === "hidden",
        credentials: "omit",
      });
      res.body?.cancel().catch(() => {});
      if (res.ok) return "ok";
      if (res.status === 429 || res.status >= 500 || res.status === 408) {
        const after = Number(res.headers.get("retry-after"));
        retryAfter = after > 0 ? after * 1000 : undefined;
        return "retry";
      }
      // 4xx: the server will never take this batch; keeping it would block the queue forever.
      o._onError(new Error(`nudge: server rejected ${events.length} events (${res.status})`));
      return `rejected (${res.status})`;
    } catch {
      retryAfter = undefined;
      return "retry"; // offline or network error
    }
  }

  /** The leading entries that fit one request. */
  function fitting(stored: Stamped[]): Stamped[] {
    let bytes = 0;
    let n = 0;
    while (n < stored.length && n < BATCH_SIZE) {
      bytes += (stored[n] as Stamped)[1].length + 1;
      if (n > 0 && bytes > BATCH_BYTES) break;
      n++;
    }
    return stored.slice(0, n);
  }

  // The hot path of every track(): an array push, and at most two timers per burst.
  function push(event: Envelope) {
    if (fresh.push(event) === 1) {
      // A task, not a microtask: stamping and writing stay out of the caller's task.
      setTimeout(() => persist().catch(o._onError));
      schedule(o._delay ?? 250);
    }
  }

  // What a previous page spilled on its way out joins this page's queue (and is removed from
  // localStorage at once, so a page hiding meanwhile can spill its own without a race).
  try {
    const spilled = local._get(SPILL);
    if (spilled) {
      local._set(SPILL, null);
      for (const e of JSON.parse(spilled) as Envelope[]) {
        const item: Stamped = [e.messageId, JSON.stringify(e)];
        stamped.push(item);
        track(...item);
      }
      schedule(0);
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
        stamped = stamped.concat(stamp(fresh.splice(0)));
        if (pending.size) {
          // Appended to what another tab may have spilled: both arrays, joined.
          const prior = local._get(SPILL);
          const mine = [...pending.values()].join(",");
          local._set(SPILL, prior ? `${prior.slice(0, -1)},${mine}]` : `[${mine}]`);
        }
        // Uncommitted first: they are the ones at risk. Stop when the browser's quota is used up.
        const all = [...new Set([...pending.values(), ...unacked.values()])];
        for (let i = 0; i < all.length; ) {
          const batch = fitting(all.slice(i, i + BATCH_SIZE).map((json): Stamped => ["", json]));
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
