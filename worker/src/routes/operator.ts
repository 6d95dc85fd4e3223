import { Hono } from "hono";
import * as v from "valibot";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Env } from "../env";
import { sameSecret, sha256Hex } from "../lib/crypto";
import { fail } from "../lib/http";
import { int, readBody } from "../lib/schema";
import { publicBase } from "../lib/links";
import { abortMove, moveStep } from "../jobs/move";
import { directoryOf, homeDatabase, homeNames } from "../env";
import { newSiteHome, placementOf } from "../model/directory";
import { createSite, forgetCachedSites, siteById } from "../model/sites";
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

// ---- The one schema of site fields ----

const must = (what: string) => `must be ${what}.`;

const line = (max: number, what: string, pattern?: RegExp) =>
  v.pipe(
    v.string(must(`${what}, at most ${max} characters`)),
    v.check(
      (s) => s.length <= max && !/[\r\n\0]/.test(s) && (!pattern || s === "" || pattern.test(s)),
      must(`${what}, at most ${max} characters`),
    ),
    v.trim(),
  );

const httpUrl = (what: string, allowEmpty: boolean) => {
  const message = must(`${what}: an http(s) address without query, e.g. https://shop.example`);
  return v.pipe(
    v.string(message),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const raw = dataset.value;
      if (allowEmpty && raw === "") return "";
      const u = URL.canParse(raw) ? new URL(raw) : null;
      if (u && raw.length <= 500 && (u.protocol === "https:" || u.protocol === "http:") && !u.search)
        return u.href.replace(/\/+$/, "");
      addIssue({ message });
      return NEVER;
    }),
  );
};

const isOrigin = (o: string) => URL.canParse(o) && new URL(o).origin === o;

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const EMAIL = /^[^\s@<>",;]{1,64}@[^\s@<>",;]+\.[^\s@<>",;]+$/;
const ORIGINS = must("a list of at most 50 origins (scheme://host[:port], no path)");
const COUNTRIES = must("a list of ISO 3166-1 alpha-2 codes, e.g. GB");
const RESEND = must('the signing secret Resend shows for this site\'s webhook, "whsec_…"');

/** The site's columns (a name and the shop's address are required to create one). */
const columns = {
  name: v.pipe(
    v.string(must("1–200 characters")),
    v.trim(),
    v.minLength(1, must("1–200 characters")),
    v.maxLength(200, must("1–200 characters")),
  ),
  url: httpUrl("the shop's address", false),
  allowedOrigins: v.pipe(
    v.array(v.string(ORIGINS), ORIGINS),
    v.maxLength(50, ORIGINS),
    v.check((os) => os.every(isOrigin), ORIGINS),
  ),
  timeZone: v.pipe(
    v.string(must("an IANA time zone, e.g. Europe/London")),
    v.check((z) => z.length <= 64 && isTimeZone(z), must("an IANA time zone, e.g. Europe/London")),
  ),
  currency: v.pipe(
    v.string(must("an ISO 4217 code, e.g. GBP")),
    v.regex(/^[A-Za-z]{3}$/, must("an ISO 4217 code, e.g. GBP")),
    v.toUpperCase(),
  ),
};

/** Settings (model/sites.ts, SiteSettings); "" returns a setting to the deployment's default. */
const settings = {
  publicUrl: httpUrl("the Worker's public address", true),
  senderName: line(100, "a display name without line breaks", /^[^<>]+$/),
  senderEmail: line(254, "an email address", EMAIL),
  replyTo: line(254, "an email address", EMAIL),
  smsFrom: line(16, "an E.164 number, e.g. +447700900123", /^\+[1-9]\d{6,14}$/),
  resendWebhookSecret: v.pipe(v.string(RESEND), v.regex(/^(|whsec_[A-Za-z0-9+/=]{16,200})$/, RESEND)),
  countries: v.pipe(
    v.array(v.string(COUNTRIES), COUNTRIES),
    v.maxLength(250, COUNTRIES),
    v.check((cs) => cs.every((x) => /^[A-Za-z]{2}$/.test(x)), COUNTRIES),
    v.transform((cs) => cs.map((x) => x.toUpperCase())),
  ),
  retentionDays: int(30, 3650, must("whole days, 30–3650")),
  referralRewardsPerMonth: int(0, 1000, must("a whole number of rewards, 0–1000")),
  trustBrowserOrders: v.boolean(must("true or false")),
};

const optional = <T extends Record<string, v.GenericSchema>>(entries: T) =>
  Object.fromEntries(Object.entries(entries).map(([k, s]) => [k, v.optional(s)])) as {
    [K in keyof T]: v.OptionalSchema<T[K], undefined>;
  };

/** A D1 binding name (env.ts); whether it is bound is checked against the env. */
const homeName = v.pipe(
  v.string(must('the binding name of a D1 database, e.g. "DB" or "DB_EU"')),
  v.regex(/^DB(_[A-Z0-9_]{1,40})?$/, must('the binding name of a D1 database, e.g. "DB" or "DB_EU"')),
);

/** Every field checked, unknown ones refused: a misspelt setting must not be silently ignored. */
const createBody = v.strictObject(
  {
    ...optional(columns),
    name: columns.name,
    url: columns.url,
    ...optional(settings),
    verifyIdentity: v.optional(v.boolean(must("true or false"))),
    home: v.optional(homeName),
  },
  "Send a JSON object of site fields.",
);
const patchBody = v.strictObject({ ...optional(columns), ...optional(settings) }, "Send a JSON object of site fields.");

const settingsOf = (fields: Record<string, unknown>): Partial<SiteSettings> =>
  Object.fromEntries(Object.entries(fields).filter(([k]) => Object.hasOwn(settings, k)));

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

/** The site as the directory places it, read afresh, and its home (even while it moves). */
async function placed(c: Context<{ Bindings: Env }>, id: string) {
  const placement = id.length <= 100 ? await placementOf(c.env, id, Date.now(), true) : null;
  const db = placement && homeDatabase(c.env, placement.home);
  const site = db && (await siteById(db, id));
  if (!placement || !db || !site) fail(404, "not_found", "No such site.");
  return { placement, db, site };
}

async function load(c: Context<{ Bindings: Env }>, id: string) {
  const { placement, site } = await placed(c, id);
  const row = await directoryOf(c.env)
    .prepare(`SELECT public_key FROM site_homes WHERE site_id = ?`)
    .bind(id)
    .first<{ public_key: string }>();
  return {
    ...view(site, row?.public_key ?? "", publicBase(c.env, site) ?? new URL(c.req.url).origin),
    home: placement.home,
    movingTo: placement.movingTo,
  };
}

const LIMIT = 16 * 1024;

/**
 * Creates a site; its keys are in this answer only (the secret key is stored as its SHA-256). It
 * lives in `home` when given, else in NEW_SITE_HOME (default "DB").
 */
operator.post("/sites", async (c) => {
  const fields = await readBody(c.req.raw, LIMIT, createBody, "invalid_field");
  const home = fields.home ?? newSiteHome(c.env);
  if (!homeDatabase(c.env, home))
    fail(400, "invalid_field", `home: no D1 database is bound as ${home} (bound: ${homeNames(c.env).join(", ")}).`, {
      field: "home",
    });
  const keys = {
    publicKey: token("pk", 18),
    secretKey: token("sk", 32),
    identitySecret: fields.verifyIdentity ? token("iv", 32) : null,
  };
  const id = token("site", 9);
  await createSite(
    c.env,
    {
      id,
      name: fields.name,
      url: fields.url,
      publicKey: keys.publicKey,
      secretKey: keys.secretKey,
      allowedOrigins: fields.allowedOrigins,
      timeZone: fields.timeZone,
      currency: fields.currency,
      identitySecret: keys.identitySecret,
      settings: settingsOf(fields),
    },
    Date.now(),
    home,
  );
  return c.json({ site: await load(c, id), keys }, 201);
});

/** Every site, wherever it lives: the directory's list, each site's row read from its home. */
operator.get("/sites", async (c) => {
  const { results } = await directoryOf(c.env)
    .prepare(`SELECT site_id, home, public_key, moving_to FROM site_homes LIMIT 10000`)
    .all<{ site_id: string; home: string; public_key: string; moving_to: string | null }>();
  const placed = new Map((results ?? []).map((r) => [r.site_id, r]));
  const homes = [...new Set((results ?? []).map((r) => r.home))];
  const rows = await Promise.all(
    homes.map(async (home) => {
      const db = homeDatabase(c.env, home);
      const { results: sites } = db
        ? await db
            .prepare(`SELECT id, name, url, created_at FROM sites ORDER BY created_at LIMIT 10000`)
            .all<{ id: string; name: string; url: string; created_at: number }>()
        : { results: [] };
      // A home also holds the leftovers of a site moved out, until cleaned: only its own count.
      return (sites ?? []).filter((r) => placed.get(r.id)?.home === home);
    }),
  );
  return c.json({
    sites: rows
      .flat()
      .sort((a, b) => a.created_at - b.created_at)
      .slice(0, 1000)
      .map((r) => {
        const p = placed.get(r.id);
        return {
          id: r.id,
          name: r.name,
          url: r.url,
          publicKey: p?.public_key ?? "",
          home: p?.home ?? "",
          movingTo: p?.moving_to ?? null,
          createdAt: new Date(r.created_at).toISOString(),
        };
      }),
  });
});

operator.get("/sites/:id", async (c) => c.json({ site: await load(c, c.req.param("id")) }));

/** Changes the fields sent, leaves the rest; a setting sent as "" goes back to the deployment's default. */
operator.patch("/sites/:id", async (c) => {
  const id = c.req.param("id");
  const { db } = await placed(c, id);
  const f = await readBody(c.req.raw, LIMIT, patchBody, "invalid_field");
  await db
    .prepare(
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
  const { db } = await placed(c, id);
  // The directory answers for keys (model/directory.ts); the home's copy is kept equal.
  const [column, value, shown] =
    which === "public"
      ? (() => {
          const publicKey = token("pk", 18);
          return ["public_key", publicKey, { publicKey }] as const;
        })()
      : await (async () => {
          const secretKey = token("sk", 32);
          return ["secret_hash", await sha256Hex(secretKey), { secretKey }] as const;
        })();
  await directoryOf(c.env).prepare(`UPDATE site_homes SET ${column} = ? WHERE site_id = ?`).bind(value, id).run();
  await db.prepare(`UPDATE sites SET ${column} = ? WHERE id = ?`).bind(value, id).run();
  forgetCachedSites();
  return c.json(shown);
});

const moveBody = v.strictObject({ to: homeName }, 'Send { "to": "<binding name of the new database>" }.');

/**
 * Moves a site to another database, one bounded step per call (jobs/move.ts): 202 with the state
 * and `retryAfter` until it is done (200). `npm run site:move` calls it until then. The site
 * answers 503 from the first call until the switch.
 */
operator.post("/sites/:id/move", async (c) => {
  const { to } = await readBody(c.req.raw, 1024, moveBody, "invalid_field");
  const state = await moveStep(c.env, c.req.param("id"), to);
  return c.json(state, state.state === "done" ? 200 : 202);
});

/** Aborts a move before its switch: the site stays, its partial copy is deleted (202 until done). */
operator.delete("/sites/:id/move", async (c) => {
  const state = await abortMove(c.env, c.req.param("id"));
  return c.json(state, state.state === "done" ? 200 : 202);
});

/**
 * The databases sites live in: how many sites each holds and its size (D1 reports it with every
 * query) against D1's 10 GB — what tells the operator a site needs a database of its own.
 */
operator.get("/homes", async (c) => {
  const { results } = await directoryOf(c.env)
    .prepare(`SELECT home, count(*) AS sites, count(moving_to) AS moving FROM site_homes GROUP BY home`)
    .all<{ home: string; sites: number; moving: number }>();
  const counts = new Map((results ?? []).map((r) => [r.home, r]));
  const homes = await Promise.all(
    homeNames(c.env).map(async (home) => {
      const db = homeDatabase(c.env, home);
      const size = db ? (await db.prepare(`SELECT 1`).run()).meta.size_after : undefined;
      return {
        home,
        sites: counts.get(home)?.sites ?? 0,
        bytes: typeof size === "number" ? size : null,
        ofLimit: typeof size === "number" ? Math.round((size / D1_LIMIT_BYTES) * 1000) / 10 : null,
      };
    }),
  );
  return c.json({ homes, newSitesGoTo: newSiteHome(c.env) });
});

/** A D1 database's size limit (Workers Paid). */
const D1_LIMIT_BYTES = 10 * 1024 ** 3;
