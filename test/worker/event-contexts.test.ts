import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enqueue, take } from "../../worker/src/ingest/inbox";
import { drainInbox, insertEvents, recoverEvents } from "../../worker/src/ingest/process";
import { moveStep, PAUSE_MS } from "../../worker/src/jobs/move";
import { prune } from "../../worker/src/jobs/retention";
import { hmacHex } from "../../worker/src/lib/crypto";
import type { Message } from "../../worker/src/model/events";
import { siteById } from "../../worker/src/model/sites";
import { BASE, freshSite, post, uid } from "./helpers";

/**
 * Issue 19: each distinct event context is stored once per site (migration 0023,
 * model/event-contexts.ts), read back exactly as it was sent, and never outlives its events.
 */

const DAY = 86_400_000;
/** The context the SDK sends with every event of a page view (sdk/context.ts). */
const device = {
  library: { name: "nudge", version: "0.1.0" },
  locale: "en-GB",
  userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0",
  screen: { width: 1920, height: 1080, density: 1 },
  timezone: "Europe/London",
};
const onPage = (url: string) => ({ page: { path: new URL(url).pathname, title: "Shop", url }, ...device });
const SPEAKER = onPage("https://shop.example/p/E7247");
const HEADPHONES = onPage("https://shop.example/p/H100");

/** A validated message, as ingest hands it to storage. */
const message = (extra: Partial<Message> = {}): Message => ({
  type: "track",
  messageId: crypto.randomUUID(),
  anonymousId: uid("a"),
  userId: null,
  previousId: null,
  event: "Product Viewed",
  properties: { product_id: "E7247" },
  traits: {},
  context: SPEAKER,
  timestamp: Date.now(),
  source: "browser",
  ...extra,
});

async function batch(key: string, messages: Record<string, unknown>[]) {
  const res = await post("/v1/batch", { writeKey: key, batch: messages });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ accepted: messages.length, errors: [] });
}

const views = (anonymousId: string, context: Record<string, unknown>, n: number) =>
  Array.from({ length: n }, () => {
    const { type, messageId, event, properties } = message();
    return { type, messageId, anonymousId, event, properties, context };
  });

/** The site's stored contexts, most pointed at first. */
const contextsOf = async (siteId: string, db: D1Database = env.DB) =>
  (
    await db
      .prepare(`SELECT context, refs FROM event_contexts WHERE site_id = ? ORDER BY refs DESC, context`)
      .bind(siteId)
      .all<{ context: string; refs: number }>()
  ).results;

const contactOf = async (siteId: string, kind: string, value: string) =>
  (
    await env.DB.prepare(`SELECT contact_id FROM identities WHERE site_id = ? AND kind = ? AND value = ?`)
      .bind(siteId, kind, value)
      .first<{ contact_id: string }>()
  )?.contact_id;

describe("event contexts", () => {
  it("should store a context shared by many events once, whichever path stores them, counting each event once", async () => {
    const s = await freshSite();
    const [a, b] = [uid("a"), uid("b")];
    const first = [...views(a, SPEAKER, 20), ...views(b, SPEAKER, 10), ...views(b, HEADPHONES, 5)];
    await batch(s.publicKey, first);
    await batch(s.publicKey, views(a, SPEAKER, 10));
    // The SDK resends a batch it got no answer for: nothing is stored or counted again.
    await batch(s.publicKey, first);
    expect(await contextsOf(s.id)).toEqual([
      { context: JSON.stringify(SPEAKER), refs: 40 },
      { context: JSON.stringify(HEADPHONES), refs: 5 },
    ]);
    const inline = await env.DB.prepare(
      `SELECT count(*) AS n FROM events WHERE site_id = ? AND (context_hash IS NULL OR context <> '{}')`,
    )
      .bind(s.id)
      .first<{ n: number }>();
    expect(inline?.n).toBe(0);

    // A batch the request could not apply goes through the inbox, stored in SQL by the sweep: three
    // new events and a copy of one stored already.
    const stored = first[0] as { messageId: string };
    const late = [1, 2, 3].map(() => message({ anonymousId: b, context: HEADPHONES }));
    await enqueue(env.DB, s.id, [...late, message({ messageId: stored.messageId, context: HEADPHONES })], Date.now());
    await drainInbox(env.DB, (id) => siteById(env.DB, id), Date.now());
    expect(await contextsOf(s.id)).toEqual([
      { context: JSON.stringify(SPEAKER), refs: 40 },
      { context: JSON.stringify(HEADPHONES), refs: 8 },
    ]);
  });

  it("should give back each event's context exactly as it was sent, stored in either shape", async () => {
    const s = await freshSite();
    const anonymousId = uid("a");
    await batch(s.publicKey, [
      { type: "identify", messageId: uid("m"), anonymousId, traits: { email: `${anonymousId}@example.com` } },
      { type: "track", messageId: uid("m"), anonymousId, event: "Speaker", context: SPEAKER },
      { type: "track", messageId: uid("m"), anonymousId, event: "Headphones", context: HEADPHONES },
      { type: "track", messageId: uid("m"), anonymousId, event: "Tiny", context: { locale: "fr" } },
    ]);
    const contactId = await contactOf(s.id, "anonymous", anonymousId);
    // A row stored before migration 0023 holds its context itself.
    const legacy = JSON.stringify({ ...device, ip: "203.0.113.9" });
    await env.DB.prepare(
      `INSERT INTO events (site_id, message_id, type, event, anonymous_id, contact_id, context, timestamp, received_at, processed)
       VALUES (?, ?, 'track', 'Legacy', ?, ?, ?, 1, 1, 1)`,
    )
      .bind(s.id, uid("m"), anonymousId, contactId, legacy)
      .run();

    const res = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}/export`, {
      headers: { authorization: `Bearer ${s.secretKey}` },
    });
    expect(res.status).toBe(200);
    const { data } = await res.json<{ data: { events: Record<string, unknown>[] } }>();
    const sent = Object.fromEntries(data.events.map((e) => [e.event ?? e.type, e.context]));
    expect(sent).toEqual({
      identify: "{}",
      Speaker: JSON.stringify(SPEAKER),
      Headphones: JSON.stringify(HEADPHONES),
      Tiny: '{"locale":"fr"}',
      Legacy: legacy,
    });
    // The rows look as they did before contexts had a table of their own.
    for (const e of data.events) expect(Object.keys(e)).not.toContain("context_hash");
  });

  it("should recover a stored event with its context: a verified sign-in still links the browser", async () => {
    const s = await freshSite({ identitySecret: "iv_secret" });
    const userId = uid("u");
    await batch(s.secretKey, [
      { type: "identify", messageId: uid("m"), userId, traits: { email: `${userId}@x.test` } },
    ]);
    // A browser signs in with the verification hash in its context; the event is stored, but the
    // invocation that was to apply it died (taken from the inbox, not applied).
    const anonymousId = uid("a");
    const userHash = await hmacHex("iv_secret", userId);
    const signIn = message({
      type: "identify",
      event: null,
      anonymousId,
      userId,
      context: { ...SPEAKER, nudge: { userHash } },
    });
    const received = Date.now() - 5 * 60_000;
    await enqueue(env.DB, s.id, [signIn], received);
    await take(env.DB, 2000, received);
    expect(await contactOf(s.id, "anonymous", anonymousId)).toBeUndefined();

    await recoverEvents(env.DB, (id) => siteById(env.DB, id), Date.now());
    // Read without its context the claim would be unverified, and refused: another contact holds the user id.
    expect(await contactOf(s.id, "anonymous", anonymousId)).toBe(await contactOf(s.id, "user", userId));
  });

  it("should erase the contexts only the erased contact's events pointed at, keeping those others share", async () => {
    const s = await freshSite();
    const [p, q] = [uid("p"), uid("q")];
    const email = `${p}@example.com`;
    const own = onPage(`https://shop.example/account?email=${encodeURIComponent(email)}`);
    await batch(s.publicKey, [
      { type: "identify", messageId: uid("m"), anonymousId: p, traits: { email } },
      ...views(p, SPEAKER, 2),
      ...views(p, own, 2),
      ...views(q, SPEAKER, 3),
    ]);
    const contactId = await contactOf(s.id, "anonymous", p);
    const res = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${s.secretKey}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ deleted: { events: 5, event_contexts: 1 } });
    expect(await contextsOf(s.id)).toEqual([{ context: JSON.stringify(SPEAKER), refs: 3 }]);
  });

  it("should collect the contexts retention leaves orphaned, in bounded batches, and keep those still pointed at", async () => {
    const s = await freshSite({ settings: { retentionDays: 30 } });
    const now = Date.now();
    const store = async (at: number, contexts: Record<string, unknown>[]) =>
      env.DB.batch(
        await insertEvents(
          env.DB,
          s.id,
          contexts.map((context) => ({ event: message({ context, timestamp: at }), contactId: "c1" })),
          () => at,
        ),
      );
    const gone = onPage("https://shop.example/p/OLD");
    await store(now - 40 * DAY, [gone, gone, SPEAKER]);
    await store(now - 10 * DAY, [SPEAKER]);
    await prune(env.DB, now);
    expect(await contextsOf(s.id)).toEqual([{ context: JSON.stringify(SPEAKER), refs: 1 }]);

    // Orphans are found through an index that holds only them, and collected a batch at a time.
    const { results: plan } = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT site_id, hash FROM event_contexts WHERE refs <= 0 LIMIT 10`,
    ).all<{ detail: string }>();
    expect(plan.map((r) => r.detail).join(" ")).toContain("event_contexts_orphans");
    await env.DB.batch(
      [1, 2, 3].map((i) =>
        env.DB.prepare(`INSERT INTO event_contexts (site_id, hash, context) VALUES (?, ?, '{"orphan":1}')`).bind(
          s.id,
          `orphan-${i}`,
        ),
      ),
    );
    expect((await prune(env.DB, now, 2)).contexts).toBe(2);
    expect((await prune(env.DB, now, 2)).contexts).toBe(1);
    expect(await contextsOf(s.id)).toEqual([{ context: JSON.stringify(SPEAKER), refs: 1 }]);
  });

  it("should move with its site to another database, each context still counting its events once", async () => {
    const s = await freshSite();
    await batch(s.publicKey, [...views(uid("a"), SPEAKER, 3), ...views(uid("b"), HEADPHONES, 2)]);
    await moveStep(env, s.id, "DB_TWO");
    const later = Date.now() + PAUSE_MS;
    let state = await moveStep(env, s.id, "DB_TWO", later);
    for (let i = 0; state.state !== "done" && i < 50; i++) state = await moveStep(env, s.id, "DB_TWO", later);
    expect(state).toMatchObject({ state: "done", home: "DB_TWO" });
    // Counted twice (copied, then again by the copied events' trigger), they would never reach 0:
    // an erased shopper's contexts would stay behind.
    expect(await contextsOf(s.id, env.DB_TWO as D1Database)).toEqual([
      { context: JSON.stringify(SPEAKER), refs: 3 },
      { context: JSON.stringify(HEADPHONES), refs: 2 },
    ]);
    expect(await contextsOf(s.id)).toEqual([]);
  });
});
