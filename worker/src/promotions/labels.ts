/** What shoppers read: a label for each promotion, generated when the merchant gave none. */
import { formatMoney } from "../lib/money";
import type { Promotion } from "./definition";
import { bps } from "./rounding";

/** "12.5%" from 12.5, without floating-point noise. */
export const pct = (percent: number): string => `${bps(percent) / 100}%`;

/** A label a shopper understands, for promotions the merchant did not label. */
export function describe(p: Promotion, currency: string): string {
  if (p.label) return p.label;
  const money = (n: number) => formatMoney(n, currency);
  const a = p.action;
  switch (a.type) {
    case "percent_off_order":
      return `${pct(a.percent)} off your order${a.maxDiscount ? ` (up to ${money(a.maxDiscount)})` : ""}`;
    case "percent_off_products":
      return `${pct(a.percent)} off selected products`;
    case "fixed_off_order":
      return `${money(a.amount)} off your order`;
    case "fixed_off_products":
      return `${money(a.amount)} off selected products`;
    case "fixed_price":
      return `Selected products for ${money(a.price)}`;
    case "free_product":
      return `Free ${a.item.name}`;
    case "free_gift":
      return `Free gift: ${a.item.name}`;
    case "free_shipping":
      return "Free delivery";
    case "cheapest_free":
      return `Buy ${a.groupSize}, get the cheapest free`;
    case "buy_x_get_y":
      return (a.percent ?? 100) === 100
        ? `Buy ${a.buyQuantity}, get ${a.getQuantity} free`
        : `Buy ${a.buyQuantity}, get ${pct(a.percent ?? 100)} off ${a.getQuantity}`;
    case "bundle_price":
      return `${a.quantity} for ${money(a.price)}`;
    case "tiered_percent":
      return [...a.tiers]
        .sort((x, y) => x.minSubtotal - y.minSubtotal)
        .map((t) => `spend ${money(t.minSubtotal)} get ${pct(t.percent)} off`)
        .join(", ")
        .replace(/^s/, "S");
  }
}
