import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createSite } from "../../worker/src/model/sites";
import { advance, BASE, mailbox, post, product, SECRET, shopperWithCart, uid } from "./helpers";

const AUTH = { authorization: "Bearer sk_shop2" };

const call = (method: string, path: string, body?: unknown) =>
  SELF.fetch(`${BASE}/v1/admin/campaigns${path}`, {
    method,
    headers: { "content-type": "application/json", ...AUTH },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

async function outboxOfShop2(to: string) {
  const { results } = await env.DB.prepare(`SELECT subject FROM outbox WHERE site_id = 'shop2' AND recipient = ?`)
    .bind(to)
    .all();
  return results ?? [];
}

beforeAll(async () => {
  await createSite(
    env,
    { id: "shop2", name: "Shop Two", url: "https://two.example", publicKey: "pk_shop2", secretKey: "sk_shop2" },
    Date.now(),
  );
});

describe("campaign admin API", () => {
  it("should start a new site with no campaigns, and enable abandoned cart with one call", async () => {
    const cart = async (email: string) => {
      const anonymousId = uid("anon");
      const res = await SELF.fetch(`${BASE}/v1/batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          writeKey: "pk_shop2",
          batch: [
            { type: "identify", messageId: crypto.randomUUID(), anonymousId, traits: { email } },
            {
              type: "track",
              messageId: crypto.randomUUID(),
              anonymousId,
              event: "Product Added",
              properties: product("P1"),
            },
          ],
        }),
      });
      expect(res.status).toBe(200);
    };
    expect(await (await call("GET", "")).json()).toEqual({ campaigns: [] });
    const before = `${uid("before")}@example.com`;
    await cart(before);
    await advance(2 * 3600_000);
    expect(await outboxOfShop2(before)).toEqual([]);

    const res = await call("POST", "/templates/abandoned_cart/enable", {
      steps: [{ delay: "30m", template: "cart_reminder", subject: "Forgot something?" }],
    });
    expect(res.status).toBe(201);
    const after = `${uid("after")}@example.com`;
    await cart(after);
    await advance(3600_000);
    expect(await outboxOfShop2(after)).toEqual([{ subject: "Forgot something?" }]);
    const { campaigns } = await (await call("GET", "")).json<{
      campaigns: { id: string; enabled: boolean; steps: unknown[] }[];
    }>();
    expect(campaigns).toEqual([
      expect.objectContaining({
        id: "abandoned_cart",
        enabled: true,
        steps: [expect.objectContaining({ delayMs: 1800_000 })],
      }),
    ]);
  });

  it("should list a template for every scenario", async () => {
    const { templates } = await (await call("GET", "/templates")).json<{ templates: { id: string }[] }>();
    expect(templates.map((t) => t.id).sort()).toEqual(
      [
        "abandoned_cart",
        "abandoned_cart_adaptive",
        "browse_abandonment",
        "callback_confirmation",
        "cross_sell",
        "holiday",
        "loyalty",
        "order_confirmation",
        "payment_failed",
        "post_purchase",
        "referral",
        "shipping_status",
        "referral_reward",
        "welcome",
        "win_back",
      ].sort(),
    );
  });

  it("should create, read, pause and delete a campaign", async () => {
    const def = {
      name: "Birthday",
      trigger: { type: "event", events: ["Birthday"] },
      steps: [{ delay: "0", template: "holiday" }],
    };
    expect((await call("PUT", "/birthday", def)).status).toBe(200);
    expect(await (await call("GET", "/birthday")).json()).toMatchObject({
      campaign: { id: "birthday", name: "Birthday" },
      enabled: true,
    });
    expect(await (await call("PUT", "/birthday", { ...def, enabled: false })).json()).toMatchObject({ enabled: false });
    expect((await call("DELETE", "/birthday")).status).toBe(200);
    expect((await call("GET", "/birthday")).status).toBe(404);
  });

  it.each([
    [{ steps: [{ template: "welcome" }] }, /campaign\.trigger is required/],
    [{ trigger: { type: "sometimes" }, steps: [{ template: "welcome" }] }, /trigger.type must be/],
    [{ trigger: { type: "cart" }, steps: [] }, /steps must list 1 to 10/],
    [{ trigger: { type: "cart" }, steps: [{ template: "nope" }] }, /steps\[0\]\.template must be a message template/],
    [
      { trigger: { type: "cart" }, steps: [{ template: "welcome", delay: "soon" }] },
      /steps\[0\]\.delay must be a delay/,
    ],
    [{ trigger: { type: "cart" }, steps: [{ template: "welcome", channel: "fax" }] }, /channel must be one of/],
    [
      { trigger: { type: "cart" }, steps: [{ template: "welcome", channel: "webhook", url: "ftp://x" }] },
      /url must be an http/,
    ],
    [{ trigger: { type: "cart" }, steps: [{ template: "welcome", variants: [{ id: "a" }] }] }, /2 to 5 variants/],
    [
      { trigger: { type: "cart" }, steps: [{ template: "welcome" }], quietHours: { from: 25, to: 8 } },
      /campaign.quietHours.from must be an hour from 0 to 23/,
    ],
    [{ trigger: { type: "cart" }, steps: [{ template: "welcome" }], holdoutPercent: 100 }, /holdoutPercent/],
    [{ trigger: { type: "date", at: "2027-03-06" }, steps: [{ template: "holiday" }] }, /needs an audience/],
    [{ trigger: { type: "cart" }, steps: [{ template: "welcome" }], audience: { attr: "a b" } }, /audience.attr/],
    [
      {
        trigger: {
          type: "segment_entry",
          segment: { any: Array.from({ length: 19 }, () => ({ attr: "tier", op: "eq", value: "gold" })) },
        },
        audience: {
          all: [
            { all: Array.from({ length: 20 }, () => ({ metric: "spend_365d", op: "gt", value: 1 })) },
            { all: Array.from({ length: 5 }, () => ({ metric: "orders_count", op: "gt", value: 1 })) },
          ],
        },
        steps: [{ template: "welcome" }],
      },
      /too large/,
    ],
  ])("should reject %j with a 400 that says what to fix", async (def, message) => {
    const res = await call("PUT", "/bad", def);
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("invalid_campaign");
    expect(error.message).toMatch(message);
  });

  it("should keep a campaign stored in snake_case working after migration 0014 rewrites it", async () => {
    // What the admin API stored before it spoke camelCase.
    const stored = {
      id: "legacy-cart",
      name: "Legacy cart",
      priority: 80,
      trigger: { type: "event", events: ["Legacy"], journey: "once", reset: false, match: { delay_ms: "kept" } },
      steps: [
        { delay_ms: 3600_000, channel: "email", template: "cart_reminder" },
        {
          delay_ms: 86400_000,
          channel: "email",
          template: "cart_last_call",
          coupon: { promotion_id: "exit-intent-10", expires_days: 7, reuse: "exit_intent" },
        },
      ],
      exit: { ordered: true, events: [] },
      holdout_percent: 10,
      attribution_days: 3,
      quiet_hours: { from: 21, to: 8, channels: ["sms"] },
      frequency_cap: { max: 2, hours: 24 },
    };
    await env.DB.prepare(
      `INSERT INTO campaigns (site_id, id, definition, enabled, updated_at) VALUES ('shop2', ?, ?, 1, 0)`,
    )
      .bind(stored.id, JSON.stringify(stored))
      .run();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("_camelcase_campaigns"));
    for (const query of migration?.queries ?? []) await env.DB.prepare(query).run();

    const { campaign } = await (await call("GET", `/${stored.id}`)).json<{ campaign: Record<string, unknown> }>();
    const { holdout_percent, attribution_days, quiet_hours, frequency_cap, steps: _, ...unchanged } = stored;
    expect(campaign).toEqual({
      ...unchanged,
      steps: [
        { delayMs: 3600_000, channel: "email", template: "cart_reminder" },
        {
          delayMs: 86400_000,
          channel: "email",
          template: "cart_last_call",
          coupon: { promotionId: "exit-intent-10", expiresDays: 7, reuse: "exit_intent" },
        },
      ],
      holdoutPercent: holdout_percent,
      attributionDays: attribution_days,
      quietHours: quiet_hours,
      frequencyCap: frequency_cap,
    });
    expect(Object.keys(campaign)).not.toContain("holdout_percent");
    // It still parses as a campaign (results read it through the schema) and saves back unchanged.
    expect((await call("GET", `/${stored.id}/results`)).status).toBe(200);
    const saved = await call("PUT", `/${stored.id}`, campaign);
    expect(saved.status).toBe(200);
    expect((await saved.json<{ campaign: unknown }>()).campaign).toEqual(campaign);
  });

  it("should answer bad requests with clear 4xx errors", async () => {
    expect((await call("PUT", "/x", "{nope")).status).toBe(400);
    expect(
      (
        await call("PUT", "/x", {
          trigger: { type: "cart" },
          steps: [{ template: "welcome" }],
          name: "x".repeat(70_000),
        })
      ).status,
    ).toBe(413);
    expect(
      (await call("PUT", "/Bad Id!", { trigger: { type: "cart" }, steps: [{ template: "welcome" }] })).status,
    ).toBe(400);
    expect((await call("POST", "/templates/nope/enable")).status).toBe(404);
    expect((await call("POST", "/templates/welcome/enable")).status).toBe(201); // no body: as it is
    expect((await call("POST", "/templates/welcome/enable", "[1]")).status).toBe(400);
    expect(
      (await SELF.fetch(`${BASE}/v1/admin/campaigns`, { headers: { authorization: "Bearer sk_wrong" } })).status,
    ).toBe(401);
  });

  it("should keep the demo's campaigns through a demo reset", async () => {
    const res = await post("/v1/dev/reset", {}, SECRET);
    expect((await res.json<{ cleared: string[] }>()).cleared).not.toContain("campaigns");
    const email = `${uid("reset")}@example.com`;
    await shopperWithCart(email);
    await advance(2 * 3600_000);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
  });
});
