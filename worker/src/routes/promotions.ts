import { Hono } from "hono";
import { now } from "../lib/clock";
import { fail, readJson } from "../lib/http";
import { mintCoupon } from "../model/coupons";
import { parsePromotion } from "../promotions/definition";
import { deletePromotion, getPromotion, listPromotions, putPromotion } from "../promotions/store";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";
import { isDict } from "../lib/values";

/** Admin CRUD for promotions (`/v1/admin/promotions`) and their coupon codes (`/v1/admin/coupons`). */
export const promotionsAdmin = new Hono<SecretEnv>();
export const couponsAdmin = new Hono<SecretEnv>();
promotionsAdmin.use("*", requireSecretKey);
couponsAdmin.use("*", requireSecretKey);

const BODY_LIMIT = 32 * 1024;

async function readPromotion(req: Request, id?: string) {
  const body = await readJson(req, BODY_LIMIT);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  if (id !== undefined && body.id !== undefined && body.id !== id)
    fail(400, "id_mismatch", "The id in the body differs from the one in the path.");
  const parsed = parsePromotion(id === undefined ? body : { ...body, id });
  if ("error" in parsed) fail(400, "invalid_promotion", parsed.error);
  if (body.active !== undefined && typeof body.active !== "boolean")
    fail(400, "invalid_promotion", "active must be true or false.");
  return { promotion: parsed.promotion, active: body.active !== false };
}

promotionsAdmin.get("/", async (c) => c.json({ promotions: await listPromotions(c.env.DB, c.get("site").id) }));

promotionsAdmin.post("/", async (c) => {
  const site = c.get("site");
  const { promotion, active } = await readPromotion(c.req.raw);
  if (await getPromotion(c.env.DB, site.id, promotion.id))
    fail(
      409,
      "promotion_exists",
      `Promotion ${promotion.id} exists; PUT /v1/admin/promotions/${promotion.id} replaces it.`,
    );
  await putPromotion(c.env.DB, site.id, promotion, active, await now(c.env)).run();
  return c.json({ promotion: await getPromotion(c.env.DB, site.id, promotion.id) }, 201);
});

promotionsAdmin.get("/:id", async (c) => {
  const promotion = await getPromotion(c.env.DB, c.get("site").id, c.req.param("id"));
  if (!promotion) fail(404, "promotion_not_found", "No promotion with that id.");
  return c.json({ promotion });
});

promotionsAdmin.put("/:id", async (c) => {
  const site = c.get("site");
  const { promotion, active } = await readPromotion(c.req.raw, c.req.param("id"));
  await putPromotion(c.env.DB, site.id, promotion, active, await now(c.env)).run();
  return c.json({ promotion: await getPromotion(c.env.DB, site.id, promotion.id) });
});

promotionsAdmin.delete("/:id", async (c) => {
  if (!(await deletePromotion(c.env.DB, c.get("site").id, c.req.param("id"))))
    fail(404, "promotion_not_found", "No promotion with that id.");
  return c.body(null, 204);
});

// ---------------------------------------------------------------------------------------------

const CODE = /^[A-Z0-9][A-Z0-9_-]{2,63}$/;
const COLUMNS = `code, promotion_id, contact_id, anonymous_id, max_uses, max_uses_per_contact, uses, expires_at, source, created_at`;

function optionalCount(v: unknown, name: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 1_000_000)
    fail(400, "invalid_coupon", `${name} must be a whole number from 1 to 1000000.`);
  return v;
}

function optionalId(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v.length === 0 || v.length > 200)
    fail(400, "invalid_coupon", `${name} must be a short string.`);
  return v;
}

couponsAdmin.get("/", async (c) => {
  const promotionId = c.req.query("promotion_id") ?? null;
  const { results } = await c.env.DB.prepare(
    `SELECT ${COLUMNS} FROM coupons WHERE site_id = ?1 AND (?2 IS NULL OR promotion_id = ?2)
     ORDER BY created_at DESC, code LIMIT 200`,
  )
    .bind(c.get("site").id, promotionId)
    .all();
  return c.json({ coupons: results ?? [] });
});

/**
 * `{ promotionId, code }` creates a static (shared) code; without `code`, `count` unique codes are
 * minted (default 1), optionally bound to `contactId` / `anonymousId`. Limits and expiry apply to each.
 */
couponsAdmin.post("/", async (c) => {
  const site = c.get("site");
  const body = await readJson(c.req.raw, BODY_LIMIT);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const promotionId = optionalId(body.promotionId, "promotionId");
  if (!promotionId || !(await getPromotion(c.env.DB, site.id, promotionId)))
    fail(400, "invalid_coupon", "promotionId must name an existing promotion.");
  const maxUses = optionalCount(body.maxUses, "maxUses");
  const perContact = optionalCount(body.maxUsesPerContact, "maxUsesPerContact");
  const expires = body.expiresAt === undefined || body.expiresAt === null ? null : Date.parse(String(body.expiresAt));
  if (expires !== null && !Number.isFinite(expires)) fail(400, "invalid_coupon", "expiresAt must be an ISO date.");
  const at = await now(c.env);
  const codes: string[] = [];
  if (body.code !== undefined) {
    const code = typeof body.code === "string" ? body.code.trim().toUpperCase() : "";
    if (!CODE.test(code)) fail(400, "invalid_coupon", "code must be 3–64 letters, digits, - or _.");
    const r = await c.env.DB.prepare(
      `INSERT INTO coupons (site_id, code, promotion_id, max_uses, max_uses_per_contact, expires_at, source, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'admin', ?) ON CONFLICT DO NOTHING`,
    )
      .bind(site.id, code, promotionId, maxUses, perContact, expires, at)
      .run();
    if ((r.meta.changes ?? 0) === 0) fail(409, "coupon_exists", `Code ${code} already exists.`);
    codes.push(code);
  } else {
    const count = optionalCount(body.count, "count") ?? 1;
    if (count > 100) fail(400, "invalid_coupon", "Mint at most 100 codes per request.");
    for (let i = 0; i < count; i++) {
      codes.push(
        await mintCoupon(c.env.DB, {
          siteId: site.id,
          promotionId,
          contactId: optionalId(body.contactId, "contactId"),
          anonymousId: optionalId(body.anonymousId, "anonymousId"),
          source: "admin",
          expiresAt: expires,
          maxUses: maxUses ?? 1,
          now: at,
        }),
      );
    }
    if (perContact !== null)
      await c.env.DB.prepare(
        `UPDATE coupons SET max_uses_per_contact = ? WHERE site_id = ? AND code IN (SELECT value FROM json_each(?))`,
      )
        .bind(perContact, site.id, JSON.stringify(codes))
        .run();
  }
  const { results } = await c.env.DB.prepare(
    `SELECT ${COLUMNS} FROM coupons WHERE site_id = ? AND code IN (SELECT value FROM json_each(?)) ORDER BY code`,
  )
    .bind(site.id, JSON.stringify(codes))
    .all();
  return c.json({ coupons: results ?? [] }, 201);
});

couponsAdmin.get("/:code", async (c) => {
  const coupon = await c.env.DB.prepare(`SELECT ${COLUMNS} FROM coupons WHERE site_id = ? AND code = ?`)
    .bind(c.get("site").id, c.req.param("code").toUpperCase())
    .first();
  if (!coupon) fail(404, "coupon_not_found", "No coupon with that code.");
  return c.json({ coupon });
});

couponsAdmin.delete("/:code", async (c) => {
  const r = await c.env.DB.prepare(`DELETE FROM coupons WHERE site_id = ? AND code = ?`)
    .bind(c.get("site").id, c.req.param("code").toUpperCase())
    .run();
  if ((r.meta.changes ?? 0) === 0) fail(404, "coupon_not_found", "No coupon with that code.");
  return c.body(null, 204);
});
