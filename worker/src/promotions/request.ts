/**
 * The body of `POST /v1/cart/price`, checked before anything else sees it: bounded lines, whole
 * minor units, sane quantities. Prices are what the store shows; the store (not this endpoint) is
 * the authority on what an order costs, so pricing never trusts them for anything but display.
 */
import type { CartInput } from "./engine";
import { isDict } from "../lib/values";

export const PRICE_LIMITS = { bytes: 64 * 1024, lines: 100, units: 1000, amount: 100_000_000 };

export interface PriceRequest {
  cart: Omit<CartInput, "now" | "segments">;
  codes: unknown[];
  anonymousId: string | null;
}

const isAmount = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= PRICE_LIMITS.amount;
const shortText = (v: unknown, max: number): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

export function parsePriceRequest(
  body: Record<string, unknown>,
  siteCurrency: string,
): PriceRequest | { error: string } {
  const currency = body.currency ?? siteCurrency;
  if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency))
    return { error: "currency must be a three-letter ISO code such as GBP." };
  if (!Array.isArray(body.lines) || body.lines.length > PRICE_LIMITS.lines)
    return { error: `lines must be an array of at most ${PRICE_LIMITS.lines} cart lines.` };
  const lines: CartInput["lines"] = [];
  let units = 0;
  for (const [i, l] of body.lines.entries()) {
    const at = `lines[${i}]`;
    if (!isDict(l)) return { error: `${at} must be an object { product_id, price, quantity, categories? }.` };
    const productId = l.product_id ?? l.productId;
    if (!shortText(productId, 200)) return { error: `${at}.product_id must be a string of 1–200 characters.` };
    if (!isAmount(l.price)) return { error: `${at}.price must be a whole number of minor units (pence), e.g. 7900.` };
    const quantity = l.quantity ?? 1;
    if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1 || quantity > PRICE_LIMITS.units)
      return { error: `${at}.quantity must be a whole number from 1 to ${PRICE_LIMITS.units}.` };
    units += quantity;
    const raw = l.categories ?? (l.category === undefined ? [] : [l.category]);
    if (!Array.isArray(raw) || raw.length > 10 || !raw.every((c) => shortText(c, 100)))
      return { error: `${at}.categories must be a list of at most 10 category names.` };
    if (l.name !== undefined && !shortText(l.name, 200)) return { error: `${at}.name must be a short string.` };
    lines.push({
      productId,
      price: l.price,
      quantity,
      categories: raw as string[],
      ...(typeof l.name === "string" ? { name: l.name } : {}),
    });
  }
  if (units > PRICE_LIMITS.units) return { error: `A cart holds at most ${PRICE_LIMITS.units} units.` };
  const shipping = body.shipping ?? 0;
  if (!isAmount(shipping)) return { error: "shipping must be a whole number of minor units." };
  let tax: CartInput["tax"];
  if (body.tax !== undefined) {
    const t = body.tax;
    if (!isDict(t) || typeof t.rate !== "number" || !(t.rate >= 0 && t.rate <= 100) || typeof t.inclusive !== "boolean")
      return { error: "tax must be { rate: percent from 0 to 100, inclusive: true|false }." };
    tax = { rate: t.rate, inclusive: t.inclusive };
  }
  const codes = [
    ...(body.coupon === undefined ? [] : [body.coupon]),
    ...(Array.isArray(body.coupons) ? body.coupons.slice(0, 20) : []),
  ];
  const anonymousId = shortText(body.anonymousId, 200) ? body.anonymousId : null;
  return { cart: { currency, lines, shipping, ...(tax ? { tax } : {}) }, codes, anonymousId };
}
