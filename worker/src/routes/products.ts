import { Hono } from "hono";
import { isDict } from "../lib/values";
import { now } from "../lib/clock";
import { fail, readJson } from "../lib/http";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/products/:id`: the merchant's own catalogue row — name, price (integer minor units),
 * url and image as messages show them. A row written here (or by the merchant's server events)
 * is the merchant's: browser events only fill its empty fields, and its url may lead off the store.
 */
export const productsAdmin = new Hono<SecretEnv>();
productsAdmin.use("*", requireSecretKey);

const COLUMNS = `product_id AS id, name, price, currency, category, url, image_url AS imageUrl, merchant = 1 AS merchant,
  updated_at AS updatedAt`;

function field(body: Record<string, unknown>, key: string, max: number, required = false): string | null {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) fail(400, "invalid_product", `${key} is required.`, { field: key });
    return null;
  }
  if (typeof v !== "string" || !v.trim() || v.length > max)
    fail(400, "invalid_product", `${key} must be a string of 1 to ${max} characters.`, { field: key });
  return v.trim();
}

function link(body: Record<string, unknown>, key: string): string | null {
  const v = field(body, key, 2000);
  if (v !== null && !(URL.canParse(v) && /^https?:$/.test(new URL(v).protocol)))
    fail(400, "invalid_product", `${key} must be an http(s) URL.`, { field: key });
  return v === null ? null : new URL(v).href;
}

productsAdmin.put("/:id", async (c) => {
  const site = c.get("site");
  const id = c.req.param("id");
  if (!id || id.length > 200) fail(400, "invalid_product", "The product id must be 1 to 200 characters.");
  const body = await readJson(c.req.raw, 16 * 1024);
  if (!isDict(body)) fail(400, "invalid_body", "Send { name, price, currency?, category?, url?, imageUrl? }.");
  const price = body.price;
  if (typeof price !== "number" || !Number.isSafeInteger(price) || price < 0)
    fail(400, "invalid_product", "price must be a non-negative integer in minor units (pence, cents).", {
      field: "price",
    });
  const currency = field(body, "currency", 3) ?? site.currency;
  if (!/^[A-Za-z]{3}$/.test(currency))
    fail(400, "invalid_product", "currency must be a 3-letter code.", { field: "currency" });
  const row = await c.env.DB.prepare(
    `INSERT INTO products (site_id, product_id, name, price, currency, category, url, image_url, updated_at, merchant)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)
     ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, currency = excluded.currency,
       category = excluded.category, url = excluded.url, image_url = excluded.image_url,
       updated_at = excluded.updated_at, merchant = 1
     RETURNING ${COLUMNS}`,
  )
    .bind(
      site.id,
      id,
      field(body, "name", 200, true),
      price,
      currency.toUpperCase(),
      field(body, "category", 200),
      link(body, "url"),
      link(body, "imageUrl"),
      await now(c.env),
    )
    .first();
  return c.json({ product: row });
});

productsAdmin.get("/:id", async (c) => {
  const row = await c.env.DB.prepare(`SELECT ${COLUMNS} FROM products WHERE site_id = ? AND product_id = ?`)
    .bind(c.get("site").id, c.req.param("id"))
    .first();
  if (!row) fail(404, "not_found", `No product ${c.req.param("id")}.`);
  return c.json({ product: row });
});
