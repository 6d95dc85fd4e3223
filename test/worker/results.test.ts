import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bucket } from "../../worker/src/campaigns/engine";
import { advance, BASE, clock, messagesOf, post, putCampaign, SECRET, send, uid } from "./helpers";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

async function contactWith(event: string) {
  const email = `${uid("r")}@example.com`;
  const anonymousId = uid("anon");
  await send([
    { type: "identify", anonymousId, traits: { email } },
    { type: "track", anonymousId, event, properties: {} },
  ]);
  return { email, anonymousId };
}

/** An order as the merchant's server reports it (secret key): money state counts from there. */
async function order(anonymousId: string, total: number) {
  const res = await post(
    "/v1/batch",
    {
      batch: [
        {
          type: "track",
          messageId: crypto.randomUUID(),
          anonymousId,
          event: "Order Completed",
          properties: { order_id: uid("o"), total, currency: "GBP" },
        },
      ],
    },
    SECRET,
  );
  expect(res.status).toBe(200);
}

interface Group {
  group: string;
  recipients: number;
  messages: number;
  delivered: number;
  converted: number;
  orders: number;
  revenue: number;
}
interface Results {
  groups: Group[];
  steps: { step: number; groups: (Group & { opened: number })[] }[];
  days: { date: string; group: string; recipients: number; orders: number; revenue: number }[];
  lift: {
    conversion: { treated: number; control: number; difference: number; differenceCi: { low: number; high: number } };
    revenuePerRecipient: { difference: number } | null;
    sampleNeeded: { perArm: number | null; remaining: number | null };
  } | null;
  ab: { winner: string | null; reason: string } | null;
}

async function results(id: string, query = ""): Promise<Results> {
  const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/${id}/results${query}`, { headers: SECRET });
  expect(res.status).toBe(200);
  return res.json<Results>();
}

describe("campaign results", () => {
  it("should keep held-out contacts in the journey and compare both groups per recipient over the same window", async () => {
    await putCampaign("res", {
      trigger: { type: "event", events: ["Res Test"] },
      steps: [
        { delay: "1h", template: "welcome" },
        { delay: "1d", template: "loyalty" },
      ],
      holdoutPercent: 50,
      attributionDays: 2,
    });
    const people = await Promise.all(Array.from({ length: 12 }, () => contactWith("Res Test")));
    await advance(2 * HOUR);
    await advance(DAY + HOUR);
    const rows = await messagesOf("res");
    const held = (r: { contact_id: string }) => bucket(`res:${r.contact_id}`) < 50;
    const step1 = rows.filter((r) => r.step === 1);
    // Every contact, treated or held out, reached step 2: the holdout's journey goes on virtually.
    expect(rows.filter((r) => r.step === 2)).toHaveLength(12);
    for (const r of rows) {
      expect(r.holdout).toBe(held(r) ? 1 : 0);
      expect(r.status).toBe(held(r) ? "cancelled" : "sent");
      expect(r.sent_at).not.toBeNull();
    }
    const anon = (r: { email: string | null }) => people.find((p) => p.email === r.email)?.anonymousId ?? "";
    const treated = step1.filter((r) => !held(r));
    const control = step1.filter(held);
    if (treated.length < 3 || control.length < 2) throw new Error("expected ≥ 3 treated and ≥ 2 held out among 12");
    const [t1, t2, t3] = treated as [(typeof treated)[0], (typeof treated)[0], (typeof treated)[0]];
    const [c1] = control as [(typeof control)[0]];
    // Inside the window (3 days from step 1): t1 buys twice, t2 once, c1 once.
    await order(anon(t1), 40);
    await order(anon(t1), 10);
    await order(anon(t2), 60);
    await order(anon(c1), 30);
    // Outside it (step 1 + 1 d + 2 d): t3's order is not the campaign's.
    await advance(3 * DAY);
    await order(anon(t3), 99);

    const r = await results("res");
    const T = treated.length;
    const C = control.length;
    expect(r.groups).toEqual([
      expect.objectContaining({
        group: "all",
        recipients: T,
        messages: 2 * T,
        delivered: 2 * T,
        converted: 2,
        orders: 3,
        revenue: 11000,
      }),
      expect.objectContaining({
        group: "holdout",
        recipients: C,
        messages: 2 * C,
        delivered: 0,
        converted: 1,
        orders: 1,
        revenue: 3000,
      }),
    ]);
    // Both steps, both groups, per recipient.
    expect(r.steps.map((s) => s.step)).toEqual([1, 2]);
    for (const s of r.steps) {
      expect(s.groups.find((g) => g.group === "all")).toMatchObject({
        recipients: T,
        delivered: T,
        converted: 2,
        revenue: 11000,
      });
      expect(s.groups.find((g) => g.group === "holdout")).toMatchObject({
        recipients: C,
        delivered: 0,
        converted: 1,
        revenue: 3000,
      });
    }
    expect(r.lift?.conversion.treated).toBeCloseTo(2 / T, 12);
    expect(r.lift?.conversion.control).toBeCloseTo(1 / C, 12);
    expect(r.lift?.conversion.difference).toBeCloseTo(2 / T - 1 / C, 12);
    expect(r.lift?.revenuePerRecipient?.difference).toBeCloseTo(11000 / T - 3000 / C, 9);
    expect(r.lift?.sampleNeeded.perArm).toBeGreaterThan(0);
    expect(r.ab).toBeNull();
    // Per day: recipients on the day the journeys started, orders on the day they were placed.
    const sum = (k: "recipients" | "orders" | "revenue", g: string) =>
      r.days.filter((d) => d.group === g).reduce((n, d) => n + d[k], 0);
    expect([sum("recipients", "all"), sum("orders", "all"), sum("revenue", "all")]).toEqual([T, 3, 11000]);
    expect([sum("recipients", "holdout"), sum("orders", "holdout"), sum("revenue", "holdout")]).toEqual([C, 1, 3000]);

    // A period before the journeys started holds none of them.
    const before = new Date((await clock()) - 30 * DAY).toISOString();
    expect((await results("res", `?to=${before}`)).groups).toEqual([]);
  });

  it("should not call an A/B winner from a small sample, however large the lead", async () => {
    await putCampaign("res-ab", {
      trigger: { type: "event", events: ["Res AB"] },
      steps: [
        {
          delay: 0,
          template: "welcome",
          variants: [
            { id: "a", weight: 1 },
            { id: "b", weight: 1 },
          ],
        },
      ],
    });
    const people = await Promise.all(Array.from({ length: 10 }, () => contactWith("Res AB")));
    await advance(60_000);
    const rows = await messagesOf("res-ab");
    for (const r of rows.filter((x) => x.variant === "b")) {
      const who = people.find((p) => p.email === r.email);
      if (who) await order(who.anonymousId, 20);
    }
    const r = await results("res-ab");
    const b = r.groups.find((g) => g.group === "b");
    expect(b?.converted).toBe(b?.recipients);
    expect(r.groups.find((g) => g.group === "a")?.converted).toBe(0);
    expect(r.ab?.winner).toBeNull();
    expect(r.ab?.reason).toMatch(/not enough recipients/);
    expect(r.lift).toBeNull();
  });

  it("should refuse a bad range and an unknown campaign", async () => {
    const bad = await SELF.fetch(`${BASE}/v1/admin/campaigns/res/results?from=yesterday`, { headers: SECRET });
    expect(bad.status).toBe(400);
    const none = await SELF.fetch(`${BASE}/v1/admin/campaigns/nope/results`, { headers: SECRET });
    expect(none.status).toBe(404);
  });
});
