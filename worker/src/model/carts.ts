import { isDict } from "../lib/values";
import { currencyOf, EVENT, type Message } from "./events";
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

/** A Product Added, as a row for `addToCarts`. */
export interface CartAdd {
  contactId: string;
  line: CartLine;
  currency: string;
  at: number;
}

/** The line a Product Added event adds, or null when it names no product. */
export function cartAdd(contactId: string, m: Message, currency: string): CartAdd | null {
  const cur = currencyOf(m, currency);
  const line = toLine(m.properties, cur);
  return line ? { contactId, line, currency: cur, at: m.timestamp } : null;
}

/**
 * Applies any number of Product Added events, of any contacts, in two statements: each row is
 * upserted in list order, so two adds of one product sum like two separate events would. The
 * shopper's most frequent cart change costs no more in a batch of 500 than in a batch of one.
 */
export function addToCarts(db: D1Database, siteId: string, adds: CartAdd[]): D1PreparedStatement[] {
  if (adds.length === 0) return [];
  return [
    db
      .prepare(
        `INSERT INTO carts (site_id, contact_id, cart_id, currency, updated_at)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?2) WHERE true
         ON CONFLICT DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)`,
      )
      .bind(siteId, JSON.stringify(adds.map((a) => [a.contactId, crypto.randomUUID(), a.currency, a.at]))),
    db
      .prepare(
        `INSERT INTO cart_items (site_id, contact_id, product_id, name, price, quantity, url, image_url)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6
         FROM json_each(?2) WHERE true
         ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, url = excluded.url,
           image_url = excluded.image_url, quantity = min(quantity + excluded.quantity, 10000)`,
      )
      .bind(
        siteId,
        JSON.stringify(
          adds.map(({ contactId, line: l }) => [
            contactId,
            l.productId,
            l.name,
            l.price,
            l.quantity,
            l.url,
            l.imageUrl,
          ]),
        ),
      ),
  ];
}

/** The statements that apply one e-commerce event other than Product Added to the contact's cart. */
export function cartStatements(
  db: D1Database,
  siteId: string,
  contactId: string,
  m: Message,
  currency: string,
): D1PreparedStatement[] {
  const cur = currencyOf(m, currency);
  const touch = () =>
    db
      .prepare(
        `INSERT INTO carts (site_id, contact_id, cart_id, currency, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)`,
      )
      .bind(siteId, contactId, crypto.randomUUID(), cur, m.timestamp);
  const upsert = (line: CartLine) =>
    db
      .prepare(
        `INSERT INTO cart_items (site_id, contact_id, product_id, name, price, quantity, url, image_url)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, url = excluded.url,
           image_url = excluded.image_url, quantity = excluded.quantity`,
      )
      .bind(siteId, contactId, line.productId, line.name, line.price, line.quantity, line.url, line.imageUrl);
  const clear = () => db.prepare(`DELETE FROM cart_items WHERE site_id = ? AND contact_id = ?`).bind(siteId, contactId);

  switch (m.event) {
    case EVENT.productRemoved: {
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
    case EVENT.cartViewed:
    case EVENT.checkoutStarted: {
      if (!Array.isArray(m.properties.products)) return [];
      const lines = m.properties.products
        .slice(0, 200)
        .map((p) => toLine(p, cur))
        .filter((l) => l !== null);
      return [touch(), clear(), ...lines.map((l) => upsert(l))];
    }
    case EVENT.orderCompleted:
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
