import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hmacHex } from "../../worker/src/lib/crypto";
import { heldCoupon } from "../../worker/src/model/coupons";
import { DEMO_CONFIG } from "../../worker/src/onsite/schema";
import { webhookSecret } from "../../worker/src/model/sites";
import { BASE, post, SECRET, send, shopperWithCart, uid } from "./helpers";

const KEY = "pk_demo";
const consent = { consent: true, consentText: "I agree to be contacted." };

const events = async (anonymousId: string, event: string) =>
  (
    await env.DB.prepare(`SELECT properties FROM events WHERE anonymous_id = ? AND event = ?`)
      .bind(anonymousId, event)
      .all<{ properties: string }>()
  ).results.map((r) => JSON.parse(r.properties) as Record<string, unknown>);

const admin = (path: string, method = "GET", body?: unknown) =>
  SELF.fetch(`${BASE}/v1/admin${path}`, {
    method,
    headers: { ...SECRET, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

afterEach(() => vi.restoreAllMocks());

describe("GET /v1/sdk/config", () => {
  it("should serve the demo site's widgets with an ETag and answer 304 when unchanged", async () => {
    const res = await SELF.fetch(`${BASE}/v1/sdk/config?key=${KEY}`);
    expect(res.status).toBe(200);
    const config = await res.json<{ widgets: { type: string }[] }>();
    expect(config.widgets.map((w) => w.type)).toEqual(["coupon", "friend", "callback", "newsletter", "cart_reminder"]);
    const etag = res.headers.get("etag") ?? "";
    expect(etag).toMatch(/^".+"$/);
    expect(res.headers.get("cache-control")).toContain("max-age");
    const again = await SELF.fetch(`${BASE}/v1/sdk/config?key=${KEY}`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  it("should refuse an unknown key with a clear 401", async () => {
    const res = await SELF.fetch(`${BASE}/v1/sdk/config?key=pk_nope`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_key" } });
  });
});

describe("GET /v1/sdk/visitor", () => {
  it("should tell audience rules whether the visitor is known and what their cart holds", async () => {
    const unknown = await SELF.fetch(`${BASE}/v1/sdk/visitor?key=${KEY}&aid=${uid("nobody")}`);
    expect(await unknown.json()).toEqual({ identified: false, cart: { items: 0, value: 0 }, segments: [] });
    const anonymousId = await shopperWithCart(`${uid("cart")}@example.com`);
    const known = await SELF.fetch(`${BASE}/v1/sdk/visitor?key=${KEY}&aid=${anonymousId}`);
    expect(known.headers.get("cache-control")).toContain("no-store");
    expect(await known.json()).toEqual({ identified: true, cart: { items: 1, value: 7900 }, segments: ["has_cart"] });
  });
});

describe("POST /v1/onsite/coupon", () => {
  it("should mint one exit-intent code per visitor and hand the same one out again", async () => {
    const anonymousId = uid("aid");
    const ask = () => post("/v1/onsite/coupon", { key: KEY, anonymousId, requestId: uid("r"), widget: "exit-coupon" });
    const [a, b] = await Promise.all([ask(), ask()]);
    const first = await a.json<{ code: string }>();
    const second = await b.json<{ code: string }>();
    expect(first.code).toMatch(/^[2-9A-Z]{4}(-[2-9A-Z]{4}){3}$/);
    expect(second.code).toBe(first.code);
    const row = await env.DB.prepare(`SELECT promotion_id, source, max_uses, expires_at FROM coupons WHERE code = ?`)
      .bind(first.code)
      .first();
    expect(row).toMatchObject({ promotion_id: "exit-intent-10", source: "exit_intent", max_uses: 1 });
    expect(
      await (
        await post("/v1/onsite/coupon", { key: KEY, anonymousId: uid("other"), requestId: "x", widget: "exit-coupon" })
      ).json(),
    ).not.toMatchObject({ code: first.code });
  });

  it("should let a follow-up message find the code once the visitor is known, even if minted before", async () => {
    const anonymousId = uid("aid");
    const res = await post("/v1/onsite/coupon", { key: KEY, anonymousId, requestId: "r", widget: "exit-coupon" });
    const { code } = await res.json<{ code: string }>();
    await send([{ type: "identify", anonymousId, traits: { email: `${uid("exit")}@example.com` } }]);
    const contact = await env.DB.prepare(`SELECT contact_id FROM identities WHERE kind = 'anonymous' AND value = ?`)
      .bind(anonymousId)
      .first<{ contact_id: string }>();
    const found = await heldCoupon(env.DB, "demo", contact?.contact_id ?? "", "exit_intent", Date.now());
    expect(found).toMatchObject({ code, promotion_id: "exit-intent-10" });
    const expired = await heldCoupon(
      env.DB,
      "demo",
      contact?.contact_id ?? "",
      "exit_intent",
      Date.now() + 8 * 86_400_000,
    );
    expect(expired).toBeNull();
  });

  it("should give a fresh code once the visitor's code has expired or been used", async () => {
    const anonymousId = uid("aid");
    const ask = async () =>
      (
        await (
          await post("/v1/onsite/coupon", { key: KEY, anonymousId, requestId: uid("r"), widget: "exit-coupon" })
        ).json<{ code: string }>()
      ).code;
    const first = await ask();
    await env.DB.prepare(`UPDATE coupons SET expires_at = 1 WHERE code = ?`).bind(first).run();
    const second = await ask();
    expect(second).not.toBe(first);
    await env.DB.prepare(`UPDATE coupons SET uses = 1 WHERE code = ?`).bind(second).run();
    const third = await ask();
    expect(new Set([first, second, third]).size).toBe(3);
    expect(await ask()).toBe(third);
    const sources = await env.DB.prepare(`SELECT source FROM coupons WHERE anonymous_id = ? ORDER BY created_at`)
      .bind(anonymousId)
      .all<{ source: string }>();
    expect(sources.results.map((r) => r.source).sort()).toEqual([
      "exit_intent",
      "exit_intent:retired",
      "exit_intent:retired",
    ]);
  });

  it("should 404 a widget that is not a configured coupon", async () => {
    const res = await post("/v1/onsite/coupon", {
      key: KEY,
      anonymousId: uid("aid"),
      requestId: "r",
      widget: "callback",
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "unknown_widget" } });
  });
});

describe("POST /v1/onsite/friend", () => {
  it("should store a Product Shared event with the friend and the sender, once per request", async () => {
    const anonymousId = uid("aid");
    const body = {
      key: KEY,
      anonymousId,
      requestId: uid("r"),
      productId: "E7247",
      productName: "E7247 speaker",
      price: 79,
      friendEmail: " Bob@Example.com ",
      senderName: "Ada",
      ...consent,
    };
    expect((await post("/v1/onsite/friend", body)).status).toBe(200);
    expect((await post("/v1/onsite/friend", body)).status).toBe(200); // a retry
    expect(await events(anonymousId, "Product Shared")).toEqual([
      expect.objectContaining({
        product_id: "E7247",
        name: "E7247 speaker",
        price: 79,
        recipient_email: "bob@example.com",
        share_via: "email",
        sender_name: "Ada",
      }),
    ]);
    const consents = await env.DB.prepare(`SELECT purpose, wording FROM consents WHERE anonymous_id = ?`)
      .bind(anonymousId)
      .all();
    expect(consents.results[0]).toEqual({ purpose: "send_to_friend", wording: consent.consentText });
  });

  it("should cap a sender at five friends a day", async () => {
    const anonymousId = uid("aid");
    const share = (n: number) =>
      post("/v1/onsite/friend", {
        key: KEY,
        anonymousId,
        requestId: uid("r"),
        productId: "E7247",
        friendEmail: `f${n}@example.com`,
        senderName: "Ada",
        ...consent,
      });
    for (let n = 0; n < 5; n++) expect((await share(n)).status).toBe(200);
    const sixth = await share(5);
    expect(sixth.status).toBe(429);
    expect(await sixth.json()).toMatchObject({ error: { code: "rate_limited", retryAfter: expect.any(Number) } });
  });

  it("should not count a rejected request against the sender's cap", async () => {
    const anonymousId = uid("aid");
    const base = { key: KEY, anonymousId, productId: "E7247", senderName: "Ada", ...consent };
    for (let n = 0; n < 6; n++)
      expect((await post("/v1/onsite/friend", { ...base, requestId: uid("r"), friendEmail: "typo@" })).status).toBe(
        400,
      );
    expect(
      (await post("/v1/onsite/friend", { ...base, requestId: uid("r"), friendEmail: "ok@example.com" })).status,
    ).toBe(200);
  });

  it.each([
    [{ friendEmail: "not-an-email" }, "invalid_email"],
    [{ consent: false }, "consent_required"],
    [{ senderName: "" }, "invalid_field"],
  ])("should reject %o with %s", async (override, code) => {
    const res = await post("/v1/onsite/friend", {
      key: KEY,
      anonymousId: uid("aid"),
      requestId: uid("r"),
      productId: "E7247",
      friendEmail: "f@example.com",
      senderName: "Ada",
      ...consent,
      ...override,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code } });
  });
});

describe("POST /v1/onsite/newsletter", () => {
  it("should identify the visitor with their consent and track Newsletter Subscribed", async () => {
    const anonymousId = uid("aid");
    const res = await post("/v1/onsite/newsletter", {
      key: KEY,
      anonymousId,
      requestId: uid("r"),
      email: "Nina@Example.com",
      ...consent,
    });
    expect(res.status).toBe(200);
    expect(await events(anonymousId, "Newsletter Subscribed")).toEqual([
      expect.objectContaining({ email: "nina@example.com" }),
    ]);
    const contact = await env.DB.prepare(
      `SELECT c.email, c.traits FROM identities i JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
       WHERE i.kind = 'anonymous' AND i.value = ?`,
    )
      .bind(anonymousId)
      .first<{ email: string; traits: string }>();
    expect(contact?.email).toBe("nina@example.com");
    expect(JSON.parse(contact?.traits ?? "{}")).toMatchObject({ email_marketing: true });
  });

  it("should count a shopper who signed up through the widget as opted in (the welcome audience)", async () => {
    const email = `${uid("optin")}@example.com`;
    const audience = async (optedIn: boolean) => {
      const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/audience`, {
        method: "POST",
        headers: { ...SECRET, "content-type": "application/json" },
        body: JSON.stringify({ segment: { all: [{ opted_in: optedIn }, { attr: "email", op: "eq", value: email }] } }),
      });
      return (await res.json<{ count: number }>()).count;
    };
    const res = await post("/v1/onsite/newsletter", {
      key: KEY,
      anonymousId: uid("aid"),
      requestId: uid("r"),
      email,
      ...consent,
    });
    expect(res.status).toBe(200);
    expect(await audience(true)).toBe(1);
    expect(await audience(false)).toBe(0);
  });
});

describe("callback requests", () => {
  it("should validate the phone as E.164 and the time window", async () => {
    const base = { key: KEY, anonymousId: uid("aid"), requestId: uid("r"), window: "morning", ...consent };
    const bad = await post("/v1/onsite/callback", { ...base, phone: "020 7946 0958" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "invalid_phone", field: "phone" } });
    const badWindow = await post("/v1/onsite/callback", { ...base, phone: "+442079460958", window: "midnight" });
    expect(await badWindow.json()).toMatchObject({ error: { code: "invalid_field", field: "window" } });
  });

  it("should create a task the admin API lists, notify the merchant's signed webhook, and track Callback Requested", async () => {
    const put = await admin("/onsite", "PUT", {
      config: DEMO_CONFIG,
      webhook: { url: "https://crm.example/hooks/nudge" },
    });
    expect(put.status).toBe(200);
    // The site's own signing secret (shown once to the merchant; read from D1 here).
    const { secret } = await webhookSecret(env.DB, "demo");
    const hook = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("ok"));

    const anonymousId = uid("aid");
    const email = `${uid("ada")}@example.com`;
    await send([{ type: "identify", anonymousId, traits: { email } }]); // a signed-in shopper
    const requestId = uid("r");
    const body = {
      key: KEY,
      anonymousId,
      requestId,
      phone: "+44 20 7946 0958",
      window: "afternoon",
      name: "Ada",
      ...consent,
    };
    const res = await post("/v1/onsite/callback", body);
    expect(res.status).toBe(200);
    const { id } = await res.json<{ id: number }>();
    expect((await (await post("/v1/onsite/callback", body)).json<{ id: number }>()).id).toBe(id); // a retry

    const { callbacks } = await (await admin("/callbacks?status=open")).json<{
      callbacks: Record<string, unknown>[];
    }>();
    expect(callbacks.filter((c) => c.anonymous_id === anonymousId)).toEqual([
      expect.objectContaining({ id, email, phone: "+442079460958", time_window: "afternoon", status: "open" }),
    ]);
    expect(await events(anonymousId, "Callback Requested")).toEqual([
      expect.objectContaining({ phone: "+442079460958", window: "afternoon" }),
    ]);

    await vi.waitFor(() => expect(hook).toHaveBeenCalledTimes(1));
    const [url, init] = hook.mock.calls[0] as [string, RequestInit];
    expect(url).toBe("https://crm.example/hooks/nudge");
    const sent = String(init.body);
    expect(JSON.parse(sent)).toMatchObject({
      type: "callback.requested",
      callback: { id, email, phone: "+442079460958" },
    });
    const signature = new Headers(init.headers).get("x-nudge-signature") ?? "";
    const [, t, v1] = signature.match(/^t=(\d{10}),v1=([0-9a-f]{64})$/) ?? []; // unix seconds
    expect(v1).toBe(await hmacHex(secret, `${t}.${sent}`));

    const done = await admin(`/callbacks/${id}`, "PATCH", { status: "done" });
    expect(await done.json()).toMatchObject({ callback: { id, status: "done" } });
  });
});

describe("admin onsite config", () => {
  it("should need the secret key", async () => {
    const res = await SELF.fetch(`${BASE}/v1/admin/onsite`);
    expect(res.status).toBe(401);
  });

  it("should reject an invalid config with the field at fault, and change the ETag on a valid one", async () => {
    const bad = await admin("/onsite", "PUT", {
      config: { widgets: [{ id: "x", type: "popup", trigger: { on: "load" } }] },
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: "invalid_config", message: expect.stringContaining("widgets[0].type") },
    });
    const unsafe = await admin("/onsite", "PUT", {
      config: { theme: { "--nudge-accent": "red;background:url(x)" }, widgets: [] },
    });
    expect(unsafe.status).toBe(400);

    const before = (await SELF.fetch(`${BASE}/v1/sdk/config?key=${KEY}`)).headers.get("etag");
    const config = { ...DEMO_CONFIG, locale: "fr", text: { fr: { coupon_title: "Attendez !" } } };
    expect((await admin("/onsite", "PUT", { config })).status).toBe(200);
    const after = await SELF.fetch(`${BASE}/v1/sdk/config?key=${KEY}`);
    expect(after.headers.get("etag")).not.toBe(before);
    expect(await after.json()).toMatchObject({ locale: "fr", text: { fr: { coupon_title: "Attendez !" } } });
    expect(await (await admin("/onsite")).json()).toMatchObject({ config: { locale: "fr" } });
  });
});

describe("rate limits", () => {
  it("should prune windows that ended long ago while counting new requests", async () => {
    const old = Date.now() - 3 * 86_400_000;
    await env.DB.prepare(`INSERT INTO rate_limits (bucket, window_start, count) VALUES ('stale:x', ?, 3)`)
      .bind(old)
      .run();
    await post("/v1/onsite/coupon", { key: KEY, anonymousId: uid("aid"), requestId: "r", widget: "exit-coupon" });
    const left = await env.DB.prepare(`SELECT count(*) AS n FROM rate_limits WHERE bucket = 'stale:x'`).first<{
      n: number;
    }>();
    expect(left?.n).toBe(0);
  });
});

describe("demo reset", () => {
  it("should clear callbacks and consents but keep the site's onsite configuration", async () => {
    const config = { ...DEMO_CONFIG, locale: "ru" };
    expect((await admin("/onsite", "PUT", { config, webhook: null })).status).toBe(200);
    await post("/v1/onsite/callback", {
      key: KEY,
      anonymousId: uid("aid"),
      requestId: uid("r"),
      phone: "+442079460958",
      window: "asap",
      ...consent,
    });
    expect((await post("/v1/dev/reset", {}, SECRET)).status).toBe(200);
    expect(await (await admin("/callbacks")).json()).toEqual({ callbacks: [] });
    expect(await (await SELF.fetch(`${BASE}/v1/sdk/config?key=${KEY}`)).json()).toMatchObject({ locale: "ru" });
  });
});

describe("privacy", () => {
  it("should export and erase a contact's callbacks and consents, even if asked before they were known", async () => {
    const anonymousId = uid("aid");
    const phone = "+442079460123";
    await post("/v1/onsite/callback", {
      key: KEY,
      anonymousId,
      requestId: uid("r"),
      phone,
      window: "asap",
      ...consent,
    });
    const email = `${uid("gdpr")}@example.com`;
    await send([{ type: "identify", anonymousId, traits: { email } }]);
    const contact = await env.DB.prepare(`SELECT contact_id FROM identities WHERE kind = 'anonymous' AND value = ?`)
      .bind(anonymousId)
      .first<{ contact_id: string }>();
    const id = contact?.contact_id ?? "";
    const exported = await (await admin(`/contacts/${id}/export`)).json<{
      data: Record<string, Record<string, unknown>[]>;
    }>();
    expect(exported.data.callbacks).toEqual([expect.objectContaining({ phone })]);
    expect(exported.data.consents).toEqual([expect.objectContaining({ subject: phone, purpose: "callback" })]);
    expect((await admin(`/contacts/${id}`, "DELETE")).status).toBe(200);
    const left = await env.DB.prepare(`SELECT count(*) AS n FROM callbacks WHERE anonymous_id = ?`)
      .bind(anonymousId)
      .first();
    expect(left).toEqual({ n: 0 });
  });
});
