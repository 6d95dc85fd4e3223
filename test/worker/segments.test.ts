import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { compileRule, contactMatches, parseRule, RuleError } from "../../worker/src/segments/rules";
import { BASE, post, SECRET } from "./helpers";

const NOW = Date.UTC(2027, 0, 15, 12);
const DAY = 86400_000;
const SITE = "seg";

/** Five people whose answers every rule below is checked against. */
const PEOPLE = {
  ada: {
    traits: { locale: "fr", gender: "female", newsletter: true },
    last_seen: NOW - DAY,
    orders: [
      [NOW - 30 * DAY, 600_00],
      [NOW - 400 * DAY, 900_00],
    ],
    views: ["E7247"],
    cart: true,
  },
  bo: {
    traits: { locale: "en", gender: "male" },
    last_seen: NOW - 200 * DAY,
    orders: [[NOW - 200 * DAY, 50_00]],
    views: [],
    cart: false,
  },
  cy: {
    traits: { locale: "ru", gender: "female", newsletter: "yes" },
    last_seen: NOW - 2 * DAY,
    orders: [],
    views: ["H100"],
    cart: false,
  },
  di: { traits: { locale: "en" }, last_seen: NOW - 400 * DAY, orders: [], views: [], cart: true, unsubscribed: true },
  ev: {
    traits: { locale: "fr-CA", note: "'; DROP TABLE contacts; --" },
    last_seen: NOW,
    orders: [[NOW - 10 * DAY, 100_00]],
    views: ["E7247"],
    cart: false,
  },
} as const;

beforeAll(async () => {
  const db = env.DB;
  const s: D1PreparedStatement[] = [
    db
      .prepare(
        `INSERT INTO sites (id, name, public_key, secret_hash, url, created_at) VALUES (?, 'seg', 'pk_seg', 'h_seg', 'https://seg.example', 0)`,
      )
      .bind(SITE),
  ];
  for (const [id, p] of Object.entries(PEOPLE)) {
    const placed = p.orders.map(([, total]) => total);
    s.push(
      db
        .prepare(
          `INSERT INTO contacts (site_id, id, email, traits, first_seen, last_seen, orders_count, total_spent, last_order_at, unsubscribed)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          SITE,
          id,
          `${id}@example.com`,
          JSON.stringify(p.traits),
          NOW - 500 * DAY,
          p.last_seen,
          placed.length,
          placed.reduce((a, b) => a + b, 0),
          p.orders[0]?.[0] ?? null,
          "unsubscribed" in p ? 1 : 0,
        ),
      ...p.orders.map(([at, total], i) =>
        db
          .prepare(
            `INSERT INTO orders (site_id, order_id, contact_id, total, currency, placed_at) VALUES (?, ?, ?, ?, 'GBP', ?)`,
          )
          .bind(SITE, `${id}-${i}`, id, total, at),
      ),
      ...p.views.map((product) =>
        db
          .prepare(`INSERT INTO product_views (site_id, contact_id, product_id, viewed_at) VALUES (?, ?, ?, ?)`)
          .bind(SITE, id, product, NOW - 3 * DAY),
      ),
    );
    if (p.cart)
      s.push(
        db
          .prepare(
            `INSERT INTO cart_items (site_id, contact_id, product_id, name, price, quantity) VALUES (?, ?, 'X', 'X', 100, 1)`,
          )
          .bind(SITE, id),
      );
  }
  await db.batch(s);
});

/** Who matches, asked both ways: the bulk scan, and each contact on its own (as at event time). */
async function matches(input: unknown) {
  const { sql, params } = compileRule(parseRule(input), NOW);
  const bulk = await env.DB.prepare(`SELECT c.id FROM contacts c WHERE c.site_id = ? AND ${sql} ORDER BY c.id`)
    .bind(SITE, ...params)
    .all<{ id: string }>();
  const single: string[] = [];
  for (const id of Object.keys(PEOPLE))
    if (await contactMatches(env.DB, SITE, id, parseRule(input), NOW)) single.push(id);
  const ids = (bulk.results ?? []).map((r) => r.id);
  expect(single).toEqual(ids);
  return ids;
}

describe("segments", () => {
  it.each([
    [{ attr: "gender", op: "eq", value: "female" }, ["ada", "cy"]],
    [{ attr: "gender", op: "ne", value: "female" }, ["bo", "di", "ev"]],
    [{ attr: "locale", op: "in", value: ["fr", "ru"] }, ["ada", "cy"]],
    [{ attr: "locale", op: "contains", value: "FR" }, ["ada", "ev"]],
    [{ attr: "gender", op: "exists" }, ["ada", "bo", "cy"]],
    [{ attr: "note", op: "eq", value: "'; DROP TABLE contacts; --" }, ["ev"]],
    [{ metric: "orders_count", op: "gte", value: 1 }, ["ada", "bo", "ev"]],
    [{ metric: "total_spent", op: "gt", value: 1000_00 }, ["ada"]],
    [{ metric: "spend_365d", op: "gte", value: 500_00 }, ["ada"]],
    [{ metric: "spend_365d", op: "lt", value: 100_00 }, ["bo", "cy", "di"]],
    [{ metric: "days_since_last_order", op: "gte", value: 180 }, ["bo"]],
    [{ metric: "days_since_last_seen", op: "lte", value: 1 }, ["ada", "ev"]],
    [{ viewed_product: "E7247", within_days: 7 }, ["ada", "ev"]],
    [{ viewed_product: "E7247", within_days: 1 }, []],
    [{ viewed_product: "*" }, ["ada", "cy", "ev"]],
    [{ open_cart: true }, ["ada", "di"]],
    [{ opted_in: true }, ["ada", "cy"]],
    [{ never_ordered: true }, ["cy", "di"]],
    [{ inactive_days: 180 }, ["bo", "di"]],
    [{ any: [{ inactive_days: 180 }, { never_ordered: true }] }, ["bo", "cy", "di"]],
    [{ all: [{ attr: "gender", op: "eq", value: "female" }, { not: { open_cart: true } }] }, ["cy"]],
  ])("should match %j", async (rule, expected) => {
    expect(await matches(rule)).toEqual(expected);
  });

  it.each([
    [{ attr: "x y", op: "eq", value: 1 }, /trait name/],
    [{ metric: "lifetime_value", op: "gt", value: 1 }, /metric must be one of/],
    [{ metric: "orders_count", op: ">", value: 1 }, /op must be one of/],
    [{ all: [] }, /1 to 20 rules/],
    [{ inactive_days: -3 }, /positive/],
    [{ shoe_size: 42 }, /is not a rule/],
    [{ not: { not: { not: { not: { not: { not: { not: { open_cart: true } } } } } } } }, /deeper than 6/],
  ])("should reject %j with a clear message", (rule, message) => {
    expect(() => parseRule(rule)).toThrow(RuleError);
    expect(() => parseRule(rule)).toThrow(message);
  });

  it("should count an audience through the admin API and explain a bad rule", async () => {
    await post("/v1/batch", {
      writeKey: "pk_demo",
      batch: [
        {
          type: "identify",
          messageId: crypto.randomUUID(),
          anonymousId: "a1",
          traits: { email: "seg@example.com", gender: "female" },
        },
      ],
    });
    const ok = await post(
      "/v1/admin/campaigns/audience",
      { segment: { attr: "gender", op: "eq", value: "female" } },
      SECRET,
    );
    expect(await ok.json()).toEqual({ count: 1 });
    const bad = await post("/v1/admin/campaigns/audience", { segment: { metric: "nope" } }, SECRET);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: "invalid_segment", message: expect.stringContaining("segment.metric") },
    });
    expect((await SELF.fetch(`${BASE}/v1/admin/campaigns/audience`, { method: "POST" })).status).toBe(401);
  });

  it("should obey boolean algebra for any rule: a segment and its negation split everyone", async () => {
    const leaves = [
      { attr: "gender", op: "eq", value: "female" },
      { attr: "gender", op: "ne", value: "male" },
      { attr: "shoe", op: "exists" },
      { metric: "spend_365d", op: "gte", value: 500_00 },
      { metric: "days_since_last_order", op: "lt", value: 100 },
      { viewed_product: "*", within_days: 7 },
      { open_cart: true },
      { opted_in: true },
      { inactive_days: 180 },
    ];
    const rule: fc.Arbitrary<unknown> = fc.letrec<{ rule: unknown }>((tie) => ({
      rule: fc.oneof(
        { maxDepth: 3, withCrossShrink: true },
        fc.constantFrom(...leaves),
        fc.record({ all: fc.array(tie("rule"), { minLength: 1, maxLength: 3 }) }),
        fc.record({ any: fc.array(tie("rule"), { minLength: 1, maxLength: 3 }) }),
        fc.record({ not: tie("rule") }),
      ),
    })).rule;
    const everyone = Object.keys(PEOPLE).sort();
    await fc.assert(
      fc.asyncProperty(rule, rule, async (a, b) => {
        const inA = await matches(a);
        const notA = await matches({ not: a });
        expect([...inA, ...notA].sort()).toEqual(everyone);
        const inB = await matches(b);
        expect(await matches({ all: [a, b] })).toEqual(inA.filter((id) => inB.includes(id)));
        expect(await matches({ any: [a, b] })).toEqual(everyone.filter((id) => inA.includes(id) || inB.includes(id)));
      }),
      { numRuns: 25 },
    );
  });
});
