/**
 * What a merchant configures: a promotion is conditions + one action + stacking settings. Amounts
 * are integer minor units of the cart's currency; percentages allow two decimals (12.5 %).
 * `parsePromotion` turns untrusted JSON (admin API) into a `Promotion` or a readable error.
 */
import { isDict } from "../lib/values";

/** Which cart lines a promotion looks at or discounts: any listed product or category; empty = every line. */
export interface Selector {
  products?: string[];
  categories?: string[];
}

export interface Conditions extends Selector {
  /** Units of the matching lines the cart must hold. */
  minQuantity?: number;
  /** Minimum spend on the matching lines: the current subtotal (see README "Promotions"). */
  minSubtotal?: number;
  /** The shopper must be in one of these segments (`first_order`, `returning`, …). */
  segments?: string[];
  startsAt?: number;
  endsAt?: number;
}

export interface FreeItem {
  productId: string;
  name: string;
  /** What it would cost (shown as a discount); 0 for an item that is never sold, like a sample. */
  price: number;
  categories?: string[];
}

export type Action =
  | { type: "percent_off_order"; percent: number; maxDiscount?: number }
  | { type: "percent_off_products"; percent: number; target: Selector; maxDiscount?: number }
  | { type: "fixed_off_order"; amount: number }
  | { type: "fixed_off_products"; amount: number; target: Selector; per?: "unit" | "order" }
  | { type: "fixed_price"; price: number; target: Selector }
  | { type: "free_product"; item: FreeItem; quantity?: number }
  | { type: "free_gift"; item: FreeItem; quantity?: number }
  | { type: "free_shipping" }
  | { type: "cheapest_free"; target: Selector; groupSize: number; repeat?: boolean }
  | {
      type: "buy_x_get_y";
      buy: Selector;
      buyQuantity: number;
      get: Selector;
      getQuantity: number;
      /** Discount on the "get" units; 100 = free. */
      percent?: number;
      /** How many times it repeats per order; unset = once per multiple, without limit. */
      maxApplications?: number;
    }
  | { type: "bundle_price"; target: Selector; quantity: number; price: number; maxApplications?: number }
  | {
      type: "tiered_percent";
      tiers: { minSubtotal: number; percent: number }[];
      target?: Selector;
      maxDiscount?: number;
    };

export type ActionType = Action["type"];

export interface Promotion {
  id: string;
  /** Shown to the shopper; a label is generated from the action when absent. */
  label?: string;
  action: Action;
  conditions?: Conditions;
  /** Applies only with a valid coupon code bound to it. */
  couponRequired?: boolean;
  /** Higher applies first; ties by id. */
  priority?: number;
  /** Applies alone: only if nothing applied before it, and nothing applies after it. */
  exclusive?: boolean;
  /** Percentages and fixed prices measured on the price after earlier promotions (default) or the original. */
  base?: "discounted" | "original";
}

// ---------------------------------------------------------------------------------------------
// Validation of untrusted definitions

const MAX_AMOUNT = 1_000_000_000;
const MAX_LIST = 200;
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

class Invalid extends Error {}
const bad = (message: string): never => {
  throw new Invalid(message);
};

function int(v: unknown, name: string, min: number, max = MAX_AMOUNT): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    bad(`${name} must be a whole number from ${min} to ${max} (amounts are in minor units, e.g. pence).`);
  return v as number;
}

const optInt = (v: unknown, name: string, min: number, max = MAX_AMOUNT) =>
  v === undefined || v === null ? undefined : int(v, name, min, max);

function percent(v: unknown, name: string): number {
  // 12.5 is fine, 12.345 is not: the engine works in basis points (hundredths of a percent).
  if (typeof v !== "number" || !(v > 0 && v <= 100) || Math.abs(v * 100 - Math.round(v * 100)) > 1e-9)
    bad(`${name} must be a number above 0 and at most 100, with at most two decimals.`);
  return v as number;
}

function strings(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    !Array.isArray(v) ||
    v.length > MAX_LIST ||
    !v.every((s) => typeof s === "string" && s.length > 0 && s.length <= 200)
  )
    bad(`${name} must be a list of at most ${MAX_LIST} non-empty strings.`);
  return v as string[];
}

function selector(v: unknown, name: string, required: boolean): Selector {
  if (v === undefined && !required) return {};
  if (!isDict(v)) return bad(`${name} must be an object with products and/or categories.`);
  const s: Selector = {};
  const products = strings(v.products, `${name}.products`);
  const categories = strings(v.categories, `${name}.categories`);
  if (products) s.products = products;
  if (categories) s.categories = categories;
  return s;
}

function time(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === "string" ? Date.parse(v) : v;
  if (typeof t !== "number" || !Number.isFinite(t)) bad(`${name} must be an ISO date or epoch milliseconds.`);
  return t as number;
}

function item(v: unknown): FreeItem {
  if (!isDict(v)) return bad("action.item must be an object { productId, name, price }.");
  const productId = typeof v.productId === "string" && v.productId.length <= 200 ? v.productId : "";
  if (!productId) bad("action.item.productId is required.");
  const name = typeof v.name === "string" && v.name.length > 0 && v.name.length <= 200 ? v.name : productId;
  const categories = strings(v.categories, "action.item.categories");
  return { productId, name, price: int(v.price ?? 0, "action.item.price", 0), ...(categories ? { categories } : {}) };
}

function action(v: unknown): Action {
  if (!isDict(v)) return bad("action must be an object with a type.");
  const cap = optInt(v.maxDiscount, "action.maxDiscount", 1);
  const capped = cap === undefined ? {} : { maxDiscount: cap };
  switch (v.type) {
    case "percent_off_order":
      return { type: v.type, percent: percent(v.percent, "action.percent"), ...capped };
    case "percent_off_products":
      return {
        type: v.type,
        percent: percent(v.percent, "action.percent"),
        target: selector(v.target, "action.target", true),
        ...capped,
      };
    case "fixed_off_order":
      return { type: v.type, amount: int(v.amount, "action.amount", 1) };
    case "fixed_off_products": {
      if (v.per !== undefined && v.per !== "unit" && v.per !== "order") bad('action.per must be "unit" or "order".');
      return {
        type: v.type,
        amount: int(v.amount, "action.amount", 1),
        target: selector(v.target, "action.target", true),
        per: v.per === "order" ? "order" : "unit",
      };
    }
    case "fixed_price":
      return {
        type: v.type,
        price: int(v.price, "action.price", 0),
        target: selector(v.target, "action.target", true),
      };
    case "free_product":
    case "free_gift":
      return { type: v.type, item: item(v.item), quantity: int(v.quantity ?? 1, "action.quantity", 1, 100) };
    case "free_shipping":
      return { type: v.type };
    case "cheapest_free":
      return {
        type: v.type,
        target: selector(v.target, "action.target", false),
        groupSize: int(v.groupSize, "action.groupSize", 2, 100),
        repeat: v.repeat === true,
      };
    case "buy_x_get_y": {
      const max = optInt(v.maxApplications, "action.maxApplications", 1, 1000);
      return {
        type: v.type,
        buy: selector(v.buy, "action.buy", false),
        buyQuantity: int(v.buyQuantity, "action.buyQuantity", 1, 100),
        get: selector(v.get ?? v.buy, "action.get", false),
        getQuantity: int(v.getQuantity, "action.getQuantity", 1, 100),
        percent: v.percent === undefined ? 100 : percent(v.percent, "action.percent"),
        ...(max === undefined ? {} : { maxApplications: max }),
      };
    }
    case "bundle_price": {
      const max = optInt(v.maxApplications, "action.maxApplications", 1, 1000);
      return {
        type: v.type,
        target: selector(v.target, "action.target", true),
        quantity: int(v.quantity, "action.quantity", 2, 100),
        price: int(v.price, "action.price", 0),
        ...(max === undefined ? {} : { maxApplications: max }),
      };
    }
    case "tiered_percent": {
      if (!Array.isArray(v.tiers) || v.tiers.length === 0 || v.tiers.length > 20)
        bad("action.tiers must list 1 to 20 tiers { minSubtotal, percent }.");
      const tiers = (v.tiers as unknown[]).map((t, i) => {
        if (!isDict(t)) return bad(`action.tiers[${i}] must be { minSubtotal, percent }.`);
        return {
          minSubtotal: int(t.minSubtotal, `action.tiers[${i}].minSubtotal`, 0),
          percent: percent(t.percent, `action.tiers[${i}].percent`),
        };
      });
      const target = v.target === undefined ? undefined : selector(v.target, "action.target", true);
      return { type: v.type, tiers, ...(target ? { target } : {}), ...capped };
    }
    default:
      return bad(`action.type must be one of: ${ACTION_TYPES.join(", ")}.`);
  }
}

export const ACTION_TYPES: readonly ActionType[] = [
  "percent_off_order",
  "percent_off_products",
  "fixed_off_order",
  "fixed_off_products",
  "fixed_price",
  "free_product",
  "free_gift",
  "free_shipping",
  "cheapest_free",
  "buy_x_get_y",
  "bundle_price",
  "tiered_percent",
];

function conditions(v: unknown): Conditions | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isDict(v)) return bad("conditions must be an object.");
  const c: Conditions = { ...selector(v, "conditions", true) };
  const minQuantity = optInt(v.minQuantity, "conditions.minQuantity", 1, 1000);
  const minSubtotal = optInt(v.minSubtotal, "conditions.minSubtotal", 1);
  const segments = strings(v.segments, "conditions.segments");
  const startsAt = time(v.startsAt, "conditions.startsAt");
  const endsAt = time(v.endsAt, "conditions.endsAt");
  if (minQuantity !== undefined) c.minQuantity = minQuantity;
  if (minSubtotal !== undefined) c.minSubtotal = minSubtotal;
  if (segments) c.segments = segments;
  if (startsAt !== undefined) c.startsAt = startsAt;
  if (endsAt !== undefined) c.endsAt = endsAt;
  return c;
}

/** A promotion from untrusted JSON, or the first problem found, in words. */
export function parsePromotion(v: unknown): { promotion: Promotion } | { error: string } {
  try {
    if (!isDict(v)) bad("A promotion must be a JSON object.");
    const p = v as Record<string, unknown>;
    if (typeof p.id !== "string" || !ID.test(p.id)) bad("id must be 1–64 letters, digits, or _ . : -");
    if (p.label !== undefined && (typeof p.label !== "string" || p.label.length > 200))
      bad("label must be a string of at most 200 characters.");
    if (p.base !== undefined && p.base !== "discounted" && p.base !== "original")
      bad('base must be "discounted" or "original".');
    const promotion: Promotion = {
      id: p.id as string,
      action: action(p.action),
      couponRequired: p.couponRequired === true,
      priority: optInt(p.priority, "priority", -1000, 1000) ?? 0,
      exclusive: p.exclusive === true,
      base: p.base === "original" ? "original" : "discounted",
    };
    if (typeof p.label === "string" && p.label) promotion.label = p.label;
    const c = conditions(p.conditions);
    if (c) promotion.conditions = c;
    return { promotion };
  } catch (e) {
    if (e instanceof Invalid) return { error: e.message };
    throw e;
  }
}
