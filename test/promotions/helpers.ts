import { findProduct } from "../../demo-store/src/catalogue";
import type { Action, Promotion } from "../../worker/src/promotions/definition";
import type { CartInput } from "../../worker/src/promotions/engine";

export const NOW = Date.parse("2026-11-23T12:00:00Z");

/** A cart line from the demo catalogue: `line("E7247", 2)`. */
export function line(id: string, quantity = 1): CartInput["lines"][number] {
  const p = findProduct(id);
  if (!p) throw new Error(`no product ${id} in the demo catalogue`);
  return { productId: p.id, name: p.name, price: p.price, quantity, categories: [p.category] };
}

export function cart(lines: CartInput["lines"], extra: Partial<CartInput> = {}): CartInput {
  return { currency: "GBP", lines, now: NOW, ...extra };
}

/** A promotion with just an action (and optional settings). */
export const promo = (id: string, action: Action, extra: Partial<Promotion> = {}): Promotion => ({
  id,
  action,
  ...extra,
});
