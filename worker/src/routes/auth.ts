import { createMiddleware } from "hono/factory";
import type { Env } from "../env";
import { fail } from "../lib/http";
import { readLink } from "../lib/links";
import type { LinkClaims, LinkPurpose } from "../lib/links";
import { siteForSecretKey, siteFromSession } from "../admin/session";
import { cachedSiteByPublicKey, siteAt } from "../model/sites";
import type { Site } from "../model/sites";

/** How requests prove which site they act for: the public key (browsers) or the secret key (admin). */

export type SecretEnv = { Bindings: Env; Variables: { site: Site } };

/**
 * `Authorization: Bearer <site secret key>` → the site, or 401. Without the header, the
 * dashboard's session cookie (admin/session.ts, with its same-origin check on changes) will do.
 */
export const requireSecretKey = createMiddleware<SecretEnv>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const key = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  const session = header ? null : await siteFromSession(c);
  if (!session && !key) fail(401, "missing_secret_key", "Send the site's secret key as `Authorization: Bearer <key>`.");
  const { site, env } = session ?? (await siteForSecretKey(c, key));
  c.set("site", site);
  c.env = env; // from here on, c.env.DB is the site's home (model/directory.ts)
  await next();
});

/**
 * The public key of a Segment-style request: the body's `writeKey`, a bearer token, or the HTTP
 * Basic username, as Segment's libraries send it.
 */
export function writeKey(header: string | undefined, body: Record<string, unknown>): string | null {
  if (typeof body.writeKey === "string") return body.writeKey;
  // The merchant's server may also send its secret key the way the admin API takes it.
  if (header?.startsWith("Bearer ")) return header.slice(7).trim() || null;
  if (header?.startsWith("Basic ")) {
    try {
      return atob(header.slice(6)).split(":")[0] || null;
    } catch {
      return null;
    }
  }
  return null;
}

/** The key itself, or 401: shared by every public-key endpoint. */
export function requireKey(key: string | null): string {
  if (!key) fail(401, "missing_key", "Send the site's public key as writeKey or as the HTTP Basic username.");
  if (key.length > 200) fail(401, "invalid_key", "Unknown write key.");
  return key;
}

/** What a route that finds its own site needs of the context: the env it swaps for the site's. */
interface Routable {
  env: Env;
}

/**
 * The site of a public key, or 401/403: for public-key endpoints (cart pricing, onsite, settings).
 * `c.env` is the site's from here on: `c.env.DB` is the database it lives in.
 */
export async function authorise(c: Routable, key: string | null, origin: string | undefined): Promise<Site> {
  const found = await cachedSiteByPublicKey(c.env, requireKey(key));
  if (!found) fail(401, "invalid_key", "Unknown write key.");
  checkOrigin(found.site, origin);
  c.env = found.env;
  return found.site;
}

/**
 * The site a signed link or a provider webhook names, or null; `c.env` is the site's from here on.
 * 503 while the site moves.
 */
export async function routeToSite(c: Routable, siteId: string): Promise<Site | null> {
  const found = siteId.length <= 100 ? await siteAt(c.env, siteId) : null;
  if (found) c.env = found.env;
  return found?.site ?? null;
}

/** A browser request from an origin the site did not allow: 403. */
export function checkOrigin(site: Site, origin: string | undefined) {
  if (origin && site.allowedOrigins.length > 0 && !site.allowedOrigins.includes(origin))
    fail(403, "origin_not_allowed", `Origin ${origin} is not allowed for this site.`);
}

/**
 * A signed link's claims (lib/links.ts), with `c.env` routed to the site the link names; null when
 * the link is invalid, expired, or its site is gone.
 */
export async function readSiteLink(
  c: Routable,
  token: string,
  purpose: LinkPurpose,
  at: number,
): Promise<LinkClaims | null> {
  const claims = await readLink(c.env, token, purpose, at);
  return claims && (await routeToSite(c, claims.s)) ? claims : null;
}
