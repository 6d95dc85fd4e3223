/**
 * The demo store's promotions (development only): the coupon-only offers other features mint
 * codes for (`exit-intent-10` for the exit-intent popup, `welcome-10` for the welcome campaign,
 * one per other campaign template) and a few that show the catalogue in the shop. Pure data, so the engine tests use
 * exactly what the demo seeds.
 */
import type { Promotion } from "./definition";

export const DEMO_PROMOTIONS: Promotion[] = [
  {
    id: "exit-intent-10",
    label: "10% off your order",
    couponRequired: true,
    action: { type: "percent_off_order", percent: 10 },
  },
  {
    id: "welcome-10",
    label: "Welcome: 10% off your first order",
    couponRequired: true,
    conditions: { segments: ["first_order"] },
    action: { type: "percent_off_order", percent: 10 },
  },
  // Coupon-only offers the built-in campaign templates mint codes for (worker/src/campaigns/templates.ts).
  {
    id: "browse-10",
    label: "10% off your order",
    couponRequired: true,
    action: { type: "percent_off_order", percent: 10 },
  },
  {
    id: "winback-15",
    label: "Welcome back: 15% off your order",
    couponRequired: true,
    action: { type: "percent_off_order", percent: 15 },
  },
  {
    id: "loyalty-15",
    label: "Thank you: 15% off your order",
    couponRequired: true,
    action: { type: "percent_off_order", percent: 15 },
  },
  {
    id: "holiday-gift",
    label: "A gift from us: a canvas tote bag",
    couponRequired: true,
    action: { type: "free_gift", item: { productId: "G3020", name: "Canvas tote bag", price: 1500 }, quantity: 1 },
  },
  {
    id: "referral-10",
    label: "A friend's gift: 10% off your first order",
    couponRequired: true,
    conditions: { segments: ["first_order"] },
    action: { type: "percent_off_order", percent: 10 },
  },
  {
    id: "free-delivery-100",
    label: "Free delivery on orders of £100 or more",
    conditions: { minSubtotal: 10_000 },
    action: { type: "free_shipping" },
  },
  {
    id: "headphones-2-cheapest-free",
    label: "Buy any 2 headphones, get the cheapest free",
    priority: 10,
    action: { type: "cheapest_free", target: { categories: ["Headphones"] }, groupSize: 2, repeat: false },
  },
  {
    id: "disc10",
    label: "DISC10: 10% off speakers and headphones",
    couponRequired: true,
    action: { type: "percent_off_products", percent: 10, target: { categories: ["Speakers", "Headphones"] } },
  },
];

/** Static codes of the demo promotions: shared, unlimited, no expiry. */
export const DEMO_CODES: { code: string; promotionId: string }[] = [{ code: "DISC10", promotionId: "disc10" }];
