import { Hono } from "hono";
import * as v from "valibot";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { readBody } from "../lib/schema";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/products/:id`: the merchant's own catalogue row — name, price (integer minor units),
 * url and image as messages show them. A row written here (or by the merchant's server events)
 * is the merchant's: browser events only fill its empty fields, and its url may lead off the store.
 */
export const productsAdmin = new Hono<SecretEnv>();
productsAdmin.use("*", requireSecretKey);

const COLUMNS = `product_id AS id, name, price, currency, category, url, image_url AS imageUrl,
  sizes, merchant = 1 AS merchant, updated_at AS updatedAt`;

/** A row as the API answers it: sizes as a list (stored as JSON text). */
const answer = (row: Record<string, unknown> | null) =>
  row && { ...row, sizes: typeof row.sizes === "string" ? (JSON.parse(row.sizes) as string[]) : null };

/** A string of 1 to `max` characters once trimmed, trimmed. */
const trimmed = (max: number) =>
  v.pipe(
    v.string(`must be a string of 1 to ${max} characters.`),
    v.trim(),
    v.minLength(1, `must be a string of 1 to ${max} characters.`),
    v.maxLength(max, `must be a string of 1 to ${max} characters.`),
  );

const link = v.pipe(
  trimmed(2000),
  v.check((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "must be an http(s) URL."),
  v.transform((u) => new URL(u).href),
);

/** A catalogue row as the merchant sends it; `null` (or leaving a field out) clears an optional field. */
const productBody = v.strictObject(
  {
    name: trimmed(200),
    price: v.pipe(
      v.number("must be a non-negative integer in minor units (pence, cents)."),
      v.safeInteger("must be a non-negative integer in minor units (pence, cents)."),
      v.minValue(0, "must be a non-negative integer in minor units (pence, cents)."),
    ),
    currency: v.nullish(v.pipe(trimmed(3), v.regex(/^[A-Za-z]{3}$/, "must be a 3-letter code."))),
    category: v.nullish(trimmed(200)),
    url: v.nullish(link),
    imageUrl: v.nullish(link),
    /** The sizes it comes in ("S", "M", "42"): the loyalty mail shows a contact products in their size. */
    sizes: v.nullish(
      v.pipe(
        v.array(trimmed(20), "must be a list of sizes, each 1 to 20 characters."),
        v.maxLength(30, "must list at most 30 sizes."),
      ),
    ),
  },
  "Send { name, price, currency?, category?, url?, imageUrl?, sizes? }.",
);

productsAdmin.put("/:id", async (c) => {
  const site = c.get("site");
  const id = c.req.param("id");
  if (!id || id.length > 200) fail(400, "invalid_product", "The product id must be 1 to 200 characters.");
  const body = await readBody(c.req.raw, 16 * 1024, productBody, "invalid_product");
  const row = await c.env.DB.prepare(
    `INSERT INTO products (site_id, product_id, name, price, currency, category, url, image_url, updated_at, sizes, merchant)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)
     ON CONFLICT DO UPDATE SET name = excluded.name, price = excluded.price, currency = excluded.currency,
       category = excluded.category, url = excluded.url, image_url = excluded.image_url,
       updated_at = excluded.updated_at, sizes = excluded.sizes, merchant = 1
     RETURNING ${COLUMNS}`,
  )
    .bind(
      site.id,
      id,
      body.name,
      body.price,
      (body.currency ?? site.currency).toUpperCase(),
      body.category ?? null,
      body.url ?? null,
      body.imageUrl ?? null,
      await now(c.env),
      body.sizes ? JSON.stringify(body.sizes) : null,
    )
    .first();
  return c.json({ product: answer(row) });
});

productsAdmin.get("/:id", async (c) => {
  const row = await c.env.DB.prepare(`SELECT ${COLUMNS} FROM products WHERE site_id = ? AND product_id = ?`)
    .bind(c.get("site").id, c.req.param("id"))
    .first();
  if (!row) fail(404, "not_found", `No product ${c.req.param("id")}.`);
  return c.json({ product: answer(row) });
});
