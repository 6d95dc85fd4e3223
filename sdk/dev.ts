/**
 * Development-only checks. Every use is behind `if (__DEV__)`, so production builds drop this
 * module entirely (terser removes the dead branches, then the unused code). The dev build
 * (dist/cdn/sdk/nudge.dev.js) and the unit tests keep it.
 */

/** A warning about misuse, for the developer integrating Nudge. */
export function warn(message: string): void {
  if (__DEV__) console.warn(`[nudge] ${message}`);
}

/** Segment E-commerce Spec v2 event names; the Worker's campaigns key off these exact strings. */
const SPEC = [
  "Products Searched",
  "Product List Viewed",
  "Product List Filtered",
  "Promotion Viewed",
  "Promotion Clicked",
  "Product Clicked",
  "Product Viewed",
  "Product Added",
  "Product Removed",
  "Cart Viewed",
  "Checkout Started",
  "Checkout Step Viewed",
  "Checkout Step Completed",
  "Payment Info Entered",
  "Order Updated",
  "Order Completed",
  "Order Refunded",
  "Order Cancelled",
  "Coupon Entered",
  "Coupon Applied",
  "Coupon Denied",
  "Coupon Removed",
  "Product Added to Wishlist",
  "Product Removed from Wishlist",
  "Product Shared",
  "Cart Shared",
  "Product Reviewed",
];
const squash = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, "");

/** Warns when a name is a spec event spelled differently ("product_added", "Product added"). */
export function checkEventName(event: string): void {
  const spec = SPEC.find((name) => squash(name) === squash(event));
  if (spec && spec !== event) warn(`track("${event}"): did you mean the spec name "${spec}"?`);
}
