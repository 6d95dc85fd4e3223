import { Hono } from "hono";
import type { Context } from "hono";
import type { Env } from "../env";
import { isDev } from "../env";
import { enqueue } from "../ingest/inbox";
import { applyBatch } from "../ingest/process";
import { isDict } from "../ingest/validate";
import type { Message } from "../ingest/validate";
import { now } from "../lib/clock";
import { hmacHex, sha256Hex } from "../lib/crypto";
import { fail, readJson } from "../lib/http";
import { rateLimit } from "../lib/rate-limit";
import { normaliseEmail } from "../model/contacts";
import { mintCoupon } from "../model/coupons";
import {
  callbackById,
  consentStatement,
  contactOfAnonymous,
  createCallback,
  exitCoupon,
  linkBrowser,
  listCallbacks,
  markNotified,
  onsiteConfig,
  saveOnsiteConfig,
  setCallbackStatus,
  visitorState,
} from "../model/onsite";
import type { Callback } from "../model/onsite";
import type { Site } from "../model/sites";
import { ConfigError, DEMO_CONFIG, parseConfig } from "../onsite/schema";
import { DEFAULT_PROMOTIONS } from "../promotions/defaults";
import { putPromotion } from "../promotions/store";
import type { OnsiteConfig } from "../onsite/schema";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";
import { authorise } from "./ingest";

/**
 * Onsite widgets, server side. Public routes (site public key, like ingest): the SDK's config,
 * what audience rules need about the visitor, and the four widget actions — exit-intent coupon,
 * send to a friend, callback request, newsletter. Each action is validated, rate limited, records
 * the shopper's consent, and becomes an ordinary event in the ingest pipeline (`Product Shared`,
 * `Callback Requested`, `Newsletter Subscribed`) for campaigns to act on. The widget's request id
 * makes the event's messageId, so a retried request is neither lost nor doubled.
 */
export const onsite = new Hono<{ Bindings: Env }>();
/** Merchant side, mounted under /v1/admin: the configuration and the callback tasks. */
export const onsiteAdmin = new Hono<SecretEnv>();

const BODY_LIMIT = 8 * 1024;
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const COUPON_DAYS = 7;
const WINDOWS = ["asap", "morning", "afternoon", "evening"] as const;
/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

/** The stored configuration; in development the demo site falls back to the seeded demo widgets. */
const configOf = (env: Env, site: Pick<Site, "id">) =>
  onsiteConfig(env.DB, site.id, isDev(env) && site.id === "demo" ? DEMO_CONFIG : { widgets: [] });

function requireString(body: Record<string, unknown>, field: string, max: number, what = field): string {
  const v = body[field];
  if (typeof v !== "string" || !v.trim()) fail(400, "invalid_field", `${what} is required.`, { field });
  if (v.length > max) fail(400, "invalid_field", `${what} must be at most ${max} characters.`, { field });
  return v.trim();
}

function optionalString(body: Record<string, unknown>, field: string, max: number): string | null {
  const v = body[field];
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string" || v.length > max)
    fail(400, "invalid_field", `${field} must be a string of at most ${max} characters.`, { field });
  return v.trim() || null;
}

/** The consent checkbox must have been ticked, and we keep the words the shopper saw. */
function requireConsent(body: Record<string, unknown>): string {
  if (body.consent !== true)
    fail(400, "consent_required", "Please tick the consent box to continue.", { field: "consent" });
  return requireString(body, "consentText", 500, "consentText (the consent wording shown)");
}

/** The record that this shopper agreed, in these words, to being contacted at `subject`. */
const consentOf = (a: Action, subject: string, purpose: string, wording: string) =>
  consentStatement(a.env.DB, { siteId: a.site.id, anonymousId: a.anonymousId, subject, purpose, wording, now: a.at });

interface Action {
  env: Env;
  site: Site;
  body: Record<string, unknown>;
  anonymousId: string;
  requestId: string;
  at: number;
  name: string;
}

/** Authenticates and parses a widget action, rate limited per IP address. */
async function action(c: Context<{ Bindings: Env }>, name: string): Promise<Action> {
  const body = await readJson(c.req.raw, BODY_LIMIT);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const site = await authorise(c.env.DB, typeof body.key === "string" ? body.key : null, c.req.header("origin"));
  const anonymousId = requireString(body, "anonymousId", 200);
  const requestId = requireString(body, "requestId", 100);
  const at = await now(c.env);
  await rateLimit(c.env.DB, `${name}:${site.id}:ip:${c.req.header("cf-connecting-ip") ?? "local"}`, 60, HOUR, at);
  return { env: c.env, site, body, anonymousId, requestId, at, name };
}

/** The per-visitor cap, counted once the input is valid: a typo does not use up a share. */
const perVisitor = (a: Action, limit: number, windowMs: number) =>
  rateLimit(a.env.DB, `${a.name}:${a.site.id}:aid:${a.anonymousId}`, limit, windowMs, a.at);

/** Stores the events through the ingest pipeline, so campaigns see them like any other. */
async function emit(a: Action, messages: Pick<Message, "type" | "event" | "properties" | "traits">[], kind: string) {
  const full: Message[] = messages.map((m, i) => ({
    ...m,
    messageId: `onsite:${kind}:${a.requestId}:${i}`,
    anonymousId: a.anonymousId,
    userId: null,
    previousId: null,
    context: { library: { name: "nudge-onsite" } },
    timestamp: a.at + i,
    source: "widget",
  }));
  // Applied before answering, like any batch: the callback task is then read with the visitor's contact.
  if (!(await applyBatch(a.env.DB, a.site, full, a.at))) await enqueue(a.env.DB, a.site.id, full, a.at);
}

onsite.get("/sdk/config", async (c) => {
  const site = await authorise(c.env.DB, c.req.query("key") ?? null, c.req.header("origin"));
  const body = JSON.stringify((await configOf(c.env, site)).config);
  const etag = `"${(await sha256Hex(body)).slice(0, 32)}"`;
  // Browsers revalidate after a minute; an unchanged config costs a 304 with no body.
  const headers = { etag, "cache-control": "public, max-age=60", vary: "origin" };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  return c.body(body, 200, { ...headers, "content-type": "application/json" });
});

onsite.get("/sdk/visitor", async (c) => {
  const site = await authorise(c.env.DB, c.req.query("key") ?? null, c.req.header("origin"));
  const aid = c.req.query("aid") ?? "";
  if (!aid || aid.length > 200) fail(400, "invalid_field", "aid (the anonymous id) is required.", { field: "aid" });
  c.header("cache-control", "private, no-store");
  return c.json(await visitorState(c.env.DB, site.id, aid));
});

onsite.post("/onsite/coupon", async (c) => {
  const a = await action(c, "coupon");
  const widgetId = requireString(a.body, "widget", 64);
  await perVisitor(a, 10, HOUR);
  const widget = (await configOf(a.env, a.site)).config.widgets.find((w) => w.id === widgetId && w.type === "coupon");
  if (!widget?.promotion) fail(404, "unknown_widget", `No coupon widget "${widgetId}" is configured.`);
  const existing = await exitCoupon(a.env.DB, a.site.id, a.anonymousId, a.at);
  if (existing) return c.json({ code: existing.code, expiresAt: existing.expires_at, reused: true });
  const expiresAt = a.at + COUPON_DAYS * DAY;
  try {
    const code = await mintCoupon(a.env.DB, {
      siteId: a.site.id,
      promotionId: widget.promotion,
      contactId: await contactOfAnonymous(a.env.DB, a.site.id, a.anonymousId),
      anonymousId: a.anonymousId,
      source: "exit_intent",
      expiresAt,
      maxUses: 1,
      now: a.at,
    });
    return c.json({ code, expiresAt, reused: false });
  } catch (e) {
    // Another tab minted one a moment ago (unique per visitor): hand out that one.
    const raced = await exitCoupon(a.env.DB, a.site.id, a.anonymousId, a.at);
    if (!raced) throw e;
    return c.json({ code: raced.code, expiresAt: raced.expires_at, reused: true });
  }
});

onsite.post("/onsite/friend", async (c) => {
  const a = await action(c, "friend");
  const recipient = normaliseEmail(a.body.friendEmail);
  if (!recipient) fail(400, "invalid_email", "Enter your friend's email address.", { field: "friendEmail" });
  const senderName = requireString(a.body, "senderName", 100, "Your name");
  const productId = requireString(a.body, "productId", 200);
  const wording = requireConsent(a.body);
  await perVisitor(a, 5, DAY); // capped per sender: five friends a day

  const properties = {
    product_id: productId,
    name: optionalString(a.body, "productName", 200), // Segment's Product Shared spec calls it `name`
    ...(typeof a.body.price === "number" && Number.isFinite(a.body.price) && a.body.price >= 0
      ? { price: a.body.price }
      : {}),
    currency: a.site.currency,
    url: optionalString(a.body, "url", 2000),
    recipient_email: recipient,
    share_via: "email",
    sender_name: senderName,
  };
  await emit(a, [{ type: "track", event: "Product Shared", properties, traits: {} }], "friend");
  await consentOf(a, recipient, "send_to_friend", wording).run(); // after: the browser's contact exists
  return c.json({ ok: true });
});

onsite.post("/onsite/newsletter", async (c) => {
  const a = await action(c, "newsletter");
  const email = normaliseEmail(a.body.email);
  if (!email) fail(400, "invalid_email", "Enter a valid email address.", { field: "email" });
  const wording = requireConsent(a.body);
  await perVisitor(a, 5, HOUR);

  const consent = { email_marketing: true, email_marketing_at: new Date(a.at).toISOString() };
  await emit(
    a,
    [
      { type: "identify", event: null, properties: {}, traits: { email, ...consent } },
      { type: "track", event: "Newsletter Subscribed", properties: { email, source: "widget" }, traits: {} },
    ],
    "newsletter",
  );
  await consentOf(a, email, "newsletter", wording).run();
  return c.json({ ok: true });
});

onsite.post("/onsite/callback", async (c) => {
  const a = await action(c, "callback");
  const phone = requireString(a.body, "phone", 32, "Phone number").replace(/[\s().-]/g, "");
  if (!E164.test(phone))
    fail(400, "invalid_phone", "Enter the phone number with its country code, e.g. +44 20 7946 0958.", {
      field: "phone",
    });
  const window = a.body.window;
  if (typeof window !== "string" || !(WINDOWS as readonly string[]).includes(window))
    fail(400, "invalid_field", `window must be one of ${WINDOWS.join(", ")}.`, { field: "window" });
  const wording = requireConsent(a.body);
  await perVisitor(a, 5, DAY);
  const name = optionalString(a.body, "name", 100);
  const { id, created } = await createCallback(
    a.env.DB,
    {
      siteId: a.site.id,
      requestId: a.requestId,
      anonymousId: a.anonymousId,
      name,
      phone,
      window,
      note: optionalString(a.body, "note", 500),
      pageUrl: optionalString(a.body, "url", 2000),
      now: a.at,
    },
    consentOf(a, phone, "callback", wording),
  );
  const event = { phone, window, name, callback_id: id };
  await emit(a, [{ type: "track", event: "Callback Requested", properties: event, traits: {} }], "callback");
  // After the event is applied the browser has a contact: the task (and its consent) name it.
  await linkBrowser(a.env.DB, a.site.id, a.anonymousId);
  const callback = await callbackById(a.env.DB, a.site.id, id);
  if (created && callback) c.executionCtx.waitUntil(notifyMerchant(a, callback));
  return c.json({ ok: true, id });
});

/**
 * Tells the merchant's team through their webhook, signed like Stripe's: `t=<ms>,v1=<hex>` where
 * v1 = HMAC-SHA-256(secret, `${t}.${body}`), so a receiver can check origin and freshness.
 */
async function notifyMerchant(a: Action, callback: Callback): Promise<void> {
  const { webhookUrl, webhookSecret } = await configOf(a.env, a.site);
  if (!webhookUrl || !webhookSecret) return;
  const body = JSON.stringify({ type: "callback.requested", site: a.site.id, callback: present(callback) });
  const t = String(a.at);
  try {
    const res = await fetch(webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-nudge-signature": `t=${t},v1=${await hmacHex(webhookSecret, `${t}.${body}`)}`,
      },
      body,
    });
    if (res.ok) await markNotified(a.env.DB, callback.id, a.at);
    else console.error("callback webhook answered", res.status);
  } catch (e) {
    console.error("callback webhook failed", e);
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const present = (c: Callback) => ({ ...c, notified_at: iso(c.notified_at), created_at: iso(c.created_at) });

onsiteAdmin.get("/onsite", requireSecretKey, async (c) => {
  const stored = await configOf(c.env, c.get("site"));
  return c.json({ config: stored.config, webhook: stored.webhookUrl ? { url: stored.webhookUrl } : null });
});

onsiteAdmin.put("/onsite", requireSecretKey, async (c) => {
  const body = await readJson(c.req.raw, 64 * 1024);
  if (!isDict(body)) fail(400, "invalid_body", "Send { config, webhook? }.");
  let config: OnsiteConfig;
  try {
    config = parseConfig(body.config);
  } catch (e) {
    if (e instanceof ConfigError) fail(400, "invalid_config", e.message);
    throw e;
  }
  const site = c.get("site");
  const before = await configOf(c.env, site);
  let { webhookUrl, webhookSecret } = before;
  if (body.webhook === null) webhookUrl = webhookSecret = null;
  else if (body.webhook !== undefined) {
    const w = isDict(body.webhook) ? body.webhook : {};
    const url = typeof w.url === "string" && w.url.length <= 2000 && URL.canParse(w.url) ? new URL(w.url) : null;
    if (!url || !/^https?:$/.test(url.protocol)) fail(400, "invalid_webhook", "webhook.url must be an http(s) URL.");
    if (typeof w.secret !== "string" || w.secret.length < 16 || w.secret.length > 200)
      fail(400, "invalid_webhook", "webhook.secret must be 16–200 characters.");
    webhookUrl = url.href;
    webhookSecret = w.secret;
  }
  const at = await now(c.env);
  // A coupon widget naming a built-in promotion (exit-intent-10) brings it, as templates do.
  const defaults = config.widgets.flatMap((w) => {
    const p = w.promotion ? DEFAULT_PROMOTIONS.get(w.promotion) : undefined;
    return p ? [putPromotion(c.env.DB, site.id, p, true, at, true)] : [];
  });
  if (defaults.length > 0) await c.env.DB.batch(defaults);
  await saveOnsiteConfig(c.env.DB, site.id, { config, webhookUrl, webhookSecret }, at);
  return c.json({ config, webhook: webhookUrl ? { url: webhookUrl } : null });
});

onsiteAdmin.get("/callbacks", requireSecretKey, async (c) => {
  const status = c.req.query("status") ?? null;
  if (status !== null && !["open", "done", "cancelled"].includes(status))
    fail(400, "invalid_status", "status must be open, done or cancelled.");
  return c.json({ callbacks: (await listCallbacks(c.env.DB, c.get("site").id, status)).map(present) });
});

onsiteAdmin.patch("/callbacks/:id", requireSecretKey, async (c) => {
  const id = Number(c.req.param("id"));
  const body = await readJson(c.req.raw, 1024);
  const status = isDict(body) ? body.status : undefined;
  if (typeof status !== "string" || !["open", "done", "cancelled"].includes(status))
    fail(400, "invalid_status", "status must be open, done or cancelled.");
  const row = Number.isSafeInteger(id) ? await setCallbackStatus(c.env.DB, c.get("site").id, id, status) : null;
  if (!row) fail(404, "not_found", `No callback ${c.req.param("id")}.`);
  return c.json({ callback: present(row) });
});
