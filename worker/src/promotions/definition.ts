/**
 * What a merchant configures: a promotion is conditions + one action + stacking settings. Amounts
 * are integer minor units of the cart's currency; percentages allow two decimals (12.5 %).
 * `promotionSchema` is the one definition: the types below are derived from it, and
 * `parsePromotion` turns untrusted JSON (admin API, stored rows) into a `Promotion` or a readable error.
 */
import * as v from "valibot";
import { check, int, text, variantMessage } from "../lib/schema";

const MAX_AMOUNT = 1_000_000_000;
const MAX_LIST = 200;
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

const amount = (min: number, max = MAX_AMOUNT) =>
  int(min, max, `must be a whole number from ${min} to ${max} (amounts are in minor units, e.g. pence).`);

// 12.5 is fine, 12.345 is not: the engine works in basis points (hundredths of a percent).
const PERCENT = "must be a number above 0 and at most 100, with at most two decimals.";
const percent = v.pipe(
  v.number(PERCENT),
  v.check((n) => n > 0 && n <= 100 && Math.abs(n * 100 - Math.round(n * 100)) <= 1e-9, PERCENT),
);

const LIST = `must be a list of at most ${MAX_LIST} non-empty strings.`;
const strings = v.pipe(v.array(text(200, LIST), LIST), v.maxLength(MAX_LIST, LIST));

/** Which cart lines a promotion looks at or discounts: any listed product or category; empty = every line. */
const selector = v.strictObject(
  { products: v.optional(strings), categories: v.optional(strings) },
  "must be an object with products and/or categories.",
);
export type Selector = v.InferOutput<typeof selector>;

const TIME = "must be an ISO date or epoch milliseconds.";
const time = v.pipe(
  v.union([v.string(TIME), v.number(TIME)], TIME),
  v.transform((t) => (typeof t === "string" ? Date.parse(t) : t)),
  v.check((t: number) => Number.isFinite(t), TIME),
);

const conditions = v.pipe(
  v.strictObject(
    {
      ...selector.entries,
      /** Units of the matching lines the cart must hold. */
      minQuantity: v.optional(amount(1, 1000)),
      /** Minimum spend on the matching lines: the current subtotal (see README "Promotions"). */
      minSubtotal: v.optional(amount(1)),
      /** The shopper must be in one of these segments (`first_order`, `returning`, …). */
      segments: v.optional(strings),
      startsAt: v.optional(time),
      endsAt: v.optional(time),
    },
    "must be an object.",
  ),
  v.forward(
    v.partialCheck(
      [["startsAt"], ["endsAt"]],
      (c) => c.startsAt === undefined || c.endsAt === undefined || c.startsAt < c.endsAt,
      "must be before conditions.endsAt.",
    ),
    ["startsAt"],
  ),
);
export type Conditions = v.InferOutput<typeof conditions>;

const freeItem = v.pipe(
  v.strictObject(
    {
      productId: text(200, "is required: a product id of 1 to 200 characters."),
      name: v.optional(text(200)),
      /** What it would cost (shown as a discount); 0 for an item that is never sold, like a sample. */
      price: v.optional(amount(0), 0),
      categories: v.optional(strings),
    },
    "must be an object { productId, name, price }.",
  ),
  v.transform(({ name, ...item }) => ({ ...item, name: name ?? item.productId })),
);
export type FreeItem = v.InferOutput<typeof freeItem>;

const maxDiscount = v.optional(amount(1));
const maxApplications = v.optional(amount(1, 1000));
const TIERS = "must list 1 to 20 tiers { minSubtotal, percent }.";

const action = v.variant(
  "type",
  [
    v.strictObject({ type: v.literal("percent_off_order"), percent, maxDiscount }),
    v.strictObject({ type: v.literal("percent_off_products"), percent, target: selector, maxDiscount }),
    v.strictObject({ type: v.literal("fixed_off_order"), amount: amount(1) }),
    v.strictObject({
      type: v.literal("fixed_off_products"),
      amount: amount(1),
      target: selector,
      per: v.optional(v.picklist(["unit", "order"], 'must be "unit" or "order".')),
    }),
    v.strictObject({ type: v.literal("fixed_price"), price: amount(0), target: selector }),
    v.strictObject({ type: v.literal("free_product"), item: freeItem, quantity: v.optional(amount(1, 100)) }),
    v.strictObject({ type: v.literal("free_gift"), item: freeItem, quantity: v.optional(amount(1, 100)) }),
    v.strictObject({ type: v.literal("free_shipping") }),
    v.strictObject({
      type: v.literal("cheapest_free"),
      target: v.optional(selector, {}),
      groupSize: amount(2, 100),
      repeat: v.optional(v.boolean("must be true or false.")),
    }),
    v.pipe(
      v.strictObject({
        type: v.literal("buy_x_get_y"),
        buy: v.optional(selector, {}),
        buyQuantity: amount(1, 100),
        /** The lines the discount goes to; the "buy" lines when unset. */
        get: v.optional(selector),
        getQuantity: amount(1, 100),
        /** Discount on the "get" units; 100 = free. */
        percent: v.optional(percent),
        /** How many times it repeats per order; unset = once per multiple, without limit. */
        maxApplications,
      }),
      v.transform(({ get, ...a }) => ({ ...a, get: get ?? a.buy })),
    ),
    v.strictObject({
      type: v.literal("bundle_price"),
      target: selector,
      quantity: amount(2, 100),
      price: amount(0),
      maxApplications,
    }),
    v.strictObject({
      type: v.literal("tiered_percent"),
      tiers: v.pipe(
        v.array(v.strictObject({ minSubtotal: amount(0), percent }, "must be { minSubtotal, percent }."), TIERS),
        v.minLength(1, TIERS),
        v.maxLength(20, TIERS),
      ),
      target: v.optional(selector),
      maxDiscount,
    }),
  ],
  variantMessage("action types"),
);
export type Action = v.InferOutput<typeof action>;
export type ActionType = Action["type"];

export const ACTION_TYPES: readonly ActionType[] = action.options.map(
  (o) => ("pipe" in o ? o.pipe[0] : o).entries.type.literal,
);

/** The fields of a promotion (the admin API adds `active` next to them). */
export const promotionEntries = {
  id: v.pipe(
    v.string("must be 1–64 letters, digits, or _ . : -"),
    v.regex(ID, "must be 1–64 letters, digits, or _ . : -"),
  ),
  /** Shown to the shopper; a label is generated from the action when absent. */
  label: v.optional(v.pipe(v.string(), v.maxLength(200, "must be a string of at most 200 characters."))),
  action,
  conditions: v.optional(conditions),
  /** Applies only with a valid coupon code bound to it. */
  couponRequired: v.optional(v.boolean("must be true or false.")),
  /** Higher applies first; ties by id. */
  priority: v.optional(amount(-1000, 1000)),
  /** Applies alone: only if nothing applied before it, and nothing applies after it. */
  exclusive: v.optional(v.boolean("must be true or false.")),
  /** Percentages and fixed prices measured on the price after earlier promotions (default) or the original. */
  base: v.optional(v.picklist(["discounted", "original"], 'must be "discounted" or "original".')),
};

export const promotionSchema = v.strictObject(promotionEntries, "A promotion must be a JSON object.");
export type Promotion = v.InferOutput<typeof promotionSchema>;

/** A promotion from untrusted JSON, or the first problem found, in words. */
export function parsePromotion(input: unknown): { promotion: Promotion } | { error: string } {
  const r = check(promotionSchema, input);
  return r.ok ? { promotion: r.value } : { error: r.problem.message };
}
