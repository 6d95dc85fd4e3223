import type { Env } from "../env";
import { DIRECTORY_HOME, directoryOf, routedTo } from "../env";
import { sha256Hex } from "../lib/crypto";
import { fail } from "../lib/http";

/**
 * Which D1 database each site lives in. One D1 database is one writer with a 10 GB cap, and
 * Cloudflare designs D1 as one database per tenant, so sites spread over homes (env.ts): the
 * directory (`DB`) maps keys and site ids to a home, and everything else about a site — its row in
 * `sites`, its contacts, events, messages — is read and written there. The map is tiny and read on
 * every request, so an isolate keeps what it read for SITE_CACHE_MS.
 */
export interface Placement {
  siteId: string;
  home: string;
  /** Set while the operator moves the site (routes/operator.ts): its requests are refused with 503. */
  movingTo: string | null;
  pausedAt: number | null;
  /** After a move: the old home, while its copy of the site is deleted. */
  cleanupFrom: string | null;
}

/** How long an isolate trusts what it read: a rotated key or a move takes effect within this. */
export const SITE_CACHE_MS = 10_000;

const cache = new Map<string, { placement: Placement | null; until: number }>();
const SELECT = `SELECT site_id AS siteId, home, moving_to AS movingTo, paused_at AS pausedAt, cleanup_from AS cleanupFrom
  FROM site_homes`;

async function cached(key: string, read: () => Promise<Placement | null>, now: number, fresh = false) {
  const hit = cache.get(key);
  if (!fresh && hit && hit.until > now) return hit.placement;
  const placement = await read();
  if (cache.size > 3000) cache.clear(); // bounded: unknown keys must not grow it forever
  cache.set(key, { placement, until: now + SITE_CACHE_MS });
  return placement;
}

export const placementByPublicKey = (env: Env, key: string, now = Date.now()) =>
  cached(
    `pk:${key}`,
    () => directoryOf(env).prepare(`${SELECT} WHERE public_key = ?`).bind(key).first<Placement>(),
    now,
  );

/**
 * Keyed by the key's SHA-256, so no secret sits in isolate memory. `fresh` skips the cache: the
 * admin API must stop taking a rotated secret key at once.
 */
export async function placementBySecretKey(env: Env, secret: string, now = Date.now(), fresh = false) {
  const hash = await sha256Hex(secret);
  return cached(
    `sk:${hash}`,
    () => directoryOf(env).prepare(`${SELECT} WHERE secret_hash = ?`).bind(hash).first<Placement>(),
    now,
    fresh,
  );
}

/** `fresh` skips the cache (the operator's moves must see the directory as it is). */
export const placementOf = (env: Env, siteId: string, now = Date.now(), fresh = false) =>
  cached(
    `id:${siteId}`,
    () => directoryOf(env).prepare(`${SELECT} WHERE site_id = ?`).bind(siteId).first<Placement>(),
    now,
    fresh,
  );

/** Drops what this isolate read, so a change made here applies at once. */
export function forgetPlacements(): void {
  cache.clear();
}

/** Seconds a client is told to wait while its site moves. */
export const MOVING_RETRY_SECONDS = 30;

/**
 * The env a site's work runs in (`DB` = its home), or 503 while it moves: a write taken by the old
 * home after its rows were copied would be lost. The SDK and Segment's libraries retry a 503.
 */
export function routeTo(env: Env, placement: Placement): Env {
  if (placement.movingTo)
    fail(
      503,
      "site_moving",
      "This site's data is moving to another database; try again shortly.",
      { retryAfter: MOVING_RETRY_SECONDS },
      { "retry-after": String(MOVING_RETRY_SECONDS) },
    );
  return routedTo(env, placement.home);
}

/**
 * Where a new site goes when the operator names no home: NEW_SITE_HOME, else the directory's own
 * database. Not "the emptiest": a database bound for one big site must stay empty until it moves
 * there (jobs/move.ts copies row ids as they are, and refuses to collide).
 */
export const newSiteHome = (env: Env): string => env.NEW_SITE_HOME || DIRECTORY_HOME;

/** Statements that record where a new site lives (run with its keys, in the directory). */
export const placeStatement = (env: Env, siteId: string, home: string, publicKey: string, secretHash: string) =>
  directoryOf(env)
    .prepare(
      `INSERT INTO site_homes (site_id, home, public_key, secret_hash) VALUES (?, ?, ?, ?)
       ON CONFLICT (site_id) DO NOTHING`,
    )
    .bind(siteId, home, publicKey, secretHash);
