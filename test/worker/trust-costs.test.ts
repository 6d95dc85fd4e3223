import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { clientNetwork } from "../../worker/src/lib/client";
import { describe, expect, inject, it } from "vitest";
import { seedTemplates } from "../../worker/src/campaigns/store";
import { seedDemoPromotions } from "../../worker/src/promotions/demo";
import { webhookUrlProblem } from "../../worker/src/lib/hosts";
import { phoneAllowed, phoneCountries } from "../../worker/src/lib/phone";
import { createSite, DEFAULT_SETTINGS, webhookSecret } from "../../worker/src/model/sites";
import type { SiteSettings } from "../../worker/src/model/sites";
import { advance, BASE, mailbox, post, product, SECRET, send, tick, uid } from "./helpers";

/**
 * Issue 13, items 1, 2 and 9 (costs): each attack exactly as it was tried with the public key, and
 * what now holds it. SMS go to the outbox here (no Twilio secrets), so "an SMS" is an outbox row.
 */

const DAY = 86_400_000;
const consent = { consent: true, consentText: "I agree to be contacted." };

/** A site of its own (its settings, budgets and secret do not touch the demo's), with every template on. */
async function site(settings: Partial<SiteSettings> = {}, place = { timeZone: "Europe/London", currency: "GBP" }) {
  const id = uid("site").toLowerCase();
  const keys = { publicKey: `pk_${id}`, secretKey: `sk_${id}` };
  await createSite(env, { id, name: "Second Shop", url: `https://${id}.example`, ...keys, ...place, settings }, 0);
  await seedTemplates(env.DB, id, 0);
  await seedDemoPromotions(env.DB, id, 0); // the templates' coupons name these promotions
  const admin = (path: string, method = "GET", body?: unknown) =>
    SELF.fetch(`${BASE}/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${keys.secretKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { id, ...keys, admin };
}

/** Every message a site has scheduled, with its status and reason. */
const messages = async (siteId: string, campaign: string) =>
  (
    await env.DB.prepare(
      `SELECT m.status, m.reason, m.data, m.due_at, o.recipient, o.text FROM messages m
       LEFT JOIN outbox o ON o.message_id = m.id WHERE m.site_id = ? AND m.campaign = ? ORDER BY m.id`,
    )
      .bind(siteId, campaign)
      .all<{
        status: string;
        reason: string | null;
        data: string;
        due_at: number;
        recipient: string | null;
        text: string | null;
      }>()
  ).results;

const callback = (key: string, phone: string, ip = uid("ip"), extra: Record<string, unknown> = {}) =>
  post(
    "/v1/onsite/callback",
    { key, anonymousId: uid("aid"), requestId: uid("r"), phone, window: "evening", ...consent, ...extra },
    { "cf-connecting-ip": ip },
  );

describe("SMS pumping (issue 13, item 1)", () => {
  it("should send no SMS for 50 premium +882 numbers in Callback Requested events from one /v1/batch request", async () => {
    const numbers = Array.from({ length: 50 }, (_, i) => `+88216${String(1000000 + i)}`);
    const anonymousId = uid("attacker");
    await send(
      numbers.map((phone) => ({
        type: "track",
        anonymousId,
        event: "Callback Requested",
        properties: { phone, window: "pay the fee at http://evil.test" },
      })),
    );
    await advance(60_000);
    // Kept as behaviour (the events are stored, as the browser's), and nothing scheduled or sent.
    const stored = await env.DB.prepare(
      `SELECT count(*) AS n FROM events WHERE site_id = 'demo' AND anonymous_id = ? AND source = 'browser'`,
    )
      .bind(anonymousId)
      .first<{ n: number }>();
    expect(stored?.n).toBe(50);
    const scheduled = await env.DB.prepare(
      `SELECT count(*) AS n FROM messages WHERE site_id = 'demo' AND data LIKE '%+88216%'`,
    ).first<{ n: number }>();
    expect(scheduled?.n).toBe(0);
    for (const phone of numbers.slice(0, 3)) expect(await mailbox(phone)).toEqual([]);
  });

  it("should not text a number a browser set on its own contact through the abandoned-cart flow", async () => {
    const phone = "+447700900777";
    const email = `${uid("cart-sms")}@example.com`;
    const anonymousId = uid("anon");
    // A script: a new contact with any phone it likes, and a cart. The emails may go (its own address).
    await send([
      { type: "identify", anonymousId, traits: { email, phone } },
      { type: "track", anonymousId, event: "Product Added", properties: product("E7247") },
    ]);
    for (let i = 0; i < 4; i++) await advance(DAY);
    const rows = (
      await env.DB.prepare(
        `SELECT m.channel, m.status, m.reason FROM messages m JOIN contacts c ON c.site_id = m.site_id AND c.id = m.contact_id
         WHERE m.site_id = 'demo' AND c.email = ? AND m.channel IN ('sms', 'call')`,
      )
        .bind(email)
        .all<{ channel: string; status: string; reason: string }>()
    ).results;
    expect(rows).toContainEqual({
      channel: "sms",
      status: "cancelled",
      reason: "phone number not given by the merchant or in a consented widget",
    });
    expect(await mailbox(phone)).toEqual([]);
  });

  it("should refuse premium ranges and other countries on the callback widget, and premium numbers from the server too", async () => {
    for (const phone of ["+882161234567", "+883510012345", "+97912345678", "+881612345678", "+33612345678"]) {
      const res = await callback("pk_demo", phone);
      expect(res.status, phone).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "phone_not_allowed", field: "phone" } });
    }
    // Even the merchant's server cannot make the sweep text a premium number.
    const anonymousId = uid("anon");
    await post(
      "/v1/batch",
      {
        batch: [
          {
            type: "track",
            messageId: uid("m"),
            anonymousId,
            event: "Callback Requested",
            properties: { phone: "+882161234567", window: "asap" },
          },
        ],
      },
      SECRET,
    );
    await advance(60_000);
    expect(await mailbox("+882161234567")).toEqual([]);
    const row = await env.DB.prepare(
      `SELECT status, reason FROM messages WHERE site_id = 'demo' AND campaign = 'callback_confirmation' AND data LIKE '%+882161234567%'`,
    ).first();
    expect(row).toEqual({ status: "cancelled", reason: "phone number outside the site's countries (GB)" });
  });

  it("should never put an event's free text in the callback SMS, even from the merchant's server", async () => {
    const phone = "+447700900555";
    await post(
      "/v1/batch",
      {
        batch: [
          {
            type: "track",
            messageId: uid("m"),
            anonymousId: uid("anon"),
            event: "Callback Requested",
            properties: { phone, window: "pay the fee at http://evil.test" },
          },
        ],
      },
      SECRET,
    );
    await advance(60_000);
    const [sms] = await mailbox(phone, "callback_confirmation");
    expect(sms?.text).toBe("Wavelength: thank you, we will call you back soon.");
    // The widget takes only the four windows.
    const res = await callback("pk_demo", "+447700900556", uid("ip"), { window: "pay the fee at http://evil.test" });
    expect(res.status).toBe(400);
  });

  it("should pick each site's countries: its own by default (time zone, then currency), or its allow-list", () => {
    const paris = { timeZone: "Europe/Paris", currency: "EUR", settings: { ...DEFAULT_SETTINGS } };
    expect(phoneCountries(paris)).toEqual(["FR"]);
    expect(phoneCountries({ timeZone: "UTC", currency: "USD", settings: DEFAULT_SETTINGS })).toEqual(["US"]);
    expect(phoneCountries({ timeZone: "UTC", currency: "EUR", settings: DEFAULT_SETTINGS })).toEqual([]);
    expect(phoneCountries({ ...paris, settings: { ...DEFAULT_SETTINGS, phoneCountries: ["fr", "GB"] } })).toEqual([
      "FR",
      "GB",
    ]);
    const cases: [string, string[], boolean][] = [
      ["+447700900123", ["GB"], true],
      ["+33612345678", ["GB"], false],
      ["+882161234567", ["GB", "FR", "US"], false],
      ["+12125551234", ["US"], true],
      ["+18765551234", ["US"], false], // Jamaica shares +1
      ["+79161234567", ["RU"], true],
      ["+77011234567", ["RU"], false], // Kazakhstan shares +7
      ["+449098765432", ["GB"], false], // UK premium rate
    ];
    for (const [phone, countries, allowed] of cases) expect(phoneAllowed(phone, countries), phone).toBe(allowed);
  });

  it("should take callbacks in an allow-listed country only", async () => {
    const paris = await site({}, { timeZone: "Europe/Paris", currency: "EUR" });
    expect((await callback(paris.publicKey, "+447700900123")).status).toBe(400);
    expect((await callback(paris.publicKey, "+33612345678")).status).toBe(200);
  });
});

describe("referral spam (issue 13, item 2)", () => {
  it("should send no referral mail for 20 Product Shared events with recipient_email from one /v1/batch request", async () => {
    const friends = Array.from({ length: 20 }, () => `${uid("victim")}@example.com`);
    const anonymousId = uid("attacker");
    await send(
      friends.map((recipient_email) => ({
        type: "track",
        anonymousId,
        event: "Product Shared",
        properties: { ...product("E7247"), recipient_email, share_via: "email", sender_name: "Your bank" },
      })),
    );
    await advance(60_000);
    for (const friend of friends) expect(await mailbox(friend)).toEqual([]);
    const contacts = await env.DB.prepare(
      `SELECT count(*) AS n FROM contacts WHERE site_id = 'demo' AND email IN (SELECT value FROM json_each(?))`,
    )
      .bind(JSON.stringify(friends))
      .first<{ n: number }>();
    expect(contacts?.n).toBe(0); // not even made contacts
  });
});

describe("caps on the widget endpoints", () => {
  const share = (ip: string, friendEmail: string) =>
    post(
      "/v1/onsite/friend",
      {
        key: "pk_demo",
        anonymousId: uid("aid"), // a new anonymous id each time: the cap must not reset with it
        requestId: uid("r"),
        productId: "E7247",
        friendEmail,
        senderName: "Ada",
        ...consent,
      },
      { "cf-connecting-ip": ip },
    );

  it("should cap friend shares per network address even with a new anonymous id each time", async () => {
    const ip = uid("ip");
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await share(ip, `${uid("f")}@example.com`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual(Array(5).fill(429));
  });

  it("should cap shares to one friend, whoever and from wherever they come", async () => {
    const friend = `${uid("popular")}@example.com`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await share(uid("ip"), friend)).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it("should cap callbacks per number and per network address, counting parallel requests atomically", async () => {
    const phone = "+447700900444";
    const same = await Promise.all(Array.from({ length: 6 }, () => callback("pk_demo", phone)));
    expect(same.filter((r) => r.status === 200)).toHaveLength(2);
    const ip = uid("ip");
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await callback("pk_demo", `+4477009003${10 + i}`, ip)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
  });
});

describe("caps count networks, and only what a network's own cap admits", () => {
  const siteCount = async () =>
    (
      await env.DB.prepare(
        `SELECT coalesce(sum(count), 0) AS n FROM rate_limits WHERE bucket = 'callback:demo:site'`,
      ).first<{
        n: number;
      }>()
    )?.n ?? 0;

  it("should leave the site's daily callback cap to others when one address is refused for itself", async () => {
    const before = await siteCount();
    const ip = uid("ip");
    const statuses = [];
    for (let i = 0; i < 30; i++) statuses.push((await callback("pk_demo", `+4477009005${10 + i}`, ip)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    // Only the 10 admitted requests used the site's share; the 20 refused ones did not.
    expect((await siteCount()) - before).toBe(10);
  });

  it("should count a whole IPv6 /64 as one network", async () => {
    const net = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
    const statuses = [];
    for (let i = 0; i < 14; i++)
      statuses.push((await callback("pk_demo", `+4477009006${10 + i}`, `${net}::${(i + 1).toString(16)}`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429]);
  });

  it("should write an IPv6 network as its /64 whatever the address's spelling, and leave IPv4 as it is", () => {
    expect(clientNetwork("2001:db8:0:7::1")).toBe("2001:db8:0:7::/64");
    expect(clientNetwork("2001:0DB8:0000:0007:ffff:0:0:1")).toBe("2001:db8:0:7::/64");
    expect(clientNetwork("2001:db8::7:1")).toBe("2001:db8:0:0::/64");
    expect(clientNetwork("::1")).toBe("0:0:0:0::/64");
    expect(clientNetwork("203.0.113.9")).toBe("203.0.113.9");
    expect(clientNetwork(null)).toBe("local");
    expect(clientNetwork("", "aid-1")).toBe("aid-1");
  });
});

describe("addresses a network may name (abandoned cart to strangers)", () => {
  it("should take 30 new email addresses an hour from one network, refuse the rest by message, and never count the server", async () => {
    const shop = await site();
    const ident = (email: string) => ({
      type: "identify",
      messageId: crypto.randomUUID(),
      anonymousId: uid("aid"),
      traits: { email },
    });
    const browser = (batch: unknown[], ip: string) =>
      post("/v1/batch", { writeKey: shop.publicKey, batch }, { "cf-connecting-ip": ip });
    const emails = Array.from({ length: 35 }, (_, i) => `stranger${i}.${uid("x")}@example.com`);
    const net = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;

    const first = await browser(emails.map(ident), `${net}::1`);
    expect(first.status).toBe(200);
    const body = await first.json<{ accepted: number; errors: { index: number; code: string }[] }>();
    expect(body.accepted).toBe(30);
    expect(body.errors.map((e) => [e.index, e.code])).toEqual(
      [30, 31, 32, 33, 34].map((i) => [i, "too_many_addresses"]),
    );
    // Another address of the same /64: the same network, nothing new allowed.
    const again = await browser([ident(`one.more.${uid("x")}@example.com`)], `${net}::2`);
    expect(again.status).toBe(400);
    // Addresses it already named this hour are free (a shopper's later pages), other networks untouched.
    expect((await browser(emails.slice(0, 30).map(ident), `${net}::3`)).status).toBe(200);
    const other = await (await browser([ident(emails[34] ?? "")], "203.0.113.77")).json<{ accepted: number }>();
    expect(other.accepted).toBe(1);
    // The merchant's server vouches for its own customers: never counted.
    const server = await post(
      "/v1/batch",
      { batch: Array.from({ length: 40 }, (_, i) => ident(`customer${i}.${uid("x")}@example.com`)) },
      { authorization: `Bearer ${shop.secretKey}`, "cf-connecting-ip": `${net}::4` },
    );
    expect((await server.json<{ accepted: number }>()).accepted).toBe(40);
    const named = await env.DB.prepare(
      `SELECT count(*) AS n FROM contacts WHERE site_id = ? AND email LIKE 'stranger%'`,
    )
      .bind(shop.id)
      .first<{ n: number }>();
    expect(named?.n).toBe(31); // 30 from the first network, 1 from the other
  });
});

describe("daily budgets per channel", () => {
  it("should defer SMS past the site's daily budget to the next day and tell the merchant once", async () => {
    const shop = await site({ smsPerDay: 2 });
    for (let i = 0; i < 4; i++) expect((await callback(shop.publicKey, `+4477009002${10 + i}`)).status).toBe(200);
    const swept = Date.parse((await advance(60_000)).now);
    const first = await messages(shop.id, "callback_confirmation");
    expect(first.filter((m) => m.status === "sent")).toHaveLength(2);
    const waiting = first.filter((m) => m.status === "pending");
    expect(waiting.map((m) => m.reason)).toEqual(Array(2).fill("daily sms budget (2) reached: deferred"));
    const tomorrow = swept - (swept % DAY) + DAY;
    expect(waiting.map((m) => m.due_at)).toEqual([tomorrow, tomorrow]);
    // Two messages over the budget, one alert.
    const { alerts } = await (await shop.admin("/alerts")).json<{ alerts: { kind: string; message: string }[] }>();
    expect(alerts).toEqual([
      expect.objectContaining({ kind: "budget:sms", message: expect.stringContaining("smsPerDay") }),
    ]);

    await tick(tomorrow + 60_000);
    const next = await messages(shop.id, "callback_confirmation");
    expect(next.filter((m) => m.status === "sent")).toHaveLength(4);
  });

  it("should hold referral mail to the site's daily referral budget", async () => {
    const shop = await site({ referralsPerDay: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await post(
        "/v1/onsite/friend",
        {
          key: shop.publicKey,
          anonymousId: uid("aid"),
          requestId: uid("r"),
          productId: "P1",
          friendEmail: `${uid("friend")}@example.com`,
          senderName: "Ada",
          ...consent,
        },
        { "cf-connecting-ip": uid("ip") },
      );
      expect(res.status).toBe(200);
    }
    await advance(60_000);
    const rows = await messages(shop.id, "referral");
    expect(rows.filter((m) => m.status === "sent")).toHaveLength(1);
    expect(rows.filter((m) => m.status === "pending").map((m) => m.reason)).toEqual(
      Array(2).fill("daily referral budget (1) reached: deferred"),
    );
  });
});

describe("coupon guessing", () => {
  it("should evaluate at most the limit of codes from 30 parallel guesses", async () => {
    const ip = uid("ip");
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(
          "/v1/cart/price",
          {
            writeKey: "pk_demo",
            lines: [{ product_id: "E7247", price: 7900, quantity: 1 }],
            coupons: [`GUESS-${i}-A`],
          },
          { "cf-connecting-ip": ip },
        ).then((r) => r.json<{ rejected: { reason: string }[] }>()),
      ),
    );
    const reasons = responses.flatMap((r) => r.rejected.map((x) => x.reason));
    expect(reasons.filter((r) => r === "unknown")).toHaveLength(10);
    expect(reasons.filter((r) => r === "too_many_attempts")).toHaveLength(20);
  });
});

describe("merchant webhooks", () => {
  it("should refuse webhook URLs at link-local, private or metadata addresses", async () => {
    const shop = await site();
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "https://10.0.0.5/hook",
      "https://[fd00::1]/hook",
      "https://[::ffff:169.254.169.254]/",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://printer.local/hook",
    ]) {
      const res = await shop.admin("/onsite", "PUT", { config: { widgets: [] }, webhook: { url } });
      expect(res.status, url).toBe(400);
      const step = { channel: "webhook", url, template: "callback_sms" };
      const campaign = await shop.admin("/campaigns/hook", "PUT", {
        trigger: { type: "event", events: ["X"] },
        steps: [step],
      });
      expect(campaign.status, url).toBe(400);
    }
    // Outside development loopback and plain http are refused too; the tests' receivers need them here.
    for (const url of [
      "https://127.0.0.1/h",
      "https://localhost/h",
      "https://2130706433/h",
      "https://[::1]/h",
      "http://hooks.example.com/",
    ])
      expect(webhookUrlProblem(url, false), url).not.toBeNull();
    expect(webhookUrlProblem("https://hooks.example.com/nudge", false)).toBeNull();
  });

  it("should keep only the status of a failed webhook in the message's reason, never its body", async () => {
    const providers = inject("providers");
    const path = `/webhook/${uid("hook")}`;
    const { secret } = await webhookSecret(env.DB, "demo");
    await fetch(`${providers}/__secrets`, { method: "POST", body: JSON.stringify({ path, secret }) });
    // The fake answers 500 with a body to a payload whose campaign id contains "fail500".
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/hookfail500`, {
      method: "PUT",
      headers: { ...SECRET, "content-type": "application/json" },
      body: JSON.stringify({
        trigger: { type: "event", events: ["Hook Fail Test"] },
        steps: [{ channel: "webhook", url: `${providers}${path}`, template: "callback_sms" }],
      }),
    });
    expect(res.status).toBe(200);
    await send([{ type: "track", anonymousId: uid("anon"), event: "Hook Fail Test", properties: {} }]);
    await advance(60_000);
    const [row] = await messages("demo", "hookfail500");
    expect(row?.reason).toBe("Webhook answered 500");
  });

  it("should sign each site's webhooks with its own secret, shown once, in one format", async () => {
    const a = await site();
    const b = await site();
    const put = await a.admin("/onsite", "PUT", { config: { widgets: [] }, webhook: { url: "https://crm.example/a" } });
    const shown = (await put.json<{ webhook: { secret?: string } }>()).webhook.secret ?? "";
    expect(shown).toMatch(/^whsec_[0-9a-f]{64}$/);
    const again = await a.admin("/onsite", "PUT", {
      config: { widgets: [] },
      webhook: { url: "https://crm.example/a" },
    });
    expect((await again.json<{ webhook: Record<string, unknown> }>()).webhook).toEqual({
      url: "https://crm.example/a",
    });
    expect(await (await a.admin("/webhook-secret")).json()).toEqual({ configured: true });
    const rotated = await (await b.admin("/webhook-secret", "POST")).json<{ secret: string }>();
    expect(rotated.secret).not.toBe(shown);
    expect((await webhookSecret(env.DB, b.id)).secret).toBe(rotated.secret);
    // A merchant-chosen secret is no longer taken: one key per site, made by Nudge.
    const chosen = await a.admin("/onsite", "PUT", {
      config: { widgets: [] },
      webhook: { url: "https://crm.example/a", secret: "my-own-secret-123456" },
    });
    expect(chosen.status).toBe(400);
  });
});

describe("admin CORS", () => {
  it("should answer no cross-origin request to the admin API, while ingest still answers the store", async () => {
    const preflight = (path: string) =>
      SELF.fetch(`${BASE}${path}`, {
        method: "OPTIONS",
        headers: {
          origin: "https://evil.example",
          "access-control-request-method": "GET",
          "access-control-request-headers": "authorization",
        },
      });
    expect((await preflight("/v1/admin/outbox")).headers.get("access-control-allow-origin")).toBeNull();
    const read = await SELF.fetch(`${BASE}/v1/admin/outbox`, {
      headers: { ...SECRET, origin: "https://evil.example" },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight("/v1/batch")).headers.get("access-control-allow-origin")).toBe("https://evil.example");
  });
});
