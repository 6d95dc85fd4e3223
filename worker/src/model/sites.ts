import type { Env } from "../env";
import { DIRECTORY_HOME, directoryOf, homeDatabase } from "../env";
import { sha256Hex } from "../lib/crypto";
import {
  forgetPlacements,
  placeStatement,
  placementByPublicKey,
  placementBySecretKey,
  placementOf,
  routeTo,
  SITE_CACHE_MS,
} from "./directory";
import type { Placement } from "./directory";

export { SITE_CACHE_MS };

/**
 * Per-site settings, stored as one JSON object (`sites.settings`, migration 0008). Every field has a
 * default here, so a setting is added without a migration and old rows read as the defaults.
 */
export interface SiteSettings {
  /**
   * Orders, cancellations and refunds that the browser reports (public key) count as money state:
   * spend, orders, redemptions, rewards. Off by default: only the merchant's server (secret key)
   * can say that money changed hands, because anyone can send anything with the public key.
   */
  trustBrowserOrders: boolean;
  /**
   * The store's country (ISO 3166 alpha-2). Empty: guessed from the time zone, then the currency
   * (lib/phone.ts `siteCountry`); no guess, no SMS or call until it is set.
   */
  country: string;
  /** Countries whose numbers the site texts and calls; empty means the site's own country. */
  phoneCountries: string[];
  /**
   * Daily budgets per channel (UTC days), enforced when sending: past one, due messages of that
   * channel wait for the next day and the merchant gets one alert (GET /v1/admin/alerts). SMS and
   * calls cost money per message; referral mail reaches people who never asked.
   */
  smsPerDay: number;
  callsPerDay: number;
  referralsPerDay: number;
  /**
   * Referral rewards one referrer may earn in 30 days (model/referrals.ts); friends past it are
   * still recorded (`capped`), so a burst of sign-ups shows in the results without paying out.
   */
  referralRewardsPerMonth: number;
  /** New email addresses browsers of one network may name in an hour (ingest/ratelimit.ts). */
  browserAddressesPerHour: number;
  /**
   * The Worker's public address for links in this site's messages (unsubscribe, click, open,
   * restore), e.g. a Workers route on the shop's own domain. Empty: the deployment's PUBLIC_URL.
   */
  publicUrl: string;
  /** Email sender ("Name <address>" is built from both); empty: the deployment's EMAIL_FROM. */
  senderName: string;
  senderEmail: string;
  /** Reply-To of emails; empty: none. */
  replyTo: string;
  /** E.164 number texts and calls come from; empty: the deployment's TWILIO_FROM. */
  smsFrom: string;
  /** Signing secret ("whsec_…") of this site's Resend webhook; empty: RESEND_WEBHOOK_SECRET. */
  resendWebhookSecret: string;
  /** ISO 3166-1 alpha-2 codes of the countries the shop sells to; empty: any. */
  countries: string[];
  /** Raw events, messages and outbox copies older than this are deleted (jobs/retention.ts). */
  retentionDays: number;
  /**
   * Branding in every email (campaigns/messages.ts; set through `PUT /v1/admin/branding`): an https
   * logo, the button colour (#rrggbb), a footer line, and the postal address — CAN-SPAM requires a
   * valid physical postal address in commercial email, so the admin API warns while it is empty.
   */
  logoUrl: string;
  brandColor: string;
  postalAddress: string;
  footerText: string;
}

/** 13 months: a year-on-year comparison still has its month. */
export const DEFAULT_RETENTION_DAYS = 396;

export const DEFAULT_SETTINGS: SiteSettings = {
  trustBrowserOrders: false,
  country: "",
  phoneCountries: [],
  smsPerDay: 200,
  callsPerDay: 50,
  referralsPerDay: 500,
  referralRewardsPerMonth: 10,
  browserAddressesPerHour: 30,
  publicUrl: "",
  senderName: "",
  senderEmail: "",
  replyTo: "",
  smsFrom: "",
  resendWebhookSecret: "",
  countries: [],
  retentionDays: DEFAULT_RETENTION_DAYS,
  logoUrl: "",
  brandColor: "",
  postalAddress: "",
  footerText: "",
};

/** Stored settings over the defaults; a field of the wrong type falls back to its default. */
export function parseSettings(json: string | null | undefined): SiteSettings {
  let stored: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(json ?? "{}");
    if (typeof v === "object" && v !== null && !Array.isArray(v)) stored = v as Record<string, unknown>;
  } catch {
    // a malformed row reads as the defaults
  }
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [k, d] of Object.entries(DEFAULT_SETTINGS)) {
    const v = stored[k];
    if (v !== undefined && typeof v === typeof d && Array.isArray(v) === Array.isArray(d)) out[k] = v;
  }
  return out as unknown as SiteSettings;
}

export interface Site {
  id: string;
  name: string;
  url: string;
  allowedOrigins: string[];
  timeZone: string;
  currency: string;
  /** Set when identity verification is enforced (see migration 0003); never sent to browsers. */
  identitySecret?: string | null;
  settings: SiteSettings;
}

interface SiteRow {
  id: string;
  name: string;
  url: string;
  allowed_origins: string;
  time_zone: string;
  currency: string;
  identity_secret: string | null;
  settings: string;
}

const COLUMNS = "id, name, url, allowed_origins, time_zone, currency, identity_secret, settings";

const toSite = (row: SiteRow): Site => ({
  id: row.id,
  name: row.name,
  url: row.url,
  allowedOrigins: JSON.parse(row.allowed_origins) as string[],
  timeZone: row.time_zone,
  currency: row.currency,
  identitySecret: row.identity_secret,
  settings: parseSettings(row.settings),
});

/** A site and the env its work runs in (`env.DB` = the database it lives in: model/directory.ts). */
export interface SiteAt {
  site: Site;
  env: Env;
}

/**
 * Ingest looks the site up on every request; an isolate keeps the rows it read for SITE_CACHE_MS
 * (like the directory's placements), so a busy store costs no D1 read per batch for either. A
 * changed setting or key takes effect within that time.
 */
const byHomeAndId = new Map<string, { site: Site | null; until: number }>();

/** The site a placement names, routed to its home; `fresh` reads the row rather than the cache. */
async function siteOfPlacement(
  env: Env,
  placement: Placement | null,
  now: number,
  fresh = false,
): Promise<SiteAt | null> {
  if (!placement) return null;
  const routed = routeTo(env, placement);
  const key = `${placement.home}:${placement.siteId}`;
  const hit = byHomeAndId.get(key);
  if (!fresh && hit && hit.until > now) return hit.site && { site: hit.site, env: routed };
  const site = await siteById(routed.DB, placement.siteId);
  if (byHomeAndId.size > 1000) byHomeAndId.clear();
  byHomeAndId.set(key, { site, until: now + SITE_CACHE_MS });
  return site && { site, env: routed };
}

/** The site of a public key, routed to its home; 503 while it moves. */
export async function cachedSiteByPublicKey(env: Env, key: string, now = Date.now()): Promise<SiteAt | null> {
  return siteOfPlacement(env, await placementByPublicKey(env, key, now), now);
}

/**
 * The site of a write key and who holds it: the public key is the browser's (`browser`), the
 * secret key the merchant's server (`server`) — Segment's server libraries send the write key as
 * the HTTP Basic username, so a merchant points them at Nudge with the secret key and changes
 * nothing else. Cached like `cachedSiteByPublicKey`.
 */
export async function cachedSiteByWriteKey(
  env: Env,
  key: string,
  now = Date.now(),
): Promise<(SiteAt & { source: "browser" | "server" }) | null> {
  const browser = await cachedSiteByPublicKey(env, key, now);
  if (browser) return { ...browser, source: "browser" };
  const server = await siteOfPlacement(env, await placementBySecretKey(env, key, now), now);
  return server && { ...server, source: "server" };
}

/** Drops what this isolate cached, so a changed setting applies at once (development's switch). */
export function forgetCachedSites(): void {
  byHomeAndId.clear();
  forgetPlacements();
}

/** Replaces some of a site's settings; the others keep their stored values. */
export async function updateSettings(db: D1Database, siteId: string, patch: Partial<SiteSettings>): Promise<void> {
  await db
    .prepare(`UPDATE sites SET settings = json_patch(settings, ?) WHERE id = ?`)
    .bind(JSON.stringify(patch), siteId)
    .run();
  forgetCachedSites();
}

export async function siteById(db: D1Database, id: string): Promise<Site | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM sites WHERE id = ?`).bind(id).first<SiteRow>();
  return row ? toSite(row) : null;
}

/** The site of a secret key, read afresh (the admin API: a rotated key stops at once), routed to its home. */
export async function siteBySecretKey(env: Env, secret: string, now = Date.now()): Promise<SiteAt | null> {
  return siteOfPlacement(env, await placementBySecretKey(env, secret, now, true), now, true);
}

/**
 * The site of an id (signed links, webhooks, the Queue), routed to its home; null when unknown.
 * `fresh` reads both the placement and the row afresh (the dashboard: a setting saved in another
 * isolate must show at once).
 */
export async function siteAt(env: Env, siteId: string, now = Date.now(), fresh = false): Promise<SiteAt | null> {
  return siteOfPlacement(env, await placementOf(env, siteId, now, fresh), now, fresh);
}

export interface NewSite {
  id: string;
  name: string;
  url: string;
  publicKey: string;
  secretKey: string;
  allowedOrigins?: string[];
  timeZone?: string;
  currency?: string;
  identitySecret?: string | null;
  settings?: Partial<SiteSettings>;
}

/**
 * Creates the site in `home` (a bound database, the directory's own by default) and records where
 * it lives, unless one with the same id exists (so seeding is idempotent). The home's row comes
 * first: a directory entry never points at a site that is not there.
 */
export async function createSite(env: Env, site: NewSite, now: number, home = DIRECTORY_HOME): Promise<void> {
  const secretHash = await sha256Hex(site.secretKey);
  const db = homeDatabase(env, home);
  if (!db) throw new Error(`no D1 database is bound as ${home}`);
  const row = db
    .prepare(
      `INSERT INTO sites (id, name, public_key, secret_hash, url, allowed_origins, time_zone, currency, created_at,
         identity_secret, settings)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    )
    .bind(
      site.id,
      site.name,
      site.publicKey,
      secretHash,
      site.url,
      JSON.stringify(site.allowedOrigins ?? []),
      site.timeZone ?? "UTC",
      site.currency ?? "GBP",
      now,
      site.identitySecret ?? null,
      JSON.stringify(site.settings ?? {}),
    );
  const placed = placeStatement(env, site.id, home, site.publicKey, secretHash);
  if (db === directoryOf(env)) await db.batch([row, placed]);
  else {
    await row.run();
    await placed.run();
  }
}

/**
 * The site's webhook signing key, made on first need (one statement, so two sweeps racing make one).
 * `fresh` when this call made it: the only time the caller may show it to the merchant.
 */
export async function webhookSecret(db: D1Database, siteId: string): Promise<{ secret: string; fresh: boolean }> {
  const candidate = newWebhookSecret();
  const row = await db
    .prepare(
      `UPDATE sites SET webhook_secret = coalesce(webhook_secret, ?2) WHERE id = ?1
       RETURNING webhook_secret AS secret, webhook_secret = ?2 AS fresh`,
    )
    .bind(siteId, candidate)
    .first<{ secret: string; fresh: number }>();
  if (!row) throw new Error(`no site ${siteId}`);
  return { secret: row.secret, fresh: row.fresh === 1 };
}

/** A new signing key for the site, replacing the old one at once; shown to the merchant this once. */
export async function rotateWebhookSecret(db: D1Database, siteId: string): Promise<string> {
  const secret = newWebhookSecret();
  await db.prepare(`UPDATE sites SET webhook_secret = ? WHERE id = ?`).bind(secret, siteId).run();
  return secret;
}

/** `whsec_` + 32 random bytes in hex (256 bits, the HMAC-SHA256 key size). */
function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The demo store's site: documented keys, development only. */
export const DEMO_SITE: NewSite = {
  id: "demo",
  name: "Wavelength",
  url: "http://127.0.0.1:8787",
  publicKey: "pk_demo",
  secretKey: "sk_demo",
  timeZone: "Europe/London",
  currency: "GBP",
  // Every shopper of the demo (and of the end-to-end suite) comes from 127.0.0.1.
  // A made-up address, so the demo's mail shows the footer bulk mail needs.
  settings: {
    browserAddressesPerHour: 100_000,
    brandColor: "#0f6e68",
    postalAddress: "Wavelength Audio Ltd\n1 Example Street\nLondon N1 9XX\nUnited Kingdom",
  },
};
