import { text } from "../lib/values";

/**
 * What an event is: the names Nudge acts on, the message every layer passes around, and what an
 * event may change by its family and source (the trust policy's table, SECURITY.md). It sits in the
 * model layer because contacts and carts read messages too; validation of incoming messages stays
 * at the door (`ingest/validate.ts`). Pure: no D1 here, so plain Node code (campaign templates in
 * the promotions tests) can import it.
 */

/** The Segment e-commerce and Nudge event names that change something; compare with these, never a literal. */
export const EVENT = {
  productViewed: "Product Viewed",
  productAdded: "Product Added",
  productRemoved: "Product Removed",
  productClicked: "Product Clicked",
  productShared: "Product Shared",
  cartViewed: "Cart Viewed",
  checkoutStarted: "Checkout Started",
  orderCompleted: "Order Completed",
  orderCancelled: "Order Cancelled",
  orderRefunded: "Order Refunded",
  consentUpdated: "Consent Updated",
  signedUp: "Signed Up",
  newsletterSubscribed: "Newsletter Subscribed",
  callbackRequested: "Callback Requested",
  paymentFailed: "Payment Failed",
  orderShipped: "Order Shipped",
  orderDelivered: "Order Delivered",
} as const;

export const MESSAGE_TYPES = ["track", "identify", "page", "screen", "alias", "group"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * Who sent a message, which decides what it may change (SECURITY.md): `browser` — the site's public
 * key, printed in every page, so a claim by a stranger; `server` — the site's secret key, the
 * merchant's own server; `widget` — one of Nudge's consented, rate-limited onsite endpoints.
 */
export type Source = "browser" | "server" | "widget";

/** A Segment-shaped message, validated (`ingest/validate.ts`). */
export interface Message {
  type: MessageType;
  messageId: string;
  anonymousId: string | null;
  userId: string | null;
  previousId: string | null;
  event: string | null;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
  /** When it happened, in ms since the epoch, corrected for the sender's clock skew. */
  timestamp: number;
  source: Source;
}

/** One processed event and the contact ingest applied it to. */
export interface AppliedEvent {
  contactId: string;
  event: Message;
}

/** The order an order event names (`order_id`, `orderId` or `checkout_id`), or null. */
export const orderIdOf = (m: Message): string | null =>
  text(m.properties.order_id ?? m.properties.orderId ?? m.properties.checkout_id, 200);

/** The ISO 4217 code an event's amounts are in: its own `currency`, else the site's. */
export const currencyOf = (m: Message, fallback: string): string =>
  typeof m.properties.currency === "string" ? m.properties.currency.slice(0, 3).toUpperCase() : fallback;

/**
 * The trust policy's families: what an event may change is decided from its family and its source.
 *  - behaviour (views, cart changes, pages…): recorded for the sender's own visitor, any source;
 *  - identity (userId, email, phone, name): the browser's claim is admitted by `effectiveClaim`
 *    (`ingest/trust.ts`);
 *  - money (orders, cancels, refunds → spend, redemptions, attribution, loyalty): `countsMoney`;
 *  - consent: any source may reduce its own contact's consent (`optsOut`); only the widget
 *    endpoints, with the shopper's ticked box, add it.
 */
export type Family = "behaviour" | "identity" | "money" | "consent";

const MONEY = new Set<string>([EVENT.orderCompleted, EVENT.orderCancelled, EVENT.orderRefunded]);

export function familyOf(m: Message): Family {
  if (m.type === "identify" || m.type === "alias") return "identity";
  if (m.event && MONEY.has(m.event)) return "money";
  if (m.event === EVENT.consentUpdated) return "consent";
  return "behaviour";
}

/**
 * Orders, cancellations and refunds count as money state — order rows, spend, redemptions,
 * attribution and therefore rewards — only when the merchant's server says so, or the browser on
 * a site that opted in. A browser order on any other site is kept as an event and still ends its
 * own contact's journeys (the shopper did buy), but creates nothing that is worth money.
 */
export const countsMoney = (site: { settings: { trustBrowserOrders: boolean } }, m: Message): boolean =>
  m.source === "server" || (m.source === "browser" && site.settings.trustBrowserOrders);

/** A cancel or refund gives coupon uses back only from the merchant's server: from a browser it
 * would make a single-use code reusable (buy with it, cancel from the console, buy again). */
export const releasesCoupons = (m: Message): boolean => m.source === "server";

/** `Consent Updated { marketing: false }`: the sender withdraws its own contact's marketing consent. */
export const optsOut = (m: Message): boolean =>
  m.type === "track" && m.event === EVENT.consentUpdated && m.properties.marketing === false;
