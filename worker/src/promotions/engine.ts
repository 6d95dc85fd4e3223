/**
 * The pricing engine: a pure function from a cart, the site's promotions and the accepted coupon
 * codes to priced lines, applied promotions, rejected codes and totals. No I/O, integer minor
 * units only. The rules (README "Promotions") in one place:
 *
 * - Lines are canonical first: the same product at the same price is one line, sorted by product
 *   id, so the result never depends on the order lines were added or how units were grouped.
 * - Every line is held as units, each with what is still payable on it. Promotions subtract from
 *   units, never below zero, never from shipping (only free delivery touches shipping).
 * - Promotions apply by priority (higher first, ties by id). An exclusive one applies only if
 *   nothing applied before it and stops everything after it.
 * - A promotion's amount is rounded once, half-up, then split over its units by largest remainder,
 *   so line discounts add up exactly to the promotion's discount.
 * - Conditions (minimum spend, quantity) look at the current subtotal of the matching lines:
 *   the prices sent, less the discounts of promotions applied before this one; no shipping, no
 *   tax added on top, no free items.
 */
import { formatMoney } from "../lib/money";
import type { FreeItem, Promotion, Selector } from "./definition";
import { describe, pct } from "./labels";
import { allocate, bps, includedTax, percentOf } from "./rounding";

export interface CartInput {
  currency: string;
  lines: { productId: string; name?: string; price: number; quantity: number; categories?: string[] }[];
  /** Delivery charge before promotions. */
  shipping?: number;
  /** Prices include tax (`inclusive`) or tax is added on top; `rate` in percent. Shipping is not taxed. */
  tax?: { rate: number; inclusive: boolean };
  /** Segments the shopper is in, e.g. `first_order`, `returning`. */
  segments?: string[];
  now: number;
}

/** A code the coupon store accepted, and the promotion it unlocks. */
export interface CodeInput {
  code: string;
  promotionId: string;
  /** A personal code bound to a product or a category: its promotion sees only those lines. */
  scope?: CodeScope;
}

/** The lines a bound code may touch, and how the shopper knows them ("E7247 speaker", "Speakers"). */
export interface CodeScope extends Selector {
  label: string;
}

export type Reason =
  | "unknown"
  | "expired"
  | "used"
  | "not_yours"
  | "not_started"
  | "not_applicable"
  | "minimum_not_met"
  | "not_combinable"
  | "duplicate"
  | "too_many_attempts";

export interface Rejection {
  code: string;
  reason: Reason;
  message: string;
}

export interface PricedLine {
  productId: string;
  name: string;
  quantity: number;
  unitPrice: number;
  subtotal: number;
  discount: number;
  total: number;
  tax: number;
  /** Put in the cart by a promotion (free product, gift). */
  added: boolean;
  promotions: { id: string; discount: number }[];
}

export interface AppliedPromotion {
  id: string;
  label: string;
  code?: string;
  discount: number;
  shippingDiscount: number;
}

/** An automatic offer the cart is close to: "spend £21.00 more" for free delivery. */
export interface Hint {
  id: string;
  label: string;
  message: string;
}

export interface PriceResult {
  currency: string;
  lines: PricedLine[];
  promotions: AppliedPromotion[];
  rejected: Rejection[];
  hints: Hint[];
  totals: {
    subtotal: number;
    discount: number;
    shipping: number;
    shippingDiscount: number;
    tax: number;
    total: number;
  };
}

interface Line {
  productId: string;
  name: string;
  price: number;
  categories: string[];
  added: boolean;
  /** What is still payable on each unit. */
  remaining: number[];
  byPromotion: Map<string, number>;
}

interface Unit {
  line: Line;
  index: number;
}

interface Effect {
  units: [Unit, number][];
  shipping: number;
  added: Line[];
}

interface Miss {
  reason: Reason;
  message: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const left = (u: Unit) => u.line.remaining[u.index] ?? 0;
const isMiss = (x: Effect | Miss): x is Miss => "reason" in x;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Same product at the same price is one line, whatever order or grouping it arrived in. */
function canonical(lines: CartInput["lines"]): Line[] {
  const merged = new Map<string, { line: CartInput["lines"][number]; quantity: number; categories: Set<string> }>();
  for (const l of lines) {
    const key = JSON.stringify([l.productId, l.price]);
    const m = merged.get(key);
    if (!m) merged.set(key, { line: l, quantity: l.quantity, categories: new Set(l.categories ?? []) });
    else {
      m.quantity += l.quantity;
      for (const c of l.categories ?? []) m.categories.add(c);
      // Deterministic name when the same product arrives under two names.
      if ((l.name ?? "") < (m.line.name ?? "")) m.line = l;
    }
  }
  return [...merged.values()]
    .sort((a, b) =>
      a.line.productId === b.line.productId
        ? a.line.price - b.line.price
        : a.line.productId < b.line.productId
          ? -1
          : 1,
    )
    .map(({ line, quantity, categories }) => ({
      productId: line.productId,
      name: line.name ?? line.productId,
      price: line.price,
      categories: [...categories].sort(),
      added: false,
      remaining: Array.from({ length: quantity }, () => line.price),
      byPromotion: new Map(),
    }));
}

const isEmpty = (s?: Selector) => !s || (!s.products?.length && !s.categories?.length);

/** Free items put in by promotions are never targets or conditions of other promotions. */
function matches(line: Line, s?: Selector): boolean {
  if (line.added) return false;
  if (!s || isEmpty(s)) return true;
  return !!s.products?.includes(line.productId) || line.categories.some((c) => s.categories?.includes(c));
}

function unitsOf(lines: Line[], s?: Selector): Unit[] {
  return lines.filter((l) => matches(l, s)).flatMap((line) => line.remaining.map((_, index) => ({ line, index })));
}

/** Spreads `amount` (capped at what is payable) over units in proportion to what they still cost. */
function spread(units: Unit[], amount: number): [Unit, number][] {
  const weights = units.map(left);
  const shares = allocate(Math.min(amount, sum(weights)), weights);
  return units.map((u, i) => [u, shares[i] ?? 0]);
}

/** A percentage of the units' value, rounded once, optionally capped. */
function percentEffect(units: Unit[], percent: number, base: Promotion["base"], cap?: number): [Unit, number][] {
  const value = sum(units.map((u) => (base === "original" ? u.line.price : left(u))));
  const amount = percentOf(value, bps(percent));
  return spread(units, cap === undefined ? amount : Math.min(amount, cap));
}

const effect = (units: [Unit, number][], shipping = 0, added: Line[] = []): Effect => ({ units, shipping, added });

/** "buy X get Y": the cheapest eligible units are the discounted ones; repeats per multiple up to `max`. */
function buyGet(
  lines: Line[],
  buy: Selector,
  x: number,
  get: Selector,
  y: number,
  percent: number,
  max: number,
  base: Promotion["base"],
): Effect | Miss {
  const all = unitsOf(lines);
  const buyers = all.filter((u) => matches(u.line, buy));
  const getters = all.filter((u) => matches(u.line, get)).sort((a, b) => left(a) - left(b)); // stable: canonical ties
  // k applications need the k·y cheapest "get" units plus k·x other "buy" units. Counting the buy
  // units among the cheapest getters once makes the check for each k constant-time.
  const buySet = new Set(buyers);
  const buyersAmongCheapest = [0];
  for (const u of getters) buyersAmongCheapest.push((buyersAmongCheapest.at(-1) ?? 0) + (buySet.has(u) ? 1 : 0));
  let times = 0;
  while (times < max) {
    const k = times + 1;
    if (getters.length < k * y || buyers.length - (buyersAmongCheapest[k * y] ?? 0) < k * x) break;
    times = k;
  }
  if (times === 0) {
    const needed = same(buy, get) ? x + y : x;
    if (buyers.length === 0)
      return { reason: "not_applicable", message: "Your cart has none of the products this offer is for." };
    return buyers.length < needed
      ? {
          reason: "minimum_not_met",
          message: `Add ${plural(needed - buyers.length, "more qualifying item")} to get this offer.`,
        }
      : { reason: "not_applicable", message: "Add an item this offer discounts to your cart." };
  }
  return effect(percentEffect(getters.slice(0, times * y), percent, base));
}

const same = (a: Selector, b: Selector) => JSON.stringify(a) === JSON.stringify(b);

function freeLine(promotionId: string, item: FreeItem, quantity: number): Line {
  return {
    productId: item.productId,
    name: item.name,
    price: item.price,
    categories: item.categories ?? [],
    added: true,
    remaining: Array.from({ length: quantity }, () => item.price),
    byPromotion: new Map([[promotionId, 0]]),
  };
}

function apply(p: Promotion, lines: Line[], shippingLeft: number, currency: string): Effect | Miss {
  const a = p.action;
  const money = (n: number) => formatMoney(n, currency);
  const base = p.base ?? "discounted";
  const nothing: Miss = { reason: "not_applicable", message: "Nothing in your cart qualifies for this offer." };
  switch (a.type) {
    case "percent_off_order":
      return effect(percentEffect(unitsOf(lines), a.percent, base, a.maxDiscount));
    case "percent_off_products":
      return effect(percentEffect(unitsOf(lines, a.target), a.percent, base, a.maxDiscount));
    case "fixed_off_order":
      return effect(spread(unitsOf(lines), a.amount));
    case "fixed_off_products": {
      const units = unitsOf(lines, a.target);
      if (a.per === "order") return effect(spread(units, a.amount));
      return effect(units.map((u) => [u, Math.min(a.amount, left(u))]));
    }
    case "fixed_price":
      return effect(
        unitsOf(lines, a.target).map((u) => {
          const from = base === "original" ? u.line.price : left(u);
          return [u, Math.max(0, Math.min(left(u), from - a.price))];
        }),
      );
    case "free_product":
    case "free_gift": {
      const line = freeLine(p.id, a.item, a.quantity ?? 1);
      return effect(
        line.remaining.map((price, index) => [{ line, index }, price]),
        0,
        [line],
      );
    }
    case "free_shipping":
      return shippingLeft > 0
        ? effect([], shippingLeft)
        : { reason: "not_applicable", message: "Delivery is already free for this order." };
    case "cheapest_free":
      return buyGet(lines, a.target, a.groupSize - 1, a.target, 1, 100, a.repeat ? Number.POSITIVE_INFINITY : 1, base);
    case "buy_x_get_y":
      return buyGet(
        lines,
        a.buy,
        a.buyQuantity,
        a.get,
        a.getQuantity,
        a.percent ?? 100,
        a.maxApplications ?? Number.POSITIVE_INFINITY,
        base,
      );
    case "bundle_price": {
      // Bundles are filled with the dearest units first: the shopper gets the largest saving.
      const units = unitsOf(lines, a.target).sort((x, y) => left(y) - left(x));
      const out: [Unit, number][] = [];
      const max = a.maxApplications ?? Number.POSITIVE_INFINITY;
      for (let i = 0, n = 0; n < max && i + a.quantity <= units.length; i += a.quantity, n++) {
        const group = units.slice(i, i + a.quantity);
        const value = sum(group.map(left));
        if (value <= a.price) break;
        out.push(...spread(group, value - a.price));
      }
      if (out.length === 0)
        return units.length > 0 && units.length < a.quantity
          ? {
              reason: "minimum_not_met",
              message: `Add ${plural(a.quantity - units.length, "more qualifying item")} to get this offer.`,
            }
          : nothing;
      return effect(out);
    }
    case "tiered_percent": {
      const units = unitsOf(lines, a.target);
      const spent = sum(units.map(left));
      const tiers = [...a.tiers].sort((x, y) => y.minSubtotal - x.minSubtotal);
      const tier = tiers.find((t) => spent >= t.minSubtotal);
      if (!tier) {
        const lowest = tiers[tiers.length - 1];
        return {
          reason: "minimum_not_met",
          message: `Spend ${money((lowest?.minSubtotal ?? 0) - spent)} more to get ${pct(lowest?.percent ?? 0)} off.`,
        };
      }
      return effect(percentEffect(units, tier.percent, base, a.maxDiscount));
    }
  }
}

/** Why a promotion's conditions do not hold for this cart, or null when they do. */
function unmet(p: Promotion, lines: Line[], cart: CartInput): Miss | null {
  const c = p.conditions;
  if (!c) return null;
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  if (c.startsAt !== undefined && cart.now < c.startsAt)
    return { reason: "not_started", message: `This offer starts on ${day(c.startsAt)}.` };
  if (c.endsAt !== undefined && cart.now >= c.endsAt)
    return { reason: "expired", message: `This offer ended on ${day(c.endsAt)}.` };
  if (c.segments?.length && !c.segments.some((s) => cart.segments?.includes(s)))
    return {
      reason: "not_applicable",
      message: c.segments.includes("first_order")
        ? "This offer is for your first order only."
        : "This offer is not available for your account.",
    };
  const units = unitsOf(lines, c);
  if (!isEmpty(c) && units.length === 0)
    return { reason: "not_applicable", message: "Your cart has none of the products this offer is for." };
  if (c.minQuantity !== undefined && units.length < c.minQuantity)
    return {
      reason: "minimum_not_met",
      message: `Add ${plural(c.minQuantity - units.length, "more qualifying item")} to get this offer.`,
    };
  const spent = sum(units.map(left));
  if (c.minSubtotal !== undefined && spent < c.minSubtotal)
    return {
      reason: "minimum_not_met",
      message: `Spend ${formatMoney(c.minSubtotal - spent, cart.currency)} more to use this offer (minimum ${formatMoney(c.minSubtotal, cart.currency)}).`,
    };
  return null;
}

/**
 * The ways a promotion applies: once for the whole cart (automatic, or its unbound codes), and
 * once per distinct scope of its bound codes, so two personal codes for two products each discount
 * their own product. Codes for the same scope are one offer (the second is a duplicate).
 */
function offersOf(p: Promotion, codes: CodeInput[]): { codes: string[]; scope?: CodeScope }[] {
  const whole = codes.filter((c) => !c.scope).map((c) => c.code);
  const out: { codes: string[]; scope?: CodeScope }[] = !p.couponRequired || whole.length > 0 ? [{ codes: whole }] : [];
  const scoped = new Map<string, { codes: string[]; scope: CodeScope }>();
  for (const c of codes) {
    if (!c.scope) continue;
    const key = JSON.stringify([c.scope.products ?? [], c.scope.categories ?? []]);
    const o = scoped.get(key);
    if (o) o.codes.push(c.code);
    else scoped.set(key, { codes: [c.code], scope: c.scope });
  }
  return [...out, ...scoped.values()];
}

const byPriority = (a: Promotion, b: Promotion) =>
  (b.priority ?? 0) - (a.priority ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Prices a cart. Pure and deterministic: same inputs, same result, in any line order. */
export function price(cart: CartInput, promotions: Promotion[], codes: CodeInput[] = []): PriceResult {
  const lines = canonical(cart.lines);
  const shipping = cart.shipping ?? 0;
  let shippingLeft = shipping;
  const rejected: Rejection[] = [];
  const applied: AppliedPromotion[] = [];
  const hints: Hint[] = [];
  const known = new Set(promotions.map((p) => p.id));
  const codesFor = new Map<string, CodeInput[]>();
  for (const c of codes) {
    if (!known.has(c.promotionId)) {
      rejected.push({ code: c.code, reason: "not_applicable", message: "This code's offer is no longer running." });
      continue;
    }
    const list = codesFor.get(c.promotionId) ?? [];
    if (list.some((x) => x.code === c.code)) continue;
    codesFor.set(c.promotionId, [...list, c]);
  }

  let exclusive: AppliedPromotion | null = null;
  for (const p of [...promotions].sort(byPriority))
    for (const { codes: pcodes, scope } of offersOf(p, codesFor.get(p.id) ?? [])) {
      const reject = (m: Miss) => {
        for (const code of pcodes) rejected.push({ code, ...m });
        // An automatic offer missed by a little spend or a few items is worth telling the shopper.
        if (!p.couponRequired && m.reason === "minimum_not_met")
          hints.push({ id: p.id, label: describe(p, cart.currency), message: m.message });
      };
      if (exclusive || (p.exclusive && applied.length > 0)) {
        const other = exclusive ?? applied[0];
        reject({ reason: "not_combinable", message: `This code can't be combined with "${other?.label}".` });
        continue;
      }
      // A bound code's promotion is priced on its own lines only: "10% off your order" through a
      // code bound to the speaker is 10% off the speaker, and its conditions count only those lines.
      const view = scope ? lines.filter((l) => matches(l, scope)) : lines;
      if (scope && view.length === 0) {
        reject({ reason: "not_applicable", message: `This code is for ${scope.label} only.` });
        continue;
      }
      const miss = unmet(p, view, cart);
      if (miss) {
        reject(miss);
        continue;
      }
      const result = apply(p, view, shippingLeft, cart.currency);
      if (isMiss(result)) {
        reject(result);
        continue;
      }
      const discount = sum(result.units.map(([, d]) => d));
      if (discount === 0 && result.shipping === 0 && result.added.length === 0) {
        reject({ reason: "not_applicable", message: "Nothing in your cart qualifies for this offer." });
        continue;
      }
      lines.push(...result.added);
      for (const [u, d] of result.units) {
        if (d === 0) continue;
        u.line.remaining[u.index] = left(u) - d;
        u.line.byPromotion.set(p.id, (u.line.byPromotion.get(p.id) ?? 0) + d);
      }
      shippingLeft -= result.shipping;
      const [code, ...extra] = pcodes;
      for (const c of extra)
        rejected.push({ code: c, reason: "duplicate", message: "Another code for the same offer is already applied." });
      const label = describe(p, cart.currency);
      const a: AppliedPromotion = {
        id: p.id,
        label: scope ? `${label} (${scope.label} only)` : label,
        ...(code ? { code } : {}),
        discount,
        shippingDiscount: result.shipping,
      };
      applied.push(a);
      if (p.exclusive) exclusive = a;
    }

  const rate = cart.tax ? bps(cart.tax.rate) : 0;
  const priced: PricedLine[] = lines.map((l) => {
    const subtotal = l.price * l.remaining.length;
    const total = sum(l.remaining);
    const tax = rate === 0 ? 0 : cart.tax?.inclusive ? includedTax(total, rate) : percentOf(total, rate);
    return {
      productId: l.productId,
      name: l.name,
      quantity: l.remaining.length,
      unitPrice: l.price,
      subtotal,
      discount: subtotal - total,
      total,
      tax,
      added: l.added,
      promotions: [...l.byPromotion].map(([id, discount]) => ({ id, discount })),
    };
  });
  const subtotal = sum(priced.map((l) => l.subtotal));
  const discount = sum(priced.map((l) => l.discount));
  const tax = sum(priced.map((l) => l.tax));
  const shippingDiscount = shipping - shippingLeft;
  return {
    currency: cart.currency,
    lines: priced,
    promotions: applied,
    rejected,
    hints,
    totals: {
      subtotal,
      discount,
      shipping,
      shippingDiscount,
      tax,
      total: subtotal - discount + shippingLeft + (cart.tax && !cart.tax.inclusive ? tax : 0),
    },
  };
}
