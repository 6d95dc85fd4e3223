/** Bindings and settings of the Worker (see worker/wrangler.jsonc and demo-store/wrangler.jsonc). */
export interface Env {
  /**
   * The directory (which database holds each site: `site_homes`; dashboard sessions; the dev
   * clock) and the first home of site data. Once a request knows its site, `DB` is that site's
   * home (`routedTo`), so every query below the routing runs where the site lives.
   */
  DB: D1Database;
  /**
   * More homes of site data (`DB_EU`, `DB_2`…): bind as many as needed, each with the same
   * migrations applied. Cloudflare designs D1 as one database per tenant: one writer, 10 GB each.
   */
  [home: `DB_${string}`]: D1Database | undefined;
  /** The home of new sites the operator creates without naming one (default "DB"). */
  NEW_SITE_HOME?: string;
  /** Set by `routedTo`, never bound: the directory, once `DB` points at a site's home. */
  DIRECTORY?: D1Database;
  /** Set by `routedTo`: the binding name of the home `DB` points at. */
  HOME?: string;
  /** "development" turns on the demo site, `/v1/dev/*` and the dev clock. Never set in a deployment. */
  NUDGE_ENV?: string;
  /** HMAC key for signed links. A Worker secret in production (`wrangler secret put LINK_SECRET`). */
  LINK_SECRET?: string;
  /**
   * The Worker's public address (e.g. https://nudge.shop.example), on which links in messages are
   * built; a site's `publicUrl` setting overrides it. Without either, production sends nothing.
   */
  PUBLIC_URL?: string;
  /** Bearer token of the operator API (`/v1/operator/*`: sites, keys, settings). A Worker secret. */
  OPERATOR_TOKEN?: string;
  /** Signing secrets of provider feedback webhooks (routes/provider-hooks.ts): Resend's "whsec_…". */
  RESEND_WEBHOOK_SECRET?: string;
  /** "user:password" that Postmark sends as HTTP Basic on its bounce and spam webhooks. */
  POSTMARK_WEBHOOK_AUTH?: string;
  // Channels (worker/src/channels): each provider is used when its secrets are set; else, in
  // development only, the outbox. A deployment without a provider refuses the channel.
  /** Email over Resend (`wrangler secret put RESEND_API_KEY`); RESEND_API_URL only to point elsewhere. */
  RESEND_API_KEY?: string;
  RESEND_API_URL?: string;
  /** Email over Postmark (server token), when Resend is not configured. */
  POSTMARK_SERVER_TOKEN?: string;
  POSTMARK_API_URL?: string;
  /** Sender of email, e.g. "Shop <shop@example.com>", when the site sets none (`senderEmail`). */
  EMAIL_FROM?: string;
  /** SMS and automated calls over Twilio. */
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_FROM?: string;
  TWILIO_API_URL?: string;
  /** Raised provider rate limits, requests per second, as JSON: `{"resend": 10, "twilio_sms": 30}`. */
  PROVIDER_RATES?: string;
  /** Ingest rate limits (Rate Limiting bindings): per write key + client address, and per write key. */
  INGEST_CLIENT_LIMIT?: RateLimit;
  INGEST_KEY_LIMIT?: RateLimit;
  /**
   * "sweep" only stores accepted batches in the inbox and leaves applying them to the scheduled
   * sweep (a cheaper request; profiles up to a minute behind). Anything else (the default) stores
   * and applies them before answering (ingest/process.ts, `applyBatch`).
   */
  INGEST_PROCESSING?: string;
  /**
   * A Cloudflare Queue (optional): when bound, a request validates its batch and sends it here, and
   * the Worker's queue consumer applies many batches per invocation (ingest/queue.ts: `IngestJob`). Unbound, the
   * request applies its batch itself.
   */
  INGEST_QUEUE?: Queue;
}

export const isDev = (env: Env): boolean => env.NUDGE_ENV === "development";

/** The directory's binding; homes are "DB" and every bound "DB_<NAME>". */
export const DIRECTORY_HOME = "DB";
const HOME_NAME = /^DB(_[A-Z0-9_]{1,40})?$/;

/** The directory, whether or not this env has been routed to a site's home. */
export const directoryOf = (env: Env): D1Database => env.DIRECTORY ?? env.DB;

/** The databases that can hold sites, by binding name, the directory's own first. */
export function homeNames(env: Env): string[] {
  const base: Record<string, unknown> = env.DIRECTORY ? { ...env, DB: env.DIRECTORY } : { ...env };
  return Object.keys(base)
    .filter((name) => HOME_NAME.test(name) && isDatabase(base[name]))
    .sort((a, b) => (a === DIRECTORY_HOME ? -1 : b === DIRECTORY_HOME ? 1 : a.localeCompare(b)));
}

const isDatabase = (value: unknown): value is D1Database =>
  typeof value === "object" && value !== null && typeof (value as D1Database).prepare === "function";

/** The database bound as `home`, or undefined when no such binding exists. */
export function homeDatabase(env: Env, home: string): D1Database | undefined {
  if (!HOME_NAME.test(home)) return undefined;
  const db = home === DIRECTORY_HOME ? directoryOf(env) : (env as unknown as Record<string, unknown>)[home];
  return isDatabase(db) ? db : undefined;
}

/**
 * The env a site's work runs in: `DB` is its home, the directory stays reachable. Everything below
 * the routing (models, jobs, the sweep) keeps using `env.DB` and never learns there is more than one.
 */
export function routedTo(env: Env, home: string): Env {
  const db = homeDatabase(env, home);
  if (!db) throw new Error(`no D1 database is bound as ${home}`);
  return { ...env, DB: db, DIRECTORY: directoryOf(env), HOME: home };
}
