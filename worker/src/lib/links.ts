import type { Env } from "../env";
import { isDev } from "../env";
import { signToken, verifyToken } from "./crypto";
import { isDict } from "./values";

/**
 * Signed, expiring links in messages: restore a cart, unsubscribe, a tracked click, the open
 * pixel. The token names the site, the contact and the purpose (and for click/open the message
 * and destination), so a link cannot be edited to act on someone else or to redirect elsewhere.
 */

export type LinkPurpose = "restore" | "unsubscribe" | "click" | "open" | "callback" | "reason";

export interface LinkClaims {
  p: LinkPurpose;
  s: string; // site id
  c: string; // contact id
  e: number; // expires, ms since epoch
  m?: number; // message id (click, open)
  u?: string; // destination (click)
  r?: "restore"; // click that ends at a fresh restore link (keeps the link short enough for SMS)
  x?: 1; // the merchant wrote `u` (their catalogue): it may lead off the store's hosts
  a?: string; // the answer a one-tap "why did you leave?" link records (reason)
}

const LIFETIME_MS: Record<LinkPurpose, number> = {
  restore: 30 * 24 * 3600 * 1000,
  // RFC 8058 asks that unsubscribe keeps working for a long time after the mail was sent.
  unsubscribe: 365 * 24 * 3600 * 1000,
  click: 90 * 24 * 3600 * 1000,
  open: 90 * 24 * 3600 * 1000,
  // An offer to call back is about this cart: a week, not months.
  callback: 7 * 24 * 3600 * 1000,
  reason: 30 * 24 * 3600 * 1000,
};

function secret(env: Env): string {
  if (env.LINK_SECRET) return env.LINK_SECRET;
  if (isDev(env)) return "nudge-development-link-secret";
  throw new Error("LINK_SECRET is not set: run `wrangler secret put LINK_SECRET`.");
}

/**
 * The Worker's public address, on which links in a site's messages are built: the site's own
 * (`publicUrl`, e.g. a Workers route on the shop's domain), else the deployment's PUBLIC_URL; null
 * when neither is set. Never `site.url`: that is the shop, which does not serve `/v1/links/*`.
 */
export function publicBase(env: Env, site: { settings: { publicUrl: string } }): string | null {
  return (site.settings.publicUrl || env.PUBLIC_URL || "").replace(/\/+$/, "") || null;
}

export async function linkUrl(
  env: Env,
  base: string,
  purpose: LinkPurpose,
  siteId: string,
  contactId: string,
  now: number,
  extra: { m?: number; u?: string; r?: "restore"; x?: 1; a?: string } = {},
) {
  const claims: LinkClaims = { p: purpose, s: siteId, c: contactId, e: now + LIFETIME_MS[purpose], ...extra };
  return `${base}/v1/links/${purpose}?t=${await signToken(secret(env), claims)}`;
}

/** The claims of a valid, unexpired token for `purpose`, else null. */
export async function readLink(env: Env, token: string, purpose: LinkPurpose, now: number): Promise<LinkClaims | null> {
  const c = await verifyToken(secret(env), token);
  if (!isDict(c) || c.p !== purpose || typeof c.s !== "string" || typeof c.c !== "string" || typeof c.e !== "number")
    return null;
  if (c.e < now) return null;
  const claims: LinkClaims = { p: purpose, s: c.s, c: c.c, e: c.e };
  if (typeof c.m === "number") claims.m = c.m;
  if (typeof c.u === "string") claims.u = c.u;
  if (c.r === "restore") claims.r = "restore";
  if (c.x === 1) claims.x = 1;
  if (typeof c.a === "string") claims.a = c.a;
  return claims;
}
