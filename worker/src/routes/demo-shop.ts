import { Hono } from "hono";
import * as v from "valibot";
import type { Env } from "../env";
import { isDev } from "../env";
import { fail } from "../lib/http";
import { readBody, text } from "../lib/schema";
import { normaliseEmail } from "../model/contacts";
import { DEMO_SITE } from "../model/sites";
import { PRODUCTS } from "../../../demo-store/src/catalogue";
import { ingest } from "./ingest";
import { productsAdmin } from "./products";
import { EVENT } from "../model/events";

/**
 * Development only: the demo shop's own backend, standing in for a merchant's order system. The
 * checkout page posts its order here (no key: it is the shop talking to its own server), and this
 * reports `Order Completed` to Nudge the way a merchant's server does — a `/v1/batch` with the
 * site's secret key, through the very same route — so the order counts as money (SECURITY.md).
 * The shop's checkout email is the customer's, as a shop's order system takes it after payment;
 * the browser's own id says which visitor placed it.
 */
export const demoShop = new Hono<{ Bindings: Env }>();

demoShop.use("*", async (c, next) => {
  if (!isDev(c.env)) fail(404, "not_found", "Not found.");
  await next();
});

/** The order's properties are the event's (Segment's Order Completed), checked by ingest. */
const orderBody = v.strictObject(
  {
    anonymousId: text(200),
    email: v.optional(v.unknown()),
    order: v.looseObject({ order_id: text(200, "is required: the order's id.") }, "must be an object."),
  },
  "Send { anonymousId, email?, order }.",
);

demoShop.post("/orders", async (c) => {
  const body = await readBody(c.req.raw, 32 * 1024, orderBody);
  const orderId = body.order.order_id;
  const email = normaliseEmail(body.email);
  const message = {
    type: "track",
    // One order, one event: a retried post is stored once.
    messageId: `demo-shop:${orderId}`,
    anonymousId: body.anonymousId,
    event: EVENT.orderCompleted,
    properties: body.order,
    ...(email ? { traits: { email } } : {}),
  };
  const res = await ingest.request(
    "/batch",
    {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${DEMO_SITE.secretKey}` },
      body: JSON.stringify({ batch: [message] }),
    },
    c.env,
  );
  return c.json((await res.json()) as Record<string, unknown>, res.status as 200);
});

/**
 * `POST /v1/demo-shop/catalogue`: the shop's server publishes its catalogue to Nudge, as a merchant's
 * product feed would — through the admin products API with the secret key — so recommendations,
 * the best-seller and the size showcase have the merchant's rows to pick from (a browser's views
 * never make a product recommendable). The store's pages call it once per visit; it is idempotent.
 */
demoShop.post("/catalogue", async (c) => {
  const origin = new URL(c.req.url).origin;
  const results = await Promise.all(
    PRODUCTS.map((p) =>
      productsAdmin.request(
        `/${encodeURIComponent(p.id)}`,
        {
          method: "PUT",
          headers: { "content-type": "application/json", authorization: `Bearer ${DEMO_SITE.secretKey}` },
          body: JSON.stringify({
            name: p.name,
            price: p.price,
            currency: p.currency,
            category: p.category,
            url: `${origin}/product?id=${encodeURIComponent(p.id)}`,
            imageUrl: `${origin}${p.image}`,
            sizes: p.sizes ?? null,
          }),
        },
        c.env,
      ),
    ),
  );
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) fail(502, "catalogue_failed", `${failed} of ${PRODUCTS.length} products were not published.`);
  return c.json({ published: PRODUCTS.length });
});
