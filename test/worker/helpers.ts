import { createHmac } from "node:crypto";
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createSite } from "../../worker/src/model/sites";
import type { NewSite } from "../../worker/src/model/sites";

export const BASE = "http://127.0.0.1:8787";
export const SECRET = { authorization: "Bearer sk_demo" };

let seq = 0;
/** A fresh id per call, so tests sharing the database never see each other's shoppers. */
export const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

export function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A fresh site per test, so what it stored can be checked by counting its rows. */
export async function freshSite(extra: Partial<NewSite> = {}) {
  const id = uid("site");
  const keys = { publicKey: `pk_${id}`, secretKey: `sk_${id}` };
  await createSite(env, { id, name: id, url: "https://shop.example", ...keys, ...extra }, Date.now());
  return { id, ...keys };
}

/** Sends events the way the SDK does (key in the body). */
export async function send(batch: Record<string, unknown>[]) {
  const res = await post("/v1/batch", {
    writeKey: "pk_demo",
    batch: batch.map((m) => ({ messageId: crypto.randomUUID(), ...m })),
  });
  if (res.status !== 200) throw new Error(`batch failed: ${res.status} ${await res.text()}`);
  return res.json<{ accepted: number; errors: unknown[] }>();
}

/**
 * Sends events the way the merchant's server does (secret key as the HTTP Basic username, as
 * Segment's server libraries send it): source `server`, whose orders, refunds and identity links count.
 */
export async function sendAsServer(batch: Record<string, unknown>[]) {
  const res = await post(
    "/v1/batch",
    { batch: batch.map((m) => ({ messageId: crypto.randomUUID(), ...m })) },
    { authorization: `Basic ${btoa("sk_demo:")}` },
  );
  if (res.status !== 200) throw new Error(`server batch failed: ${res.status} ${await res.text()}`);
  return res.json<{ accepted: number; errors: unknown[] }>();
}

/** The dev clock's "now": other tests may already have moved it ahead of the real clock. */
export async function clock(): Promise<number> {
  const res = await SELF.fetch(`${BASE}/v1/dev/clock`, { headers: SECRET });
  return Date.parse((await res.json<{ now: string }>()).now);
}

/** Moves the dev clock `ms` ahead of where it is and runs the scheduler there. */
export async function advance(ms: number) {
  return tick((await clock()) + ms);
}

export async function tick(at: number) {
  const res = await post("/v1/dev/tick", { at: new Date(at).toISOString() }, SECRET);
  if (res.status !== 200) throw new Error(`tick failed: ${res.status} ${await res.text()}`);
  return res.json<{ now: string; claimed: number; sent: number; cancelled: number; failed: number }>();
}

export interface MailboxMessage {
  id: number;
  campaign: string;
  step: number;
  channel: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  status: string;
}

/** What the outbox sent to `to`, newest first; only `campaign`'s when given. */
export async function mailbox(to: string, campaign?: string): Promise<MailboxMessage[]> {
  // The Worker filters by recipient: however much mail other tests sent since, hers is all there.
  const res = await SELF.fetch(`${BASE}/v1/admin/outbox?limit=200&to=${encodeURIComponent(to)}`, { headers: SECRET });
  const { messages } = await res.json<{ messages: MailboxMessage[] }>();
  return messages.filter((m) => !campaign || m.campaign === campaign);
}

/** Follows a tracked link (`/v1/links/click`) to where it leads, recording the click. */
export async function unwrap(url: string): Promise<string> {
  const res = await SELF.fetch(url, { redirect: "manual" });
  if (res.status !== 302) throw new Error(`click link answered ${res.status}`);
  return res.headers.get("location") ?? "";
}

export const product = (id: string, price = 79, quantity = 1) => ({
  product_id: id,
  name: `Product ${id}`,
  price,
  quantity,
  currency: "GBP",
  image_url: `https://shop.example/img/${id}.svg`,
});

/** The merchant's catalogue (PUT /v1/admin/products/:id): what messages may show to anyone. */
export async function listProduct(
  id: string,
  name: string,
  price: number,
  category?: string,
  extra: { sizes?: string[] } = {},
) {
  const res = await SELF.fetch(`${BASE}/v1/admin/products/${id}`, {
    method: "PUT",
    headers: { ...SECRET, "content-type": "application/json" },
    body: JSON.stringify({ name, price, currency: "GBP", category, ...extra }),
  });
  if (res.status !== 200) throw new Error(`product ${id}: ${res.status} ${await res.text()}`);
}

/** A shopper who browses anonymously, signs in with `email`, and adds `items` to the cart. */
export async function shopperWithCart(email: string, items = [product("E7247")]) {
  const anonymousId = uid("anon");
  await send([
    { type: "identify", anonymousId, traits: { email, name: "Ada" } },
    ...items.map((p) => ({ type: "track", anonymousId, event: "Product Added", properties: p })),
  ]);
  return anonymousId;
}

/** Runs the scheduler at the next time the demo site's clock (Europe/London) shows `hour`:00. */
export async function advanceToLocal(hour: number, timeZone = "Europe/London") {
  const f = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "numeric", hourCycle: "h23" });
  let at = (await clock()) + 60_000;
  at = at - (at % 3600_000) + 3600_000;
  while (Number(f.format(at)) !== hour) at += 3600_000;
  return tick(at);
}

/** Creates or replaces a campaign of the demo site through the admin API. */
export async function putCampaign(id: string, definition: Record<string, unknown>) {
  const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...SECRET },
    body: JSON.stringify(definition),
  });
  if (res.status !== 200) throw new Error(`campaign ${id}: ${res.status} ${await res.text()}`);
}

/** The demo site's messages of one campaign, with status and reason. */
export async function messagesOf(campaign: string) {
  const { results } = await env.DB.prepare(
    `SELECT m.id, m.contact_id, m.step, m.channel, m.status, m.reason, m.due_at, m.sent_at, m.variant, m.holdout, m.coupon, k.email
     FROM messages m JOIN contacts k ON k.site_id = m.site_id AND k.id = m.contact_id
     WHERE m.site_id = 'demo' AND m.campaign = ? ORDER BY m.id`,
  )
    .bind(campaign)
    .all<{
      id: number;
      contact_id: string;
      step: number;
      channel: string;
      status: string;
      reason: string | null;
      due_at: number;
      sent_at: number | null;
      variant: string | null;
      holdout: number;
      coupon: string | null;
      email: string | null;
    }>();
  return results ?? [];
}

/**
 * A form body and its X-Twilio-Signature, computed independently (node's crypto): HMAC-SHA1 of the
 * URL followed by each parameter's name and value, sorted by name, base64.
 */
export function twilioSigned(url: string, params: Record<string, string>, token: string) {
  const signed = Object.keys(params)
    .sort()
    .reduce((s, k) => s + k + params[k], url);
  return {
    body: new URLSearchParams(params).toString(),
    signature: createHmac("sha1", token).update(signed).digest("base64"),
  };
}

/** The database a site lives in (model/directory.ts): tests that read D1 directly look there. */
export async function homeOf(siteId: string): Promise<D1Database> {
  const row = await env.DB.prepare(`SELECT home FROM site_homes WHERE site_id = ?`)
    .bind(siteId)
    .first<{ home: string }>();
  const db = row && (env as unknown as Record<string, D1Database | undefined>)[row.home];
  if (!db) throw new Error(`site ${siteId} has no home`);
  return db;
}
