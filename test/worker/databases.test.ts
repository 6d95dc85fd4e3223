import { createExecutionContext, createMessageBatch, getQueueResult, SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consumeIngest } from "../../worker/src/ingest/queue";
import type { IngestJob } from "../../worker/src/ingest/queue";
import { abortMove, moveStep, PAUSE_MS } from "../../worker/src/jobs/move";
import { forgetCachedSites } from "../../worker/src/model/sites";
import { advance, BASE, clock, homeOf, post, product, uid } from "./helpers";

/**
 * Sites spread over several D1 databases (model/directory.ts): the test Worker binds DB (also the
 * directory) and DB_TWO, each with every migration applied.
 */

const OPERATOR = { authorization: "Bearer test-operator-token" };
const TWO = env.DB_TWO as D1Database;
const NEW = env.DB_NEW as D1Database;

interface Created {
  site: { id: string; home: string };
  keys: { publicKey: string; secretKey: string };
}

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function createSite(fields: Record<string, unknown> = {}): Promise<Created> {
  const res = await call(
    "POST",
    "/v1/operator/sites",
    { name: "Shop", url: "https://shop.example", ...fields },
    OPERATOR,
  );
  expect(res.status).toBe(201);
  return res.json();
}

/** A signed-in shopper who leaves a product in the cart, on the site of `publicKey`. */
async function shopper(publicKey: string, email: string) {
  const anonymousId = uid("anon");
  const res = await post("/v1/batch", {
    writeKey: publicKey,
    batch: [
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: "Product Added", properties: product("E7247") },
    ].map((m) => ({ messageId: crypto.randomUUID(), ...m })),
  });
  expect(res.status).toBe(200);
}

const count = async (db: D1Database, table: string, siteId: string) =>
  (
    await db
      .prepare(`SELECT count(*) AS n FROM "${table}" WHERE ${table === "sites" ? "id" : "site_id"} = ?`)
      .bind(siteId)
      .first<{ n: number }>()
  )?.n ?? 0;

const TABLES = ["sites", "events", "contacts", "identities", "carts", "cart_items", "messages", "campaigns"];
const rowsOf = async (db: D1Database, siteId: string) =>
  Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await count(db, t, siteId)] as const)));

const cartReminder = (delay: string) => ({
  name: "Cart reminder",
  trigger: { type: "cart" },
  steps: [{ delay, channel: "email", template: "cart_reminder" }],
  exit: { ordered: true },
});

async function outboxTo(secretKey: string, to: string) {
  const res = await call("GET", `/v1/admin/outbox?to=${encodeURIComponent(to)}`, undefined, {
    authorization: `Bearer ${secretKey}`,
  });
  expect(res.status).toBe(200);
  return (await res.json<{ messages: { to: string }[] }>()).messages;
}

describe("several databases", () => {
  it("should keep a site placed in DB_TWO wholly there: ingest, admin reads and the sweep", async () => {
    const { site, keys } = await createSite({ home: "DB_TWO" });
    expect(site.home).toBe("DB_TWO");
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    expect((await call("PUT", "/v1/admin/campaigns/cart", cartReminder("1h"), secret)).status).toBe(200);
    const email = `${uid("two")}@example.com`;
    await shopper(keys.publicKey, email);

    const there = await rowsOf(TWO, site.id);
    expect(there).toMatchObject({ sites: 1, events: 2, contacts: 1, carts: 1, messages: 1, campaigns: 1 });
    // The directory knows where it lives; nothing of the site's own is in the other database.
    expect(Object.values(await rowsOf(env.DB, site.id)).every((n) => n === 0)).toBe(true);
    const placed = await env.DB.prepare(`SELECT home FROM site_homes WHERE site_id = ?`).bind(site.id).first();
    expect(placed).toEqual({ home: "DB_TWO" });

    const contacts = await call("GET", `/v1/admin/contacts?email=${encodeURIComponent(email)}`, undefined, secret);
    expect(await contacts.text()).toContain(email);
    // The scheduled run sweeps every database: the reminder is sent from DB_TWO.
    await advance(2 * 3600_000);
    expect((await outboxTo(keys.secretKey, email)).length).toBe(1);
    expect(await TWO.prepare(`SELECT status FROM messages WHERE site_id = ?`).bind(site.id).first()).toEqual({
      status: "sent",
    });
  });

  it("should serve the pull URL of a segment of a site in DB_TWO, though the URL names no site", async () => {
    const { keys } = await createSite({ home: "DB_TWO" });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    const email = `${uid("pull")}@example.com`;
    await shopper(keys.publicKey, email);
    const rule = { all: [{ open_cart: true }] };
    expect((await call("PUT", "/v1/admin/segments/carts", { name: "Open carts", rule }, secret)).status).toBe(200);
    const made = await call("POST", "/v1/admin/segments/carts/feed", undefined, secret);
    expect(made.status).toBe(201);
    const pulled = await SELF.fetch(new URL((await made.json<{ url: string }>()).url).pathname.replace(/^/, BASE));
    expect(pulled.status).toBe(200);
    expect(await pulled.text()).toContain(email);
  });

  it("should put a new site in the directory's database when the operator names none", async () => {
    const { site } = await createSite();
    expect(site.home).toBe("DB");
    expect(await homeOf(site.id)).toBe(env.DB);
  });

  it("should show the operator each database with its sites and size", async () => {
    await createSite({ home: "DB_TWO" });
    const res = await call("GET", "/v1/operator/homes", undefined, OPERATOR);
    expect(res.status).toBe(200);
    const { homes, newSitesGoTo } = await res.json<{
      homes: { home: string; sites: number; bytes: number; ofLimit: number }[];
      newSitesGoTo: string;
    }>();
    expect(homes.map((h) => h.home)).toEqual(["DB", "DB_NEW", "DB_TWO"]);
    const placed = await env.DB.prepare(`SELECT count(*) AS n FROM site_homes WHERE home = 'DB_TWO'`).first<{
      n: number;
    }>();
    expect(homes[2]?.sites).toBe(placed?.n);
    for (const h of homes) expect(h.bytes).toBeGreaterThan(4096); // every one holds the schema at least
    expect(newSitesGoTo).toBe("DB");
    expect((await call("GET", "/v1/operator/homes")).status).toBe(401);
  });

  it("should refuse a database that is not bound, naming the ones that are", async () => {
    for (const home of ["DB_NOPE", "db", "KV", 7]) {
      const res = await call("POST", "/v1/operator/sites", { name: "x", url: "https://x.example", home }, OPERATOR);
      expect(res.status).toBe(400);
      const { error } = await res.json<{ error: { code: string; message: string } }>();
      expect(error.code).toBe("invalid_field");
      expect(error.message).toContain("home");
    }
    const res = await call(
      "POST",
      "/v1/operator/sites",
      { name: "x", url: "https://x.example", home: "DB_NOPE" },
      OPERATOR,
    );
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain("DB, DB_NEW, DB_TWO");
  });

  it("should apply a Queue delivery in each site's own database", async () => {
    const one = await createSite({ home: "DB" });
    const two = await createSite({ home: "DB_TWO" });
    const now = await clock();
    const job = (siteId: string): IngestJob => ({
      siteId,
      receivedAt: now,
      events: [
        {
          type: "track",
          messageId: uid("queued"),
          event: "Product Viewed",
          properties: product("E7247"),
          timestamp: now,
          anonymousId: uid("anon"),
          userId: null,
          previousId: null,
          traits: {},
          context: {},
          source: "browser",
        },
      ],
    });
    const batch = createMessageBatch(
      "nudge-ingest-test",
      [job(one.site.id), job(two.site.id)].map((body, i) => ({
        id: `job-${i}`,
        timestamp: new Date(),
        attempts: 1,
        body,
      })),
    );
    const ctx = createExecutionContext();
    await consumeIngest(env, batch, now);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(2);
    expect([await count(env.DB, "events", one.site.id), await count(TWO, "events", one.site.id)]).toEqual([1, 0]);
    expect([await count(env.DB, "events", two.site.id), await count(TWO, "events", two.site.id)]).toEqual([0, 1]);
  });
});

describe("moving a site between databases", () => {
  it("should pause the site, copy every row, switch, clean up, and send what was due from the new home", async () => {
    const { site, keys } = await createSite({ home: "DB" });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    expect((await call("PUT", "/v1/admin/campaigns/cart", cartReminder("3h"), secret)).status).toBe(200);
    const emails = Array.from({ length: 3 }, () => `${uid("mover")}@example.com`);
    for (const email of emails) await shopper(keys.publicKey, email);
    const before = await rowsOf(env.DB, site.id);
    expect(before).toMatchObject({ sites: 1, contacts: 3, messages: 3 });

    const first = await call("POST", `/v1/operator/sites/${site.id}/move`, { to: "DB_NEW" }, OPERATOR);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ state: "paused", movingTo: "DB_NEW" });
    forgetCachedSites(); // this isolate would otherwise route by its cached placement for 10 s
    // Paused: the shop's requests are told to come back, the admin API too, and nothing is taken.
    const refused = await post("/v1/batch", {
      writeKey: keys.publicKey,
      batch: [{ type: "track", messageId: crypto.randomUUID(), anonymousId: "a", event: "Product Viewed" }],
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe("site_moving");
    expect((await call("GET", "/v1/admin/contacts", undefined, secret)).status).toBe(503);
    // The sweep leaves both databases alone meanwhile.
    const tick = await post("/v1/dev/tick", {}, { authorization: "Bearer sk_demo" });
    expect((await tick.json<{ errors: string[] }>()).errors).toEqual(
      expect.arrayContaining(["DB: waits while a site moves", "DB_NEW: waits while a site moves"]),
    );
    // Copying waits until no isolate can still route by a placement read before the pause.
    expect(await moveStep(env, site.id, "DB_NEW")).toMatchObject({ state: "paused" });

    const later = Date.now() + PAUSE_MS;
    let state = await moveStep(env, site.id, "DB_NEW", later);
    for (let i = 0; state.state !== "done" && i < 50; i++) state = await moveStep(env, site.id, "DB_NEW", later);
    expect(state).toMatchObject({ state: "done", home: "DB_NEW" });

    expect(await rowsOf(NEW, site.id)).toEqual(before);
    expect(Object.values(await rowsOf(env.DB, site.id)).every((n) => n === 0)).toBe(true);
    forgetCachedSites();
    // The same keys work at once, now against DB_TWO; the reminders go out from there.
    await shopper(keys.publicKey, `${uid("after")}@example.com`);
    expect(await count(NEW, "contacts", site.id)).toBe(4);
    await advance(4 * 3600_000);
    for (const email of emails) expect((await outboxTo(keys.secretKey, email)).length).toBe(1);
  });

  it("should stop at a row id another site already uses in the new database, and abort cleanly", async () => {
    const { site, keys } = await createSite({ home: "DB" });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    expect((await call("PUT", "/v1/admin/campaigns/cart", cartReminder("3h"), secret)).status).toBe(200);
    await shopper(keys.publicKey, `${uid("clash")}@example.com`);
    const mine = await env.DB.prepare(`SELECT id FROM messages WHERE site_id = ?`)
      .bind(site.id)
      .first<{ id: number }>();
    // Another site's message in DB_TWO with the very same id.
    await TWO.prepare(
      `INSERT INTO messages (id, site_id, contact_id, campaign, step, channel, dedupe_key, due_at, status, created_at)
       VALUES (?, 'someone-else', 'c', 'cart', 0, 'email', ?, 0, 'cancelled', 0) ON CONFLICT (id) DO NOTHING`,
    )
      .bind(mine?.id, uid("dedupe"))
      .run();

    await moveStep(env, site.id, "DB_TWO");
    const later = Date.now() + PAUSE_MS;
    const conflict = await (async () => {
      for (let i = 0; i < 50; i++) await moveStep(env, site.id, "DB_TWO", later);
    })().then(
      () => null,
      (e: unknown) => e as { status: number; getResponse(): Response },
    );
    expect(conflict?.status).toBe(409);
    expect(await conflict?.getResponse().text()).toContain("move_conflict");

    let state = await abortMove(env, site.id);
    for (let i = 0; state.state !== "done" && i < 50; i++) state = await abortMove(env, site.id);
    expect(state).toMatchObject({ state: "done", home: "DB" });
    expect(Object.values(await rowsOf(TWO, site.id)).every((n) => n === 0)).toBe(true);
    expect(await TWO.prepare(`SELECT site_id FROM messages WHERE id = ?`).bind(mine?.id).first()).not.toEqual({
      site_id: site.id,
    });
    forgetCachedSites();
    expect(await rowsOf(env.DB, site.id)).toMatchObject({ sites: 1, contacts: 1, messages: 1 });
    await shopper(keys.publicKey, `${uid("stays")}@example.com`);
  });
});
