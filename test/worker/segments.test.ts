import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { profile } from "../../worker/src/model/contacts";
import { rfmStatements } from "../../worker/src/segments/rfm";
import { compileRule, contactMatches, parseRule, RuleError } from "../../worker/src/segments/rules";
import { advance, BASE, post, SECRET } from "./helpers";

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
      [NOW - 500 * DAY, 10_00],
    ],
    views: ["E7247", "H100", "H100", "H100"],
    cart: true,
    // Product Viewed events: [days ago, product, category].
    events: [
      [1, "H100", "Headphones"],
      [2, "H100", "Headphones"],
      [5, "H100", "Headphones"],
    ],
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
    events: [[40, "H100", "Headphones"]],
  },
  di: { traits: { locale: "en" }, last_seen: NOW - 400 * DAY, orders: [], views: [], cart: true, unsubscribed: true },
  ev: {
    traits: { locale: "fr-CA", note: "'; DROP TABLE contacts; --" },
    last_seen: NOW,
    orders: [[NOW - 10 * DAY, 100_00]],
    views: ["E7247"],
    cart: false,
    events: [
      [2, "E7247", "Speakers"],
      [40, "E7247", "Speakers"],
      [41, "E7247", "Speakers"],
    ],
  },
} as const;
// The catalogue's categories, read by top_category.
const CATALOGUE = [
  ["E7247", "Speakers"],
  ["H100", "Headphones"],
];

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
      // A product listed n times was viewed n times.
      ...p.views.map((product) =>
        db
          .prepare(
            `INSERT INTO product_views (site_id, contact_id, product_id, viewed_at) VALUES (?, ?, ?, ?)
             ON CONFLICT DO UPDATE SET views = views + 1`,
          )
          .bind(SITE, id, product, NOW - 3 * DAY),
      ),
      ...("events" in p ? p.events : []).map(([daysAgo, product, category], i) =>
        db
          .prepare(
            `INSERT INTO events (site_id, message_id, type, event, contact_id, properties, timestamp, received_at, processed)
             VALUES (?, ?, 'track', 'Product Viewed', ?, ?, ?, ?, 1)`,
          )
          .bind(
            SITE,
            `${id}-e${i}`,
            id,
            JSON.stringify({ product_id: product, category }),
            NOW - daysAgo * DAY,
            NOW - daysAgo * DAY,
          ),
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
  for (const [product, category] of CATALOGUE)
    s.push(
      db
        .prepare(
          `INSERT INTO products (site_id, product_id, name, price, currency, category, updated_at, merchant)
           VALUES (?, ?, ?, 100, 'GBP', ?, 0, 1)`,
        )
        .bind(SITE, product, product, category),
    );
  await db.batch(s);
  // The scheduler's RFM refresh, as of NOW.
  await db.batch(rfmStatements(db, SITE, NOW));
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
    // Lifecycle: ada has 3 orders (loyal), bo's only order is 200 days old (lapsing), ev ordered
    // 10 days ago (customer); cy never ordered (prospect), di never ordered and has a cart.
    [{ stage: "loyal" }, ["ada"]],
    [{ stage: "lapsing" }, ["bo"]],
    [{ stage: ["customer", "left_cart"] }, ["di", "ev"]],
    [{ stage: "prospect" }, ["cy"]],
    // RFM among the 3 customers, 1 + ⌊5 · (rank − 1) / 3⌋: recency bo 1, ada 2, ev 4; frequency
    // bo and ev tie (1), ada 4; monetary bo 1, ev 2, ada 4. cy and di have no scores.
    [{ metric: "rfm_recency", op: "gte", value: 4 }, ["ev"]],
    [{ metric: "rfm_recency", op: "eq", value: 2 }, ["ada"]],
    [{ metric: "rfm_frequency", op: "eq", value: 1 }, ["bo", "ev"]],
    [{ metric: "rfm_monetary", op: "gte", value: 2 }, ["ada", "ev"]],
    [{ metric: "rfm_monetary", op: "lte", value: 5 }, ["ada", "bo", "ev"]],
    // Behaviour: an event n times in d days, optionally about a product or category.
    [{ did: "Product Viewed", at_least: 3, within_days: 7 }, ["ada"]],
    [{ did: "Product Viewed", at_least: 3 }, ["ada", "ev"]],
    [{ did: "Product Viewed", within_days: 7, where: { category: "Speakers" } }, ["ev"]],
    [{ did: "Product Viewed", where: { product_id: "H100", category: "Headphones" } }, ["ada", "cy"]],
    [{ did: "Order Completed" }, []],
    // Affinity: the category of the products they viewed most (ada: H100 ×3 over E7247 ×1).
    [{ top_category: "Headphones" }, ["ada", "cy"]],
    [{ top_category: "Speakers" }, ["ev"]],
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
    [{ stage: "vip" }, /stage must be one of prospect, left_cart, customer, loyal, lapsing/],
    [{ did: "Product Viewed", at_least: 0 }, /at_least must be a whole number/],
    [{ did: "Product Viewed", where: { sku: "E7247" } }, /where must be \{ product_id\?, category\? \}/],
    [{ top_category: "" }, /top_category must be a category name/],
    [
      {
        any: Array.from({ length: 17 }, () => ({
          did: "X",
          within_days: 1,
          where: { product_id: "p", category: "c" },
        })),
      },
      /binds more than 80 values/,
    ],
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

  it("should show each contact's stage and RFM scores on their profile, as the rules read them", async () => {
    expect(await profile(env.DB, SITE, "ada", NOW)).toMatchObject({
      stage: "loyal",
      rfm: { recency: 2, frequency: 4, monetary: 4 },
    });
    expect(await profile(env.DB, SITE, "bo", NOW)).toMatchObject({
      stage: "lapsing",
      rfm: { recency: 1, frequency: 1, monetary: 1 },
    });
    expect(await profile(env.DB, SITE, "di", NOW)).toMatchObject({ stage: "left_cart", rfm: null });
  });

  it("should refresh each site's RFM scores from the scheduler, at most once a day", async () => {
    const db = env.DB;
    const monetary = async () =>
      (
        await db
          .prepare(`SELECT id, rfm_m FROM contacts WHERE site_id = ? ORDER BY id`)
          .bind(SITE)
          .all<{ id: string; rfm_m: number | null }>()
      ).results.map((r) => [r.id, r.rfm_m]);
    const forget = () => db.prepare(`UPDATE contacts SET rfm_m = NULL WHERE site_id = ?`).bind(SITE).run();
    const scored = [
      ["ada", 4],
      ["bo", 1],
      ["cy", null],
      ["di", null],
      ["ev", 2],
    ];
    await forget();
    await db.prepare(`DELETE FROM rfm_runs WHERE site_id = ?`).bind(SITE).run();
    await advance(60_000);
    expect(await monetary()).toEqual(scored);
    // Within the day the sweep leaves them (the wiped scores stay wiped); a day on, it rescored.
    await forget();
    await advance(3600_000);
    expect((await monetary()).every(([, m]) => m === null)).toBe(true);
    await advance(DAY);
    expect(await monetary()).toEqual(scored);
  });

  it("should count a lifecycle audience through the admin API and name a bad stage", async () => {
    const ok = await post("/v1/admin/campaigns/audience", { segment: { stage: ["prospect", "left_cart"] } }, SECRET);
    // The demo site's one contact here (identified above, no order, no cart) is a prospect.
    expect(await ok.json()).toEqual({ count: 1 });
    const loyal = await post("/v1/admin/campaigns/audience", { segment: { stage: "loyal" } }, SECRET);
    expect(await loyal.json()).toEqual({ count: 0 });
    const bad = await post("/v1/admin/campaigns/audience", { segment: { stage: "vip" } }, SECRET);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: "invalid_segment", message: expect.stringContaining("segment.stage must be one of") },
    });
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
      { stage: ["loyal", "prospect"] },
      { metric: "rfm_monetary", op: "gte", value: 2 },
      { did: "Product Viewed", at_least: 2, within_days: 30 },
      { top_category: "Headphones" },
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
