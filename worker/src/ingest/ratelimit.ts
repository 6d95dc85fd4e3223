import type { Env } from "../env";
import { clientNetwork } from "../lib/client";
import { fail } from "../lib/http";

/**
 * Rate limits on ingest, per write key and per (write key, client address), with Cloudflare's
 * Rate Limiting bindings (`ratelimits` in wrangler.jsonc). The same binding is emulated by
 * workerd/Miniflare locally (`wrangler dev`, the tests), so there is one code path everywhere and no
 * extra D1 write per request: counters live next to the Worker (per Cloudflare location when
 * deployed, in a local Durable Object under wrangler). Limits and periods are set per deployment in
 * the config; a Worker without the bindings does not limit.
 */

/** Seconds a limited client should wait: the configured period (every config here uses 60 s). */
export const RETRY_AFTER_S = 60;

export async function limitIngest(env: Env, req: Request, key: string): Promise<void> {
  // The client as Cloudflare (and wrangler dev) sees it. A request without it did not come through
  // the edge — a test calling the Worker directly — and only the per-key limit applies.
  const ip = req.headers.get("cf-connecting-ip");
  const client = ip ? clientNetwork(ip) : null;
  const [perClient, perKey] = await Promise.all([
    client ? env.INGEST_CLIENT_LIMIT?.limit({ key: `${key}|${client}` }) : undefined,
    env.INGEST_KEY_LIMIT?.limit({ key }),
  ]);
  if (perClient?.success === false || perKey?.success === false) {
    const scope = perClient?.success === false ? "this client" : "this write key";
    fail(
      429,
      "rate_limited",
      `Too many requests for ${scope}; retry after ${RETRY_AFTER_S} s.`,
      { retryAfter: RETRY_AFTER_S },
      { "retry-after": String(RETRY_AFTER_S) },
    );
  }
}
