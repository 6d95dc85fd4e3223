import { describe, expect, it } from "vitest";
import { CAMPAIGN_TEMPLATES } from "../../worker/src/campaigns/templates";
import { DEMO_PROMOTIONS } from "../../worker/src/promotions/demo-data";
import { ACTION_TYPES, parsePromotion } from "../../worker/src/promotions/definition";

describe("promotion definitions", () => {
  it("should accept every demo promotion unchanged (pricing drops rows that do not parse)", () => {
    for (const p of DEMO_PROMOTIONS) {
      const parsed = parsePromotion(JSON.parse(JSON.stringify(p)));
      expect(parsed).toEqual({ promotion: expect.objectContaining(p) });
    }
  });

  it("should have a demo promotion for every coupon a built-in campaign template mints", () => {
    // A reminder whose code the checkout then refuses is worse than no code at all.
    const minted = JSON.stringify(CAMPAIGN_TEMPLATES).matchAll(/"promotionId":"([^"]+)"/g);
    const ids = new Set(DEMO_PROMOTIONS.map((p) => p.id));
    const missing = [...minted].map((m) => m[1]).filter((id) => !ids.has(id ?? ""));
    expect(missing).toEqual([]);
  });

  it("should accept a minimal definition of every type", () => {
    const item = { productId: "S", name: "Sample", price: 0 };
    const target = { categories: ["Speakers"] };
    const minimal: Record<string, Record<string, unknown>> = {
      percent_off_order: { percent: 12.5 },
      percent_off_products: { percent: 10, target },
      fixed_off_order: { amount: 500 },
      fixed_off_products: { amount: 1500, target },
      fixed_price: { price: 6000, target },
      free_product: { item },
      free_gift: { item },
      free_shipping: {},
      cheapest_free: { groupSize: 2 },
      buy_x_get_y: { buy: target, buyQuantity: 2, getQuantity: 1 },
      bundle_price: { target, quantity: 3, price: 1000 },
      tiered_percent: { tiers: [{ minSubtotal: 5000, percent: 10 }] },
    };
    expect(Object.keys(minimal).sort()).toEqual([...ACTION_TYPES].sort());
    for (const [type, fields] of Object.entries(minimal)) {
      const parsed = parsePromotion({ id: `t-${type}`, action: { type, ...fields } });
      expect(parsed, type).toHaveProperty("promotion.action.type", type);
    }
  });

  it.each([
    [{ id: "has space", action: { type: "free_shipping" } }, "id must be"],
    [{ id: "x", action: { type: "percent_off_order", percent: 12.345 } }, "at most two decimals"],
    [{ id: "x", action: { type: "percent_off_order", percent: 0 } }, "above 0"],
    [{ id: "x", action: { type: "fixed_off_order", amount: 9.99 } }, "whole number"],
    [{ id: "x", action: { type: "fixed_off_order", amount: -100 } }, "whole number"],
    [{ id: "x", action: { type: "fixed_price", price: 100 } }, "action.target is required"],
    [{ id: "x", action: { type: "tiered_percent", tiers: [] } }, "1 to 20 tiers"],
    [{ id: "x", action: { type: "free_shipping" }, conditions: { startsAt: "not a date" } }, "ISO date"],
    [{ id: "x", action: { type: "free_shipping" }, base: "cheapest" }, 'base must be "discounted" or "original"'],
    ["not an object", "must be a JSON object"],
  ])("should refuse %j with a reason", (input, reason) => {
    const parsed = parsePromotion(input);
    expect(parsed).toHaveProperty("error");
    expect((parsed as { error: string }).error).toContain(reason);
  });
});
