import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import {
  createSession,
  deleteSession,
  requireSameOrigin,
  sessionCookie,
  sessionToken,
  siteForSecretKey,
  siteFromSession,
} from "../admin/session";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { readBody, readQuery, text } from "../lib/schema";
import { checkCodes, normaliseCodes } from "../promotions/coupons";
import { price } from "../promotions/engine";
import { PRICE_LIMITS, parsePriceRequest } from "../promotions/request";
import { listPromotions } from "../promotions/store";
import { rangeQuery, resultsRange } from "../results/range";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * The merchant dashboard: the page at `/admin` (its script and styles are static assets,
 * `/admin/app.js` and `/admin/app.css`, built from dashboard/ by rollup), sign-in sessions, and the
 * few read endpoints only the dashboard needs. Everything else it shows comes from the admin API
 * it shares with scripts, authenticated by the session cookie instead of the Bearer key.
 */
export const dashboard = new Hono<SecretEnv>();

/** Nothing inline, nothing from elsewhere: the page runs only its own script and styles. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  // The email preview (GET /v1/admin/campaigns/preview/email), a sandboxed page of its own.
  "frame-src 'self'",
].join("; ");

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nudge dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/admin/app.css">
<script type="module" src="/admin/app.js"></script>
</head>
<body>
<div id="app"><main class="loading" aria-busy="true"><p>Loading the dashboard…</p></main></div>
<noscript><p>The Nudge dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;

const shell = () =>
  new Response(SHELL, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": CSP,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
dashboard.get("/admin", shell);
dashboard.get("/admin/", shell);

const SEND_KEY = "Send `{ key }` with the site's secret key.";

/** Sign in: `{ key: "<secret key>" }` → a session cookie. */
dashboard.post("/v1/admin/session", async (c) => {
  requireSameOrigin(c);
  const body = await readBody(c.req.raw, 1024, v.strictObject({ key: text(200) }, SEND_KEY));
  const key = body.key.trim();
  if (!key) fail(400, "invalid_body", SEND_KEY, { field: "key" });
  const { site } = await siteForSecretKey(c, key);
  const token = await createSession(c.env, site.id);
  c.header("set-cookie", sessionCookie(c, token));
  c.header("cache-control", "no-store");
  return c.json({ site: { id: site.id, name: site.name, currency: site.currency, timeZone: site.timeZone } }, 201);
});

/** Sign out: the session row is deleted, so the cookie is worthless even if kept. */
dashboard.delete("/v1/admin/session", async (c) => {
  requireSameOrigin(c);
  const token = sessionToken(c);
  if (token) await deleteSession(c.env, token);
  c.header("set-cookie", sessionCookie(c, ""));
  return c.json({ signedOut: true });
});

/**
 * Who is signed in: the site of the Bearer key or of a live session, else `{ site: null }` (200, not
 * 401: the dashboard asks this first on every load, and being signed out is not an error).
 */
dashboard.get("/v1/admin/session", async (c) => {
  const header = c.req.header("authorization") ?? "";
  const key = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  const found = key
    ? await siteForSecretKey(c, key).catch(unlessThrottled)
    : await siteFromSession(c).catch(() => null);
  const site = found?.site ?? null;
  c.header("cache-control", "no-store");
  return c.json({ site: site && { id: site.id, name: site.name, currency: site.currency, timeZone: site.timeZone } });
});

/** A wrong key or ended session is "signed out"; being throttled stays an error. */
function unlessThrottled(e: unknown): null {
  if (e instanceof HTTPException && e.status === 429) throw e;
  return null;
}

/** The dashboard's own reads: `/v1/admin/dashboard/*`. */
export const dashboardApi = new Hono<SecretEnv>();
dashboardApi.use("*", requireSecretKey);

const DAY = 86400_000;

/**
 * Overview of a period: revenue recovered (orders credited to cart-triggered campaigns) and
 * influenced (credited to any campaign, last touch within its attribution window), the orders
 * behind them, the recovery rate (cart journeys that led to an order ÷ cart journeys whose first
 * reminder was sent), messages sent, and the same per UTC day. Holdout rows are never counted.
 */
dashboardApi.get("/overview", async (c) => {
  const site = c.get("site");
  const query = readQuery(c.req.url, v.strictObject(rangeQuery));
  const range = resultsRange(query.from, query.to, await now(c.env), query.days);
  const db = c.env.DB;
  const cartCampaigns = `(SELECT id FROM campaigns WHERE site_id = ?1 AND json_extract(definition, '$.trigger.type') = 'cart')`;
  const [totals, journeys, sent, days] = await db.batch([
    db
      .prepare(
        `SELECT count(*) AS orders, coalesce(sum(amount), 0) AS influenced,
                coalesce(sum(CASE WHEN campaign IN ${cartCampaigns} THEN amount END), 0) AS recovered,
                count(CASE WHEN campaign IN ${cartCampaigns} THEN 1 END) AS recoveredOrders
         FROM conversions WHERE site_id = ?1 AND holdout = 0 AND placed_at >= ?2 AND placed_at < ?3`,
      )
      .bind(site.id, range.from, range.to),
    db
      .prepare(
        `SELECT count(*) AS started,
                count(CASE WHEN EXISTS (SELECT 1 FROM conversions v JOIN messages x ON x.id = v.message_id
                   WHERE v.site_id = ?1 AND x.site_id = ?1 AND x.contact_id = m.contact_id AND x.campaign = m.campaign
                     AND substr(x.dedupe_key, 1, length(x.dedupe_key) - length(x.step) - 1)
                       = substr(m.dedupe_key, 1, length(m.dedupe_key) - length(m.step) - 1)) THEN 1 END) AS recovered
         FROM messages m WHERE m.site_id = ?1 AND m.step = 1 AND m.holdout = 0 AND m.status = 'sent'
           AND m.sent_at >= ?2 AND m.sent_at < ?3 AND m.campaign IN ${cartCampaigns}`,
      )
      .bind(site.id, range.from, range.to),
    db
      .prepare(
        `SELECT count(*) AS sent FROM messages
         WHERE site_id = ?1 AND status = 'sent' AND holdout = 0 AND sent_at >= ?2 AND sent_at < ?3`,
      )
      .bind(site.id, range.from, range.to),
    db
      .prepare(
        `WITH d AS (
           SELECT date(sent_at / 1000, 'unixepoch') AS date, 1 AS sent, 0 AS influenced, 0 AS recovered FROM messages
           WHERE site_id = ?1 AND status = 'sent' AND holdout = 0 AND sent_at >= ?2 AND sent_at < ?3
           UNION ALL
           SELECT date(placed_at / 1000, 'unixepoch'), 0, amount, CASE WHEN campaign IN ${cartCampaigns} THEN amount ELSE 0 END
           FROM conversions WHERE site_id = ?1 AND holdout = 0 AND placed_at >= ?2 AND placed_at < ?3)
         SELECT date, sum(sent) AS sent, sum(influenced) AS influenced, sum(recovered) AS recovered FROM d
         GROUP BY date ORDER BY date`,
      )
      .bind(site.id, range.from, range.to),
  ]);
  const t = (totals?.results?.[0] ?? {}) as Record<string, number>;
  const j = (journeys?.results?.[0] ?? {}) as Record<string, number>;
  return c.json({
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    currency: site.currency,
    revenueRecovered: t.recovered ?? 0,
    revenueInfluenced: t.influenced ?? 0,
    orders: t.orders ?? 0,
    recoveredOrders: t.recoveredOrders ?? 0,
    cartJourneys: j.started ?? 0,
    recoveredJourneys: j.recovered ?? 0,
    recoveryRate: j.started ? (j.recovered ?? 0) / j.started : 0,
    messagesSent: ((sent?.results?.[0] ?? {}) as Record<string, number>).sent ?? 0,
    days: days?.results ?? [],
    dayLength: DAY,
  });
});

/** Contacts whose email, name, phone or id starts with `q` (or the latest), newest first. */
dashboardApi.get("/contacts", async (c) => {
  const q = (readQuery(c.req.url, v.strictObject({ q: v.optional(v.string()) })).q ?? "").trim().toLowerCase();
  if (q.length > 100) fail(400, "invalid_query", "q is at most 100 characters.");
  // LIKE with the escape character: a % or _ typed by the merchant matches itself.
  const like = `${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const { results } = await c.env.DB.prepare(
    `SELECT id, email, name, phone, user_id AS userId, orders_count AS ordersCount, total_spent AS totalSpent,
            unsubscribed, last_seen AS lastSeen
     FROM contacts WHERE site_id = ?1
       AND (?2 = '' OR lower(email) LIKE ?3 ESCAPE '\\' OR lower(name) LIKE ?3 ESCAPE '\\' OR phone LIKE ?3 ESCAPE '\\'
            OR id LIKE ?3 ESCAPE '\\' OR user_id LIKE ?3 ESCAPE '\\')
     ORDER BY last_seen DESC LIMIT 50`,
  )
    .bind(c.get("site").id, q, like)
    .all();
  return c.json({ contacts: results ?? [] });
});

/** A contact's latest events and messages, newest first: the profile's timeline. */
dashboardApi.get("/contacts/:id/timeline", async (c) => {
  const site = c.get("site").id;
  const id = c.req.param("id").slice(0, 200);
  const { results } = await c.env.DB.prepare(
    `SELECT * FROM (
       SELECT 'event' AS kind, coalesce(event, type) AS title, timestamp AS at, NULL AS detail FROM events
       WHERE site_id = ?1 AND contact_id = ?2
       UNION ALL
       SELECT 'message', campaign || ' · step ' || step || ' · ' || channel, coalesce(sent_at, due_at),
              CASE WHEN holdout = 1 THEN 'holdout' ELSE status END FROM messages WHERE site_id = ?1 AND contact_id = ?2)
     ORDER BY at DESC LIMIT 100`,
  )
    .bind(site, id)
    .all();
  return c.json({ timeline: results ?? [] });
});

const priceBody = v.strictObject(
  Object.fromEntries(
    ["currency", "lines", "shipping", "tax", "coupon", "coupons"].map((k) => [k, v.optional(v.unknown())]),
  ),
  "Request body must be a JSON object.",
);

/** The cart simulator: prices a sample cart like `POST /v1/cart/price`, as a new shopper would see it. */
dashboardApi.post("/price", async (c) => {
  const site = c.get("site");
  // The cart itself is `POST /v1/cart/price`'s public shape (promotions/request.ts checks it).
  const body = await readBody(c.req.raw, PRICE_LIMITS.bytes, priceBody);
  const request = parsePriceRequest(body, site.currency);
  if ("error" in request) fail(400, "invalid_cart", request.error);
  const at = await now(c.env);
  const shopper = { contactId: null, known: false, anonymousId: null, segments: ["first_order"] };
  const [codes, promotions] = await Promise.all([
    checkCodes(c.env.DB, site.id, normaliseCodes(request.codes), shopper, "dashboard", at),
    listPromotions(c.env.DB, site.id, true),
  ]);
  const result = price({ ...request.cart, segments: shopper.segments, now: at }, promotions, codes.accepted);
  return c.json({ ...result, rejected: [...codes.rejected, ...result.rejected] });
});
