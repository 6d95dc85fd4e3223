import { Hono } from "hono";
import * as v from "valibot";
import type { Context } from "hono";
import type { Env } from "../env";
import { isDev } from "../env";
import { enqueue } from "../ingest/inbox";
import { applyBatch } from "../ingest/process";
import { isDict } from "../lib/values";
import type { Message } from "../model/events";
import { now } from "../lib/clock";
import { notifyCallback, present } from "../jobs/webhooks";
import { clientNetwork } from "../lib/client";
import { sha256Hex } from "../lib/crypto";
import { webhookUrlProblem } from "../lib/hosts";
import { fail, readJson } from "../lib/http";
import { parseOr400, readBody, readQuery } from "../lib/schema";
import { normalisePhone, phoneAllowed, phoneCountries } from "../lib/phone";
import { rateLimit, rateLimits } from "../lib/rate-limit";
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
  onsiteConfig,
  saveOnsiteConfig,
  setCallbackStatus,
  visitorState,
} from "../model/onsite";
import type { Callback } from "../model/onsite";
import { webhookSecret } from "../model/sites";
import type { Site } from "../model/sites";
import { configSchema, DEMO_CONFIG } from "../onsite/schema";
import { DEFAULT_PROMOTIONS } from "../promotions/defaults";
import { putPromotion } from "../promotions/store";
import { NEWSLETTER_OPT_IN_TRAIT } from "../segments/rules";
import { authorise, requireSecretKey } from "./auth";
import { issueReferral } from "./referrals";
import { customerOfBrowser } from "../model/referrals";
import type { SecretEnv } from "./auth";
import { EVENT } from "../model/events";

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

type Cap = [limit: number, windowMs: number];
/**
 * What one widget action may do, counted in one D1 batch of atomic upserts once the input is valid
 * (a typo uses up nothing): per visitor (anonymous id — free to change, so never alone), per
 * network address, per destination (the friend's email, the phone, the subscribed email: nobody
 * is mailed or texted more than this however many browsers and addresses ask) and per site. A
 * site's daily budget per channel (settings) still bounds what is sent.
 */
const CAPS: Record<string, { visitor: Cap; ip: Cap; destination?: Cap; site: Cap }> = {
  coupon: { visitor: [10, HOUR], ip: [30, DAY], site: [5000, DAY] },
  friend: { visitor: [5, DAY], ip: [20, DAY], destination: [2, DAY], site: [1000, DAY] },
  callback: { visitor: [5, DAY], ip: [10, DAY], destination: [2, DAY], site: [400, DAY] },
  newsletter: { visitor: [5, HOUR], ip: [20, DAY], destination: [3, DAY], site: [5000, DAY] },
  // Reads the visitor's own code (made once): cheap, but still bounded against scraping.
  referral: { visitor: [30, DAY], ip: [100, DAY], site: [20000, DAY] },
};

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
  /** The client's network (Cloudflare's `cf-connecting-ip`; an IPv6 address as its /64). */
  ip: string;
}

/** Authenticates and parses a widget action, rate limited per IP address. */
async function action(c: Context<{ Bindings: Env }>, name: string): Promise<Action> {
  const body = await readJson(c.req.raw, BODY_LIMIT);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const site = await authorise(c, typeof body.key === "string" ? body.key : null, c.req.header("origin"));
  const anonymousId = requireString(body, "anonymousId", 200);
  const requestId = requireString(body, "requestId", 100);
  const at = await now(c.env);
  const ip = clientNetwork(c.req.header("cf-connecting-ip"));
  await rateLimit(c.env.DB, `${name}:${site.id}:ip:${ip}`, 60, HOUR, at);
  return { env: c.env, site, body, anonymousId, requestId, at, name, ip };
}

const limit = (bucket: string, [max, windowMs]: Cap) => ({ bucket, limit: max, windowMs });

/** Counts a valid action against its caps (CAPS); 429 past any of them. */
async function capped(a: Action, destination?: string) {
  const caps = CAPS[a.name];
  if (!caps) return;
  const key = `${a.name}:${a.site.id}`;
  // The visitor's and network's own caps first, and only what they admit counts against the shared
  // ones: otherwise one address, refused for itself, would still use up the whole site's day.
  await rateLimits(
    a.env.DB,
    [limit(`${key}:aid:${a.anonymousId}`, caps.visitor), limit(`${key}:ip-day:${a.ip}`, caps.ip)],
    a.at,
  );
  await cappedShared(a.env, a.site.id, a.name, destination, a.at);
}

/**
 * The caps every way of asking for `name` shares (the widget, a message's callback offer): per
 * destination and per site, counted in the same buckets; 429 past either.
 */
export async function cappedShared(
  env: Env,
  siteId: string,
  name: string,
  destination: string | undefined,
  at: number,
) {
  const caps = CAPS[name];
  if (!caps) return;
  const key = `${name}:${siteId}`;
  // Hashed: the counters are not personal data to export or erase.
  const to = destination && caps.destination ? (await sha256Hex(`${siteId}:${destination}`)).slice(0, 32) : null;
  await rateLimits(
    env.DB,
    [limit(`${key}:site`, caps.site), ...(to && caps.destination ? [limit(`${key}:to:${to}`, caps.destination)] : [])],
    at,
  );
}

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
  const site = await authorise(c, c.req.query("key") ?? null, c.req.header("origin"));
  const body = JSON.stringify((await configOf(c.env, site)).config);
  const etag = `"${(await sha256Hex(body)).slice(0, 32)}"`;
  // Browsers revalidate after a minute; an unchanged config costs a 304 with no body.
  const headers = { etag, "cache-control": "public, max-age=60", vary: "origin" };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  return c.body(body, 200, { ...headers, "content-type": "application/json" });
});

onsite.get("/sdk/visitor", async (c) => {
  const site = await authorise(c, c.req.query("key") ?? null, c.req.header("origin"));
  const aid = c.req.query("aid") ?? "";
  if (!aid || aid.length > 200) fail(400, "invalid_field", "aid (the anonymous id) is required.", { field: "aid" });
  c.header("cache-control", "private, no-store");
  return c.json(await visitorState(c.env.DB, site.id, aid));
});

onsite.post("/onsite/coupon", async (c) => {
  const a = await action(c, "coupon");
  const widgetId = requireString(a.body, "widget", 64);
  await capped(a);
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
  await capped(a, recipient); // five friends a day per sender, two shares a day per friend

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
  await emit(a, [{ type: "track", event: EVENT.productShared, properties, traits: {} }], "friend");
  await consentOf(a, recipient, "send_to_friend", wording).run(); // after: the browser's contact exists
  return c.json({ ok: true });
});

/**
 * The visitor's referral code and link, for the send-to-friend widget's share buttons. Only for a
 * customer: a contact with an email whose order the merchant reported (orders count only then,
 * SECURITY.md) — so a script cannot mint codes for addresses it merely typed. The code earns
 * nothing by itself: a reward needs a new customer's merchant-reported order (model/referrals.ts).
 */
onsite.post("/onsite/referral", async (c) => {
  const a = await action(c, "referral");
  await capped(a);
  const customer = await customerOfBrowser(a.env.DB, a.site.id, a.anonymousId);
  if (!customer) fail(403, "not_customer", "Referral links are for customers: place an order first.");
  return c.json(await issueReferral(a.env.DB, a.site, customer, a.at));
});

onsite.post("/onsite/newsletter", async (c) => {
  const a = await action(c, "newsletter");
  // Only where the merchant put a sign-up form: otherwise this is an identity path they never opened.
  if (!(await configOf(a.env, a.site)).config.widgets.some((w) => w.type === "newsletter"))
    fail(404, "unknown_widget", "No newsletter widget is configured.");
  // The address is the browser's claim (source `widget`): ingest/trust.ts attaches it only where no
  // other contact holds it, so a sign-up with a customer's address neither links nor changes her.
  const email = normaliseEmail(a.body.email);
  if (!email) fail(400, "invalid_email", "Enter a valid email address.", { field: "email" });
  const wording = requireConsent(a.body);
  await capped(a, email);

  const consent = {
    [NEWSLETTER_OPT_IN_TRAIT]: true,
    [`${NEWSLETTER_OPT_IN_TRAIT}_at`]: new Date(a.at).toISOString(),
  };
  await emit(
    a,
    [
      { type: "identify", event: null, properties: {}, traits: { email, ...consent } },
      { type: "track", event: EVENT.newsletterSubscribed, properties: { email, source: "widget" }, traits: {} },
    ],
    "newsletter",
  );
  await consentOf(a, email, "newsletter", wording).run();
  return c.json({ ok: true });
});

onsite.post("/onsite/callback", async (c) => {
  const a = await action(c, "callback");
  const phone = normalisePhone(requireString(a.body, "phone", 32, "Phone number"));
  if (!phone)
    fail(400, "invalid_phone", "Enter the phone number with its country code, e.g. +44 20 7946 0958.", {
      field: "phone",
    });
  // The site's countries only, never premium or international-network ranges (lib/phone.ts).
  const countries = phoneCountries(a.site);
  if (!phoneAllowed(phone, countries))
    fail(
      400,
      "phone_not_allowed",
      countries.length > 0
        ? `We can only call numbers in ${countries.join(", ")}.`
        : "This store does not take callback requests by phone yet.",
      { field: "phone" },
    );
  const window = a.body.window;
  if (typeof window !== "string" || !(WINDOWS as readonly string[]).includes(window))
    fail(400, "invalid_field", `window must be one of ${WINDOWS.join(", ")}.`, { field: "window" });
  const wording = requireConsent(a.body);
  await capped(a, phone);
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
  await emit(a, [{ type: "track", event: EVENT.callbackRequested, properties: event, traits: {} }], "callback");
  // After the event is applied the browser has a contact: the task (and its consent) name it.
  await linkBrowser(a.env.DB, a.site.id, a.anonymousId);
  const callback = await callbackById(a.env.DB, a.site.id, id);
  if (created && callback) c.executionCtx.waitUntil(notifyMerchant(a.env, a.site, callback, a.at));
  return c.json({ ok: true, id });
});

/**
 * Tells the merchant's team through their webhook, signed like every webhook Nudge sends
 * (channels/webhook.ts: `t=<unix seconds>,v1=<hex>` with the site's signing secret). A try that
 * fails is retried by the sweep with backoff (jobs/webhooks.ts).
 */
export async function notifyMerchant(env: Env, site: Site, callback: Callback, at: number): Promise<void> {
  const { webhookUrl } = await configOf(env, site);
  if (!webhookUrl || webhookUrlProblem(webhookUrl, isDev(env))) return;
  const { secret } = await webhookSecret(env.DB, site.id);
  await notifyCallback(env.DB, { url: webhookUrl, secret }, site.id, callback, at);
}

onsiteAdmin.get("/onsite", requireSecretKey, async (c) => {
  const stored = await configOf(c.env, c.get("site"));
  return c.json({ config: stored.config, webhook: stored.webhookUrl ? { url: stored.webhookUrl } : null });
});

/** Where the callback webhook may point: lib/hosts.ts decides, for this deployment. */
const webhookSchema = (dev: boolean) =>
  v.nullable(
    v.strictObject(
      {
        url: v.pipe(
          v.string("is required: an https URL."),
          v.maxLength(2000, "must be at most 2000 characters."),
          v.rawCheck(({ dataset, addIssue }) => {
            const problem = dataset.typed ? webhookUrlProblem(dataset.value, dev) : null;
            if (problem) addIssue({ message: `${problem}.` });
          }),
        ),
        secret: v.optional(
          v.never(
            "is not taken: every webhook is signed with the site's signing secret " +
              "(POST /v1/admin/webhook-secret shows a new one).",
          ),
        ),
      },
      "must be { url } or null.",
    ),
  );

onsiteAdmin.put("/onsite", requireSecretKey, async (c) => {
  const body = await readBody(
    c.req.raw,
    64 * 1024,
    v.strictObject({ config: v.unknown(), webhook: v.optional(v.unknown()) }, "Send { config, webhook? }."),
  );
  const config = parseOr400(configSchema, body.config, "invalid_config", "config");
  const webhook =
    body.webhook === undefined
      ? undefined
      : parseOr400(webhookSchema(isDev(c.env)), body.webhook, "invalid_webhook", "webhook");
  const site = c.get("site");
  let { webhookUrl } = await configOf(c.env, site);
  // Shown in the answer only when this request made the site's signing secret (its first need).
  let secret: string | null = null;
  if (webhook === null) webhookUrl = null;
  else if (webhook !== undefined) {
    webhookUrl = new URL(webhook.url).href;
    const made = await webhookSecret(c.env.DB, site.id);
    if (made.fresh) secret = made.secret;
  }
  const at = await now(c.env);
  // A coupon widget naming a built-in promotion (exit-intent-10) brings it, as templates do.
  const defaults = config.widgets.flatMap((w) => {
    const p = w.promotion ? DEFAULT_PROMOTIONS.get(w.promotion) : undefined;
    return p ? [putPromotion(c.env.DB, site.id, p, true, at, true)] : [];
  });
  if (defaults.length > 0) await c.env.DB.batch(defaults);
  await saveOnsiteConfig(c.env.DB, site.id, { config, webhookUrl, webhookSecret: null }, at);
  return c.json({ config, webhook: webhookUrl ? { url: webhookUrl, ...(secret ? { secret } : {}) } : null });
});

const CALLBACK_STATUS = v.picklist(["open", "done", "cancelled"], "must be open, done or cancelled.");

onsiteAdmin.get("/callbacks", requireSecretKey, async (c) => {
  const { status } = readQuery(c.req.url, v.strictObject({ status: v.optional(CALLBACK_STATUS) }), "invalid_status");
  return c.json({ callbacks: (await listCallbacks(c.env.DB, c.get("site").id, status ?? null)).map(present) });
});

onsiteAdmin.patch("/callbacks/:id", requireSecretKey, async (c) => {
  const id = Number(c.req.param("id"));
  const { status } = await readBody(c.req.raw, 1024, v.strictObject({ status: CALLBACK_STATUS }), "invalid_status");
  const row = Number.isSafeInteger(id) ? await setCallbackStatus(c.env.DB, c.get("site").id, id, status) : null;
  if (!row) fail(404, "not_found", `No callback ${c.req.param("id")}.`);
  return c.json({ callback: present(row) });
});
