import { createMiddleware } from "hono/factory";
import type { Env } from "../env";
import { fail } from "../lib/http";
import { siteForSecretKey, siteFromSession } from "../admin/session";
import type { Site } from "../model/sites";

export type SecretEnv = { Bindings: Env; Variables: { site: Site } };

/**
 * `Authorization: Bearer <site secret key>` → the site, or 401. Without the header, the
 * dashboard's session cookie (admin/session.ts, with its same-origin check on changes) will do.
 */
export const requireSecretKey = createMiddleware<SecretEnv>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const key = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
  const session = header ? null : await siteFromSession(c);
  if (session) {
    c.set("site", session);
    return next();
  }
  if (!key) fail(401, "missing_secret_key", "Send the site's secret key as `Authorization: Bearer <key>`.");
  c.set("site", await siteForSecretKey(c, key));
  await next();
});
