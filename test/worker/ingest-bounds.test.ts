import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../worker/src/ingest/validate";
import { createSite } from "../../worker/src/model/sites";
import { BASE, post, SECRET, uid } from "./helpers";

/** A site of its own, so its rows can be counted. */
async function site() {
  const id = uid("bounds");
  await createSite(
    env,
    { id, name: id, url: "https://shop.example", publicKey: `pk_${id}`, secretKey: `sk_${id}` },
    Date.now(),
  );
  return { id, key: `pk_${id}` };
}

const nested = (depth: number): unknown => {
  let v: unknown = "bottom";
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

const track = (properties: unknown, anonymousId = uid("a")) => ({
  type: "track",
  messageId: crypto.randomUUID(),
  anonymousId,
  event: "Product Viewed",
  properties,
});

const storedEvents = async (siteId: string) =>
  (
    await env.DB.prepare(`SELECT message_id, processed FROM events WHERE site_id = ?`)
      .bind(siteId)
      .all<{ message_id: string; processed: number }>()
  ).results;

const tick = async () => {
  const res = await post("/v1/dev/tick", {}, SECRET);
  return res.status;
};

describe("bounded input at the door", () => {
  it("should refuse a message nested 1 100 levels deep with its own 400, and apply the next shopper's", async () => {
    const s = await site();
    const deep = track({ x: nested(1100) });
    const fine = track({ product_id: "E7247" });
    const res = await post("/v1/batch", { writeKey: s.key, batch: [deep, fine] });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; errors: { index: number; code: string }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.errors).toEqual([expect.objectContaining({ index: 0, code: "message_too_complex" })]);
    expect(await storedEvents(s.id)).toEqual([{ message_id: fine.messageId, processed: 1 }]);
    expect(await tick()).toBe(200);
  });

  it("should answer 400, not 500, to a body nested 250 000 levels deep", async () => {
    const s = await site();
    const depth = 250_000;
    const body = `{"writeKey":"${s.key}","batch":[${"[".repeat(depth)}${"]".repeat(depth)}]}`;
    const res = await post("/v1/batch", body);
    expect(res.status).toBe(400);
    expect(await storedEvents(s.id)).toEqual([]);
    // Any other endpoint refuses it at the door.
    const price = await post("/v1/cart/price", `{"key":"pk_demo","x":${"[".repeat(2000)}${"]".repeat(2000)}}`);
    expect(price.status).toBe(400);
    expect(await price.json()).toMatchObject({ error: { code: "too_deep" } });
  });

  it.each([
    ["a key too long", { ["k".repeat(LIMITS.keyLength + 1)]: 1 }],
    ["too many keys", Object.fromEntries(Array.from({ length: LIMITS.keysPerObject + 1 }, (_, i) => [i, 0]))],
    ["an array too long", { list: Array.from({ length: LIMITS.arrayItems + 1 }, () => 0) }],
    ["nesting past the limit", nested(LIMITS.depth)],
  ])("should refuse %s in one message with a clear 400 of its own", async (_, properties) => {
    const s = await site();
    const res = await post("/v1/batch", { writeKey: s.key, batch: [track(properties)] });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string; errors: { code: string; message: string }[] } }>();
    expect(body.error.errors[0]).toMatchObject({ code: "message_too_complex" });
    expect(await storedEvents(s.id)).toEqual([]);
  });

  it("should accept a message right at the bounds", async () => {
    const s = await site();
    const properties = { deep: nested(LIMITS.depth - 3), list: Array.from({ length: LIMITS.arrayItems }, () => 1) };
    const res = await post("/v1/batch", { writeKey: s.key, batch: [track(properties)] });
    expect(res.status).toBe(200);
    expect(await storedEvents(s.id)).toHaveLength(1);
  });

  it("should cut a 40 MB chunked body off at the limit with 413, without reading it all", async () => {
    const s = await site();
    const chunk = new TextEncoder().encode(`{"writeKey":"${s.key}","batch":[${'"x",'.repeat(16_000)}`);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= 40 * 1024 * 1024) return controller.close();
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await SELF.fetch(`${BASE}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    await res.body?.cancel();
    // The limit plus what the stream had buffered ahead; far from 40 MB.
    expect(pulled).toBeLessThan(4 * LIMITS.requestBytes);
  });

  it("should answer every well-formed JSON body with 2xx or 4xx, and every tick after it with 2xx", async () => {
    const s = await site();
    // Strange but well-formed: any JSON, nesting on both sides of every bound, wide objects, odd
    // strings and numbers, in every field a message has.
    const strange = fc.oneof(
      fc.jsonValue(),
      fc.integer({ min: 0, max: 1200 }).map(nested),
      fc.dictionary(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 30 }),
      fc.array(fc.double(), { maxLength: 50 }),
      fc.string({ unit: "binary" }),
      fc.constantFrom(1e308, -0, 2 ** 53 + 1, -1e20, 8.64e15 + 1),
    );
    const message = fc.record(
      {
        type: fc.constantFrom("track", "identify", "page", "alias", "screen", "group"),
        messageId: fc.oneof(fc.uuid(), fc.string({ unit: "binary", maxLength: 250 }), strange),
        anonymousId: fc.oneof(fc.string({ unit: "binary", minLength: 1 }), strange),
        userId: fc.oneof(fc.string({ unit: "binary" }), strange),
        previousId: fc.oneof(fc.string(), strange),
        event: fc.oneof(fc.constantFrom("Order Completed", "Product Added", "Product Viewed"), strange),
        timestamp: fc.oneof(fc.integer(), fc.double(), fc.date({ noInvalidDate: true }).map(String), strange),
        properties: strange,
        traits: strange,
        context: strange,
      },
      { requiredKeys: ["type", "messageId", "anonymousId"] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          strange,
          fc.record({ writeKey: fc.constant(s.key), sentAt: strange, batch: fc.array(message, { maxLength: 4 }) }),
        ),
        async (body) => {
          const res = await post("/v1/batch", body);
          expect(res.status).toBeLessThan(500);
          await res.body?.cancel();
        },
      ),
      { numRuns: 100 },
    );
    expect(await tick()).toBe(200);
    // And the next shopper's event still goes in and is applied.
    const fine = track({ product_id: "E7247" });
    const res = await post("/v1/batch", { writeKey: s.key, batch: [fine] });
    expect(res.status).toBe(200);
    expect(await storedEvents(s.id)).toContainEqual({ message_id: fine.messageId, processed: 1 });
  }, 120_000);

  it("should answer every public endpoint 2xx or 4xx, whatever well-formed JSON it is sent", async () => {
    const anyJson = fc.oneof(
      fc.jsonValue(),
      fc.integer({ min: 0, max: 1200 }).map(nested),
      // Plausible shapes with strange values, so the checks past "is it an object" run too.
      fc.record(
        {
          key: fc.constantFrom("pk_demo", "nope"),
          anonymousId: fc.oneof(fc.string(), fc.jsonValue()),
          requestId: fc.oneof(fc.uuid(), fc.jsonValue()),
          email: fc.oneof(fc.emailAddress(), fc.jsonValue()),
          friendEmail: fc.oneof(fc.emailAddress(), fc.jsonValue()),
          phone: fc.oneof(fc.constant("+442079460958"), fc.jsonValue()),
          productId: fc.oneof(fc.constant("E7247"), fc.jsonValue()),
          consent: fc.oneof(fc.boolean(), fc.jsonValue()),
          window: fc.oneof(fc.constant("morning"), fc.jsonValue()),
          lines: fc.oneof(
            fc.array(fc.record({ product_id: fc.jsonValue(), price: fc.jsonValue(), quantity: fc.jsonValue() }), {
              maxLength: 3,
            }),
            fc.jsonValue(),
          ),
          codes: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.jsonValue()),
        },
        { requiredKeys: ["key"] },
      ),
    );
    const paths = [
      "/v1/cart/price",
      "/v1/onsite/coupon",
      "/v1/onsite/friend",
      "/v1/onsite/newsletter",
      "/v1/onsite/callback",
      "/v1/links/unsubscribe",
      "/v1/track",
      "/v1/identify",
      "/v1/alias",
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), anyJson, fc.integer({ min: 1, max: 250 }), async (path, body, ip) => {
        const res = await post(path, body, { "cf-connecting-ip": `10.0.0.${ip}` });
        expect(res.status).toBeLessThan(500);
        await res.body?.cancel();
      }),
      { numRuns: 150 },
    );
    expect(await tick()).toBe(200);
  }, 120_000);
});

describe("compressed bodies", () => {
  const gzip = async (text: string) =>
    new Uint8Array(
      await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
    );
  const send = (body: BodyInit, query = "", headers: Record<string, string> = {}) =>
    SELF.fetch(`${BASE}/v1/batch${query}`, {
      method: "POST",
      headers: { "content-type": "text/plain", ...headers },
      body,
    });

  it("should take a gzip batch, said by Content-Encoding or by ?compression=gzip", async () => {
    const s = await site();
    const a = track({ sku: "E1" });
    const b = track({ sku: "E2" });
    const byHeader = await send(await gzip(JSON.stringify({ batch: [a], writeKey: s.key })), "", {
      "content-encoding": "gzip",
    });
    expect(byHeader.status).toBe(200);
    const byQuery = await send(await gzip(JSON.stringify({ batch: [b], writeKey: s.key })), "?compression=gzip");
    expect(byQuery.status).toBe(200);
    expect((await storedEvents(s.id)).map((e) => e.message_id).sort()).toEqual([a.messageId, b.messageId].sort());
  });

  it("should refuse a small gzip body that expands past the size limit, a corrupt one, and other encodings", async () => {
    const s = await site();
    // 10 MB of one batch, about 10 KB compressed: refused by what it expands to, not by its size.
    const padding = " ".repeat(10 * 1024 * 1024);
    const bomb = await gzip(`{"batch":[${JSON.stringify(track({}))}],"writeKey":"${s.key}"${padding}}`);
    expect(bomb.byteLength).toBeLessThan(LIMITS.requestBytes / 10);
    const big = await send(bomb, "?compression=gzip");
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: "payload_too_large" } });

    const corrupt = await send(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]), "?compression=gzip");
    expect(corrupt.status).toBe(400);
    expect(await corrupt.json()).toMatchObject({ error: { code: "invalid_body", message: /decompressed/ } });

    const brotli = await send("{}", "", { "content-encoding": "br" });
    expect(brotli.status).toBe(415);
    expect(await brotli.json()).toMatchObject({ error: { code: "unsupported_encoding" } });
    expect(await storedEvents(s.id)).toEqual([]);
  });
});

describe("bodies read only up to their limit", () => {
  /** 2 MB in 64 KB chunks with no content-length: the server learns the size only by reading. */
  const chunked = () => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 2 * 1024 * 1024) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
      },
    });
  };

  it("should refuse a huge chunked body on the keyless unsubscribe form and the provider feedback hooks", async () => {
    for (const [path, type] of [
      ["/v1/links/unsubscribe", "application/x-www-form-urlencoded"],
      ["/v1/links/unsubscribe", "multipart/form-data; boundary=x"],
      ["/v1/feedback/resend/demo", "application/json"],
      ["/v1/feedback/twilio/demo", "application/x-www-form-urlencoded"],
    ]) {
      const res = await SELF.fetch(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": type ?? "" },
        body: chunked(),
        duplex: "half",
      } as RequestInit);
      expect(res.status, `${path} ${type}`).toBe(413);
    }
  });
});
