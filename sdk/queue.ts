import { uuid7 } from "./id";
import type { Batch, Outbox } from "./storage";
import { localSet, localTake, memoryOutbox } from "./storage";
import type { Envelope, Properties } from "./types";

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
}

export interface Queue {
  _push(event: Envelope): void;
  /** Writes and sends everything now; resolves once sent or safely stored for a retry. */
  _flush(): Promise<void>;
  /** The page is being hidden or unloaded: spill, beacon, and try a last send. */
  _hide(): void;
}

export const BATCH_SIZE = 100;
/**
 * Stay under the 64 KB keepalive/beacon budget and the server's 500 KB request limit, with the
 * shared context (at most SHARED units) on top.
 */
const BATCH_BYTES = 57_000;
/**
 * The longest shared context, in UTF-16 units: the server takes at most 8 KB of UTF-8 as a batch's
 * context, and a unit is at most 3 bytes. A longer one (a page URL of kilobytes) rides in each
 * event, as before batches shared it.
 */
const SHARED = 2730;
/** The bound: past it the oldest batches are dropped, and counted. */
export const MAX_QUEUE = 10_000;
/** Batches kept for the page-hide beacon (~1 000 events); older ones are safe in the outbox anyway. */
const MAX_UNACKED = 10;
const MAX_BACKOFF = 60_000;
/** Delay before a batch goes out, so bursts of calls share one request. */
const DELAY = 250;
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
  // The context of the events being stamped, and its JSON while it can ride once per batch.
  let ctx: Properties | undefined;
  let shared: string | undefined;
  // Closed, not yet written (or read from a spill).
  const stamped: Batch[] = [];
  // Closed, not yet committed to the outbox: what page hide must spill.
  const pending = new Map<string, Batch>();
  // Made by this page and not seen acknowledged: what page hide beacons.
  const unacked = new Map<string, Batch>();
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
  // string is its items joined by commas). The page and device context goes once, as the batch's
  // `context`, which the server applies to each event (a batch stored by an older SDK has none:
  // its events carry their own).
  const body = ([, events, context = "{}"]: Batch) =>
    `{"batch":[${events}],"context":${context},"sentAt":"${new Date().toISOString()}","writeKey":${JSON.stringify(o._key)}}`;

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
      // The client gives every event the same context object until the page or the identity
      // changes (client.ts `contextOf`), so a new object is a new context: it starts a batch.
      if (e.context !== ctx) {
        close();
        // Taken as the batch's context only once serialised (if that threw, each event would be
        // dropped and reported, never sent under the previous context).
        shared = JSON.stringify(e.context);
        ctx = e.context;
        if (shared.length > SHARED) shared = undefined;
      }
      if (shared) e.context = undefined as never;
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
    if (open.length) keep([`${first}.${open.length}`, open, shared]);
    open = [];
    bytes = 0;
  }

  /** A batch to write: until written it is pending, until acknowledged unacknowledged. */
  function keep(batch: Batch) {
    stamped.push(batch);
    pending.set(batch[0], batch);
    unacked.set(batch[0], batch);
    if (unacked.size > MAX_UNACKED) unacked.delete(unacked.keys().next().value as string);
  }

  /** After a page hide that the page lived through: the spill keeps only what is still at risk. */
  function respill() {
    if (!spilled) return;
    spilled = pending.size > 0;
    localSet(spillKey, spilled ? JSON.stringify([...pending.values()]) : undefined);
  }

  /**
   * Chains outbox writes, so `await persist()` means everything pushed so far is stored. Never
   * rejects (a failure is reported), so callers need no catch of their own.
   */
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
      persist();
      // Web Locks keep two tabs from sending the same stored batches at once.
      await (navigator.locks?.request("nudge-send", sendAll) ?? sendAll());
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
      for (const batch of stored) {
        const k = batch[0];
        const result = await post(batch);
        if (result === "retry") {
          failures++;
          // Exponential with full jitter, so a server coming back is not hit by every shopper at once.
          return schedule(retryAfter ?? Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures));
        }
        failures = 0;
        await outbox._remove([k]);
        unacked.delete(k);
        if (pending.delete(k)) respill();
        o._on(sizeOf(k), result);
      }
    }
  }

  /** Sends a batch: nothing once the server has it, "retry", or why the server refused it for good. */
  async function post(batch: Batch): Promise<string | undefined> {
    try {
      let data: BodyInit = body(batch);
      let query = "";
      // Gzip where the browser can (said by the query, not Content-Encoding: a header would cost a
      // CORS preflight per batch), plain JSON where it cannot. Also at page hide: this path waits
      // on IndexedDB already, so it is a best effort there either way, and a compressed batch
      // takes a tenth of the keepalive budget. The beacon, which must leave within the page-hide
      // handler itself, cannot wait for a compression and goes plain.
      try {
        data = await new Response(
          (new Response(data).body as ReadableStream).pipeThrough(new CompressionStream("gzip")),
        ).blob();
        query = "?compression=gzip";
      } catch {}
      const res = await fetch(o._url + query, {
        method: "POST",
        // text/plain keeps this a "simple" request: no CORS preflight round trip.
        headers: { "content-type": "text/plain" },
        body: data,
        // Lets the request outlive a page that is going away. Only then: Chromium counts a
        // keepalive body against a 64 KB budget until its response is read.
        keepalive: document.hidden,
        credentials: "omit",
      });
      const { status } = res;
      res.body?.cancel().catch(() => {});
      if (res.ok) return;
      if (status === 429 || status >= 500 || status === 408) {
        const after = Number(res.headers.get("retry-after"));
        retryAfter = after > 0 ? after * 1000 : undefined;
        return "retry";
      }
      // 4xx: the server will never take this batch; keeping it would block the queue forever.
      const why = `rejected (${status})`;
      o._onError(Error(`nudge: ${batch[1].length} events ${why} by the server`));
      return why;
    } catch {
      retryAfter = undefined;
      return "retry"; // offline or network error
    }
  }

  // The hot path of every track(): an array push, and at most two timers per burst.
  function push(event: Envelope) {
    if (fresh.push(event) === 1) {
      // A task, not a microtask: stamping and writing stay out of the caller's task.
      setTimeout(persist);
      schedule(DELAY);
    }
  }

  // What earlier pages spilled on their way out joins this page's queue, under the same keys (and
  // is removed from localStorage at once: this page spills it again if it hides before writing).
  // The SDK flushes the queue once set up, which writes and sends it.
  try {
    for (const [, batches] of localTake(SPILL)) for (const batch of batches as Batch[]) keep(batch);
  } catch (e) {
    o._onError(e);
  }
  addEventListener("online", run);

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
        for (const batch of new Map([...pending, ...unacked]).values())
          if (!navigator.sendBeacon?.(o._url, body(batch))) break;
      } catch (e) {
        o._onError(e);
      }
      // If the page lives on (a hidden tab), store and send the normal way.
      run();
    },
  };
}
