import { uuid7 } from "./id";
import type { Batch, Outbox } from "./storage";
import { local, memoryOutbox } from "./storage";
import type { Envelope } from "./types";

/**
 * The durable queue. `push` is a cheap, synchronous array push. In later tasks, a time slice at a
 * time (so no long task), each event is stamped — messageId (a UUIDv7), ISO time, serialised once
 * to JSON — and gathered into batches of up to 100 events (≤ 60 KB); a batch is what is stored
 * (one IndexedDB record, keyed by its first messageId and its size) and what is sent (one
 * request). A record per batch rather than per event: in Chromium each IndexedDB request costs
 * 30–80 µs of main thread, so 10 000 per-event puts and deletes took ~1 s and made 50–90 ms tasks.
 *
 * A batch leaves the outbox only when the server acknowledged it, so a reload, a crash or an
 * offline hour loses nothing; the server deduplicates by messageId, so a resend (beacon on page
 * hide, a retry after a lost response) doubles nothing. One tab sends at a time (Web Locks).
 *
 * The one window where events live only in memory — between `push` and their batch's write
 * committing — is closed on page hide: they are stamped and written synchronously to
 * localStorage ("spill", under a key of this page's own), and the next page load stores them
 * under the same record keys, so a batch both committed and spilled is stored once. If the page
 * lives on (a tab switch), the spill is cut down as batches commit and removed once all have, so
 * the next load does not send them again.
 */

export interface QueueOptions {
  _url: string;
  _key: string;
  /** Where batches wait; without one (no IndexedDB) they wait in memory and spill on page hide. */
  _outbox?: Outbox;
  /** `count` events were sent or, with a reason, dropped. */
  _on(count: number, dropped?: string): void;
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
/** The bound: past it the oldest batches are dropped, and counted. */
export const MAX_QUEUE = 10_000;
/** Batches kept for the page-hide beacon (~1 000 events); older ones are safe in the outbox anyway. */
const MAX_UNACKED = 10;
const MAX_BACKOFF = 60_000;
/** Milliseconds of stamping per task: well under the 50 ms of a long task, even on a slow phone. */
export const SLICE = 4;
/** Prefix of the spill keys: one per page, so tabs never write over each other's. */
export const SPILL = "nudge_spill";

/** The number of events in a batch, from its key. */
export const sizeOf = (key: string): number => +key.slice(37);

export function createQueue(o: QueueOptions): Queue {
  let outbox = o._outbox ?? memoryOutbox();
  let durable = !!o._outbox;
  // Pushed, not yet stamped.
  const fresh: Envelope[] = [];
  // The batch being filled (across slices of one burst), and its bytes.
  let open: string[] = [];
  let first = "";
  let bytes = 0;
  // Closed, not yet written (or read from a spill).
  const stamped: Batch[] = [];
  // Closed, not yet committed to the outbox: what page hide must spill.
  const pending = new Map<string, string[]>();
  // Made by this page and not seen acknowledged: what page hide beacons.
  const unacked = new Map<string, string[]>();
  const spillKey = SPILL + uuid7();
  let spilled = false;
  let writes: Promise<void> = Promise.resolve();
  let writing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let retryAfter: number | undefined;

  // The key rides in the body: sendBeacon cannot set an Authorization header. Events are JSON
  // already (serialised once, when stamped), so a body is a concatenation (an array in a template
  // string is its items joined by commas).
  const body = (events: string[]) =>
    `{"batch":[${events}],"sentAt":"${new Date().toISOString()}","writeKey":${JSON.stringify(o._key)}}`;

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

  /** Gives an event its identity, once, and adds it to the open batch. */
  function stamp(e: Envelope) {
    const t = e.timestamp as number;
    // A call the loader stub queued comes with its id (see global.ts).
    e.messageId ||= uuid7(t);
    let json: string;
    try {
      e.timestamp = new Date(t).toISOString();
      json = JSON.stringify(e);
    } catch (error) {
      // A circular or exotic property: this event cannot be sent, the others can.
      o._onError(error);
      o._on(1, "not serialisable");
      return;
    }
    if (open.length >= BATCH_SIZE || bytes + json.length > BATCH_BYTES) close();
    if (!open.length) first = e.messageId;
    open.push(json);
    bytes += json.length + 1;
  }

  /** The open batch is complete: it gets its key and waits to be written. */
  function close() {
    if (open.length) keep([`${first}.${open.length}`, open]);
    open = [];
    bytes = 0;
  }

  /** A batch to write: until written it is pending, until acknowledged unacknowledged. */
  function keep(batch: Batch) {
    stamped.push(batch);
    pending.set(...batch);
    unacked.set(...batch);
    if (unacked.size > MAX_UNACKED) unacked.delete(unacked.keys().next().value as string);
  }

  /** After a page hide that the page lived through: the spill keeps only what is still at risk. */
  function respill() {
    if (!spilled) return;
    spilled = pending.size > 0;
    local._set(spillKey, spilled ? JSON.stringify([...pending]) : null);
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
      while (fresh.length || stamped.length) {
        // Stamp for one time slice, then yield, so a burst of thousands of calls never makes a
        // long task. The open batch carries over, so a burst still makes full batches.
        const end = performance.now() + SLICE;
        let i = 0;
        while (i < fresh.length && performance.now() < end) stamp(fresh[i++] as Envelope);
        fresh.splice(0, i);
        if (!fresh.length) close();
        await write(stamped.splice(0));
        if (fresh.length) await new Promise((r) => setTimeout(r));
      }
      // The bound, applied where the outbox grows: past it the oldest batches go, counted.
      const keys = await outbox._keys();
      const over = keys.reduce((n, k) => n + sizeOf(k), -MAX_QUEUE);
      const drop: string[] = [];
      let left = over;
      for (const k of keys)
        if (left > 0) {
          left -= sizeOf(k);
          drop.push(k);
        }
      if (drop.length) {
        await outbox._remove(drop);
        o._on(over - left, "queue full");
      }
    } finally {
      writing = false;
    }
  }

  async function write(items: Batch[]) {
    if (!items.length) return;
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
    // In memory, a batch stays "pending" (spilled on page hide) until the server has it.
    if (durable) {
      for (const [k] of items) pending.delete(k);
      respill();
    }
  }

  async function drain() {
    try {
      // Writing goes on while the first batches are sent (see sendAll).
      persist().catch(o._onError);
      // Web Locks keep two tabs from sending the same stored batches at once.
      const locks = navigator.locks;
      if (locks) await locks.request("nudge-send", sendAll);
      else await sendAll();
    } catch (e) {
      o._onError(e);
    }
  }

  async function sendAll() {
    for (;;) {
      // Several batches per read: fewer IndexedDB round trips on a long backlog.
      const stored = await outbox._take(5);
      if (!stored.length) {
        // Done, unless this page's events are still being written.
        if (!writing && !fresh.length && !stamped.length) return;
        await persist();
        continue;
      }
      for (const [k, events] of stored) {
        const result = await post(events);
        if (result === "retry") {
          failures++;
          // Exponential with full jitter, so a server coming back is not hit by every shopper at once.
          return schedule(retryAfter ?? Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures));
        }
        failures = 0;
        await outbox._remove([k]);
        unacked.delete(k);
        if (pending.delete(k)) respill();
        o._on(sizeOf(k), result === "ok" ? undefined : result);
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

  // The hot path of every track(): an array push, and at most two timers per burst.
  function push(event: Envelope) {
    if (fresh.push(event) === 1) {
      // A task, not a microtask: stamping and writing stay out of the caller's task.
      setTimeout(() => persist().catch(o._onError));
      schedule(o._delay ?? 250);
    }
  }

  // What earlier pages spilled on their way out joins this page's queue, under the same keys (and
  // is removed from localStorage at once: this page spills it again if it hides before writing).
  // The SDK flushes the queue once set up, which writes and sends it.
  try {
    for (const [, batches] of local._take(SPILL)) for (const batch of batches as Batch[]) keep(batch);
  } catch (e) {
    o._onError(e);
  }
  addEventListener("online", () => run());

  return {
    _push: push,
    _flush: run,
    _hide() {
      try {
        for (const e of fresh.splice(0)) stamp(e);
        close();
        spilled = true;
        respill();
        // Uncommitted first: they are the ones at risk. Stop when the browser's quota is used up.
        for (const [, events] of new Map([...pending, ...unacked]))
          if (!navigator.sendBeacon?.(o._url, body(events))) break;
      } catch (e) {
        o._onError(e);
      }
      // If the page lives on (a hidden tab), store and send the normal way.
      run();
    },
  };
}
