import { onSite, siteHosts } from "../lib/hosts";
import type { Site } from "../model/sites";
import type { Basis, Block, Product, Showcase } from "./messages";

/**
 * What a message shows, loaded at send time, and how it was chosen (the mail says so: `Basis`).
 * Recommendations come only from the merchant's catalogue rows (`products.merchant = 1`): a
 * product only a browser described appears only as the journey's own event described it.
 *
 * - viewed, shared: the journey's product.
 * - related (cross-sell): products other customers' orders hold beside this order's products,
 *   most orders first; when no order shows any, the merchant's products of the same category.
 *   Both read `order_items` (the orders' lines as rows, by product and by order), never the JSON.
 * - top (win-back), loyalty: the merchant's best-seller by units in placed orders of the last 90
 *   days; with no such order, the most viewed. Loyalty adds a showcase of the merchant's products
 *   in the size the contact's `size` trait names (none without one: we do not guess a size).
 */
export interface Shown {
  products: Product[];
  basis: Basis | null;
  showcase: Showcase | null;
}

export interface Audience {
  contactId: string;
  traits: Record<string, unknown>;
  now: number;
  /** One per sweep: each site's top product is read once, however many mails show it. */
  tops?: TopCache;
}

/** Site id → its top product, for the length of one sweep. */
export type TopCache = Map<string, Promise<Shown>>;

const BEST_SELLER_DAYS = 90;
const COLS = `p.product_id AS productId, p.name, p.price, p.url, p.image_url AS imageUrl, p.category, p.merchant`;
/** Units per product in the site's placed orders since ?2: a range of the order_items_recent index. */
const SOLD = `sold (id, units) AS (
  SELECT product_id, sum(quantity) FROM order_items
  WHERE site_id = ?1 AND status = 'placed' AND placed_at >= ?2 GROUP BY product_id)`;
const SIZE = /^[\p{L}\p{N}][\p{L}\p{N} ./½-]{0,19}$/u;
/** Of the orders holding one of this order's products, the most recent considered. */
const PEERS = 5000;

/** The best-seller: ?1 site, ?2 since. */
export const BEST_SELLER_SQL = `WITH ${SOLD} SELECT ${COLS} FROM products p JOIN sold ON sold.id = p.product_id
       WHERE p.site_id = ?1 AND p.merchant = 1 ORDER BY sold.units DESC, p.product_id LIMIT 1`;
/**
 * Bought together: ?1 site, ?2 since, ?3 this order, ?4 its buyer (their own orders are no evidence).
 * Other customers' placed orders (the latest PEERS) holding any product of this order, and what
 * else they held, most co-orders first: index lookups by product and by order.
 */
export const BOUGHT_TOGETHER_SQL = `WITH mine (id) AS MATERIALIZED (SELECT product_id FROM order_items WHERE site_id = ?1 AND order_id = ?3),
            peers (order_id) AS MATERIALIZED (
              -- CROSS JOIN keeps this order: by product (order_items_product), not by date.
              SELECT DISTINCT i.order_id FROM mine CROSS JOIN order_items i
              WHERE i.site_id = ?1 AND i.product_id = mine.id AND i.status = 'placed' AND i.placed_at >= ?2
                AND i.contact_id != ?4 AND i.order_id != ?3
              ORDER BY i.placed_at DESC LIMIT ${PEERS}),
            pairs (id, n) AS (
              SELECT i.product_id, count(*) FROM peers JOIN order_items i ON i.site_id = ?1 AND i.order_id = peers.order_id
              WHERE i.product_id NOT IN (SELECT id FROM mine) GROUP BY i.product_id)
       SELECT ${COLS} FROM products p JOIN pairs ON pairs.id = p.product_id
       WHERE p.site_id = ?1 AND p.merchant = 1 ORDER BY pairs.n DESC, p.product_id LIMIT 3`;

type Row = Omit<Product, "merchant"> & { merchant: number };

export async function shownProducts(
  db: D1Database,
  site: Site,
  block: Block,
  data: Record<string, unknown>,
  who: Audience,
): Promise<Shown> {
  // What the merchant wrote is shown as written; a browser's claim only on the store's own hosts
  // (rows learned before that rule may still hold a foreign image or url).
  const hosts = siteHosts(site);
  const list = async (sql: string, ...params: unknown[]) =>
    (
      (
        await db
          .prepare(sql)
          .bind(...params)
          .all<Row>()
      ).results ?? []
    ).map(
      (p): Product =>
        p.merchant === 1
          ? { ...p, merchant: true }
          : { ...p, merchant: false, url: onSite(p.url, hosts), imageUrl: onSite(p.imageUrl, hosts) },
    );
  const none = (products: Product[] = []): Shown => ({ products, basis: null, showcase: null });
  const since = who.now - BEST_SELLER_DAYS * 86400_000;

  const top = (): Promise<Shown> => {
    const hit = who.tops?.get(site.id);
    if (hit) return hit;
    const read = readTop();
    who.tops?.set(site.id, read);
    // A failed read is not remembered: the next mail tries again.
    read.catch(() => who.tops?.delete(site.id));
    return read;
  };
  async function readTop(): Promise<Shown> {
    const sold = await list(BEST_SELLER_SQL, site.id, since);
    if (sold.length > 0) return { products: sold, basis: "best_seller", showcase: null };
    // Views alone, which any browser can add, pick among the merchant's products but never put a
    // stranger's row in front of everyone.
    const viewed = await list(
      `SELECT ${COLS} FROM products p WHERE p.site_id = ?1 AND p.merchant = 1
       ORDER BY (SELECT coalesce(sum(v.views), 0) FROM product_views v
                 WHERE v.site_id = ?1 AND v.product_id = p.product_id) DESC, p.product_id
       LIMIT 1`,
      site.id,
    );
    return { products: viewed, basis: viewed.length > 0 ? "most_viewed" : null, showcase: null };
  }

  switch (block) {
    case "viewed":
    case "shared": {
      // The first browser to view a product the merchant never listed wrote its row: show it only
      // as this journey's own event described it (the shopper's view, the sharer's widget), never
      // one stranger's words in another's mail.
      const [p] = await list(
        `SELECT ${COLS} FROM products p WHERE p.site_id = ? AND p.product_id = ?`,
        site.id,
        String(data.product_id ?? ""),
      );
      if (!p || p.merchant) return none(p ? [p] : []);
      const price = Number(data.price);
      return none(
        typeof data.product_name === "string" && Number.isFinite(price)
          ? [{ ...p, name: data.product_name, price }]
          : [],
      );
    }
    case "related": {
      const order = String(data.order_id ?? "");
      const together = await list(BOUGHT_TOGETHER_SQL, site.id, who.now - 365 * 86400_000, order, who.contactId);
      if (together.length > 0) return { products: together, basis: "bought_together", showcase: null };
      const category = await list(
        `SELECT ${COLS} FROM products p WHERE p.site_id = ?1 AND p.merchant = 1 AND p.category IS NOT NULL
           AND p.product_id NOT IN (SELECT product_id FROM order_items WHERE site_id = ?1 AND order_id = ?2)
           AND p.category IN (SELECT q.category FROM order_items i JOIN products q ON q.site_id = i.site_id AND q.product_id = i.product_id
                              WHERE i.site_id = ?1 AND i.order_id = ?2)
         ORDER BY p.updated_at DESC LIMIT 3`,
        site.id,
        order,
      );
      return { products: category, basis: category.length > 0 ? "same_category" : null, showcase: null };
    }
    case "top":
      return top();
    case "loyalty": {
      const shown = await top();
      // A size is a short label ("M", "42", "EU 38½"); anything else in the trait (a browser may
      // set it) is no size, and never reaches the mail.
      const raw = typeof who.traits.size === "string" ? who.traits.size.trim() : "";
      const size = SIZE.test(raw) ? raw : "";
      if (!size) return shown;
      const products = await list(
        `WITH ${SOLD} SELECT ${COLS} FROM products p LEFT JOIN sold ON sold.id = p.product_id
         WHERE p.site_id = ?1 AND p.merchant = 1 AND p.product_id != ?4
           AND EXISTS (SELECT 1 FROM json_each(p.sizes) s WHERE upper(s.value) = upper(?3))
         ORDER BY coalesce(sold.units, 0) DESC, p.product_id LIMIT 4`,
        site.id,
        since,
        size,
        shown.products[0]?.productId ?? "",
      );
      return { ...shown, showcase: { basis: "in_your_size", size, products } };
    }
    default:
      return none();
  }
}
