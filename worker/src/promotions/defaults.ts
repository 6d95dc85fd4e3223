/**
 * The coupon-only promotions the built-in campaign templates (campaigns/templates.ts) and the
 * exit-intent widget mint codes for. Saving a campaign whose step names one of these creates it on
 * that site when it is missing (campaigns/store.ts), so a fresh site's codes are accepted at
 * checkout; a merchant's own edits are never overwritten. Pure data; the demo seeds the same.
 */
import type { Promotion } from "./definition";

const percentOff = (id: string, label: string, percent: number, firstOrder = false): Promotion => ({
  id,
  label,
  couponRequired: true,
  ...(firstOrder ? { conditions: { segments: ["first_order"] } } : {}),
  action: { type: "percent_off_order", percent },
});

export const DEFAULT_PROMOTIONS: ReadonlyMap<string, Promotion> = new Map(
  [
    percentOff("exit-intent-10", "10% off your order", 10),
    percentOff("welcome-10", "Welcome: 10% off your first order", 10, true),
    // Bound by its template to the product viewed, so its label names no order.
    percentOff("browse-10", "10% off", 10),
    percentOff("winback-15", "Welcome back: 15% off", 15),
    percentOff("loyalty-15", "Thank you: 15% off", 15),
    // A shop's own gift is a product only the merchant can name: by default the gift is a discount.
    percentOff("holiday-gift", "A gift from us: 10% off your order", 10),
    percentOff("referral-10", "A friend's gift: 10% off your first order", 10, true),
    percentOff("next-purchase-10", "Thank you: 10% off your next order", 10),
    // The referrer's reward (campaign referral_reward): a unique code per friend who ordered.
    percentOff("referral-reward", "Thank you for referring a friend: 15% off your order", 15),
  ].map((p) => [p.id, p]),
);
