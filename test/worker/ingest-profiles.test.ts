import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enqueue } from "../../worker/src/ingest/inbox";
import { applyBatch, drainInbox } from "../../worker/src/ingest/process";
import { validateMessage } from "../../worker/src/ingest/validate";
import type { Message } from "../../worker/src/model/events";
import { mintCoupon } from "../../worker/src/model/coupons";
import { siteById } from "../../worker/src/model/sites";
import { MERGED_TABLES } from "../../worker/src/model/contacts";
import { contactTables } from "../../worker/src/model/privacy";
import { advance, BASE, clock, post, product, SECRET, send, sendAsServer, uid } from "./helpers";

const DAY = 24 * 3600 * 1000;

interface Profile {
  id: string;
  email: string | null;
  ordersCount: number;
  totalSpent: number;
  spent365: number;
  lastOrderAt: number | null;
  cart: { items: number; value: number; updatedAt: number } | null;
  lastViewed: { productId: string }[];
  identities: { kind: string; value: string }[];
}

async function lookup(query: string) {
  const res = await SELF.fetch(`${BASE}/v1/admin/contacts?${query}`, { headers: SECRET });
  return { status: res.status, body: await res.json<{ contact: Profile; error?: { code: string } }>() };
}

describe("Segment call types", () => {
  it("should accept /v1/page, /v1/screen and /v1/group, and link ids on /v1/alias", async () => {
    const anonymousId = uid("a");
    const userId = uid("u");
    for (const [path, extra] of [
      ["/v1/page", { name: "Home", properties: { url: "https://shop.example/" } }],
      ["/v1/screen", { name: "Cart" }],
      ["/v1/group", { groupId: "g1" }],
    ] as const) {
      const res = await post(path, { writeKey: "pk_demo", messageId: crypto.randomUUID(), anonymousId, ...extra });
      expect(res.status, path).toBe(200);
    }
    const alias = await post("/v1/alias", {
      writeKey: "pk_demo",
      messageId: crypto.randomUUID(),
      previousId: anonymousId,
      userId,
    });
    expect(alias.status).toBe(200);
    const { body } = await lookup(`userId=${userId}`);
    expect(body.contact.identities).toEqual(
      expect.arrayContaining([
        { kind: "anonymous", value: anonymousId },
        { kind: "user", value: userId },
      ]),
    );
    const types = await env.DB.prepare(`SELECT type FROM events WHERE contact_id = ? ORDER BY type`)
      .bind(body.contact.id)
      .all<{ type: string }>();
    expect(types.results.map((r) => r.type)).toEqual(["alias", "group", "page", "screen"]);
  });
});

describe("identity merge", () => {
  it("should merge two known contacts' histories when a login shows they are one person", async () => {
    const userId = uid("u");
    const email = `${uid("m")}@example.com`;
    const phone = uid("phone");
    const laptop = uid("laptop");
    // A phone shopper signs in with a user id and buys; a laptop shopper adds to the cart anonymously.
    await send([
      { type: "identify", anonymousId: phone, userId },
      { type: "track", anonymousId: laptop, event: "Product Added", properties: product("E7247", 79) },
    ]);
    // The order is the merchant's to report; so is the link between the laptop and the account (an
    // unverified browser never merges into a known contact: SECURITY.md).
    await sendAsServer([
      {
        type: "track",
        anonymousId: phone,
        userId,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 30 },
      },
    ]);
    // Later, on the laptop, they sign in with the same user id and an email; the store's server says so.
    await sendAsServer([{ type: "identify", anonymousId: laptop, userId, traits: { email } }]);

    const { body } = await lookup(`email=${encodeURIComponent(email)}`);
    expect(body.contact).toMatchObject({ ordersCount: 1, totalSpent: 3000, cart: { items: 1, value: 7900 } });
    expect(body.contact.identities.map((i) => i.value).sort()).toEqual([email, laptop, phone, userId].sort());
    const rows = await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE contact_id = ?`)
      .bind(body.contact.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(4);
  });
});

describe("merge coverage", () => {
  it("should move rows of every per-contact table in the schema, coupon redemptions included", async () => {
    expect(await contactTables(env.DB)).toEqual(MERGED_TABLES.filter((t) => t !== "contacts"));

    // A redemption made while anonymous follows the shopper into their known contact, so a
    // once-per-customer code stays used after the merge.
    const userId = uid("u");
    const anonymousId = uid("anon");
    await send([{ type: "identify", anonymousId: uid("other-device"), userId }]);
    await send([{ type: "track", anonymousId, event: "Product Viewed", properties: product("P1") }]);
    const before = await lookup(`anonymousId=${anonymousId}`);
    await env.DB.prepare(
      `INSERT INTO coupon_redemptions (site_id, code, order_id, contact_id, redeemed_at) VALUES ('demo', ?, ?, ?, ?)`,
    )
      .bind(uid("CODE"), uid("o"), before.body.contact.id, Date.now())
      .run();
    // The merchant's server links this browser to the known account (a browser alone may not).
    await sendAsServer([{ type: "identify", anonymousId, userId }]);
    const after = await lookup(`userId=${userId}`);
    expect(after.body.contact.id).not.toBe(before.body.contact.id);
    const moved = await env.DB.prepare(`SELECT contact_id FROM coupon_redemptions WHERE contact_id IN (?, ?)`)
      .bind(before.body.contact.id, after.body.contact.id)
      .all<{ contact_id: string }>();
    expect(moved.results.map((r) => r.contact_id)).toEqual([after.body.contact.id]);
  });
});

describe("identity merge of two known contacts", () => {
  it("should merge a contact known by email into the one known by user id once an event ties them", async () => {
    const email = `${uid("m")}@example.com`;
    const userId = uid("u");
    const [newsletter, account] = [uid("nl"), uid("acct")];
    await sendAsServer([
      { type: "identify", anonymousId: newsletter, traits: { email } },
      {
        type: "track",
        anonymousId: newsletter,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 5 },
      },
      { type: "identify", anonymousId: account, userId },
      { type: "track", anonymousId: account, event: "Order Completed", properties: { order_id: uid("o"), total: 7 } },
    ]);
    await sendAsServer([{ type: "identify", anonymousId: account, userId, traits: { email } }]);
    const byEmail = await lookup(`email=${encodeURIComponent(email)}`);
    const byUser = await lookup(`userId=${userId}`);
    expect(byEmail.body.contact.id).toBe(byUser.body.contact.id);
    expect(byUser.body.contact).toMatchObject({ email, ordersCount: 2, totalSpent: 1200 });
  });
});

describe("concurrent requests about one new shopper", () => {
  it("should create one contact, as Segment's libraries send batches in parallel", async () => {
    for (let round = 0; round < 5; round++) {
      const userId = uid("par");
      const email = `${userId}@example.com`;
      await Promise.all([
        sendAsServer([
          { type: "identify", userId, traits: { email } },
          { type: "track", userId, event: "Order Completed", properties: { order_id: uid("o"), total: 3 } },
        ]),
        sendAsServer([{ type: "alias", previousId: `${userId}-old`, userId }]),
        sendAsServer([{ type: "page", userId, name: "Home" }]),
      ]);
      const { body } = await lookup(`userId=${userId}`);
      expect(body.contact).toMatchObject({ email, ordersCount: 1 });
      const events = await env.DB.prepare(
        `SELECT count(DISTINCT contact_id) AS n, count(*) AS e FROM events WHERE user_id = ?`,
      )
        .bind(userId)
        .first<{ n: number; e: number }>();
      expect(events).toEqual({ n: 1, e: 4 });
    }
  });
});

describe("aggregates", () => {
  it("should keep orders, trailing 365-day spend, open cart and last viewed products", async () => {
    const anonymousId = uid("a");
    const now = await clock();
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    await sendAsServer([
      { type: "identify", anonymousId, traits: { email: `${uid("r")}@example.com` } },
      {
        type: "track",
        anonymousId,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 100 },
        timestamp: at(400 * DAY),
      },
      {
        type: "track",
        anonymousId,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 25.5 },
        timestamp: at(10 * DAY),
      },
      { type: "track", anonymousId, event: "Product Viewed", properties: product("P-OLD"), timestamp: at(DAY) },
      { type: "track", anonymousId, event: "Product Viewed", properties: product("P-NEW"), timestamp: at(60_000) },
      { type: "track", anonymousId, event: "Product Added", properties: product("P-NEW", 12.5, 2) },
    ]);
    const { body } = await lookup(`anonymousId=${anonymousId}`);
    expect(body.contact).toMatchObject({ ordersCount: 2, totalSpent: 12550, spent365: 2550 });
    expect(body.contact.lastOrderAt).toBe(now - 10 * DAY);
    expect(body.contact.cart).toMatchObject({ items: 2, value: 2500 });
    expect(body.contact.lastViewed.map((v) => v.productId)).toEqual(["P-NEW", "P-OLD"]);
  });

  it("should answer an unknown contact with 404 and a bad lookup with 400", async () => {
    expect((await lookup(`email=${uid("nobody")}%40example.com`)).status).toBe(404);
    expect((await lookup("")).status).toBe(400);
  });
});

describe("accepted batches applied by the request or the sweep", () => {
  const messages = (anonymousId: string, n: number): Message[] =>
    Array.from({ length: n }, (_, i) => {
      const m = validateMessage(
        {
          type: "track",
          messageId: `${anonymousId}-${i % 3}`,
          anonymousId,
          event: "Product Viewed",
          properties: product(`P${i}`),
        },
        i,
        Date.now(),
        null,
        "browser",
      );
      if ("code" in m) throw new Error(m.message);
      return m;
    });
  const eventsOf = async (anonymousId: string) =>
    env.DB.prepare(`SELECT processed, contact_id FROM events WHERE site_id = 'demo' AND anonymous_id = ?`)
      .bind(anonymousId)
      .all<{ processed: number; contact_id: string | null }>();

  it("should store each messageId once and apply it once when a request's commit races the sweep", async () => {
    const anonymousId = uid("a");
    const sites = (id: string) => siteById(env.DB, id);
    const site = await sites("demo");
    if (!site) throw new Error("no demo site");
    const id = await enqueue(env.DB, "demo", messages(anonymousId, 6), Date.now());
    await enqueue(env.DB, "demo", messages(anonymousId, 6), Date.now()); // the same batch, resent
    expect((await eventsOf(anonymousId)).results).toHaveLength(0); // accepted, not yet applied

    // A request sending the same batch again, while the sweep drains the inbox: whichever stores an
    // event first applies it. A request that loses the race falls back to the inbox, as the route does.
    const request = async () => {
      const batch = messages(anonymousId, 6);
      if (!(await applyBatch(env.DB, site, batch, Date.now()))) await enqueue(env.DB, "demo", batch, Date.now());
    };
    await Promise.all([request(), drainInbox(env.DB, sites, Date.now())]);
    await drainInbox(env.DB, sites, Date.now());
    const rows = (await eventsOf(anonymousId)).results;
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.processed === 1 && r.contact_id === rows[0]?.contact_id)).toBe(true);
    const views = await env.DB.prepare(`SELECT sum(views) AS n FROM product_views WHERE contact_id = ?`)
      .bind(rows[0]?.contact_id)
      .first<{ n: number }>();
    expect(views?.n).toBe(3);
    const left = await env.DB.prepare(`SELECT count(*) AS n FROM inbox WHERE id = ?`).bind(id).first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("should apply a batch left in the inbox when the sweep runs", async () => {
    const anonymousId = uid("a");
    await enqueue(env.DB, "demo", messages(anonymousId, 2), Date.now());
    const swept = await advance(0);
    expect(swept).toMatchObject({ now: expect.any(String) });
    expect((await eventsOf(anonymousId)).results.map((r) => r.processed)).toEqual([1, 1]);
  });
});

describe("benchmark endpoints (development only)", () => {
  it("should validate and store a batch on /v1/noop/store without applying it, and refuse it twice", async () => {
    const anonymousId = uid("store");
    const body = {
      writeKey: "pk_demo",
      batch: [
        { type: "track", messageId: uid("m"), anonymousId, event: "Product Viewed", properties: product("P1") },
        { type: "track", messageId: uid("m"), event: "No one sent this" },
      ],
    };
    const res = await post("/v1/noop/store", body, { "cf-connecting-ip": "10.9.0.1" });
    expect(await res.json()).toMatchObject({ success: true, accepted: 1, errors: [{ index: 1 }] });
    const rows = await env.DB.prepare(`SELECT contact_id, event FROM events WHERE anonymous_id = ?`)
      .bind(anonymousId)
      .all();
    expect(rows.results).toEqual([{ contact_id: null, event: "Product Viewed" }]);
    expect(
      await env.DB.prepare(`SELECT count(*) AS n FROM identities WHERE value = ?`).bind(anonymousId).first("n"),
    ).toBe(0);
    const again = await post("/v1/noop/store", body, { "cf-connecting-ip": "10.9.0.1" });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "already_stored" } });
  });

  it("should parse a batch on /v1/noop and store nothing; /v1/dev/backlog counts what is not applied", async () => {
    const anonymousId = uid("noop");
    const res = await post("/v1/noop", {
      writeKey: "pk_demo",
      batch: [{ type: "track", messageId: uid("m"), anonymousId, event: "X" }],
    });
    expect(await res.json()).toMatchObject({ success: true, accepted: 1 });
    const stored = await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE anonymous_id = ?`)
      .bind(anonymousId)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);

    const backlog = async () =>
      (await SELF.fetch(`${BASE}/v1/dev/backlog`, { headers: SECRET })).json<{ batches: number }>();
    const before = await backlog();
    await enqueue(env.DB, "demo", [], Date.now());
    expect((await backlog()).batches).toBe(before.batches + 1);
    await drainInbox(env.DB, (id) => siteById(env.DB, id), Date.now());
    expect((await backlog()).batches).toBe(0);
  });
});

describe("export and erasure", () => {
  it("should export everything about a contact and erase it leaving nothing behind", async () => {
    const anonymousId = uid("erase-anon");
    const email = `${uid("erase")}@example.com`;
    const orderId = uid("erase-order");
    await send([
      { type: "track", anonymousId, event: "Product Viewed", properties: product("E7247") },
      { type: "identify", anonymousId, traits: { email, name: "Grace" } },
    ]);
    await sendAsServer([
      { type: "track", anonymousId, event: "Order Completed", properties: { order_id: orderId, total: 10 } },
    ]);
    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("E7247") }]);
    const { body } = await lookup(`email=${encodeURIComponent(email)}`);
    const contactId = body.contact.id;
    const now = await clock();
    await mintCoupon(env.DB, { siteId: "demo", promotionId: "p", contactId, source: "test", now });
    await mintCoupon(env.DB, { siteId: "demo", promotionId: "p", anonymousId, source: "exit_intent", now });
    await advance(2 * 3600_000); // the abandoned-cart reminder goes out: a message and an outbox row
    // An event accepted but not applied yet is covered too.
    await enqueue(
      env.DB,
      "demo",
      [
        {
          type: "track",
          messageId: uid("late"),
          anonymousId,
          userId: null,
          previousId: null,
          event: "Page Left",
          properties: {},
          traits: {},
          context: {},
          timestamp: now,
          source: "browser",
        },
      ],
      now,
    );

    const exported = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}/export`, { headers: SECRET });
    expect(exported.status).toBe(200);
    const dump = await exported.json<{ contact: { email: string }; data: Record<string, unknown[]> }>();
    expect(dump.contact.email).toBe(email);
    for (const table of [
      "events",
      "identities",
      "orders",
      "carts",
      "cart_items",
      "product_views",
      "messages",
      "outbox",
      "coupons",
    ])
      expect(dump.data[table]?.length, table).toBeGreaterThan(0);
    expect(dump.data.events).toHaveLength(5);
    expect(dump.data.coupons).toHaveLength(2);

    const erased = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}`, { method: "DELETE", headers: SECRET });
    expect(erased.status).toBe(200);

    // Nothing in any table still mentions the person.
    const tables = await env.DB.prepare(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_cf%' ESCAPE '\\'`,
    ).all<{ name: string }>();
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM ${name}`).all();
      const text = JSON.stringify(rows.results);
      for (const trace of [contactId, email, anonymousId, orderId])
        expect(text.includes(trace), `${name}: ${trace}`).toBe(false);
    }
    expect((await lookup(`email=${encodeURIComponent(email)}`)).status).toBe(404);
    const again = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}`, { method: "DELETE", headers: SECRET });
    expect(again.status).toBe(404);
  });

  it("should need the secret key", async () => {
    const res = await SELF.fetch(`${BASE}/v1/admin/contacts/x/export`, {
      headers: { authorization: "Bearer pk_demo" },
    });
    expect(res.status).toBe(401);
  });
});
