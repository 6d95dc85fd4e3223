import { isDict } from "../ingest/validate";
import type { Message } from "../ingest/validate";
import { toMinor } from "../lib/money";
import { text } from "../lib/values";

/**
 * The open cart of each contact, kept from Segment e-commerce events:
 * Product Added / Product Removed change one line; Cart Viewed and Checkout Started carry the whole
 * cart and replace it; Order Completed closes it (the next add starts a new cart_id).
 */

export interface CartLine {
  productId: string;
  name: string;
  price: number;
  quantity: number;
  url: string | null;
  imageUrl: string | null;
}

/** A product object of the e-commerce spec as a cart line, or null when it names no product. */
export function toLine(p: unknown, currency: string): CartLine | null {
  if (!isDict(p)) return null;
  const productId = text(p.product_id ?? p.productId ?? p.sku ?? p.id, 200);
  if (!productId) return null;
  const quantity = Number(p.quantity ?? 1);
  return {
    productId,
    name: text(p.name, 200) ?? productId,
    price: toMinor(p.price, currency),
    quantity: Number.isInteger(quantity) && quantity > 0 ? Math.min(quantity, 10_000) : 1,
    url: safeUrl(p.url),
    imageUrl: safeUrl(p.image_url ?? p.imageUrl),
  };
}

/** Only http(s) URLs reach a rendered message: a `javascript:` link from an event must not. */
function safeUrl(v: unknown): string | null {
  if (typeof v !== "string" || v.length > 2000) return null;
  try {
    const u = new URL(v);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

export const CART_EVENTS = new Set(["Product Added", "Product Removed", "Cart Viewed", "Checkout Started"]);

/** The statements that apply one e-commerce event to the contact's cart. */
export function cartStatements(
  db: D1Database,
  siteId: string,
  contactId: string,
  m: Message,
  currency: string,
): D1PreparedStatement[] {
  const cur = typeof m.properties.currency === "string" ? m.properties.currency.slice(0, 3).toUpperCase() : currency;
  const touch = () =>
    db
      .prepare(
        `INSERT INTO carts (site_id, contact_id, cart_id, currency, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)`,
      )
      .bind(siteId, contactId, crypto.randomUUID(), cur, m.timestamp);
  const upsert = (line: CartLine, quantitySql: string) =>
    db
      .prepare(
        `INSERT INTO cart_items (site_id, contact_id, product_id, name, price, quantity, url, image_url)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, url = excluded.url,
           image_url = excluded.image_url, quantity = ${quantitySql}`,
      )
      .bind(siteId, contactId, line.productId, line.name, line.price, line.quantity, line.url, line.imageUrl);
  const clear = () => db.prepare(`DELETE FROM cart_items WHERE site_id = ? AND contact_id = ?`).bind(siteId, contactId);

  switch (m.event) {
    case "Product Added": {
      const line = toLine(m.properties, cur);
      return line ? [touch(), upsert(line, "min(quantity + excluded.quantity, 10000)")] : [];
    }
    case "Product Removed": {
      const line = toLine(m.properties, cur);
      if (!line) return [];
      // Without a quantity the whole line goes, as in most store integrations. Delete before
      // subtracting so the quantity > 0 check never trips.
      const q = m.properties.quantity === undefined ? 1e9 : line.quantity;
      const where = "site_id = ? AND contact_id = ? AND product_id = ?";
      return [
        touch(),
        db
          .prepare(`DELETE FROM cart_items WHERE ${where} AND quantity <= ?`)
          .bind(siteId, contactId, line.productId, q),
        db
          .prepare(`UPDATE cart_items SET quantity = quantity - ? WHERE ${where}`)
          .bind(q, siteId, contactId, line.productId),
      ];
    }
    case "Cart Viewed":
    case "Checkout Started": {
      if (!Array.isArray(m.properties.products)) return [];
      const lines = m.properties.products
        .slice(0, 200)
        .map((p) => toLine(p, cur))
        .filter((l) => l !== null);
      return [touch(), clear(), ...lines.map((l) => upsert(l, "excluded.quantity"))];
    }
    case "Order Completed":
      return [clear(), db.prepare(`DELETE FROM carts WHERE site_id = ? AND contact_id = ?`).bind(siteId, contactId)];
    default:
      return [];
  }
}

export async function cartLines(db: D1Database, siteId: string, contactId: string): Promise<CartLine[]> {
  const { results } = await db
    .prepare(
      `SELECT product_id AS productId, name, price, quantity, url, image_url AS imageUrl
       FROM cart_items WHERE site_id = ? AND contact_id = ? ORDER BY name, product_id`,
    )
    .bind(siteId, contactId)
    .all<CartLine>();
  return results ?? [];
}
