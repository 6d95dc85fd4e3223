import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { Env } from "../../worker/src/env";
import { enqueue } from "../../worker/src/ingest/inbox";
import { applyBatch, drainInbox, recoverEvents } from "../../worker/src/ingest/process";
import { placementOf } from "../../worker/src/model/directory";
import { consumeIngest, type IngestJob, jobsOf } from "../../worker/src/ingest/queue";
import { app } from "../../worker/src/index";
import type { Message } from "../../worker/src/model/events";
import { CLAIM_TIMEOUT_MS, sweep } from "../../worker/src/jobs/sweep";
import { countCalls } from "../../worker/src/lib/d1-budget";
import { siteById } from "../../worker/src/model/sites";
import type { Site } from "../../worker/src/model/sites";
import { BASE, clock, putCampaign, send, uid } from "./helpers";
import type { Recorded } from "./provider-fakes";

/**
 * Faults, injected and survived, on real D1: a database that fails its n-th call at every n of
 * applying a batch and of a sweep, provider timeouts, 5xx and 429 with Retry-After, a crash between
 * the provider's acceptance and the `sent` mark, overlapping sweeps, a clock jump. For each: events
 * are neither lost nor doubled, and every message reaches the provider under one idempotency key —
 * sent at most once — and ends sent.
 */

const fakes = inject("providers");
const providerEnv = (db: D1Database = env.DB): Env => ({
  ...env,
  DB: db,
  EMAIL_FROM: "Wavelength <shop@example.com>",
  RESEND_API_KEY: "re_test_123",
  RESEND_API_URL: `${fakes}/resend`,
  // The stand-in is not throttled; pacing at Resend's default 2/s would only slow the suite.
  PROVIDER_RATES: JSON.stringify({ resend: 10_000 }),
});
const requests = async (): Promise<Recorded[]> => (await fetch(`${fakes}/__requests`)).json();

/**
 * env.DB, failing the calls `fails` picks — by number (1-based, a batch is one call, as D1 counts
 * them) and by SQL text (a batch's first statement) — with the error D1 gives a dropped connection.
 */
function faulty(db: D1Database, fails: (call: number, sql: string) => boolean): D1Database {
  let calls = 0;
  const sqlOf = new WeakMap<object, string>();
  const REAL = Symbol("real");
  const check = (sql: string) => {
    calls++;
    if (fails(calls, sql)) throw new Error(`D1_ERROR: injected fault at call ${calls}`);
  };
  const statement = (s: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(s, {
      get(target, prop) {
        if (prop === REAL) return target;
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        if (prop === "bind") return (...args: unknown[]) => statement(v.apply(target, args), sql);
        if (prop === "first" || prop === "run" || prop === "all" || prop === "raw")
          return async (...args: unknown[]) => {
            check(sql);
            return v.apply(target, args);
          };
        return v.bind(target);
      },
    });
    sqlOf.set(proxy, sql);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop === "prepare") return (sql: string) => statement(target.prepare(sql), sql);
      if (prop === "batch")
        return async (list: D1PreparedStatement[]) => {
          check(sqlOf.get(list[0] ?? {}) ?? "");
          return target.batch(list.map((s) => (s as unknown as Record<symbol, D1PreparedStatement>)[REAL] ?? s));
        };
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

let site: Site;
beforeAll(async () => {
  await clock(); // the first request seeds the demo site
  const found = await siteById(env.DB, "demo");
  if (!found) throw new Error("no demo site");
  site = found;
});

/** A shopper's batch as validation leaves it: sign-in, two adds of one product, a view, a page. */
function shopperBatch(now: number): Message[] {
  const anonymousId = uid("fault-anon");
  const base = { anonymousId, userId: null, previousId: null, traits: {}, context: {}, source: "browser" as const };
  const m = (over: Partial<Message>, i: number): Message => ({
    type: "track",
    messageId: uid("fault-m"),
    event: null,
    properties: {},
    timestamp: now + i,
    ...base,
    ...over,
  });
  const item = { product_id: "E7247", name: "Speaker", price: 79, quantity: 1 };
  return [
    m({ type: "identify", traits: { email: `${anonymousId}@example.com` } }, 0),
    m({ event: "Product Added", properties: item }, 1),
    m({ event: "Product Added", properties: item }, 2),
    m({ event: "Product Viewed", properties: item }, 3),
    m({ type: "page", properties: { path: "/" } }, 4),
  ];
}

async function stateOf(batch: Message[]) {
  const ids = JSON.stringify(batch.map((m) => m.messageId));
  const [events, cart, contacts] = await env.DB.batch<{ n: number; p: number; q: number }>([
    env.DB.prepare(
      `SELECT count(*) AS n, sum(processed = 1) AS p FROM events WHERE site_id = 'demo' AND message_id IN (SELECT value FROM json_each(?))`,
    ).bind(ids),
    env.DB.prepare(
      `SELECT coalesce(sum(i.quantity), 0) AS q FROM cart_items i JOIN identities d ON d.site_id = i.site_id AND d.contact_id = i.contact_id
       WHERE d.site_id = 'demo' AND d.kind = 'anonymous' AND d.value = ?`,
    ).bind(batch[0]?.anonymousId),
    env.DB.prepare(
      `SELECT count(DISTINCT contact_id) AS n FROM identities WHERE site_id = 'demo' AND value IN (?, ?)`,
    ).bind(batch[0]?.anonymousId, `${batch[0]?.anonymousId}@example.com`),
  ]);
  return {
    events: events?.results[0]?.n,
    processed: events?.results[0]?.p,
    quantity: cart?.results[0]?.q,
    contacts: contacts?.results[0]?.n,
  };
}

describe("faults while applying a batch", { timeout: 120_000 }, () => {
  it("should lose and double nothing when D1 fails at any one call of applyBatch, the client retries, and the sweep drains", async () => {
    const now = await clock();
    const probe = countCalls(env.DB);
    expect(await applyBatch(probe.db, site, shopperBatch(now), now)).toBe(true);
    const calls = probe.calls();
    expect(calls).toBeGreaterThan(1);
    console.info(`faults: applying a 5-event batch makes ${calls} D1 calls; each fails once`);
    const sites = (id: string) => siteById(env.DB, id);
    for (let n = 1; n <= calls; n++) {
      const batch = shopperBatch(now);
      // The request: applied, or stored in the inbox when applying failed.
      if (
        !(await applyBatch(
          faulty(env.DB, (c) => c === n),
          site,
          batch,
          now,
        ))
      )
        await enqueue(env.DB, site.id, batch, now);
      // The client did not hear back in time and sends the same batch again.
      if (!(await applyBatch(env.DB, site, batch, now))) await enqueue(env.DB, site.id, batch, now);
      await drainInbox(env.DB, sites, now);
      await recoverEvents(env.DB, sites, now + 120_000);
      expect({ n, ...(await stateOf(batch)) }).toEqual({ n, events: 5, processed: 5, quantity: 2, contacts: 1 });
    }
  });
});

/** A delivery of the ingest Queue, as workerd hands it to the consumer. */
const delivery = (jobs: IngestJob[], queue = "nudge-ingest") =>
  createMessageBatch(
    queue,
    jobs.map((body, i) => ({ id: `job-${i}`, timestamp: new Date(), attempts: 1, body })),
  );

async function consume(db: D1Database, jobs: IngestJob[], now: number, queue?: string) {
  const batch = delivery(jobs, queue);
  const ctx = createExecutionContext();
  // Where each site lives is cached by the isolate (model/directory.ts): read it now, so the calls
  // and faults below are the consumer's own.
  for (const job of jobs) await placementOf(env, job.siteId);
  await consumeIngest({ ...env, DB: db }, batch, now, { deadLetter: queue?.endsWith("-dlq") });
  return getQueueResult(batch, ctx);
}

describe("the Queue path", { timeout: 120_000 }, () => {
  it("should answer a request once the batch is queued, and the Worker's consumer applies it once, resends and all", async () => {
    const now = await clock();
    const batch = shopperBatch(now);
    // The batch as the SDK sends it.
    const body = JSON.stringify({
      writeKey: "pk_demo",
      batch: batch.map(({ type, messageId, anonymousId, event, properties, traits, timestamp }) => ({
        type,
        messageId,
        anonymousId,
        ...(event ? { event } : {}),
        properties,
        traits,
        timestamp: new Date(timestamp).toISOString(),
      })),
    });
    const queued = { ...env, INGEST_QUEUE: env.TEST_INGEST_QUEUE };
    for (let i = 0; i < 2; i++) {
      const res = await app.fetch(
        new Request(`${BASE}/v1/batch`, { method: "POST", headers: { "content-type": "application/json" }, body }),
        queued,
        createExecutionContext(),
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ accepted: 5, errors: [] });
    }
    // The real Queue delivers to the Worker's queue() handler within its batch timeout (1 s here).
    await vi.waitFor(async () => expect((await stateOf(batch)).processed).toBe(5), { timeout: 20_000, interval: 200 });
    expect(await stateOf(batch)).toEqual({ events: 5, processed: 5, quantity: 2, contacts: 1 });
  });

  it("should apply many requests' jobs of a site in as many D1 calls as one job takes", async () => {
    const now = await clock();
    const jobsOfShoppers = (n: number) =>
      Array.from({ length: n }, () => ({
        siteId: site.id,
        receivedAt: now,
        events: shopperBatch(now).filter((m) => m.type !== "identify"),
      }));
    const calls = async (jobs: IngestJob[]) => {
      const probe = countCalls(env.DB);
      const result = await consume(probe.db, jobs, now);
      expect(result.explicitAcks).toHaveLength(jobs.length);
      for (const job of jobs) expect((await stateOf(job.events)).processed).toBe(4);
      return probe.calls();
    };
    const one = await calls(jobsOfShoppers(1));
    // 80 events of 20 new shoppers: read once, written in one transaction — folded, not 20 commits.
    expect(await calls(jobsOfShoppers(20))).toBe(one);
    expect(one).toBeLessThanOrEqual(3);
  });

  it("should lose and double nothing when D1 fails at any one call of the consumer, and redeliveries come", async () => {
    const now = await clock();
    const probe = countCalls(env.DB);
    await consume(probe.db, [{ siteId: site.id, receivedAt: now, events: shopperBatch(now) }], now);
    const calls = probe.calls();
    const sites = (id: string) => siteById(env.DB, id);
    for (let n = 1; n <= calls + 1; n++) {
      const batch = shopperBatch(now);
      // A request's batch split in two jobs, and the first job delivered twice in the same delivery.
      const [a, b] = [batch.slice(0, 3), batch.slice(3)];
      const jobs = [a, a, b].map((events) => ({ siteId: site.id, receivedAt: now, events }));
      // The inbox write fails too at n = calls + 1 (the call after applying failed): then retried.
      const result = await consume(
        faulty(env.DB, (c) => c === n || (n === calls + 1 && c <= 2)),
        jobs,
        now,
      );
      expect(result.explicitAcks.length + result.retryMessages.length).toBe(3);
      // A retried job comes back later, to a working database.
      const retried = result.retryMessages.map((r) => jobs[Number(r.msgId.slice(4))] as IngestJob);
      if (retried.length > 0) await consume(env.DB, retried, now);
      await drainInbox(env.DB, sites, now);
      await recoverEvents(env.DB, sites, now + 120_000);
      expect({ n, ...(await stateOf(batch)) }).toEqual({ n, events: 5, processed: 5, quantity: 2, contacts: 1 });
    }
  });

  it("should store the dead-letter queue's jobs in the inbox, for the sweep", async () => {
    const now = await clock();
    const batch = shopperBatch(now);
    const result = await consume(
      env.DB,
      [{ siteId: site.id, receivedAt: now, events: batch }],
      now,
      "nudge-ingest-dlq",
    );
    expect(result.explicitAcks).toEqual(["job-0"]);
    expect((await stateOf(batch)).events).toBe(0);
    await drainInbox(env.DB, (id) => siteById(env.DB, id), now);
    expect(await stateOf(batch)).toEqual({ events: 5, processed: 5, quantity: 2, contacts: 1 });
  });

  it("should cut a large batch into jobs a Queue message can hold", () => {
    const now = Date.now();
    const big = Array.from({ length: 500 }, (_, i) => ({
      ...(shopperBatch(now)[1] as Message),
      messageId: `big-${i}`,
      properties: { description: "x".repeat(900) },
    }));
    const jobs = jobsOf("demo", big, now);
    expect(jobs.length).toBeGreaterThan(4);
    for (const { job, bytes } of jobs) {
      expect(new TextEncoder().encode(JSON.stringify(job)).length).toBeLessThan(128 * 1024);
      expect(bytes).toBeLessThanOrEqual(100_000);
    }
    expect(jobs.flatMap(({ job }) => job.events.map((m) => m.messageId))).toEqual(big.map((m) => m.messageId));
  });
});

/** `count` shoppers who each get one welcome email from `campaign`, due now. */
async function dueMessages(campaign: string, count: number, tag = "fault") {
  const emails: string[] = [];
  for (let i = 0; i < count; i++) {
    const email = `${uid(tag)}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: campaign, properties: {} },
    ]);
    emails.push(email);
  }
  const { results } = await env.DB.prepare(
    `SELECT m.id, m.status FROM messages m JOIN contacts c ON c.site_id = m.site_id AND c.id = m.contact_id
     WHERE m.site_id = 'demo' AND c.email IN (SELECT value FROM json_each(?))`,
  )
    .bind(JSON.stringify(emails))
    .all<{ id: number; status: string }>();
  return results.map((r) => r.id);
}

const statuses = async (ids: number[]) =>
  (
    await env.DB.prepare(`SELECT status FROM messages WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`)
      .bind(JSON.stringify(ids))
      .all<{ status: string }>()
  ).results.map((r) => r.status);

/** Per message: the idempotency keys the provider accepted it under (one key: delivered once). */
async function accepted(ids: number[]) {
  const all = await requests();
  return ids.map((id) => {
    const key = `nudge-message/${id}`;
    const tries = all.filter((r) => r.provider === "resend" && r.headers["idempotency-key"] === key);
    return {
      id,
      accepted: tries.filter((r) => r.status === 200).length > 0,
      keys: new Set(tries.map((t) => t.headers["idempotency-key"])).size,
    };
  });
}

// Generous limits: the machine running the suite may be shared; the assertions count, never time.
describe("faults while sweeping", { timeout: 120_000 }, () => {
  const campaign = "Fault Sweep";
  beforeAll(() =>
    putCampaign("fault-sweep", {
      trigger: { type: "event", events: [campaign] },
      steps: [{ delay: 0, channel: "email", template: "welcome" }],
    }),
  );

  it("should send every message exactly once under one key when D1 fails at any one call of a sweep", async () => {
    // How many calls a clean sweep of three due messages makes.
    // …and one batch waiting in the inbox, so the faults also hit taking and applying it.
    const probeIds = await dueMessages(campaign, 3);
    const probe = countCalls(env.DB);
    const t0 = (await clock()) + 1000;
    await enqueue(env.DB, site.id, shopperBatch(t0), t0);
    await sweep(providerEnv(probe.db), t0);
    expect(await statuses(probeIds)).toEqual(["sent", "sent", "sent"]);
    const calls = probe.calls();
    console.info(`faults: a sweep of 3 messages and 1 inbox batch makes ${calls} D1 calls; each fails once`);
    for (let n = 1; n <= calls; n++) {
      const ids = await dueMessages(campaign, 3);
      const at = (await clock()) + 1000;
      const batch = shopperBatch(at);
      await enqueue(env.DB, site.id, batch, at);
      const first = await sweep(providerEnv(faulty(env.DB, (c) => c === n)), at);
      expect(first.errors.length + first.failed + first.sent).toBeGreaterThan(0);
      // Later sweeps: after a claim times out, and after the backoff of a failed attempt.
      await sweep(providerEnv(), at + CLAIM_TIMEOUT_MS + 60_000);
      await sweep(providerEnv(), at + 2 * CLAIM_TIMEOUT_MS + 120_000);
      expect({ n, statuses: await statuses(ids) }).toEqual({ n, statuses: ["sent", "sent", "sent"] });
      expect({ n, ...(await stateOf(batch)) }).toEqual({ n, events: 5, processed: 5, quantity: 2, contacts: 1 });
      for (const a of await accepted(ids)) expect({ n, ...a }).toEqual({ n, id: a.id, accepted: true, keys: 1 });
    }
  }, 600_000);

  it("should resend under the same key, after the claim times out, when the sweep dies between the provider's acceptance and the sent mark", async () => {
    const [id = 0] = await dueMessages(campaign, 1, "crash");
    const at = (await clock()) + 1000;
    // The database is gone from the sent mark on, as for a Worker killed there: not even the
    // failure can be recorded.
    let dead = false;
    const crashed = await sweep(
      providerEnv(faulty(env.DB, (_, sql) => (dead ||= sql.includes("SET status = 'sent'")))),
      at,
    );
    expect(crashed.sent).toBe(0);
    expect(await statuses([id])).toEqual(["sending"]);
    // Within the claim timeout nobody touches it: the first sweep might still be finishing.
    await sweep(providerEnv(), at + 60_000);
    const before = (await requests()).filter((r) => r.headers["idempotency-key"] === `nudge-message/${id}`);
    expect(before).toHaveLength(1);
    await sweep(providerEnv(), at + CLAIM_TIMEOUT_MS + 60_000);
    expect(await statuses([id])).toEqual(["sent"]);
    const tries = (await requests()).filter(
      (r) => r.provider === "resend" && r.headers["idempotency-key"] === `nudge-message/${id}`,
    );
    // Two requests, one key: Resend delivers a repeated Idempotency-Key within 24 h once.
    expect(tries).toHaveLength(2);
  });

  it("should retry a provider timeout and send once", async () => {
    const [id = 0] = await dueMessages(campaign, 1, "timeout");
    const real = globalThis.fetch;
    let timedOut = 0;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.includes("/resend/") && timedOut === 0) {
        timedOut++;
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      }
      return real(input, init);
    });
    try {
      const at = (await clock()) + 1000;
      const first = await sweep(providerEnv(), at);
      expect(first.failed).toBeGreaterThan(0);
      const row = await env.DB.prepare(`SELECT status, reason, due_at FROM messages WHERE id = ?`)
        .bind(id)
        .first<{ status: string; reason: string; due_at: number }>();
      expect(row).toMatchObject({ status: "pending", reason: expect.stringMatching(/timeout/) });
      expect(row?.due_at).toBe(at + 60_000);
      await sweep(providerEnv(), at + 60_000);
      expect(await statuses([id])).toEqual(["sent"]);
      expect(await accepted([id])).toEqual([{ id, accepted: true, keys: 1 }]);
    } finally {
      spy.mockRestore();
    }
  });

  it("should wait out a 429's Retry-After, keep the others flowing, and not retry before it", async () => {
    const throttled = await dueMessages(campaign, 1, "fail429");
    const fine = await dueMessages(campaign, 2, "fine");
    const at = (await clock()) + 1000;
    const r = await sweep(providerEnv(), at);
    expect(r.sent).toBeGreaterThanOrEqual(2);
    expect(await statuses(fine)).toEqual(["sent", "sent"]);
    const row = await env.DB.prepare(`SELECT status, reason, due_at FROM messages WHERE id = ?`)
      .bind(throttled[0])
      .first<{ status: string; reason: string; due_at: number }>();
    // Retry-After: 600 s, longer than the first backoff (60 s): it is what decides.
    expect(row).toMatchObject({ status: "pending", due_at: at + 600_000, reason: expect.stringMatching(/429/) });
    await sweep(providerEnv(), at + 300_000);
    const tries = (await requests()).filter((q) => q.headers["idempotency-key"] === `nudge-message/${throttled[0]}`);
    expect(tries).toHaveLength(1); // not retried before the provider said
  });

  it("should send each message once when three sweeps overlap", async () => {
    const ids = await dueMessages(campaign, 12, "overlap");
    const at = (await clock()) + 1000;
    const runs = await Promise.all([sweep(providerEnv(), at), sweep(providerEnv(), at), sweep(providerEnv(), at)]);
    expect(runs.reduce((a, r) => a + r.sent, 0)).toBeGreaterThanOrEqual(12);
    expect(await statuses(ids)).toEqual(ids.map(() => "sent"));
    const all = await requests();
    for (const id of ids)
      expect(all.filter((q) => q.headers["idempotency-key"] === `nudge-message/${id}`)).toHaveLength(1);
  });

  it("should send once across a clock jump forward a month and back", async () => {
    await putCampaign("fault-later", {
      trigger: { type: "event", events: ["Fault Later"] },
      steps: [{ delay: "3d", channel: "email", template: "welcome" }],
    });
    const ids = await dueMessages("Fault Later", 2, "jump");
    const at = await clock();
    await sweep(providerEnv(), at + 3600_000);
    expect(await statuses(ids)).toEqual(["pending", "pending"]); // not due yet
    await sweep(providerEnv(), at + 30 * 86400_000); // the clock jumps a month ahead
    expect(await statuses(ids)).toEqual(["sent", "sent"]);
    await sweep(providerEnv(), at + 31 * 86400_000);
    await sweep(providerEnv(), at + 4 * 86400_000); // and back
    const all = await requests();
    for (const id of ids)
      expect(all.filter((q) => q.headers["idempotency-key"] === `nudge-message/${id}`)).toHaveLength(1);
  });
});
