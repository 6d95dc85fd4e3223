import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { uuid7 } from "../../sdk/id";
import { createQueue, MAX_QUEUE, SLICE, SPILL, sizeOf } from "../../sdk/queue";
import type { QueueOptions } from "../../sdk/queue";
import { idbOutbox, memoryOutbox, type Outbox } from "../../sdk/storage";
import type { Envelope, Properties } from "../../sdk/types";
import { fakeServer, freshPage, readBody } from "./helpers";

beforeEach(freshPage);
afterEach(() => vi.restoreAllMocks());

const URL = "https://nudge.example/v1/batch";
/** A page's context: the client gives its events one object until the page or the identity changes. */
const PAGE = { library: { name: "nudge" }, page: { path: "/" } };
const event = (i: number, context: Properties = PAGE): Envelope => ({
  type: "track",
  event: "Probe",
  properties: { i },
  anonymousId: "a1",
  context,
  messageId: "",
  timestamp: Date.now(),
});

function queue(extra: Partial<QueueOptions> = {}) {
  const seen = { sent: 0, dropped: [] as [number, string][], errors: [] as unknown[] };
  const q = createQueue({
    _url: URL,
    _key: "pk_test",
    _outbox: idbOutbox(),
    _on: (n, reason) => {
      if (reason) seen.dropped.push([n, reason]);
      else seen.sent += n;
    },
    _onError: (e) => seen.errors.push(e),
    ...extra,
  });
  return { q, seen };
}

const ids = (events: Record<string, unknown>[]) => events.map((e) => (e.properties as { i: number }).i);
const offline = () =>
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => {
      throw new TypeError("offline");
    }),
  );
/** The spills in localStorage: each page's key, and the batches under it. */
const spills = () =>
  Object.keys(localStorage)
    .filter((k) => k.startsWith(SPILL))
    .map((k) => JSON.parse(localStorage.getItem(k) ?? "[]") as [string, string[]][]);

describe("durable queue", () => {
  it("should give each event a time-ordered UUIDv7 messageId and an ISO time", async () => {
    const server = fakeServer(200);
    const { q } = queue();
    for (let i = 0; i < 5; i++) q._push(event(i));
    await q._flush();
    const sent = server.events();
    expect(ids(sent)).toEqual([0, 1, 2, 3, 4]);
    for (const e of sent) {
      expect(e.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Date.parse(e.timestamp as string)).toBeGreaterThan(0);
    }
    const messageIds = sent.map((e) => e.messageId as string);
    expect([...messageIds].sort()).toEqual(messageIds);
  });

  it("should honour Retry-After on 429 and deliver once the server takes it", async () => {
    let calls = 0;
    const bodies: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        bodies.push((await readBody(url, init.body as BodyInit)).text);
        return ++calls === 1
          ? new Response("{}", { status: 429, headers: { "retry-after": "7" } })
          : new Response("{}");
      }),
    );
    const timers = vi.spyOn(globalThis, "setTimeout");
    const { q, seen } = queue();
    q._push(event(1));
    await q._flush();
    expect(timers.mock.calls.some(([, ms]) => ms === 7000)).toBe(true);
    expect(seen.sent).toBe(0);
    await q._flush();
    expect(seen.sent).toBe(1);
    expect(bodies[0]).toBe(bodies[1]?.replace(/"sentAt":"[^"]+"/, bodies[0]?.match(/"sentAt":"[^"]+"/)?.[0] ?? ""));
  });

  it("should keep going in memory when storage fails, and report it", async () => {
    const server = fakeServer(200);
    const broken: Outbox = {
      ...memoryOutbox(),
      _put: async () => {
        throw new DOMException("quota", "QuotaExceededError");
      },
    };
    const { q, seen } = queue({ _outbox: broken });
    q._push(event(1));
    q._push(event(2));
    await q._flush();
    expect(ids(server.events())).toEqual([1, 2]);
    expect(seen.errors).toHaveLength(1);
  });

  it("should store a burst as batches of 100 events, one record each, and send one request per batch", async () => {
    offline();
    const outbox = memoryOutbox();
    const { q } = queue({ _outbox: outbox });
    for (let i = 0; i < 250; i++) q._push(event(i));
    await q._flush();
    // One IndexedDB record per batch, not per event: each request costs 30–80 µs of main thread.
    const keys = await outbox._keys();
    expect(keys.map(sizeOf)).toEqual([100, 100, 50]);
    const stored = await outbox._take(3);
    expect(stored.flatMap(([, events]) => events.map((e) => JSON.parse(e).properties.i))).toEqual(
      Array.from({ length: 250 }, (_, i) => i),
    );
    // A batch's key is its first event's messageId and its size.
    expect(keys[1]).toBe(`${JSON.parse(stored[1]?.[1][0] ?? "{}").messageId}.100`);

    const server = fakeServer(200);
    await q._flush();
    expect(server.requests.map((r) => r.body.batch.length)).toEqual([100, 100, 50]);
    expect(await outbox._keys()).toEqual([]);
  });

  it("should stamp a burst a time slice per task, never all of it in one", async () => {
    offline();
    // A clock that advances 1 ms each time it is read: a slice stamps at most SLICE events.
    let now = 0;
    vi.spyOn(performance, "now").mockImplementation(() => now++);
    const yields = vi.spyOn(globalThis, "setTimeout");
    const outbox = memoryOutbox();
    const { q } = queue({ _outbox: outbox });
    for (let i = 0; i < 40; i++) q._push(event(i));
    await q._flush();
    const zeroDelay = yields.mock.calls.filter(([, ms]) => ms === undefined).length;
    expect(zeroDelay).toBeGreaterThanOrEqual(40 / SLICE);
    // The open batch carries over from slice to slice: still one batch.
    expect((await outbox._keys()).map(sizeOf)).toEqual([40]);
  });

  it("should bound the outbox, dropping the oldest batches and counting their events", async () => {
    offline();
    const outbox = memoryOutbox();
    const { q, seen } = queue({ _outbox: outbox });
    for (let i = 0; i < MAX_QUEUE + 3; i++) q._push(event(i));
    await q._flush();
    expect(seen.dropped).toEqual([[100, "queue full"]]);
    const keys = await outbox._keys();
    expect(keys.reduce((n, k) => n + sizeOf(k), 0)).toBe(MAX_QUEUE - 97);
    const [[, [oldest = ""] = []] = ["", []]] = await outbox._take(1);
    expect(JSON.parse(oldest).properties.i).toBe(100);
  });

  it("should drop an unserialisable event alone, not its batch", async () => {
    const server = fakeServer(200);
    const { q, seen } = queue();
    const circular = event(2);
    (circular.properties as Record<string, unknown>).self = circular;
    q._push(event(1));
    q._push(circular);
    q._push(event(3));
    await q._flush();
    expect(ids(server.events())).toEqual([1, 3]);
    expect(seen.dropped).toEqual([[1, "not serialisable"]]);
  });
});

describe("page hide", () => {
  let beacons: string[];
  beforeEach(() => {
    beacons = [];
    Object.defineProperty(navigator, "sendBeacon", {
      configurable: true,
      value: (_url: string, data: string) => {
        beacons.push(data);
        return true;
      },
    });
  });

  it("should beacon unacknowledged events with the write key, and spill the uncommitted to localStorage", () => {
    fakeServer(200);
    const { q } = queue();
    q._push(event(1));
    q._push(event(2));
    q._hide(); // in the same task: nothing is written to IndexedDB yet
    const body = JSON.parse(beacons[0] ?? "{}");
    expect(body.writeKey).toBe("pk_test");
    expect(ids(body.batch)).toEqual([1, 2]);
    // Plain JSON (a beacon cannot wait for a compression), the context once.
    expect(body.context).toEqual(PAGE);
    expect(body.batch.filter((e: Envelope) => "context" in e)).toEqual([]);
    const [[[key, events] = ["", []]] = []] = spills();
    const spilled = events.map((e) => JSON.parse(e) as Envelope);
    expect(spilled.map((e) => e.messageId)).toEqual(body.batch.map((e: Envelope) => e.messageId));
    expect(key).toBe(`${spilled[0]?.messageId}.2`);
  });

  it("should deliver spilled events from the next page load exactly once, even if they were also written", async () => {
    offline();
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: () => false }); // offline
    const first = queue({ _url: "https://unreachable.example/v1/batch" });
    for (let i = 0; i < 3; i++) first.q._push(event(i));
    first.q._hide(); // spilled, and the write also goes on in the background
    const spill = Object.keys(localStorage).find((k) => k.startsWith(SPILL)) ?? "";
    const copy = localStorage.getItem(spill) ?? "";
    await first.q._flush();
    // The page died before it could cut its spill down: the next load finds it.
    localStorage.setItem(spill, copy);

    const server = fakeServer(200);
    const next = queue(); // the next page load
    expect(spills()).toEqual([]);
    await next.q._flush();
    const sent = server.events();
    expect(ids(sent).sort()).toEqual([0, 1, 2]);
    expect(new Set(sent.map((e) => e.messageId)).size).toBe(3);
    expect(await idbOutbox()._keys()).toEqual([]);
  });

  it("should remove its spill once the spilled batches are stored, so a tab switch does not make the next load resend them", async () => {
    offline();
    const { q } = queue();
    q._push(event(1));
    q._hide(); // a tab switch: the page lives on
    expect(spills()).toHaveLength(1);
    await q._flush(); // written to IndexedDB, still offline
    expect(spills()).toEqual([]);

    const server = fakeServer(200);
    await q._flush();
    expect(ids(server.events())).toEqual([1]);
    const next = queue(); // the next page load: nothing left to send again
    await next.q._flush();
    expect(ids(server.events())).toEqual([1]);
  });

  it("should keep in its spill, without IndexedDB, only the batches the server has not acknowledged", async () => {
    offline();
    const { q } = queue({ _outbox: undefined });
    q._push(event(1));
    q._hide();
    await q._flush(); // offline: in memory only, so still at risk
    expect(
      spills()
        .flat()
        .map(([, events]) => ids(events.map((e) => JSON.parse(e)))),
    ).toEqual([[1]]);
    const server = fakeServer(200);
    await q._flush();
    expect(ids(server.events())).toEqual([1]);
    expect(spills()).toEqual([]);
  });
});

describe("context once per batch", () => {
  it("should send each batch's context once, start a new batch when it changes, and keep it out of the events", async () => {
    const server = fakeServer(200);
    const { q } = queue();
    const next = { library: { name: "nudge" }, page: { path: "/next" } };
    for (const [i, context] of [PAGE, PAGE, next, next].entries()) q._push(event(i, context));
    await q._flush();
    expect(server.requests.map((r) => r.wire.json.context)).toEqual([PAGE, next]);
    expect(server.requests.flatMap((r) => r.wire.json.batch).filter((e) => "context" in e)).toEqual([]);
    // As the Worker applies it: every event with its page's context.
    expect(server.events().map((e) => [(e.properties as { i: number }).i, e.context])).toEqual([
      [0, PAGE],
      [1, PAGE],
      [2, next],
      [3, next],
    ]);
  });

  it("should share a context up to the 8 KB of UTF-8 the server takes, and carry a longer one in each event", async () => {
    const server = fakeServer(200);
    const { q } = queue();
    // 3 bytes of UTF-8 each, the most a UTF-16 unit takes: `{"t":"…"}` is 8 units around them.
    const longest = { t: "中".repeat(2730 - 8) };
    const longer = { t: "中".repeat(2730 - 7) };
    q._push(event(1, longest));
    q._push(event(2, longer));
    q._push(event(3, longer));
    await q._flush();
    const [shared, own] = server.requests;
    expect(shared?.wire.json.context).toEqual(longest);
    expect(new TextEncoder().encode(JSON.stringify(longest)).length).toBeLessThanOrEqual(8 * 1024);
    expect(own?.wire.json.context).toEqual({});
    expect(own?.wire.json.batch.map((e) => e.context)).toEqual([longer, longer]);
  });

  it("should send a batch an earlier SDK stored, whose events carry their own context", async () => {
    const server = fakeServer(200);
    const outbox = idbOutbox();
    const old = { ...event(7), messageId: uuid7(), timestamp: new Date().toISOString() };
    await outbox._put([[`${old.messageId}.1`, [JSON.stringify(old)]]]);
    const { q } = queue({ _outbox: outbox });
    await q._flush();
    expect(server.events()).toEqual([old]);
    expect(await outbox._keys()).toEqual([]);
  });
});
