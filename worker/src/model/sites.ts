import { sha256Hex } from "../lib/crypto";

export interface Site {
  id: string;
  name: string;
  url: string;
  allowedOrigins: string[];
  timeZone: string;
  currency: string;
}

interface SiteRow {
  id: string;
  name: string;
  url: string;
  allowed_origins: string;
  time_zone: string;
  currency: string;
}

const COLUMNS = "id, name, url, allowed_origins, time_zone, currency";

const toSite = (row: SiteRow): Site => ({
  id: row.id,
  name: row.name,
  url: row.url,
  allowedOrigins: JSON.parse(row.allowed_origins) as string[],
  timeZone: row.time_zone,
  currency: row.currency,
});

export async function siteByPublicKey(db: D1Database, key: string): Promise<Site | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM sites WHERE public_key = ?`).bind(key).first<SiteRow>();
  return row ? toSite(row) : null;
}

export async function siteById(db: D1Database, id: string): Promise<Site | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM sites WHERE id = ?`).bind(id).first<SiteRow>();
  return row ? toSite(row) : null;
}

export async function siteBySecretKey(db: D1Database, secret: string): Promise<Site | null> {
  const hash = await sha256Hex(secret);
  const row = await db.prepare(`SELECT ${COLUMNS} FROM sites WHERE secret_hash = ?`).bind(hash).first<SiteRow>();
  return row ? toSite(row) : null;
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
}

/** Creates the site unless one with the same id exists (so seeding is idempotent). */
export async function createSite(db: D1Database, site: NewSite, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO sites (id, name, public_key, secret_hash, url, allowed_origins, time_zone, currency, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    )
    .bind(
      site.id,
      site.name,
      site.publicKey,
      await sha256Hex(site.secretKey),
      site.url,
      JSON.stringify(site.allowedOrigins ?? []),
      site.timeZone ?? "UTC",
      site.currency ?? "GBP",
      now,
    )
    .run();
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
};
