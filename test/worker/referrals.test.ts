import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetCachedSites } from "../../worker/src/model/sites";
import { CAMPAIGN_TEMPLATES } from "../../worker/src/campaigns/templates";
import {
  advance,
  BASE,
  mailbox,
  messagesOf,
  post,
  product,
  putCampaign,
  SECRET,
  send,
  sendAsServer,
  uid,
} from "./helpers";

/**
 * The referral programme on real D1: a customer's code (widget, for customers only; or the secret
 * key), the friend's first order reported by the merchant's server, the referrer's reward mailed
 * once per new customer and within the monthly cap, and the results.
 */

const KEY = "pk_demo";
const OPERATOR = { authorization: "Bearer test-operator-token" };

/** A shopper's browser, signed in as `email`. */
async function browser(email: string, traits: Record<string, unknown> = {}) {
  const anonymousId = uid("aid");
  await send([{ type: "identify", anonymousId, traits: { email, ...traits } }]);
  return anonymousId;
}

/** The merchant's server reports an order of this browser's shopper, with these codes. */
async function order(anonymousId: string, email: string, total: number, properties: Record<string, unknown> = {}) {
  const orderId = uid("ORD");
  await sendAsServer([
    {
      type: "track",
      anonymousId,
      event: "Order Completed",
      traits: { email },
      properties: { order_id: orderId, total, currency: "GBP", products: [product("E7247", total)], ...properties },
    },
  ]);
  return orderId;
}

/** A customer (one order placed) and her referral code, as the send-to-friend widget asks for it. */
async function referrer(email = `${uid("ann")}@example.com`, traits: Record<string, unknown> = {}) {
  const anonymousId = await browser(email, traits);
  await order(anonymousId, email, 40);
  const res = await post("/v1/onsite/referral", { key: KEY, anonymousId, requestId: uid("r") });
  expect(res.status).toBe(200);
  const { code, url } = await res.json<{ code: string; url: string }>();
  return { email, anonymousId, code, url };
}

const referralOf = (friendEmail: string) =>
  env.DB.prepare(
    `SELECT r.status, r.code, r.total FROM referrals r JOIN contacts c ON c.site_id = r.site_id AND c.id = r.contact_id
     WHERE r.site_id = 'demo' AND c.email = ?`,
  )
    .bind(friendEmail)
    .first<{ status: string; code: string; total: number }>();

const rewardsTo = async (email: string) => (await messagesOf("referral_reward")).filter((m) => m.email === email);

describe("referral programme", () => {
  it("should reward the referrer once, after the friend's first order the merchant reports", async () => {
    const ann = await referrer();
    expect(ann.code).toMatch(/^REF-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    expect(ann.url).toBe(`http://127.0.0.1:8787/?ref=${ann.code}`);
    // Stable: asked again (another widget, the admin API), the same code.
    const again = await post("/v1/onsite/referral", { key: KEY, anonymousId: ann.anonymousId, requestId: uid("r") });
    expect((await again.json<{ code: string }>()).code).toBe(ann.code);
    const byAdmin = await post("/v1/admin/referrals/codes", { email: ann.email }, SECRET);
    expect(await byAdmin.json()).toMatchObject({ code: ann.code, url: ann.url });

    // The friend's checkout prices the code as her first-order offer.
    const bob = `${uid("bob")}@example.com`;
    const bobBrowser = await browser(bob);
    const priced = await post("/v1/cart/price", {
      writeKey: KEY,
      anonymousId: bobBrowser,
      lines: [{ productId: "E7247", price: 10000, quantity: 1 }],
      coupons: [ann.code.toLowerCase()],
    });
    expect(await priced.json()).toMatchObject({ totals: { discount: 1000 } });

    await order(bobBrowser, bob, 100, { coupon: ann.code });
    expect(await referralOf(bob)).toEqual({ status: "rewarded", code: ann.code, total: 10000 });
    await advance(60_000);
    const [reward, ...more] = await mailbox(ann.email, "referral_reward");
    expect(more).toEqual([]);
    expect(reward?.subject).toBe("Thank you! A friend you referred placed their first order");
    // Her reward is a code of her own, not the friend's name or order.
    const minted = await env.DB.prepare(
      `SELECT code, promotion_id FROM coupons WHERE site_id = 'demo' AND source = 'campaign:referral_reward'
         AND contact_id = (SELECT contact_id FROM identities WHERE site_id = 'demo' AND kind = 'email' AND value = ?)`,
    )
      .bind(ann.email)
      .all<{ code: string; promotion_id: string }>();
    expect(minted.results).toEqual([{ code: expect.any(String), promotion_id: "referral-reward" }]);
    expect(reward?.text).toContain(minted.results[0]?.code);
    expect(reward?.text).not.toContain(bob);

    // The friend's second order, with the code again, earns nothing more.
    await order(bobBrowser, bob, 60, { coupon: ann.code });
    await advance(60_000);
    expect(await mailbox(ann.email, "referral_reward")).toHaveLength(1);

    const results = await SELF.fetch(`${BASE}/v1/admin/referrals`, { headers: SECRET });
    const body = await results.json<{ top: { code: string; friends: number; rewarded: number; revenue: number }[] }>();
    expect(body).toMatchObject({ currency: "GBP", rewardsPerMonth: 10, rewardsSent: expect.any(Number) });
    expect(body.top.find((t) => t.code === ann.code)).toMatchObject({ friends: 1, rewarded: 1, revenue: 16000 });
  });

  it("should attribute a code the shop reports as referral_code, without a discount applied", async () => {
    const ann = await referrer();
    const cy = `${uid("cy")}@example.com`;
    await order(await browser(cy), cy, 30, { referral_code: ann.code.toLowerCase() });
    expect(await referralOf(cy)).toMatchObject({ status: "rewarded", code: ann.code });
  });

  it.each([
    ["the referrer's own order", (ann: Ref) => ({ email: ann.email, anonymousId: ann.anonymousId })],
    // ann123@gmail.com and a.n.n.1.2.3+deal@googlemail.com are one mailbox.
    [
      "a variant of her Gmail address",
      (ann: Ref) => ({
        email: `${ann.email.split("@")[0]?.split("").join(".")}+deal@googlemail.com`,
      }),
    ],
    ["her phone number on another address", () => ({ email: `${uid("alt")}@example.com`, phone: "+447700900123" })],
  ])("should not reward a self-referral: %s", async (_, friend: (ann: Ref) => Friend) => {
    const ann = await referrer(`${uid("ann").replace(/[^a-z0-9]/g, "")}@gmail.com`, { phone: "+447700900123" });
    const f = friend(ann);
    const anonymousId = f.anonymousId ?? (await browser(f.email, f.phone ? { phone: f.phone } : {}));
    await order(anonymousId, f.email, 50, { coupon: ann.code });
    // The friend's own contact, or (her own order) hers: either way no reward.
    const row = await env.DB.prepare(`SELECT status FROM referrals WHERE site_id = 'demo' AND code = ?`)
      .bind(ann.code)
      .first<{ status: string }>();
    expect(row).toEqual({ status: "self" });
    await advance(60_000);
    expect(await rewardsTo(ann.email)).toEqual([]);
  });

  it("should not reward a friend who was a customer already", async () => {
    const ann = await referrer();
    const dee = `${uid("dee")}@example.com`;
    const deeBrowser = await browser(dee);
    await order(deeBrowser, dee, 20);
    await order(deeBrowser, dee, 20, { coupon: ann.code });
    expect(await referralOf(dee)).toMatchObject({ status: "returning" });
    await advance(60_000);
    expect(await rewardsTo(ann.email)).toEqual([]);
  });

  it("should not count a browser's own Order Completed (the merchant did not report it)", async () => {
    const ann = await referrer();
    const eve = `${uid("eve")}@example.com`;
    const anonymousId = await browser(eve);
    await send([
      {
        type: "track",
        anonymousId,
        event: "Order Completed",
        properties: { order_id: uid("ORD"), total: 99, coupon: ann.code },
      },
    ]);
    expect(await referralOf(eve)).toBeNull();
  });

  it("should stop rewarding a referrer at the site's monthly cap, and still record the friends", async () => {
    const patch = (n: number) =>
      SELF.fetch(`${BASE}/v1/operator/sites/demo`, {
        method: "PATCH",
        headers: { "content-type": "application/json", ...OPERATOR },
        body: JSON.stringify({ referralRewardsPerMonth: n }),
      });
    expect((await patch(1)).status).toBe(200);
    forgetCachedSites(); // the isolate's site cache would keep the old cap for ten seconds
    try {
      const ann = await referrer();
      const friends = [`${uid("f1")}@example.com`, `${uid("f2")}@example.com`];
      for (const f of friends) await order(await browser(f), f, 25, { coupon: ann.code });
      expect(await Promise.all(friends.map(async (f) => (await referralOf(f))?.status))).toEqual([
        "rewarded",
        "capped",
      ]);
      await advance(60_000);
      expect(await rewardsTo(ann.email)).toHaveLength(1);
    } finally {
      await patch(10);
      forgetCachedSites();
    }
  });

  it("should export the friends a referrer brought with her, and erase them with her", async () => {
    const ann = await referrer();
    const hal = `${uid("hal")}@example.com`;
    await order(await browser(hal), hal, 45, { coupon: ann.code });
    const id = await env.DB.prepare(
      `SELECT contact_id FROM identities WHERE site_id = 'demo' AND kind = 'email' AND value = ?`,
    )
      .bind(ann.email)
      .first<string>("contact_id");
    const exported = await SELF.fetch(`${BASE}/v1/admin/contacts/${id}/export`, { headers: SECRET });
    const { data } = await exported.json<{
      data: { referrals: { referrer_id: string }[]; referral_codes: { code: string }[] };
    }>();
    expect(data.referral_codes).toEqual([expect.objectContaining({ code: ann.code })]);
    expect(data.referrals).toEqual([expect.objectContaining({ referrer_id: id, status: "rewarded" })]);
    const erased = await SELF.fetch(`${BASE}/v1/admin/contacts/${id}`, { method: "DELETE", headers: SECRET });
    expect(erased.status).toBe(200);
    const left = await env.DB.prepare(`SELECT count(*) AS n FROM referrals WHERE site_id = 'demo' AND referrer_id = ?`)
      .bind(id)
      .first<number>("n");
    expect(left).toBe(0);
  });

  it("should not send a reward whose friend's order the merchant refunded before it was due", async () => {
    // A merchant who waits out a 14-day return window before rewarding.
    const template = CAMPAIGN_TEMPLATES.referral_reward as { steps: Record<string, unknown>[] };
    await putCampaign("referral_reward", { ...template, steps: [{ ...template.steps[0], delay: "14d" }] });
    try {
      const ann = await referrer();
      const gil = `${uid("gil")}@example.com`;
      const gilBrowser = await browser(gil);
      const orderId = await order(gilBrowser, gil, 70, { coupon: ann.code });
      await sendAsServer([
        { type: "track", anonymousId: gilBrowser, event: "Order Refunded", properties: { order_id: orderId } },
      ]);
      expect(await referralOf(gil)).toMatchObject({ status: "reversed" });
      await advance(15 * 86400_000);
      expect(await rewardsTo(ann.email)).toEqual([
        expect.objectContaining({ status: "cancelled", reason: "referred order cancelled or refunded" }),
      ]);
      expect(await mailbox(ann.email, "referral_reward")).toEqual([]);
    } finally {
      await putCampaign("referral_reward", CAMPAIGN_TEMPLATES.referral_reward ?? {});
    }
  });
});

type Ref = Awaited<ReturnType<typeof referrer>>;
type Friend = { email: string; anonymousId?: string; phone?: string };

describe("the reward campaign", () => {
  it("should refuse the referral trigger on any campaign but referral_reward, which the order names", async () => {
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/my-rewards`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...SECRET },
      body: JSON.stringify({ trigger: { type: "referral" }, steps: [{ template: "referral_reward" }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { message: expect.stringContaining('starts only the campaign "referral_reward"') },
    });
  });
});

describe("who gets a referral code", () => {
  it.each([
    ["an anonymous visitor", () => Promise.resolve(uid("aid"))],
    ["a signed-in visitor who never ordered", () => browser(`${uid("new")}@example.com`)],
  ])("should refuse %s", async (_, visitor) => {
    const res = await post("/v1/onsite/referral", { key: KEY, anonymousId: await visitor(), requestId: uid("r") });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "not_customer" } });
  });

  it("should answer 404 to the secret key for someone it does not know, and 400 without a referrer", async () => {
    const missing = await post("/v1/admin/referrals/codes", { email: "nobody@example.com" }, SECRET);
    expect(missing.status).toBe(404);
    const empty = await post("/v1/admin/referrals/codes", {}, SECRET);
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { message: expect.stringContaining("email or userId") } });
  });
});
