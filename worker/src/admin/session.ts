import type { Env } from "../env";
import { directoryOf, isDev } from "../env";
import { randomToken, sha256Hex } from "../lib/crypto";
import { fail } from "../lib/http";
import { clientNetwork } from "../lib/client";
import { countAll, windowCount } from "../lib/rate-limit";
import { siteAt, siteBySecretKey } from "../model/sites";
import type { SiteAt } from "../model/sites";

/**
 * Dashboard sessions. The merchant pastes the site's secret key once; it is exchanged for a random
 * 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure, except on plain http in
 * development), of which D1 keeps only the SHA-256. A session lasts SESSION_MS and ends at once on
 * sign-out (the row is deleted). Times are the real clock, never the dev clock: fast-forwarding the
 * demo by days must not sign the merchant out.
 *
 * CSRF: SameSite=Strict keeps other sites' requests from carrying the cookie at all, and every
 * state-changing request authenticated by the cookie must also carry an `Origin` equal to the
 * Worker's own (browsers always send it on cross-origin requests and on same-origin POST, PUT,
 * PATCH and DELETE), so a browser that ignores SameSite is still covered.
 */

/** What these helpers read of a request: any Hono context fits. */
interface Ctx {
  req: { header(name: string): string | undefined; url: string; method: string };
  env: Env;
}

export const SESSION_COOKIE = "nudge_admin";
export const SESSION_MS = 12 * 3600_000;

export async function createSession(env: Env, siteId: string, now = Date.now()): Promise<string> {
  const token = randomToken();
  const db = directoryOf(env);
  await db.batch([
    // Expired sessions go when someone signs in: no cron needed, and the table stays small.
    db.prepare(`DELETE FROM admin_sessions WHERE expires_at <= ?`).bind(now),
    db
      .prepare(`INSERT INTO admin_sessions (token_hash, site_id, created_at, expires_at) VALUES (?, ?, ?, ?)`)
      .bind(await sha256Hex(token), siteId, now, now + SESSION_MS),
  ]);
  return token;
}

export async function deleteSession(env: Env, token: string): Promise<void> {
  await directoryOf(env)
    .prepare(`DELETE FROM admin_sessions WHERE token_hash = ?`)
    .bind(await sha256Hex(token))
    .run();
}

async function siteBySession(env: Env, token: string, now = Date.now()): Promise<SiteAt | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = await directoryOf(env)
    .prepare(`SELECT site_id FROM admin_sessions WHERE token_hash = ? AND expires_at > ?`)
    .bind(await sha256Hex(token), now)
    .first<{ site_id: string }>();
  return row ? siteAt(env, row.site_id, now, true) : null;
}

/** The session token of the request's cookie, or "". */
export function sessionToken(c: Ctx): string {
  for (const part of (c.req.header("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=");
  }
  return "";
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** A state-changing request must come from the Worker's own origin (see the CSRF note above). */
export function requireSameOrigin(c: Ctx): void {
  if (SAFE.has(c.req.method)) return;
  if (c.req.header("origin") !== new URL(c.req.url).origin)
    fail(403, "cross_origin", "Changes made with a dashboard session must come from the dashboard's own origin.");
}

/** The site of the request's session cookie, or null when there is none; 401 when it is invalid or expired. */
export async function siteFromSession(c: Ctx): Promise<SiteAt | null> {
  const token = sessionToken(c);
  if (!token) return null;
  const site = await siteBySession(c.env, token);
  if (!site) fail(401, "session_expired", "Your dashboard session has ended: sign in again.");
  requireSameOrigin(c);
  return site;
}

/** `Set-Cookie` for a new session, or (token "") one that removes it. */
export function sessionCookie(c: Ctx, token: string): string {
  const plainDev = isDev(c.env) && new URL(c.req.url).protocol === "http:";
  const attrs = ["Path=/", "HttpOnly", "SameSite=Strict", token ? `Max-Age=${SESSION_MS / 1000}` : "Max-Age=0"];
  if (!plainDev) attrs.push("Secure");
  return `${SESSION_COOKIE}=${token}; ${attrs.join("; ")}`;
}

/**
 * Wrong secret keys a network address may try in an hour. Past it, every key from that address is
 * refused until the hour ends, the right one included, so guessing learns nothing more. Keys are
 * random enough that guessing is hopeless anyway; this keeps it from costing a D1 query per try
 * without end, and a leaked-key scan from one address shows up as 429s.
 */
export const WRONG_KEYS_PER_HOUR = 20;
const HOUR = 3600_000;

/**
 * The site whose secret key this is (admin API Bearer key or dashboard sign-in), or 401; 429 once
 * the address has tried too many wrong keys. The failure count is read beside the key's lookup and
 * raised only on a miss, so a merchant's requests with the right key never add to it.
 */
export async function siteForSecretKey(c: Ctx, key: string, now = Date.now()): Promise<SiteAt> {
  const bucket = `wrong-secret-key:${clientNetwork(c.req.header("cf-connecting-ip"))}`;
  // Both reads at once: the right key costs no extra round trip for being checked against the count.
  const [wrong, site] = await Promise.all([
    windowCount(directoryOf(c.env), bucket, HOUR, now),
    key.length <= 200 ? siteBySecretKey(c.env, key) : null,
  ]);
  if (wrong >= WRONG_KEYS_PER_HOUR) {
    const retryAfter = Math.ceil((HOUR - (now % HOUR)) / 1000);
    fail(
      429,
      "too_many_wrong_keys",
      `Too many wrong secret keys from this address; try again in ${retryAfter} s.`,
      { retryAfter },
      { "retry-after": String(retryAfter) },
    );
  }
  if (site) return site;
  await countAll(directoryOf(c.env), [{ bucket, windowMs: HOUR }], now);
  return fail(401, "invalid_secret_key", "That is not this site's secret key.");
}
