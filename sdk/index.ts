/**
 * Nudge browser SDK as ES modules, for stores that bundle their own JavaScript:
 * `import { init, track } from "nudge"`. The script-tag build (global.ts) wraps the same functions.
 */
export { consent, flush, identify, init, on, page, reset, track } from "./client";
export type { Consent, Envelope, IdentifyOptions, InitOptions, Properties, SdkEvents, Traits } from "./types";
export {
  cartViewed,
  checkoutStarted,
  couponApplied,
  orderCompleted,
  productAdded,
  productRemoved,
  productShared,
  productViewed,
} from "./ecommerce";
export type { Coupon, Order, Product, Share } from "./ecommerce";
