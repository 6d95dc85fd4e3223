import { Hono } from "hono";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Env } from "../env";
import { isDict } from "../lib/values";
import { sameSecret, sha256Hex } from "../lib/crypto";
import { fail, readJson } from "../lib/http";
import { publicBase } from "../lib/links";
import { createSite, siteById } from "../model/sites";
import type { Site, SiteSettings } from "../model/sites";

/**
 * `/v1/operator/*`: what the person who deploys Nudge does — create sites (keys shown once),
 * rotate keys, read and change a site's settings. `Authorization: Bearer <OPERATOR_TOKEN>` (a
 * Worker secret); without the secret the API is off. `npm run site:create` is a client of it.
 */
export const operator = new Hono<{ Bindings: Env }>();

operator.use(
  "*",
  createMiddleware<{ Bindings: Env }>(async (c, next) => {
    const expected = c.env.OPERATOR_TOKEN;
    if (!expected) fail(401, "operator_api_off", "The operator API is off: set the OPERATOR_TOKEN secret.");
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!token || token.length > 512 || !(await sameSecret(token, expected)))
      fail(401, "invalid_operator_token", "Send the operator token as `Authorization: Bearer <token>`.");
    await next();
  }),
);

// ---- The one schema of site fields: each validator returns the clean value or a message. ----

type Check = (v: unknown) => { value: unknown } | { error: string };
const ok = (value: unknown) => ({ value });
const bad = (error: string) => ({ error });

const text =
  (max: number, what: string, pattern?: RegExp): Check =>
  (v) =>
    typeof v === "string" && v.length <= max && !/[\r\n\0]/.test(v) && (!pattern || v === "" || pattern.test(v))
      ? ok(v.trim())
      : bad(`${what}, at most ${max} characters`);

const httpUrl =
  (what: string, allowEmpty: boolean): Check =>
  (v) => {
    if (allowEmpty && v === "") return ok("");
    try {
      const u = new URL(String(v));
      if (typeof v === "string" && v.length <= 500 && (u.protocol === "https:" || u.protocol === "http:") && !u.search)
        return ok(u.href.replace(/\/+$/, ""));
    } catch {}
    return bad(`${what}: an http(s) address without query, e.g. https://shop.example`);
  };

const isOrigin = (o: unknown) => {
  try {
    return typeof o === "string" && new URL(o).origin === o;
  } catch {
    return false;
  }
};

const EMAIL = /^[^\s@<>",;]{1,64}@[^\s@<>",;]+\.[^\s@<>",;]+$/;

const FIELDS: Record<string, Check> = {
  name: (v) =>
    typeof v === "string" && v.trim().length >= 1 && v.length <= 200 ? ok(v.trim()) : bad("1–200 characters"),
  url: httpUrl("the shop's address", false),
  allowedOrigins: (v) =>
    Array.isArray(v) && v.length <= 50 && v.every(isOrigin)
      ? ok(v)
      : bad("a list of at most 50 origins (scheme://host[:port], no path)"),
  timeZone: (v) => {
    try {
      if (typeof v === "string" && v.length <= 64) {
        new Intl.DateTimeFormat("en", { timeZone: v });
        return ok(v);
      }
    } catch {}
    return bad("an IANA time zone, e.g. Europe/London");
  },
  currency: (v) =>
    typeof v === "string" && /^[A-Za-z]{3}$/.test(v) ? ok(v.toUpperCase()) : bad("an ISO 4217 code, e.g. GBP"),
  // Settings (model/sites.ts, SiteSettings); "" returns a setting to the deployment's default.
  publicUrl: httpUrl("the Worker's public address", true),
  senderName: text(100, "a display name without line breaks", /^[^<>]+$/),
  senderEmail: text(254, "an email address", EMAIL),
  replyTo: text(254, "an email address", EMAIL),
  smsFrom: text(16, "an E.164 number, e.g. +447700900123", /^\+[1-9]\d{6,14}$/),
  resendWebhookSecret: (v) =>
    typeof v === "string" && (v === "" || /^whsec_[A-Za-z0-9+/=]{16,200}$/.test(v))
      ? ok(v)
      : bad('the signing secret Resend shows for this site\'s webhook, "whsec_…"'),
  countries: (v) =>
    Array.isArray(v) && v.length <= 250 && v.every((x) => typeof x === "string" && /^[A-Za-z]{2}$/.test(x))
      ? ok(v.map((x: string) => x.toUpperCase()))
      : bad("a list of ISO 3166-1 alpha-2 codes, e.g. GB"),
  retentionDays: (v) =>
    Number.isInteger(v) && (v as number) >= 30 && (v as number) <= 3650 ? ok(v) : bad("whole days, 30–3650"),
  trustBrowserOrders: (v) => (typeof v === "boolean" ? ok(v) : bad("true or false")),
};
const COLUMNS = ["name", "url", "allowedOrigins", "timeZone", "currency"] as const;
const CREATE_ONLY: Record<string, Check> = {
  verifyIdentity: (v) => (typeof v === "boolean" ? ok(v) : bad("true or false")),
};

/** Every field checked, unknown ones refused: a misspelt setting must not be silently ignored. */
function parseFields(body: unknown, creating: boolean): Record<string, unknown> {
  if (!isDict(body)) fail(400, "invalid_body", "Send a JSON object of site fields.");
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const check = FIELDS[k] ?? (creating ? CREATE_ONLY[k] : undefined);
    if (!check)
      fail(400, "unknown_field", `Unknown field "${k}".`, {
        fields: [...Object.keys(FIELDS), ...(creating ? Object.keys(CREATE_ONLY) : [])],
      });
    const r = check(v);
    if ("error" in r) fail(400, "invalid_field", `${k} must be ${r.error}.`, { field: k });
    out[k] = r.value;
  }
  if (creating && (out.name === undefined || out.url === undefined))
    fail(400, "missing_field", "name and url (the shop's address) are required.");
  return out;
}

const settingsOf = (fields: Record<string, unknown>): Partial<SiteSettings> =>
  Object.fromEntries(
    Object.entries(fields).filter(([k]) => !(COLUMNS as readonly string[]).includes(k) && !(k in CREATE_ONLY)),
  );

// ---- Keys ----

const token = (prefix: string, bytes: number) => {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return `${prefix}_${btoa(String.fromCharCode(...b))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")}`;
};

/**
 * The paste-ready tag for the store's pages: the SDK from the Worker's public address (the site's
 * own, else PUBLIC_URL, else the address this request came to), configured by its data-key.
 */
const snippet = (base: string, publicKey: string) =>
  `<script async src="${base}/sdk/nudge.js" data-key="${publicKey}"></script>`;

/** What an operator sees of a site: everything but secrets (the webhook key only as set or not). */
function view(site: Site, publicKey: string, base: string) {
  const { resendWebhookSecret, ...settings } = site.settings;
  return {
    id: site.id,
    name: site.name,
    url: site.url,
    publicKey,
    allowedOrigins: site.allowedOrigins,
    timeZone: site.timeZone,
    currency: site.currency,
    identityVerification: !!site.identitySecret,
    snippet: snippet(base, publicKey),
    settings: {
      ...settings,
      resendWebhookSecret: resendWebhookSecret ? "(set)" : "",
    },
  };
}

async function load(c: Context<{ Bindings: Env }>, id: string) {
  const db = c.env.DB;
  const site = id.length <= 100 ? await siteById(db, id) : null;
  if (!site) fail(404, "not_found", "No such site.");
  const row = await db.prepare(`SELECT public_key FROM sites WHERE id = ?`).bind(id).first<{ public_key: string }>();
  return view(site, row?.public_key ?? "", publicBase(c.env, site) ?? new URL(c.req.url).origin);
}

const LIMIT = 16 * 1024;

/** Creates a site; its keys are in this answer only (the secret key is stored as its SHA-256). */
operator.post("/sites", async (c) => {
  const fields = parseFields(await readJson(c.req.raw, LIMIT), true);
  const keys = {
    publicKey: token("pk", 18),
    secretKey: token("sk", 32),
    identitySecret: fields.verifyIdentity ? token("iv", 32) : null,
  };
  const id = token("site", 9);
  await createSite(
    c.env.DB,
    {
      id,
      name: fields.name as string,
      url: fields.url as string,
      publicKey: keys.publicKey,
      secretKey: keys.secretKey,
      allowedOrigins: fields.allowedOrigins as string[] | undefined,
      timeZone: fields.timeZone as string | undefined,
      currency: fields.currency as string | undefined,
      identitySecret: keys.identitySecret,
      settings: settingsOf(fields),
    },
    Date.now(),
  );
  return c.json({ site: await load(c, id), keys }, 201);
});

operator.get("/sites", async (c) => {
  const { results } = await c.env.DB.prepare(
    `SELECT id, name, url, public_key, created_at FROM sites ORDER BY created_at LIMIT 1000`,
  ).all<{ id: string; name: string; url: string; public_key: string; created_at: number }>();
  return c.json({
    sites: (results ?? []).map((r) => ({
      id: r.id,
      name: r.name,
      url: r.url,
      publicKey: r.public_key,
      createdAt: new Date(r.created_at).toISOString(),
    })),
  });
});

operator.get("/sites/:id", async (c) => c.json({ site: await load(c, c.req.param("id")) }));

/** Changes the fields sent, leaves the rest; a setting sent as "" goes back to the deployment's default. */
operator.patch("/sites/:id", async (c) => {
  const id = c.req.param("id");
  await load(c, id);
  const f = parseFields(await readJson(c.req.raw, LIMIT), false);
  await c.env.DB.prepare(
    `UPDATE sites SET name = coalesce(?2, name), url = coalesce(?3, url),
       allowed_origins = coalesce(?4, allowed_origins), time_zone = coalesce(?5, time_zone),
       currency = coalesce(?6, currency), settings = json_patch(settings, ?7)
     WHERE id = ?1`,
  )
    .bind(
      id,
      f.name ?? null,
      f.url ?? null,
      f.allowedOrigins === undefined ? null : JSON.stringify(f.allowedOrigins),
      f.timeZone ?? null,
      f.currency ?? null,
      JSON.stringify(settingsOf(f)),
    )
    .run();
  return c.json({ site: await load(c, id) });
});

/**
 * Rotates one key; the new one is in this answer only. The old key stops working at once for the
 * admin API, and for ingest within SITE_CACHE_MS (10 s), the time isolates cache sites by key.
 */
operator.post("/sites/:id/keys/:which", async (c) => {
  const id = c.req.param("id");
  const which = c.req.param("which");
  if (which !== "public" && which !== "secret")
    fail(404, "not_found", "Rotate /keys/public (the snippet's key) or /keys/secret (the admin key).");
  await load(c, id);
  if (which === "public") {
    const publicKey = token("pk", 18);
    await c.env.DB.prepare(`UPDATE sites SET public_key = ? WHERE id = ?`).bind(publicKey, id).run();
    return c.json({ publicKey });
  }
  const secretKey = token("sk", 32);
  await c.env.DB.prepare(`UPDATE sites SET secret_hash = ? WHERE id = ?`)
    .bind(await sha256Hex(secretKey), id)
    .run();
  return c.json({ secretKey });
});
