import type { Env } from "../env";
import { clientNetwork } from "../lib/client";
import { sha256Hex } from "../lib/crypto";
import { fail } from "../lib/http";
import { countAll } from "../lib/rate-limit";
import { normaliseEmail } from "../model/contacts";
import type { Message } from "../model/events";
import type { Site } from "../model/sites";

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

const HOUR = 3600_000;

/**
 * New email addresses that browsers of one network (an IPv4 address, an IPv6 /64) may name to a
 * site in an hour. Abandoned-cart mail goes to the address a shopper typed at checkout, which only
 * her browser knows; but the public key is in every page, so a script could name a thousand
 * strangers and have each mailed. A shop's real shoppers name one address each, so the allowance
 * (site setting `browserAddressesPerHour`) bounds the script without touching them. Addresses
 * already named from the network this hour are free; the merchant's server is never counted.
 *
 * Returns the indexes (into `messages`) of the messages refused: those naming a new address past
 * the allowance. Where Cloudflare gave no client address (a test calling the Worker directly), no
 * network is known and nothing is counted, as for the per-client ingest limit above.
 */
export async function overAddressAllowance(
  db: D1Database,
  site: Site,
  ip: string | null,
  messages: Message[],
  now: number,
): Promise<number[]> {
  if (!ip) return [];
  const named = new Map<string, number[]>();
  for (const [i, m] of messages.entries()) {
    const email = normaliseEmail(m.traits.email);
    if (email) named.set(email, [...(named.get(email) ?? []), i]);
  }
  if (named.size === 0) return [];
  const net = clientNetwork(ip);
  const emails = [...named.keys()];
  // Hashed: the counters are not personal data to export or erase.
  const keys = await Promise.all(emails.map(async (e) => (await sha256Hex(`${site.id}:${e}`)).slice(0, 32)));
  const seen = await countAll(
    db,
    keys.map((k) => ({ bucket: `addr:${site.id}:${net}:${k}`, windowMs: HOUR })),
    now,
  );
  const fresh = emails.filter((_, i) => seen[i] === 1);
  if (fresh.length === 0) return [];
  const [total = 0] = await countAll(
    db,
    [{ bucket: `addrs:${site.id}:${net}`, windowMs: HOUR, by: fresh.length }],
    now,
  );
  const allowed = Math.max(0, site.settings.browserAddressesPerHour - (total - fresh.length));
  return fresh.slice(allowed).flatMap((e) => named.get(e) ?? []);
}
