import { report, track } from "./client";
import { warn } from "./dev";
import type { Properties } from "./types.js";

/**
 * Cart helpers that produce Segment E-commerce Spec v2 events, so store integrations written for
 * Segment map over directly and the Worker's campaigns see the names and fields they key off.
 * They normalise what stores commonly pass (an `id` instead of `product_id`, a price as a string,
 * no quantity) and fill the order totals the spec defines, in the store's major units:
 * subtotal = Σ price × quantity; revenue = subtotal − discount; total = revenue + shipping + tax.
 */

/** A product as the spec describes it; `id` is accepted for `product_id`. */
export interface Product extends Properties {
  product_id?: string;
  id?: string | number;
  sku?: string;
  name?: string;
  category?: string;
  brand?: string;
  variant?: string;
  /** Unit price in major units (79.5 for £79.50). */
  price?: number;
  quantity?: number;
  coupon?: string;
  url?: string;
  image_url?: string;
  currency?: string;
}

/** A cart, a checkout or an order. Missing totals are computed from the products. */
export interface Order extends Properties {
  order_id?: string;
  checkout_id?: string;
  cart_id?: string;
  subtotal?: number;
  revenue?: number;
  total?: number;
  shipping?: number;
  tax?: number;
  discount?: number;
  coupon?: string;
  currency?: string;
  products?: Product[];
}

export interface Coupon extends Properties {
  coupon_id?: string;
  coupon_name?: string;
  order_id?: string;
  cart_id?: string;
  discount?: number;
}

export interface Share extends Product {
  share_via?: string;
  share_message?: string;
  recipient?: string;
}

// Number.isFinite is false for anything not a number (it does not coerce, unlike isFinite).
const amount = (v: unknown): number | undefined => {
  const n = typeof v === "string" ? Number.parseFloat(v) : v;
  return Number.isFinite(n) ? (n as number) : undefined;
};
// Cents, so 0.1 + 0.2 reads 0.3 in the shop's reports.
const round = (n: number) => Math.round(n * 100) / 100;

function product(input: Product, counted: boolean): Properties {
  const { id, ...p } = input;
  if (p.product_id === undefined && id !== undefined) p.product_id = String(id);
  if (__DEV__ && p.product_id === undefined && p.sku === undefined) warn("a product needs a product_id (or sku).");
  // A price that is not a number is left out (undefined: not in the JSON).
  p.price = amount(p.price);
  if (counted) p.quantity = amount(p.quantity) ?? 1;
  return p;
}

function order(input: Order): Properties {
  const o: Properties = { ...input };
  const products = Array.isArray(input.products) ? input.products.map((p) => product(Object(p), true)) : undefined;
  if (products) o.products = products;
  const subtotal =
    amount(input.subtotal) ??
    (products
      ? round(products.reduce((sum, p) => sum + ((p.price as number | undefined) ?? 0) * (p.quantity as number), 0))
      : undefined);
  if (subtotal === undefined) return o;
  const revenue = amount(input.revenue) ?? round(subtotal - (amount(input.discount) ?? 0));
  o.subtotal = subtotal;
  o.revenue = revenue;
  o.total = amount(input.total) ?? round(revenue + (amount(input.shipping) ?? 0) + (amount(input.tax) ?? 0));
  return o;
}

/** Tracks `name` with `build(input)`; bad input goes to the error listeners, never the page. */
const helper =
  <T>(name: string, build: (input: T) => Properties) =>
  (input: T): void => {
    try {
      track(name, build(Object(input)));
    } catch (e) {
      report(e);
    }
  };

/**
 * A shopper looked at a product page.
 * @example
 * nudge('productViewed', { product_id: 'E7247', name: 'E7247 speaker', price: 79, currency: 'GBP' })
 */
export const productViewed: (product: Product) => void = helper("Product Viewed", (p: Product) => product(p, false));

/**
 * A product went into the cart (quantity defaults to 1).
 * @example
 * nudge('productAdded', { cart_id: 'c1', product_id: 'E7247', price: 79, quantity: 2 })
 */
export const productAdded: (product: Product) => void = helper("Product Added", (p: Product) => product(p, true));

/**
 * A product left the cart (quantity removed, default 1).
 * @example
 * nudge('productRemoved', { cart_id: 'c1', product_id: 'E7247', price: 79 })
 */
export const productRemoved: (product: Product) => void = helper("Product Removed", (p: Product) => product(p, true));

/**
 * The cart page was seen; carries the whole cart.
 * @example
 * nudge('cartViewed', { cart_id: 'c1', products: [{ product_id: 'E7247', price: 79, quantity: 1 }] })
 */
export const cartViewed: (cart: Order) => void = helper("Cart Viewed", order);

/**
 * Checkout began; totals are filled from the products when missing.
 * @example
 * nudge('checkoutStarted', { order_id: 'o1', currency: 'GBP', products: [{ id: 'E7247', price: 79 }] })
 */
export const checkoutStarted: (order: Order) => void = helper("Checkout Started", order);

/**
 * An order was placed: stops abandoned-cart reminders and counts as a conversion.
 * @example
 * nudge('orderCompleted', { order_id: 'o1', shipping: 4.5, currency: 'GBP', products: [{ id: 'E7247', price: 79 }] })
 */
export const orderCompleted: (order: Order) => void = helper("Order Completed", order);

/**
 * A coupon was accepted for the cart or order.
 * @example
 * nudge('couponApplied', { cart_id: 'c1', coupon_id: 'DISC10', discount: 7.9 })
 */
export const couponApplied: (coupon: Coupon) => void = helper("Coupon Applied", (c: Coupon) => {
  const discount = amount(c.discount);
  return discount === undefined ? { ...c } : { ...c, discount };
});

/**
 * A shopper shared a product (send to a friend).
 * @example
 * nudge('productShared', { product_id: 'E7247', share_via: 'email', recipient: 'friend@example.com' })
 */
export const productShared: (share: Share) => void = helper("Product Shared", (s: Share) => product(s, false));
