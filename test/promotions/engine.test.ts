import { describe, expect, it } from "vitest";
import { DEMO_PROMOTIONS } from "../../worker/src/promotions/demo-data";
import type { Promotion } from "../../worker/src/promotions/definition";
import { type CartInput, type CodeInput, price } from "../../worker/src/promotions/engine";
import { cart, line, promo } from "./helpers";

const demo = (id: string): Promotion => {
  const p = DEMO_PROMOTIONS.find((x) => x.id === id);
  if (!p) throw new Error(`no demo promotion ${id}`);
  return p;
};

interface Case {
  name: string;
  cart: CartInput;
  promotions: Promotion[];
  codes?: CodeInput[];
  /** Exact totals in pence. */
  expect: { subtotal: number; discount: number; shippingDiscount?: number; tax?: number; total: number };
  /** Exact discount per product line, when it matters where the discount lands. */
  lines?: Record<string, number>;
  applied?: string[];
}

// Catalogue prices (pence): E7247 7900, E3110 3400, H4100 12900, H2200 8900, H6300 15900, H1050 2900,
// A1010 1200, A4120 2400, G1000 5000, G2010 1950, G3020 1500.
const speakersAndPhones = { categories: ["Speakers", "Headphones"] };

const cases: Case[] = [
  // ---- personal codes: the promotion as written, seen through the code's product or category -----
  {
    name: "a browse code bound to the E7247 speaker: 10% off it, nothing off the rest",
    cart: cart([line("E7247"), line("H2200"), line("A1010")]),
    promotions: [demo("browse-10")],
    codes: [{ code: "B", promotionId: "browse-10", scope: { products: ["E7247"], label: "E7247 speaker" } }],
    expect: { subtotal: 18000, discount: 790, total: 17210 },
    lines: { E7247: 790, H2200: 0, A1010: 0 },
  },
  {
    name: "a loyalty code bound to the Headphones category: 15% off the headphones only",
    cart: cart([line("H4100"), line("H1050"), line("E3110")]),
    promotions: [demo("loyalty-15")],
    codes: [{ code: "L", promotionId: "loyalty-15", scope: { categories: ["Headphones"], label: "Headphones" } }],
    expect: { subtotal: 19200, discount: 2370, total: 16830 },
    lines: { H4100: 1935, H1050: 435, E3110: 0 },
  },
  {
    name: "two personal codes of one promotion for two products: each discounts its own",
    cart: cart([line("E7247"), line("H2200"), line("A1010")]),
    promotions: [demo("browse-10")],
    codes: [
      { code: "B1", promotionId: "browse-10", scope: { products: ["E7247"], label: "E7247 speaker" } },
      { code: "B2", promotionId: "browse-10", scope: { products: ["H2200"], label: "Drift wireless earbuds" } },
    ],
    expect: { subtotal: 18000, discount: 1680, total: 16320 },
    lines: { E7247: 790, H2200: 890, A1010: 0 },
    applied: ["browse-10", "browse-10"],
  },
  // ---- every type -------------------------------------------------------------------------
  {
    name: "% off order",
    cart: cart([line("E7247"), line("H2200")]),
    promotions: [promo("p", { type: "percent_off_order", percent: 10 })],
    expect: { subtotal: 16800, discount: 1680, total: 15120 },
    lines: { E7247: 790, H2200: 890 },
  },
  {
    name: "% off order with a cap (50% up to £20)",
    cart: cart([line("E7247"), line("H2200")]),
    promotions: [promo("p", { type: "percent_off_order", percent: 50, maxDiscount: 2000 })],
    expect: { subtotal: 16800, discount: 2000, total: 14800 },
  },
  {
    name: "% off products: 10% off the E7247 speaker",
    cart: cart([line("E7247"), line("A1010")]),
    promotions: [promo("p", { type: "percent_off_products", percent: 10, target: { products: ["E7247"] } })],
    expect: { subtotal: 9100, discount: 790, total: 8310 },
    lines: { E7247: 790, A1010: 0 },
  },
  {
    name: "fixed amount off order (£10), split exactly over lines",
    cart: cart([line("A1010"), line("G3020")]),
    promotions: [promo("p", { type: "fixed_off_order", amount: 1000 })],
    expect: { subtotal: 2700, discount: 1000, total: 1700 },
    lines: { A1010: 444, G3020: 556 },
  },
  {
    name: "fixed amount off products: £15 off the E7247 speaker, per unit",
    cart: cart([line("E7247", 2), line("A1010")]),
    promotions: [promo("p", { type: "fixed_off_products", amount: 1500, target: { products: ["E7247"] } })],
    expect: { subtotal: 17000, discount: 3000, total: 14000 },
    lines: { E7247: 3000, A1010: 0 },
  },
  {
    name: "fixed amount off products, once per order",
    cart: cart([line("E7247", 2)]),
    promotions: [
      promo("p", { type: "fixed_off_products", amount: 1500, target: { products: ["E7247"] }, per: "order" }),
    ],
    expect: { subtotal: 15800, discount: 1500, total: 14300 },
  },
  {
    name: "fixed price product: E7247 for £60",
    cart: cart([line("E7247", 2)]),
    promotions: [promo("p", { type: "fixed_price", price: 6000, target: { products: ["E7247"] } })],
    expect: { subtotal: 15800, discount: 3800, total: 12000 },
  },
  {
    name: "free product added to the cart: a free tote bag",
    cart: cart([line("E7247")]),
    promotions: [
      promo("p", { type: "free_product", item: { productId: "G3020", name: "Canvas tote bag", price: 1500 } }),
    ],
    expect: { subtotal: 9400, discount: 1500, total: 7900 },
    lines: { E7247: 0, G3020: 1500 },
  },
  {
    name: "buy 1 get a free gift or sample",
    cart: cart([line("E7247")]),
    promotions: [
      promo(
        "p",
        { type: "free_gift", item: { productId: "SAMPLE", name: "Cleaning cloth sample", price: 0 } },
        { conditions: { products: ["E7247"], minQuantity: 1 } },
      ),
    ],
    expect: { subtotal: 7900, discount: 0, total: 7900 },
    lines: { E7247: 0, SAMPLE: 0 },
    applied: ["p"],
  },
  {
    name: "free gift wrapping",
    cart: cart([line("H4100")]),
    promotions: [promo("p", { type: "free_product", item: { productId: "WRAP", name: "Gift wrapping", price: 350 } })],
    expect: { subtotal: 13250, discount: 350, total: 12900 },
  },
  {
    name: "free shipping when you spend over £100 (met)",
    cart: cart([line("H4100")], { shipping: 495 }),
    promotions: [demo("free-delivery-100")],
    expect: { subtotal: 12900, discount: 0, shippingDiscount: 495, total: 12900 },
  },
  {
    name: "free shipping when you spend over £100 (not met)",
    cart: cart([line("E7247")], { shipping: 495 }),
    promotions: [demo("free-delivery-100")],
    expect: { subtotal: 7900, discount: 0, shippingDiscount: 0, total: 8395 },
    applied: [],
  },
  {
    name: "cheapest item free: buy any 2 pairs of headphones, get the cheapest free",
    cart: cart([line("H4100"), line("H2200"), line("H1050")]),
    promotions: [demo("headphones-2-cheapest-free")],
    expect: { subtotal: 24700, discount: 2900, total: 21800 },
    lines: { H4100: 0, H2200: 0, H1050: 2900 },
  },
  {
    name: "bundle: buy 2 get 1 free",
    cart: cart([line("A1010", 3)]),
    promotions: [buyGetSame("A1010", 2, 1)],
    expect: { subtotal: 3600, discount: 1200, total: 2400 },
  },
  {
    name: "bundle: 3 for £10, repeated per multiple",
    cart: cart([line("A1010", 7)]),
    promotions: [promo("p", { type: "bundle_price", target: { products: ["A1010"] }, quantity: 3, price: 1000 })],
    expect: { subtotal: 8400, discount: 5200, total: 3200 },
  },
  {
    name: "buy 1 get 1 free",
    cart: cart([line("E3110", 4)]),
    promotions: [buyGetSame("E3110", 1, 1)],
    expect: { subtotal: 13600, discount: 6800, total: 6800 },
  },
  {
    name: "buy X get Y: a pair of E7247 speakers → 10% off a pair of headphones",
    cart: cart([line("E7247", 2), line("H4100", 2), line("A1010")]),
    promotions: [speakersThenHeadphones()],
    expect: { subtotal: 42800, discount: 2580, total: 40220 },
    lines: { E7247: 0, H4100: 2580, A1010: 0 },
  },
  {
    name: "buy X get Y repeats per multiple: two pairs of speakers → 10% off two pairs of headphones",
    cart: cart([line("E7247", 4), line("H4100", 2), line("H2200", 3)]),
    promotions: [speakersThenHeadphones()],
    // The cheapest four headphones: 3 × H2200 + 1 × H4100 → 10% of 39600.
    expect: { subtotal: 84100, discount: 3960, total: 80140 },
    lines: { E7247: 0, H2200: 2670, H4100: 1290 },
  },
  {
    name: "tiered: spend £50 get 10% (below £50: nothing)",
    cart: cart([line("A1010")]),
    promotions: [tiered()],
    expect: { subtotal: 1200, discount: 0, total: 1200 },
  },
  {
    name: "tiered: spend £50 get 10%",
    cart: cart([line("E7247"), line("A1010")]),
    promotions: [tiered()],
    expect: { subtotal: 9100, discount: 910, total: 8190 },
  },
  {
    name: "tiered: spend £100 get 20%",
    cart: cart([line("H4100")]),
    promotions: [tiered()],
    expect: { subtotal: 12900, discount: 2580, total: 10320 },
  },
  {
    name: "tiered: exactly £50 reaches the first tier",
    cart: cart([line("G1000")]),
    promotions: [tiered()],
    expect: { subtotal: 5000, discount: 500, total: 4500 },
  },
  // ---- catalogue examples ------------------------------------------------------------------
  {
    name: "buy 3 from these selected products and get 10% off",
    cart: cart([line("A1010", 2), line("G3020"), line("E7247")]),
    promotions: [buy3Selected()],
    expect: { subtotal: 11800, discount: 390, total: 11410 },
    lines: { A1010: 240, G3020: 150, E7247: 0 },
  },
  {
    name: "buy 3 from these selected products: only 2 → nothing",
    cart: cart([line("A1010", 2), line("E7247")]),
    promotions: [buy3Selected()],
    expect: { subtotal: 10300, discount: 0, total: 10300 },
  },
  {
    name: "5% off your order when you spend £50 or more",
    cart: cart([line("E7247")]),
    promotions: [promo("p", { type: "percent_off_order", percent: 5 }, { conditions: { minSubtotal: 5000 } })],
    expect: { subtotal: 7900, discount: 395, total: 7505 },
  },
  {
    name: "coupon DISC10: 10% off selected products",
    cart: cart([line("E7247"), line("A1010")]),
    promotions: [demo("disc10")],
    codes: [{ code: "DISC10", promotionId: "disc10" }],
    expect: { subtotal: 9100, discount: 790, total: 8310 },
    applied: ["disc10"],
  },
  {
    name: "coupon DISC10 not typed: no discount",
    cart: cart([line("E7247"), line("A1010")]),
    promotions: [demo("disc10")],
    expect: { subtotal: 9100, discount: 0, total: 9100 },
    applied: [],
  },
  {
    name: "exit-intent code: 10% off the order",
    cart: cart([line("E3110"), line("A4120")]),
    promotions: [demo("exit-intent-10")],
    codes: [{ code: "ABCD-EFGH-JKMN-PQRS", promotionId: "exit-intent-10" }],
    expect: { subtotal: 5800, discount: 580, total: 5220 },
  },
  {
    name: "welcome code on a first order",
    cart: cart([line("E3110")], { segments: ["first_order"] }),
    promotions: [demo("welcome-10")],
    codes: [{ code: "WELCOME-X", promotionId: "welcome-10" }],
    expect: { subtotal: 3400, discount: 340, total: 3060 },
  },
  // ---- stacking, priority, base, tax -------------------------------------------------------
  {
    name: "combinable promotions apply in priority order, each on the already-discounted amount",
    cart: cart([line("H4100")]),
    promotions: [
      promo("sale", { type: "percent_off_order", percent: 20 }, { priority: 10 }),
      promo("extra", { type: "fixed_off_order", amount: 1000 }),
    ],
    expect: { subtotal: 12900, discount: 2580 + 1000, total: 9320 },
  },
  {
    name: "base original: the percentage is of the original price",
    cart: cart([line("H4100")]),
    promotions: [
      promo("fixed", { type: "fixed_off_order", amount: 2900 }, { priority: 10 }),
      promo("pct", { type: "percent_off_order", percent: 10 }, { base: "original" }),
    ],
    expect: { subtotal: 12900, discount: 2900 + 1290, total: 8710 },
  },
  {
    name: "an exclusive promotion first stops the rest",
    cart: cart([line("H4100")]),
    promotions: [
      promo("vip", { type: "percent_off_order", percent: 15 }, { priority: 5, exclusive: true }),
      promo("extra", { type: "fixed_off_order", amount: 1000 }),
    ],
    expect: { subtotal: 12900, discount: 1935, total: 10965 },
    applied: ["vip"],
  },
  {
    name: "an exclusive promotion after another one is skipped",
    cart: cart([line("H4100")]),
    promotions: [
      promo("extra", { type: "fixed_off_order", amount: 1000 }, { priority: 5 }),
      promo("vip", { type: "percent_off_order", percent: 15 }, { exclusive: true }),
    ],
    expect: { subtotal: 12900, discount: 1000, total: 11900 },
    applied: ["extra"],
  },
  {
    name: "tax-inclusive prices: VAT 20% contained in the discounted total",
    cart: cart([line("E7247")], { tax: { rate: 20, inclusive: true } }),
    promotions: [promo("p", { type: "percent_off_order", percent: 10 })],
    expect: { subtotal: 7900, discount: 790, tax: 1185, total: 7110 },
  },
  {
    name: "tax-exclusive prices: VAT 20% added on the discounted total",
    cart: cart([line("E7247")], { tax: { rate: 20, inclusive: false }, shipping: 495 }),
    promotions: [promo("p", { type: "percent_off_order", percent: 10 })],
    expect: { subtotal: 7900, discount: 790, tax: 1422, total: 7110 + 1422 + 495 },
  },
];

/** Buy `x` of a product, get `y` more of it free. */
function buyGetSame(id: string, x: number, y: number): Promotion {
  const only = { products: [id] };
  return promo("p", { type: "buy_x_get_y", buy: only, buyQuantity: x, get: only, getQuantity: y });
}

/** Buy a pair of E7247 speakers and get 10% off a pair of headphones. */
function speakersThenHeadphones(): Promotion {
  return promo("p", {
    type: "buy_x_get_y",
    buy: { products: ["E7247"] },
    buyQuantity: 2,
    get: { categories: ["Headphones"] },
    getQuantity: 2,
    percent: 10,
  });
}

function tiered(): Promotion {
  return promo("tiers", {
    type: "tiered_percent",
    tiers: [
      { minSubtotal: 5000, percent: 10 },
      { minSubtotal: 10000, percent: 20 },
    ],
  });
}

function buy3Selected(): Promotion {
  const selected = { products: ["A1010", "A4120", "G3020"] };
  return promo(
    "buy3",
    { type: "percent_off_products", percent: 10, target: selected },
    { conditions: { ...selected, minQuantity: 3 } },
  );
}

describe("pricing engine: every type and catalogue example, exact totals", () => {
  it.each(cases)("should price $name", (c) => {
    const r = price(c.cart, c.promotions, c.codes ?? []);
    const { subtotal, discount, shippingDiscount, tax, total } = r.totals;
    expect({ subtotal, discount, total }).toEqual({
      subtotal: c.expect.subtotal,
      discount: c.expect.discount,
      total: c.expect.total,
    });
    if (c.expect.shippingDiscount !== undefined) expect(shippingDiscount).toBe(c.expect.shippingDiscount);
    if (c.expect.tax !== undefined) expect(tax).toBe(c.expect.tax);
    if (c.lines) {
      const byProduct = Object.fromEntries(
        Object.keys(c.lines).map((id) => [
          id,
          r.lines.filter((l) => l.productId === id).reduce((s, l) => s + l.discount, 0),
        ]),
      );
      expect(byProduct).toEqual(c.lines);
    }
    if (c.applied) expect(r.promotions.map((p) => p.id)).toEqual(c.applied);
    // Whatever the case: line discounts add up to the promotions' discounts.
    expect(r.promotions.reduce((s, p) => s + p.discount, 0)).toBe(discount);
  });

  it("should label applied promotions for shoppers", () => {
    const r = price(cart([line("H4100"), line("H1050")], { shipping: 495 }), [
      demo("free-delivery-100"),
      demo("headphones-2-cheapest-free"),
      promo("gift", { type: "free_gift", item: { productId: "S", name: "Cleaning cloth", price: 0 } }),
      tiered(),
      promo("b", { type: "bundle_price", target: { categories: ["Headphones"] }, quantity: 3, price: 1000 }),
    ]);
    expect(r.promotions.map((p) => p.label)).toEqual([
      "Buy any 2 headphones, get the cheapest free",
      "Free delivery on orders of £100 or more",
      "Free gift: Cleaning cloth",
      "Spend £50.00 get 10% off, spend £100.00 get 20% off",
    ]);
  });
});

describe("pricing engine: hints", () => {
  it("should tell the shopper how close they are to an automatic offer, and only when they are close", () => {
    const r = price(cart([line("E3110"), line("H1050")], { shipping: 495 }), [
      demo("free-delivery-100"),
      demo("headphones-2-cheapest-free"),
      demo("disc10"),
    ]);
    expect(r.hints).toEqual([
      {
        id: "headphones-2-cheapest-free",
        label: "Buy any 2 headphones, get the cheapest free",
        message: "Add 1 more qualifying item to get this offer.",
      },
      {
        id: "free-delivery-100",
        label: "Free delivery on orders of £100 or more",
        message: "Spend £37.00 more to use this offer (minimum £100.00).",
      },
    ]);
    // No headphones at all: no nagging about the headphones offer.
    const speakerOnly = price(cart([line("E7247")]), [demo("headphones-2-cheapest-free")]);
    expect(speakerOnly.hints).toEqual([]);
  });
});

describe("pricing engine: rejected codes say why", () => {
  const disc = (extra: Partial<Promotion> = {}) =>
    promo(
      "disc",
      { type: "percent_off_products", percent: 10, target: speakersAndPhones },
      { couponRequired: true, ...extra },
    );
  const code = [{ code: "DISC10", promotionId: "disc" }];

  it("should reject a code whose products are not in the cart as not applicable", () => {
    const r = price(cart([line("A1010")]), [disc()], code);
    expect(r.rejected).toEqual([expect.objectContaining({ code: "DISC10", reason: "not_applicable" })]);
    expect(r.totals.discount).toBe(0);
  });

  it("should reject a code below its minimum spend and say how much is missing", () => {
    const r = price(cart([line("E3110")]), [disc({ conditions: { minSubtotal: 5000 } })], code);
    expect(r.rejected).toEqual([
      { code: "DISC10", reason: "minimum_not_met", message: "Spend £16.00 more to use this offer (minimum £50.00)." },
    ]);
  });

  it("should reject a code that cannot be combined with an exclusive offer already applied", () => {
    const vip = promo(
      "vip",
      { type: "percent_off_order", percent: 15 },
      { exclusive: true, priority: 5, label: "VIP 15%" },
    );
    const r = price(cart([line("E7247")]), [vip, disc()], code);
    expect(r.rejected).toEqual([
      { code: "DISC10", reason: "not_combinable", message: 'This code can\'t be combined with "VIP 15%".' },
    ]);
    expect(r.totals.discount).toBe(1185);
  });

  it("should reject a welcome code on a returning customer's order", () => {
    const r = price(
      cart([line("E7247")], { segments: ["returning"] }),
      [demo("welcome-10")],
      [{ code: "W", promotionId: "welcome-10" }],
    );
    expect(r.rejected).toEqual([
      { code: "W", reason: "not_applicable", message: "This offer is for your first order only." },
    ]);
  });

  it("should reject an offer outside its dates", () => {
    const p = disc({ conditions: { endsAt: Date.parse("2026-01-01T00:00:00Z") } });
    expect(price(cart([line("E7247")]), [p], code).rejected[0]?.reason).toBe("expired");
    const q = disc({ conditions: { startsAt: Date.parse("2027-01-01T00:00:00Z") } });
    expect(price(cart([line("E7247")]), [q], code).rejected[0]?.reason).toBe("not_started");
  });

  it("should refuse a code bound to a product the cart does not hold, naming the product", () => {
    const bound = [{ code: "B", promotionId: "browse-10", scope: { products: ["E7247"], label: "E7247 speaker" } }];
    const r = price(cart([line("H2200"), line("A1010")]), [demo("browse-10")], bound);
    expect(r.rejected).toEqual([
      { code: "B", reason: "not_applicable", message: "This code is for E7247 speaker only." },
    ]);
    expect(r.totals.discount).toBe(0);
    // With the product in the cart, the shopper reads what the code was for.
    const ok = price(cart([line("E7247")]), [demo("browse-10")], bound);
    expect(ok.promotions).toEqual([
      { id: "browse-10", label: "10% off (E7247 speaker only)", code: "B", discount: 790, shippingDiscount: 0 },
    ]);
  });

  it("should apply one of two codes for the same offer and reject the other as a duplicate", () => {
    const r = price(cart([line("E7247")]), [disc()], [...code, { code: "OTHER", promotionId: "disc" }]);
    expect(r.promotions).toEqual([expect.objectContaining({ id: "disc", code: "DISC10", discount: 790 })]);
    expect(r.rejected).toEqual([expect.objectContaining({ code: "OTHER", reason: "duplicate" })]);
  });
});
