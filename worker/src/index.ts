import { Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { Env } from "./env";
import { isDev } from "./env";
import { sweepHomes } from "./jobs/sweep";
import { consumeIngest, DEAD_LETTER_SUFFIX } from "./ingest/queue";
import type { IngestJob } from "./ingest/queue";
import { now } from "./lib/clock";
import { createSite, DEMO_SITE } from "./model/sites";
import { seedTemplates } from "./campaigns/store";
import { campaigns } from "./routes/campaigns";
import { branding } from "./routes/branding";
import { seedDemoPromotions } from "./promotions/demo";
import { admin } from "./routes/admin";
import { cart } from "./routes/cart";
import { contacts } from "./routes/contacts";
import { deadLetters } from "./routes/dead-letters";
import { demoShop } from "./routes/demo-shop";
import { referralsAdmin } from "./routes/referrals";
import { dashboard, dashboardApi } from "./routes/dashboard";
import { dev } from "./routes/dev";
import { feedback } from "./routes/feedback";
import { ingest } from "./routes/ingest";
import { answers } from "./routes/answers";
import { links } from "./routes/links";
import { onsite, onsiteAdmin } from "./routes/onsite";
import { productsAdmin } from "./routes/products";
import { operator } from "./routes/operator";
import { couponsAdmin, promotionsAdmin } from "./routes/promotions";
import { audiences, segmentsAdmin } from "./routes/segments";

const app = new Hono<{ Bindings: Env }>();

// Development: the demo site (pk_demo / sk_demo) exists from the first request, with links
// pointing back at wherever the demo is served.
let demoSeeded = false;
app.use("*", async (c, next) => {
  if (!demoSeeded && isDev(c.env)) {
    await createSite(c.env, { ...DEMO_SITE, url: new URL(c.req.url).origin }, Date.now());
    await seedTemplates(c.env.DB, DEMO_SITE.id, Date.now());
    await seedDemoPromotions(c.env.DB, DEMO_SITE.id, Date.now());
    demoSeeded = true;
  }
  await next();
});

// Browsers send events from the store's origin; per-site origin rules are checked in ingest.
// The admin API gets no CORS at all: it is called server to server or from the same-origin
// dashboard, and answering any origin would let any page that learns a secret key read the site.
const publicCors = cors({
  origin: (origin) => origin,
  allowHeaders: ["content-type", "authorization"],
  exposeHeaders: ["retry-after"], // so a browser SDK can honour a 429
  maxAge: 86400,
});
// Nor do audience files: a pull URL is for servers, and a browser page must not read it.
app.use("/v1/*", async (c, next) => (/^\/v1\/(admin|audiences)(\/|$)/.test(c.req.path) ? next() : publicCors(c, next)));

app.route("/v1", ingest);
// Before the other admin routes: signing in must not meet their secret-key check.
app.route("/", dashboard);
app.route("/v1/admin/dashboard", dashboardApi);
app.route("/v1/admin/campaigns", campaigns);
app.route("/v1/admin/branding", branding);
app.route("/v1/admin", admin);
app.route("/v1/admin/contacts", contacts);
app.route("/v1/admin/dead-letters", deadLetters);
app.route("/v1/admin/segments", segmentsAdmin);
app.route("/v1/admin/referrals", referralsAdmin);
app.route("/v1/audiences", audiences);
app.route("/v1/dev", dev);
app.route("/v1/demo-shop", demoShop);
app.route("/v1/links", links);
app.route("/v1/links", answers);
app.route("/v1", onsite);
app.route("/v1/admin", onsiteAdmin);
app.route("/v1/cart", cart);
app.route("/v1/admin/promotions", promotionsAdmin);
app.route("/v1/admin/coupons", couponsAdmin);
app.route("/v1/admin/products", productsAdmin);
app.route("/v1/operator", operator);
app.route("/v1/feedback", feedback);

app.notFound((c) =>
  c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}.` } }, 404),
);

app.onError((err, c) => {
  if (err instanceof HTTPException) return err.getResponse();
  console.error("unhandled", err);
  return c.json({ error: { code: "internal", message: "Something went wrong on our side." } }, 500);
});

async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  // now() is the real time in a deployment and the simulated one in development.
  ctx.waitUntil(now(env).then((at) => sweepHomes(env, Math.max(at, controller.scheduledTime))));
}

/**
 * Consumers of the ingest Queue and of its dead-letter queue (bound in wrangler.jsonc when a
 * deployment uses the Queue path): see ingest/queue.ts.
 */
async function queue(batch: MessageBatch<IngestJob>, env: Env): Promise<void> {
  await consumeIngest(env, batch, await now(env), { deadLetter: batch.queue.endsWith(DEAD_LETTER_SUFFIX) });
}

export { app };
export default { fetch: app.fetch, scheduled, queue } satisfies ExportedHandler<Env, IngestJob>;
