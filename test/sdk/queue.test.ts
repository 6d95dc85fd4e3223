import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createQueue, MAX_QUEUE, SPILL } from "../../sdk/queue";
import type { QueueOptions } from "../../sdk/queue";
import { idbOutbox, memoryOutbox, type Outbox } from "../../sdk/storage";
import type { Envelope } from "../../sdk/types";
import { fakeServer, freshPage } from "./helpers";

beforeEach(freshPage);
afterEach(() => vi.restoreAllMocks());

const URL = "https://nudge.example/v1/batch";
const event = (i: number): Envelope => ({
  type: "track",
  event: "Probe",
  properties: { i },
  anonymousId: "a1",
  context: {},
  messageId: "",
  timestamp: Date.now(),
});

function queue(extra: Partial<QueueOptions> = {}) {
  const seen = { sent: 0, dropped: [] as [number, string][], errors: [] as unknown[] };
  const q = createQueue({
    _url: URL,
    _key: "pk_test",
    _outbox: idbOutbox<string>(),
    _onSent: (n) => {
      seen.sent += n;
    },
    _onDrop: (n, reason) => seen.dropped.push([n, reason]),
    _onError: (e) => seen.errors.push(e),
    ...extra,
  });
  return { q, seen };
}

const ids = (events: Record<string, unknown>[]) => events.map((e) => (e.properties as { i: number }).i);

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
      vi.fn(async (_url: string, init: RequestInit) => {
        bodies.push(String(init.body));
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
    const broken: Outbox<string> = {
      ...memoryOutbox<string>(),
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

  it("should bound the outbox, dropping the oldest and counting them", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        throw new TypeError("offline");
      }),
    );
    const outbox = memoryOutbox<string>();
    const { q, seen } = queue({ _outbox: outbox });
    for (let i = 0; i < MAX_QUEUE + 3; i++) q._push(event(i));
    await q._flush();
    expect(seen.dropped).toEqual([[3, "queue full"]]);
    expect(await outbox._count()).toBe(MAX_QUEUE);
    const [[, oldest] = ["", ""]] = await outbox._take(1);
    expect(JSON.parse(oldest).properties.i).toBe(3);
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
    const spilled = JSON.parse(localStorage.getItem(SPILL) ?? "[]") as Envelope[];
    expect(spilled.map((e) => e.messageId)).toEqual(body.batch.map((e: Envelope) => e.messageId));
  });

  it("should deliver spilled events from the next page load exactly once, even if they were also written", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        throw new TypeError("offline");
      }),
    );
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: () => false }); // offline
    const first = queue({ _url: "https://unreachable.example/v1/batch" });
    for (let i = 0; i < 3; i++) first.q._push(event(i));
    first.q._hide(); // spilled, and the write also goes on in the background
    await first.q._flush();

    const server = fakeServer(200);
    const next = queue(); // the next page load
    expect(localStorage.getItem(SPILL)).toBeNull();
    await next.q._flush();
    const sent = server.events();
    expect(ids(sent).sort()).toEqual([0, 1, 2]);
    expect(new Set(sent.map((e) => e.messageId)).size).toBe(3);
    expect(await idbOutbox<string>()._count()).toBe(0);
  });
});
