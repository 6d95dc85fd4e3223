import { Hono } from "hono";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { mintCoupon } from "../model/coupons";
import * as v from "valibot";
import { promotionEntries } from "../promotions/definition";
import { int, readBody, readQuery, text } from "../lib/schema";
import { deletePromotion, getPromotion, listPromotions, putPromotion } from "../promotions/store";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/** Admin CRUD for promotions (`/v1/admin/promotions`) and their coupon codes (`/v1/admin/coupons`). */
export const promotionsAdmin = new Hono<SecretEnv>();
export const couponsAdmin = new Hono<SecretEnv>();
promotionsAdmin.use("*", requireSecretKey);
couponsAdmin.use("*", requireSecretKey);

const BODY_LIMIT = 32 * 1024;

/** A promotion as the admin API takes it: its fields, plus whether it is live. */
const promotionBody = v.strictObject({
  ...promotionEntries,
  id: v.optional(promotionEntries.id),
  active: v.optional(v.boolean("must be true or false.")),
});

/** The promotion in the body (`id` from the path when there is one), and `active` if it was sent. */
async function readPromotion(req: Request, pathId?: string) {
  const { active, id, ...fields } = await readBody(req, BODY_LIMIT, promotionBody, "invalid_promotion", "promotion");
  if (pathId !== undefined && id !== undefined && id !== pathId)
    fail(400, "id_mismatch", "The id in the body differs from the one in the path.");
  const promotionId =
    pathId ?? id ?? fail(400, "invalid_promotion", "promotion.id is required.", { field: "promotion.id" });
  return { promotion: { ...fields, id: promotionId }, active };
}

promotionsAdmin.get("/", async (c) => c.json({ promotions: await listPromotions(c.env.DB, c.get("site").id) }));

promotionsAdmin.post("/", async (c) => {
  const site = c.get("site");
  const { promotion, active = true } = await readPromotion(c.req.raw);
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
  // An edit that does not say `active` keeps the promotion as it was: a switched-off one stays off.
  const existing = active === undefined ? await getPromotion(c.env.DB, site.id, promotion.id) : null;
  await putPromotion(c.env.DB, site.id, promotion, active ?? existing?.active ?? true, await now(c.env)).run();
  return c.json({ promotion: await getPromotion(c.env.DB, site.id, promotion.id) });
});

promotionsAdmin.delete("/:id", async (c) => {
  if (!(await deletePromotion(c.env.DB, c.get("site").id, c.req.param("id"))))
    fail(404, "promotion_not_found", "No promotion with that id.");
  return c.body(null, 204);
});

// ---------------------------------------------------------------------------------------------

const CODE = /^[A-Z0-9][A-Z0-9_-]{2,63}$/;
const COLUMNS = `code, promotion_id AS promotionId, contact_id AS contactId, anonymous_id AS anonymousId,
  max_uses AS maxUses, max_uses_per_contact AS maxUsesPerContact, uses, expires_at AS expiresAt, source,
  product_id AS productId, category, created_at AS createdAt`;

couponsAdmin.get("/", async (c) => {
  const { promotionId } = readQuery(c.req.url, v.strictObject({ promotionId: v.optional(v.string()) }));
  const { results } = await c.env.DB.prepare(
    `SELECT ${COLUMNS} FROM coupons WHERE site_id = ?1 AND (?2 IS NULL OR promotion_id = ?2)
     ORDER BY created_at DESC, code LIMIT 200`,
  )
    .bind(c.get("site").id, promotionId ?? null)
    .all();
  return c.json({ coupons: results ?? [] });
});

const usesLimit = v.optional(int(1, 1_000_000));
const ISO = "must be an ISO date.";

const couponBody = v.pipe(
  v.strictObject({
    promotionId: text(200, "must name an existing promotion."),
    /** A static (shared) code; without it, `count` unique codes are minted. */
    code: v.optional(
      v.pipe(
        v.string(),
        v.transform((code) => code.trim().toUpperCase()),
        v.regex(CODE, "must be 3–64 letters, digits, - or _."),
      ),
    ),
    count: v.optional(int(1, 100, "must be a whole number from 1 to 100 (codes per request).")),
    contactId: v.optional(text(200)),
    anonymousId: v.optional(text(200)),
    maxUses: usesLimit,
    maxUsesPerContact: usesLimit,
    expiresAt: v.optional(
      v.pipe(
        v.string(ISO),
        v.transform((t) => Date.parse(t)),
        v.check((t) => Number.isFinite(t), ISO),
      ),
    ),
    /** A personal code: its promotion applies to this product's (or category's) cart lines only. */
    productId: v.optional(text(200)),
    category: v.optional(text(200)),
  }),
  v.forward(
    v.partialCheck(
      [["productId"], ["category"]],
      (b) => b.productId === undefined || b.category === undefined,
      "binds a code to one product or one category, not both.",
    ),
    ["category"],
  ),
);

/**
 * `{ promotionId, code }` creates a static (shared) code; without `code`, `count` unique codes are
 * minted (default 1), optionally bound to `contactId` / `anonymousId`. Limits and expiry apply to each;
 * `productId` or `category` makes each a personal code for those cart lines only.
 */
couponsAdmin.post("/", async (c) => {
  const site = c.get("site");
  const body = await readBody(c.req.raw, BODY_LIMIT, couponBody, "invalid_coupon", "coupon");
  const { promotionId } = body;
  if (!(await getPromotion(c.env.DB, site.id, promotionId)))
    fail(400, "invalid_coupon", "coupon.promotionId must name an existing promotion.", { field: "coupon.promotionId" });
  const maxUses = body.maxUses ?? null;
  const perContact = body.maxUsesPerContact ?? null;
  const expires = body.expiresAt ?? null;
  const at = await now(c.env);
  const codes: string[] = [];
  if (body.code !== undefined) {
    const { code } = body;
    const r = await c.env.DB.prepare(
      `INSERT INTO coupons (site_id, code, promotion_id, max_uses, max_uses_per_contact, expires_at, source, created_at,
         product_id, category)
       VALUES (?, ?, ?, ?, ?, ?, 'admin', ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
      .bind(site.id, code, promotionId, maxUses, perContact, expires, at, body.productId ?? null, body.category ?? null)
      .run();
    if ((r.meta.changes ?? 0) === 0) fail(409, "coupon_exists", `Code ${code} already exists.`);
    codes.push(code);
  } else {
    for (let i = 0; i < (body.count ?? 1); i++) {
      codes.push(
        await mintCoupon(c.env.DB, {
          siteId: site.id,
          promotionId,
          contactId: body.contactId ?? null,
          anonymousId: body.anonymousId ?? null,
          source: "admin",
          expiresAt: expires,
          maxUses: maxUses ?? 1,
          productId: body.productId ?? null,
          category: body.category ?? null,
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
