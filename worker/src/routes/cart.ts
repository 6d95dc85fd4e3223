import { Hono } from "hono";
import type { Env } from "../env";
import { now } from "../lib/clock";
import { clientNetwork } from "../lib/client";
import { fail, readJson } from "../lib/http";
import { isDict } from "../lib/values";
import { checkCodes, normaliseCodes } from "../promotions/coupons";
import { price } from "../promotions/engine";
import { PRICE_LIMITS, parsePriceRequest } from "../promotions/request";
import { findShopper } from "../promotions/shopper";
import { listPromotions } from "../promotions/store";
import { authorise, writeKey } from "./auth";

/**
 * `POST /v1/cart/price`: the store's cart and checkout ask what a cart costs with the site's
 * promotions and the codes the shopper typed. Public key, like ingest (body `writeKey` or Basic).
 */
export const cart = new Hono<{ Bindings: Env }>();

cart.post("/price", async (c) => {
  const body = await readJson(c.req.raw, PRICE_LIMITS.bytes);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const site = await authorise(c, writeKey(c.req.header("authorization"), body), c.req.header("origin"));
  const request = parsePriceRequest(body, site.currency);
  if ("error" in request) fail(400, "invalid_cart", request.error);

  const at = await now(c.env);
  const shopper = await findShopper(c.env.DB, site.id, request.anonymousId);
  // Guessing is counted per network address; the anonymous id is the fallback where there is none.
  const client = clientNetwork(c.req.header("cf-connecting-ip"), request.anonymousId ?? "unknown");
  const [codes, promotions] = await Promise.all([
    checkCodes(c.env.DB, site.id, normaliseCodes(request.codes), shopper, client, at),
    listPromotions(c.env.DB, site.id, true),
  ]);
  const result = price({ ...request.cart, segments: shopper.segments, now: at }, promotions, codes.accepted);
  return c.json({ ...result, rejected: [...codes.rejected, ...result.rejected] });
});
