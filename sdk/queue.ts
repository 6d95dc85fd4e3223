import type { Envelope } from "./types";
import type { Outbox } from "./storage";

/**
 * The durable queue. `push` is a cheap, synchronous array push; a timer then writes what was
 * pushed to the outbox (IndexedDB) and sends it in batches. An event leaves the outbox only when
 * the server acknowledged it, so a reload, a crash or an offline hour loses nothing; the server
 * deduplicates by messageId, so a resend (beacon on page hide, a second tab, a retry after a lost
 * response) doubles nothing. One tab sends at a time (Web Locks), so tabs do not race.
 */

export interface QueueOptions {
  _url: string;
  _key: string;
  _outbox: Outbox<Envelope>;
  _onSent(count: number): void;
  _onDrop(count: number, reason: string): void;
  _onError(error: unknown): void;
  /** Delay before a batch goes out, so bursts of calls share one request. */
  _delay?: number;
}

export interface Queue {
  _push(event: Envelope): void;
  _flush(): Promise<void>;
  /** Page is going away: hand everything unacknowledged to sendBeacon. */
  _beacon(): void;
}

export const BATCH_SIZE = 100;
/** Stay under the 64 KB keepalive/beacon budget and the server's 500 KB request limit. */
const BATCH_BYTES = 60_000;
export const MAX_QUEUE = 10_000;
const MAX_BACKOFF = 60_000;

export function createQueue(o: QueueOptions): Queue {
  // Pushed but not yet written to the outbox.
  let fresh: Envelope[] = [];
  // Everything this page has not seen acknowledged, for the page-hide beacon.
  const unacked = new Map<string, Envelope>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let running: Promise<void> | undefined;
  let retryAfter: number | undefined;

  // The key rides in the body: sendBeacon cannot set an Authorization header.
  const body = (batch: Envelope[]) => JSON.stringify({ batch, sentAt: new Date().toISOString(), writeKey: o._key });

  // Outbox keys sort in the order events were made, across tabs and reloads: time, then a
  // counter; the messageId keeps two tabs writing in the same millisecond from colliding.
  let seq = 0;
  const key = (e: Envelope) =>
    `e:${Date.now().toString(36).padStart(9, "0")}${(seq++ % 1e6).toString(36).padStart(4, "0")}:${e.messageId}`;

  const schedule = (ms: number) => {
    if (timer === undefined) timer = setTimeout(run, ms);
  };

  const run = () => {
    timer = undefined;
    running ??= drain().finally(() => {
      running = undefined;
    });
    return running;
  };

  async function persist() {
    if (!fresh.length) return;
    const items = fresh;
    fresh = [];
    await o._outbox._put(items.map((e) => [key(e), e]));
  }

  async function drain() {
    try {
      await persist();
      const send = () => sendAll();
      // Web Locks keep two tabs from sending the same stored events at once.
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      if (locks) await locks.request("nudge-send", send);
      else await send();
    } catch (e) {
      o._onError(e);
    }
  }

  async function sendAll() {
    let stored = (await o._outbox._all()).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (stored.length > MAX_QUEUE) {
      const drop = stored.slice(0, stored.length - MAX_QUEUE);
      await o._outbox._remove(drop.map((d) => d[0]));
      o._onDrop(drop.length, "queue full");
      stored = stored.slice(-MAX_QUEUE);
    }
    while (stored.length) {
      const batch = take(stored);
      stored = stored.slice(batch.length);
      const result = await post(batch.map((b) => b[1]));
      if (result === "retry") {
        failures++;
        return backoff(retryAfter);
      }
      failures = 0;
      await o._outbox._remove(batch.map((b) => b[0]));
      for (const [, e] of batch) unacked.delete(e.messageId);
      if (result === "ok") o._onSent(batch.length);
      else o._onDrop(batch.length, result);
    }
  }

  function backoff(retryAfter?: number) {
    // Exponential with full jitter, so a server coming back is not hit by every shopper at once.
    const ms = retryAfter ?? Math.random() * Math.min(MAX_BACKOFF, 1000 * 2 ** failures);
    schedule(ms);
  }

  async function post(batch: Envelope[]): Promise<"ok" | "retry" | string> {
    try {
      const res = await fetch(o._url, {
        method: "POST",
        // text/plain keeps this a "simple" request: no CORS preflight round trip.
        headers: { "content-type": "text/plain" },
        body: body(batch),
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

  function take(stored: [string, Envelope][]) {
    let bytes = 0;
    let n = 0;
    while (n < stored.length && n < BATCH_SIZE) {
      bytes += JSON.stringify(stored[n]?.[1]).length;
      if (n > 0 && bytes > BATCH_BYTES) break;
      n++;
    }
    return stored.slice(0, n);
  }

  if (typeof addEventListener === "function") addEventListener("online", () => run());

  return {
    _push(event) {
      fresh.push(event);
      unacked.set(event.messageId, event);
      schedule(o._delay ?? 250);
    },
    async _flush() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
      await run();
    },
    _beacon() {
      const all = [...unacked.values()];
      if (!all.length || typeof navigator.sendBeacon !== "function") return;
      // Also write what was not yet persisted, so the next page load retries it if the beacon is lost.
      persist().catch(o._onError);
      for (let i = 0; i < all.length; i += BATCH_SIZE) {
        const data = body(all.slice(i, i + BATCH_SIZE));
        if (data.length < BATCH_BYTES) navigator.sendBeacon(o._url, data);
      }
    },
  };
}
