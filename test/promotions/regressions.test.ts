/**
 * Bugs reported against other open-source commerce engines, reproduced against Nudge's engine.
 * Each test states the bug and checks the cart a shopper would notice.
 */
import { describe, expect, it } from "vitest";
import type { Promotion } from "../../worker/src/promotions/definition";
import { price } from "../../worker/src/promotions/engine";
import { cart, line, promo } from "./helpers";

const buy2get1 = (extra: Partial<{ maxApplications: number }> = {}): Promotion =>
  promo("b2g1", {
    type: "buy_x_get_y",
    buy: { categories: ["Accessories"] },
    buyQuantity: 2,
    get: { categories: ["Accessories"] },
    getQuantity: 1,
    ...extra,
  });

describe("regressions seen in other engines", () => {
  it("should repeat buy-2-get-1 per multiple, and respect its maximum", () => {
    // 6 cables = two multiples of 3 → two free, not one.
    expect(price(cart([line("A1010", 6)]), [buy2get1()]).totals.discount).toBe(2400);
    // 9 cables with at most 2 applications → two free, not three.
    expect(price(cart([line("A1010", 9)]), [buy2get1({ maxApplications: 2 })]).totals.discount).toBe(2400);
    // 5 cables: one complete multiple only.
    expect(price(cart([line("A1010", 5)]), [buy2get1()]).totals.discount).toBe(1200);
  });

  it("should not over-discount when several units are added at once", () => {
    const fixed = promo("f", { type: "fixed_off_products", amount: 1500, target: { products: ["E7247"] } });
    const atOnce = price(cart([line("E7247", 3)]), [fixed, buy2get1()]);
    const oneByOne = price(cart([line("E7247"), line("E7247"), line("E7247")]), [fixed, buy2get1()]);
    expect(atOnce.totals.discount).toBe(4500);
    expect(oneByOne).toEqual(atOnce);
    // A quantity of 3 in one line is still one free unit for buy-2-get-1, not three.
    expect(price(cart([line("A1010", 3)]), [buy2get1()]).totals.discount).toBe(1200);
  });

  it("should give the same result whatever order the lines were added in", () => {
    const promotions = [
      promo("cheap", { type: "cheapest_free", target: { categories: ["Headphones"] }, groupSize: 2 }),
      promo("ten", { type: "fixed_off_order", amount: 1000 }),
    ];
    const a = price(cart([line("H4100"), line("H2200"), line("A1010")]), promotions);
    const b = price(cart([line("A1010"), line("H2200"), line("H4100")]), promotions);
    expect(b).toEqual(a);
    expect(a.totals.discount).toBe(8900 + 1000);
  });

  it("should take a fixed amount as money, not as a percentage", () => {
    // £10 off a £129 order is £10, not 10%.
    const r = price(cart([line("H4100")]), [promo("f", { type: "fixed_off_order", amount: 1000 })]);
    expect(r.totals.discount).toBe(1000);
    expect(r.totals.total).toBe(11900);
  });

  it("should not let a fixed discount larger than its target spill onto other lines, shipping, or below zero", () => {
    const r = price(cart([line("A1010"), line("E7247")], { shipping: 495 }), [
      promo("f", { type: "fixed_off_products", amount: 5000, target: { products: ["A1010"] } }),
    ]);
    expect(r.lines.find((l) => l.productId === "A1010")?.total).toBe(0);
    expect(r.lines.find((l) => l.productId === "E7247")?.discount).toBe(0);
    expect(r.totals).toMatchObject({ discount: 1200, shippingDiscount: 0, total: 7900 + 495 });

    const whole = price(cart([line("A1010")], { shipping: 495 }), [
      promo("f", { type: "fixed_off_order", amount: 5000 }),
    ]);
    expect(whole.totals).toMatchObject({ discount: 1200, shippingDiscount: 0, total: 495 });
  });

  it("should not make an order free by stacking a percentage voucher on a sale", () => {
    const sale = promo("sale", { type: "percent_off_order", percent: 50 }, { priority: 10 });
    const voucher = promo("v", { type: "percent_off_order", percent: 50 }, { couponRequired: true });
    const r = price(cart([line("H4100")]), [sale, voucher], [{ code: "HALF", promotionId: "v" }]);
    // 50% of £129, then 50% of what is left: £32.25 to pay, not £0.
    expect(r.totals.total).toBe(3225);
  });

  it("should round half-up, not half-down", () => {
    const ten = promo("t", { type: "percent_off_order", percent: 10 });
    // 10% of 25p is 2.5p → 3p; 10% of £12.05 is 120.5p → 121p.
    expect(price(cart([{ productId: "x", price: 25, quantity: 1 }]), [ten]).totals.discount).toBe(3);
    expect(price(cart([{ productId: "x", price: 1205, quantity: 1 }]), [ten]).totals.discount).toBe(121);
    // 2.4p stays 2p.
    expect(price(cart([{ productId: "x", price: 24, quantity: 1 }]), [ten]).totals.discount).toBe(2);
  });

  it("should put an apply-once-per-order discount on the cheapest line, wherever it sits", () => {
    const once = promo("once", { type: "cheapest_free", target: { categories: ["Headphones"] }, groupSize: 2 });
    for (const order of [
      ["H1050", "H6300", "H4100"],
      ["H6300", "H1050", "H4100"],
      ["H4100", "H6300", "H1050"],
    ]) {
      const r = price(cart(order.map((id) => line(id))), [once]);
      expect(r.lines.filter((l) => l.discount > 0).map((l) => [l.productId, l.discount])).toEqual([["H1050", 2900]]);
    }
    // The cheapest gift (G3020, £15) sorts last by id: it still gets the discount.
    const gifts = promo("once", { type: "cheapest_free", target: { categories: ["Gifts"] }, groupSize: 2 });
    const r = price(cart([line("G2010"), line("G3020"), line("G1000")]), [gifts]);
    expect(r.lines.filter((l) => l.discount > 0).map((l) => [l.productId, l.discount])).toEqual([["G3020", 1500]]);
  });

  it("should check minimum spend against the goods subtotal after earlier discounts, without shipping", () => {
    const sale = promo("sale", { type: "percent_off_order", percent: 20 }, { priority: 10 });
    const fivePercent = promo("five", { type: "percent_off_order", percent: 5 }, { conditions: { minSubtotal: 5000 } });
    // £46 of goods + £4.95 delivery: shipping does not count towards the £50.
    expect(
      price(cart([line("E3110"), line("A1010")], { shipping: 495 }), [fivePercent]).promotions.map((p) => p.id),
    ).toEqual([]);
    // £62 of goods, £49.60 after the 20% sale applied first: the minimum is not met.
    expect(price(cart([line("G1000"), line("A1010")]), [sale, fivePercent]).promotions.map((p) => p.id)).toEqual([
      "sale",
    ]);
    // £79 → £63.20 after the sale: met, and 5% of £63.20 = 316p.
    const met = price(cart([line("E7247")]), [sale, fivePercent]);
    expect(met.promotions.map((p) => [p.id, p.discount])).toEqual([
      ["sale", 1580],
      ["five", 316],
    ]);
  });
});
