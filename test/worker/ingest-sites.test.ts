import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hmacHex } from "../../worker/src/lib/crypto";
import { createSite } from "../../worker/src/model/sites";
import type { NewSite } from "../../worker/src/model/sites";
import { BASE, post, uid } from "./helpers";

/** A fresh site per test, so "stored nothing" can be checked by counting its rows. */
async function site(extra: Partial<NewSite> = {}) {
  const id = uid("site");
  const keys = { publicKey: `pk_${id}`, secretKey: `sk_${id}` };
  await createSite(env, { id, name: id, url: "https://shop.example", ...keys, ...extra }, Date.now());
  return { id, ...keys };
}

const stored = async (siteId: string) => {
  const [events, inbox, contacts] = await env.DB.batch<{ n: number }>([
    env.DB.prepare(`SELECT count(*) AS n FROM events WHERE site_id = ?`).bind(siteId),
    env.DB.prepare(`SELECT count(*) AS n FROM inbox WHERE site_id = ?`).bind(siteId),
    env.DB.prepare(`SELECT count(*) AS n FROM contacts WHERE site_id = ?`).bind(siteId),
  ]);
  return (events?.results[0]?.n ?? 0) + (inbox?.results[0]?.n ?? 0) + (contacts?.results[0]?.n ?? 0);
};

const track = (extra: Record<string, unknown> = {}) => ({
  type: "track",
  messageId: crypto.randomUUID(),
  anonymousId: uid("a"),
  event: "Product Viewed",
  properties: { product_id: "E7247" },
  ...extra,
});

describe("allowed origins", () => {
  it("should refuse a browser on another origin with 403 and store nothing", async () => {
    const s = await site({ allowedOrigins: ["https://shop.example"] });
    const res = await post(
      "/v1/batch",
      { writeKey: s.publicKey, batch: [track()] },
      { origin: "https://evil.example" },
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "origin_not_allowed" } });
    expect(await stored(s.id)).toBe(0);
  });

  it("should accept the store's own origin and answer it with CORS headers", async () => {
    const s = await site({ allowedOrigins: ["https://shop.example"] });
    const res = await post(
      "/v1/batch",
      { writeKey: s.publicKey, batch: [track()] },
      { origin: "https://shop.example" },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(await stored(s.id)).toBeGreaterThan(0);
  });

  it("should answer the browser's preflight", async () => {
    const res = await SELF.fetch(`${BASE}/v1/batch`, {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });
});

describe("identity verification", () => {
  const identify = (userId: string, userHash?: string) => ({
    type: "identify",
    messageId: crypto.randomUUID(),
    anonymousId: uid("a"),
    userId,
    traits: { email: `${userId}@example.com` },
    context: userHash === undefined ? {} : { nudge: { userHash } },
  });

  it("should reject identify without a valid userHash when the site enforces it, per message", async () => {
    const s = await site({ identitySecret: "iv_secret" });
    const good = identify("u-1", await hmacHex("iv_secret", "u-1"));
    const forged = identify("u-2", await hmacHex("iv_secret", "u-1"));
    const missing = identify("u-3");
    const res = await post("/v1/batch", { writeKey: s.publicKey, batch: [good, forged, missing] });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; errors: { index: number; code: string }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.errors.map((e) => [e.index, e.code])).toEqual([
      [1, "invalid_user_hash"],
      [2, "missing_user_hash"],
    ]);
    const users = await env.DB.prepare(`SELECT value FROM identities WHERE site_id = ? AND kind = 'user'`)
      .bind(s.id)
      .all();
    expect(users.results).toEqual([{ value: "u-1" }]);
  });

  it("should refuse an email-only identify without a hash, and leave anonymous tracking alone", async () => {
    const s = await site({ identitySecret: "iv_secret" });
    const anonymousId = uid("a");
    const res = await post("/v1/batch", {
      writeKey: s.publicKey,
      batch: [
        { type: "identify", messageId: crypto.randomUUID(), anonymousId, traits: { email: "victim@example.com" } },
        track({ anonymousId }),
      ],
    });
    const body = await res.json<{ accepted: number; errors: { code: string }[] }>();
    expect(body).toMatchObject({ accepted: 1, errors: [{ code: "missing_user_hash" }] });
    const emails = await env.DB.prepare(`SELECT count(*) AS n FROM identities WHERE site_id = ? AND kind = 'email'`)
      .bind(s.id)
      .first<{ n: number }>();
    expect(emails?.n).toBe(0);
  });

  it("should not ask for a hash when the site does not enforce verification", async () => {
    const s = await site();
    const res = await post("/v1/identify", { writeKey: s.publicKey, ...identify("u-9") });
    expect(res.status).toBe(200);
  });
});

describe("rate limits", () => {
  it("should answer 429 with Retry-After once a client goes over its limit, storing only what it accepted", async () => {
    const s = await site();
    const client = {
      "cf-connecting-ip": `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      origin: "https://shop.example",
    };
    // The test config allows 50 requests a minute per key and client (test/worker/wrangler.jsonc);
    // up to three windows' worth, in case a window rolls over mid-test.
    const answers: Response[] = [];
    while (answers.length < 150 && !answers.some((r) => r.status === 429)) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, () => post("/v1/batch", { writeKey: s.publicKey, batch: [track()] }, client)),
        )),
      );
    }
    const limited = answers.find((r) => r.status === 429);
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited?.headers.get("access-control-expose-headers")).toContain("retry-after");
    expect(await limited?.json()).toMatchObject({ error: { code: "rate_limited" } });
    // Every 200 stored its event, every 429 stored nothing.
    const events = await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE site_id = ?`)
      .bind(s.id)
      .first<{ n: number }>();
    expect(events?.n).toBe(answers.filter((r) => r.status === 200).length);

    // Another client of the same store is not affected.
    const other = await post(
      "/v1/batch",
      { writeKey: s.publicKey, batch: [track()] },
      { "cf-connecting-ip": "10.9.9.9" },
    );
    expect(other.status).toBe(200);
  });
});

describe("bad input", () => {
  const cases: [string, unknown, Record<string, string>, number, string][] = [
    ["a write key over 200 characters", { writeKey: "k".repeat(201), batch: [track()] }, {}, 401, "invalid_key"],
    ["a Basic header that is not base64", { batch: [track()] }, { authorization: "Basic %%%" }, 401, "missing_key"],
    ["more than 2500 messages", { batch: Array.from({ length: 2501 }, () => ({})) }, {}, 413, "batch_too_large"],
    ["a userId that is an object", { batch: [track({ userId: { $ne: 1 } })] }, {}, 400, "invalid_messages"],
    ["properties that are a string", { batch: [track({ properties: "x" })] }, {}, 400, "invalid_messages"],
    ["an unknown type", { batch: [track({ type: "drop" })] }, {}, 400, "invalid_messages"],
    ["a timestamp that is not a date", { batch: [track({ timestamp: "yesterday" })] }, {}, 400, "invalid_messages"],
    [
      "an alias without previousId",
      { batch: [{ type: "alias", messageId: "m", userId: "u" }] },
      {},
      400,
      "invalid_messages",
    ],
  ];

  it.each(cases)("should answer %s with a clear 4xx and store nothing", async (_name, body, headers, status, code) => {
    const s = await site();
    const withKey = headers.authorization ? body : { writeKey: s.publicKey, ...(body as object) };
    const res = await post("/v1/batch", withKey, headers);
    expect(res.status).toBe(status);
    const json = await res.json<{ error: { code: string; message: string } }>();
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(5);
    expect(await stored(s.id)).toBe(0);
  });

  it("should store nothing at all for a wrong key, broken JSON or an oversized body", async () => {
    const total = async () =>
      (
        await env.DB.prepare(`SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM inbox) AS n`).first<{
          n: number;
        }>()
      )?.n;
    const before = await total();
    const answers = await Promise.all([
      post("/v1/batch", { writeKey: "pk_unknown", batch: [track()] }),
      post("/v1/batch", { batch: [track()] }, { authorization: `Basic ${btoa("pk_unknown:")}` }),
      post("/v1/batch", `{"writeKey":"pk_demo","batch":[${JSON.stringify(track())}`),
      post("/v1/batch", { writeKey: "pk_demo", batch: [track({ properties: { big: "z".repeat(600_000) } })] }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([401, 401, 400, 413]);
    expect(await total()).toBe(before);
  });

  it("should never answer 500, whatever the body", async () => {
    const s = await site();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ writeKey: fc.constant(s.publicKey), batch: fc.array(fc.jsonValue(), { maxLength: 5 }) }),
          fc.record({
            writeKey: fc.constant(s.publicKey),
            batch: fc.array(
              fc.record(
                {
                  type: fc.constantFrom("track", "identify", "page", "alias", "screen", "group", "x"),
                  messageId: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
                  anonymousId: fc.oneof(fc.string(), fc.integer(), fc.object()),
                  userId: fc.oneof(fc.string(), fc.constant(null)),
                  event: fc.oneof(fc.string(), fc.constant("Order Completed"), fc.constant("Product Added")),
                  timestamp: fc.oneof(
                    fc.string(),
                    fc.integer(),
                    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                  ),
                  properties: fc.oneof(fc.object(), fc.jsonValue()),
                  traits: fc.oneof(fc.object(), fc.jsonValue()),
                  context: fc.oneof(fc.object(), fc.jsonValue()),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 5 },
            ),
          }),
        ),
        async (body) => {
          const res = await post("/v1/batch", body);
          expect(res.status).toBeLessThan(500);
          await res.body?.cancel();
        },
      ),
      { numRuns: 150 },
    );
  });
});
