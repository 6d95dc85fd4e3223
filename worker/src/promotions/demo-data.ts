/**
 * The demo store's promotions (development only): the coupon-only offers other features mint
 * codes for (`exit-intent-10` for the exit-intent popup, `welcome-10` for the welcome campaign,
 * one per other campaign template) and a few that show the catalogue in the shop. Pure data, so the engine tests use
 * exactly what the demo seeds.
 */
import { DEFAULT_PROMOTIONS } from "./defaults";
import type { Promotion } from "./definition";

const template = (id: string): Promotion => {
  const p = DEFAULT_PROMOTIONS.get(id);
  if (!p) throw new Error(`no default promotion ${id}`);
  return p;
};

export const DEMO_PROMOTIONS: Promotion[] = [
  // Coupon-only offers the built-in campaign templates mint codes for (promotions/defaults.ts).
  ...[
    "exit-intent-10",
    "welcome-10",
    "browse-10",
    "winback-15",
    "loyalty-15",
    "referral-10",
    "next-purchase-10",
    "referral-reward",
  ].map(template),
  // The demo shop has a gift to give: its tote bag.
  {
    id: "holiday-gift",
    label: "A gift from us: a canvas tote bag",
    couponRequired: true,
    action: { type: "free_gift", item: { productId: "G3020", name: "Canvas tote bag", price: 1500 }, quantity: 1 },
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
