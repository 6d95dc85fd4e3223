/** Invariants of the engine for random carts and random sets of promotions (fast-check). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Action, Promotion, Selector } from "../../worker/src/promotions/definition";
import { type CartInput, type CodeInput, price } from "../../worker/src/promotions/engine";
import { percentOf } from "../../worker/src/promotions/rounding";
import { NOW } from "./helpers";

const PRODUCTS = ["p1", "p2", "p3", "p4", "p5"];
const CATEGORIES = ["c1", "c2", "c3"];

const amount = fc.integer({ min: 0, max: 100_000 });
const positive = fc.integer({ min: 1, max: 50_000 });
const percent = fc.oneof(
  fc.integer({ min: 1, max: 100 }),
  fc.integer({ min: 1, max: 10_000 }).map((b) => b / 100),
);
const selector: fc.Arbitrary<Selector> = fc.record(
  { products: fc.subarray(PRODUCTS), categories: fc.subarray(CATEGORIES) },
  { requiredKeys: [] },
);
const small = (min: number, max: number) => fc.integer({ min, max });

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    type: fc.constant("percent_off_order" as const),
    percent,
    maxDiscount: fc.option(positive, { nil: undefined }),
  }),
  fc.record({ type: fc.constant("percent_off_products" as const), percent, target: selector }),
  fc.record({ type: fc.constant("fixed_off_order" as const), amount: positive }),
  fc.record({
    type: fc.constant("fixed_off_products" as const),
    amount: positive,
    target: selector,
    per: fc.constantFrom("unit" as const, "order" as const),
  }),
  fc.record({ type: fc.constant("fixed_price" as const), price: amount, target: selector }),
  fc.record({
    type: fc.constantFrom("free_product" as const, "free_gift" as const),
    item: fc.record({ productId: fc.constant("gift"), name: fc.constant("Gift"), price: amount }),
    quantity: small(1, 3),
  }),
  fc.constant({ type: "free_shipping" as const }),
  fc.record({
    type: fc.constant("cheapest_free" as const),
    target: selector,
    groupSize: small(2, 4),
    repeat: fc.boolean(),
  }),
  fc.record({
    type: fc.constant("buy_x_get_y" as const),
    buy: selector,
    buyQuantity: small(1, 3),
    get: selector,
    getQuantity: small(1, 2),
    percent,
    maxApplications: fc.option(small(1, 3), { nil: undefined }),
  }),
  fc.record({ type: fc.constant("bundle_price" as const), target: selector, quantity: small(2, 4), price: amount }),
  fc.record({
    type: fc.constant("tiered_percent" as const),
    tiers: fc.array(fc.record({ minSubtotal: amount, percent }), { minLength: 1, maxLength: 3 }),
  }),
);

const promotion: fc.Arbitrary<Promotion> = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e", "f"),
  action,
  priority: small(-2, 2),
  exclusive: fc.boolean(),
  couponRequired: fc.boolean(),
  base: fc.constantFrom("discounted" as const, "original" as const),
  conditions: fc.option(fc.record({ minSubtotal: positive, minQuantity: small(1, 4) }, { requiredKeys: [] }), {
    nil: undefined,
  }),
});

const promotions = fc.uniqueArray(promotion, { maxLength: 5, selector: (p) => p.id });

const cartLine = fc.record({
  productId: fc.constantFrom(...PRODUCTS),
  price: fc.integer({ min: 0, max: 30_000 }),
  quantity: small(1, 4),
  categories: fc.subarray(CATEGORIES, { maxLength: 2 }),
});

const cart: fc.Arbitrary<CartInput> = fc.record({
  currency: fc.constant("GBP"),
  // One price and category set per product, as in a real catalogue.
  lines: fc.array(cartLine, { maxLength: 8 }).map((lines) => {
    const first = new Map<string, (typeof lines)[number]>();
    for (const l of lines) if (!first.has(l.productId)) first.set(l.productId, l);
    return lines.map((l) => {
      const f = first.get(l.productId) ?? l;
      return { ...l, price: f.price, categories: f.categories };
    });
  }),
  shipping: fc.integer({ min: 0, max: 1_000 }),
  tax: fc.option(fc.record({ rate: fc.constantFrom(0, 5, 20, 17.5), inclusive: fc.boolean() }), { nil: undefined }),
  segments: fc.constant([]),
  now: fc.constant(NOW),
});

const codesFor = (ps: Promotion[]): CodeInput[] => ps.map((p) => ({ code: `CODE-${p.id}`, promotionId: p.id }));

const RUNS = { numRuns: 400 };

describe("pricing engine invariants", () => {
  it("should make line discounts add up exactly to the promotions' and the order's discount", () => {
    fc.assert(
      fc.property(cart, promotions, (c, ps) => {
        const r = price(c, ps, codesFor(ps));
        const lineSum = r.lines.reduce((s, l) => s + l.discount, 0);
        const promoSum = r.promotions.reduce((s, p) => s + p.discount, 0);
        const perLine = r.lines.reduce((s, l) => s + l.promotions.reduce((t, p) => t + p.discount, 0), 0);
        expect(lineSum).toBe(r.totals.discount);
        expect(promoSum).toBe(r.totals.discount);
        expect(perLine).toBe(r.totals.discount);
        expect(r.promotions.reduce((s, p) => s + p.shippingDiscount, 0)).toBe(r.totals.shippingDiscount);
      }),
      RUNS,
    );
  });

  it("should never price below zero or discount more than there is, in whole minor units", () => {
    fc.assert(
      fc.property(cart, promotions, (c, ps) => {
        const r = price(c, ps, codesFor(ps));
        for (const l of r.lines) {
          expect(l.discount).toBeGreaterThanOrEqual(0);
          expect(l.discount).toBeLessThanOrEqual(l.subtotal);
          expect(l.total).toBe(l.subtotal - l.discount);
          // Tax follows the discounted line, never the list price: at most the line at these rates.
          expect(l.tax).toBeGreaterThanOrEqual(0);
          expect(l.tax).toBeLessThanOrEqual(l.total);
          for (const n of [l.discount, l.total, l.tax]) expect(Number.isInteger(n)).toBe(true);
        }
        const t = r.totals;
        expect(t.shippingDiscount).toBeGreaterThanOrEqual(0);
        expect(t.shippingDiscount).toBeLessThanOrEqual(t.shipping);
        expect(t.total).toBeGreaterThanOrEqual(0);
        const added = c.tax && !c.tax.inclusive ? t.tax : 0;
        expect(t.total).toBe(t.subtotal - t.discount + t.shipping - t.shippingDiscount + added);
      }),
      RUNS,
    );
  });

  it("should not depend on the order lines were added or how units were grouped", () => {
    fc.assert(
      fc.property(cart, promotions, fc.integer(), (c, ps, seed) => {
        const codes = codesFor(ps);
        const expected = price(c, ps, codes);
        // Shuffle, and split every line into single units.
        const units = c.lines.flatMap((l) => Array.from({ length: l.quantity }, () => ({ ...l, quantity: 1 })));
        const shuffled = units
          .map((l, i) => ({ l, k: (Math.imul(i + 1, 2654435761) ^ seed) >>> 0 }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.l);
        expect(price({ ...c, lines: shuffled }, [...ps].reverse(), [...codes].reverse())).toEqual(expected);
      }),
      RUNS,
    );
  });

  it("should apply a lone percentage off the order exactly: rounded half-up, capped", () => {
    fc.assert(
      fc.property(cart, percent, fc.option(positive, { nil: undefined }), (c, pct, cap) => {
        const r = price(c, [{ id: "p", action: { type: "percent_off_order", percent: pct, maxDiscount: cap } }]);
        const exact = percentOf(r.totals.subtotal, Math.round(pct * 100));
        expect(r.totals.discount).toBe(Math.min(exact, cap ?? exact));
      }),
      RUNS,
    );
  });

  it("should give buy-X-get-Y once per complete multiple, up to its cap, on the cheapest units", () => {
    fc.assert(
      fc.property(cart, small(1, 3), small(1, 2), fc.option(small(1, 3), { nil: undefined }), (c, x, y, max) => {
        const r = price(c, [
          {
            id: "bxgy",
            action: { type: "buy_x_get_y", buy: {}, buyQuantity: x, get: {}, getQuantity: y, maxApplications: max },
          },
        ]);
        const units = c.lines.flatMap((l) => Array<number>(l.quantity).fill(l.price)).sort((a, b) => a - b);
        const times = Math.min(max ?? Number.POSITIVE_INFINITY, Math.floor(units.length / (x + y)));
        const cheapest = units.slice(0, times * y).reduce((a, b) => a + b, 0);
        expect(r.totals.discount).toBe(cheapest);
      }),
      RUNS,
    );
  });

  it("should apply coupon-only promotions only with their code, and exclusive ones alone", () => {
    fc.assert(
      fc.property(cart, promotions, fc.boolean(), (c, ps, withCodes) => {
        const r = price(c, ps, withCodes ? codesFor(ps) : []);
        const byId = new Map(ps.map((p) => [p.id, p]));
        for (const a of r.promotions) {
          const p = byId.get(a.id);
          if (p?.couponRequired) expect(a.code).toBe(`CODE-${p.id}`);
          if (p?.exclusive) expect(r.promotions).toHaveLength(1);
        }
        if (!withCodes) expect(r.promotions.every((a) => !byId.get(a.id)?.couponRequired)).toBe(true);
      }),
      RUNS,
    );
  });
});
