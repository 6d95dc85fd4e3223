/**
 * Nudge browser SDK as ES modules, for stores that bundle their own JavaScript:
 * `import { init, track } from "nudge"`. The script-tag build (global.ts) wraps the same functions.
 *
 * `.js` in the paths of this file and of the types it exports (client.ts, ecommerce.ts): the
 * emitted .d.ts keep them, and TypeScript apps resolving with node16/nodenext need them
 * (test/node/package.test.ts type-checks an app both ways).
 */
export { consent, flush, identify, init, on, page, reset, track } from "./client.js";
export type { Consent, Envelope, IdentifyOptions, InitOptions, Properties, SdkEvents, Traits } from "./types.js";
export {
  cartViewed,
  checkoutStarted,
  couponApplied,
  orderCompleted,
  productAdded,
  productRemoved,
  productShared,
  productViewed,
} from "./ecommerce.js";
export type { Coupon, Order, Product, Share } from "./ecommerce.js";
