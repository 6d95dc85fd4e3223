import { Hono } from "hono";
import type { Env } from "../env";
import { isDev } from "../env";
import { fail, readJson } from "../lib/http";
import { isDict } from "../lib/values";
import { normaliseEmail } from "../model/contacts";
import { DEMO_SITE } from "../model/sites";
import { ingest } from "./ingest";
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

demoShop.post("/orders", async (c) => {
  const body = await readJson(c.req.raw, 32 * 1024);
  if (!isDict(body) || !isDict(body.order)) fail(400, "invalid_body", "Send { anonymousId, email?, order }.");
  const anonymousId = typeof body.anonymousId === "string" && body.anonymousId.length <= 200 ? body.anonymousId : null;
  const orderId = typeof body.order.order_id === "string" ? body.order.order_id.slice(0, 200) : null;
  if (!anonymousId || !orderId) fail(400, "invalid_body", "anonymousId and order.order_id are required.");
  const email = normaliseEmail(body.email);
  const message = {
    type: "track",
    // One order, one event: a retried post is stored once.
    messageId: `demo-shop:${orderId}`,
    anonymousId,
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
