import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Env } from "../../worker/src/env";
import { app } from "../../worker/src/index";
import { sweepHomes } from "../../worker/src/jobs/sweep";
import { sha256Hex } from "../../worker/src/lib/crypto";
import { DEMO_CONFIG } from "../../worker/src/onsite/schema";
import { advance, BASE, clock, homeOf, mailbox, product, uid } from "./helpers";
import type { Recorded } from "./provider-fakes";

const fakes = inject("providers");
const OPERATOR = { authorization: "Bearer test-operator-token" };
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** The same Worker as a deployment sees it: no development setting, so no outbox and no dev clock. */
const production = (over: Partial<Env> = {}): Env => ({
  ...env,
  NUDGE_ENV: undefined,
  PUBLIC_URL: "https://nudge.example",
  ...over,
});
const withResend = (over: Partial<Env> = {}) =>
  production({ RESEND_API_KEY: "re_test_prod", RESEND_API_URL: `${fakes}/resend`, ...over });

/** A request to the Worker with `worker`'s environment (development by default, like SELF). */
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, worker?: Env) {
  return app.request(
    `${BASE}${path}`,
    {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    worker ?? env,
  );
}

interface Created {
  site: { id: string; publicKey: string; settings: Record<string, unknown> };
  keys: { publicKey: string; secretKey: string; identitySecret: string | null };
}

async function createSite(fields: Record<string, unknown> = {}): Promise<Created> {
  const res = await call(
    "POST",
    "/v1/operator/sites",
    { name: "Fresh shop", url: "https://fresh.example", ...fields },
    OPERATOR,
  );
  expect(res.status).toBe(201);
  return res.json();
}

/** A shopper on `publicKey`'s site who signs in and leaves one product in the cart. */
async function leaveCart(publicKey: string, email: string) {
  const anonymousId = uid("anon");
  const res = await call("POST", "/v1/batch", {
    writeKey: publicKey,
    batch: [
      { type: "identify", anonymousId, traits: { email, name: "Ada" } },
      { type: "track", anonymousId, event: "Product Added", properties: product("E7247") },
    ].map((m) => ({ messageId: crypto.randomUUID(), ...m })),
  });
  expect(res.status).toBe(200);
}

const emailStep = (over: Record<string, unknown> = {}) => ({
  name: "Cart reminder",
  trigger: { type: "cart" },
  steps: [{ delay: 0, channel: "email", template: "cart_reminder" }],
  exit: { ordered: true },
  ...over,
});

const resendRequests = async (to: string): Promise<Recorded[]> =>
  ((await (await fetch(`${fakes}/__requests`)).json()) as Recorded[]).filter(
    (r) => r.provider === "resend" && (r.body as { to: string[] }).to[0] === to,
  );

describe("operator API", () => {
  it("should refuse a missing or wrong operator token, and be off without OPERATOR_TOKEN", async () => {
    expect((await call("GET", "/v1/operator/sites")).status).toBe(401);
    expect((await call("GET", "/v1/operator/sites", undefined, { authorization: "Bearer nope" })).status).toBe(401);
    const off = await call("GET", "/v1/operator/sites", undefined, OPERATOR, { ...env, OPERATOR_TOKEN: undefined });
    expect(off.status).toBe(401);
    expect(await off.json()).toMatchObject({ error: { code: "operator_api_off" } });
    expect((await call("GET", "/v1/operator/sites", undefined, OPERATOR)).status).toBe(200);
  });

  it("should create a site whose keys work at once, storing and showing only the secret key's hash", async () => {
    const { site, keys } = await createSite({ allowedOrigins: ["https://fresh.example"], currency: "eur" });
    expect(keys.publicKey).toMatch(/^pk_/);
    expect(keys.secretKey).toMatch(/^sk_/);
    expect(site).toMatchObject({
      publicKey: keys.publicKey,
      // Development has no PUBLIC_URL: the address the operator called.
      snippet: `<script async src="${BASE}/sdk/nudge.js" data-key="${keys.publicKey}"></script>`,
    });
    const row = JSON.stringify(
      await (await homeOf(site.id)).prepare(`SELECT * FROM sites WHERE id = ?`).bind(site.id).first(),
    );
    expect(row).toContain(await sha256Hex(keys.secretKey));
    expect(row).not.toContain(keys.secretKey);
    const read = await (await call("GET", `/v1/operator/sites/${site.id}`, undefined, OPERATOR)).text();
    expect(read).not.toContain(keys.secretKey);
    expect(JSON.parse(read).site).toMatchObject({ currency: "EUR", allowedOrigins: ["https://fresh.example"] });

    const admin = await call("GET", "/v1/admin/messages", undefined, { authorization: `Bearer ${keys.secretKey}` });
    expect(admin.status).toBe(200);
    const track = (origin: string) =>
      call(
        "POST",
        "/v1/track",
        { writeKey: keys.publicKey, messageId: uid("m"), anonymousId: "a1", event: "Viewed" },
        { origin },
      );
    expect((await track("https://evil.example")).status).toBe(403);
    expect((await track("https://fresh.example")).status).toBe(200);
  });

  it("should refuse unknown and invalid fields, naming them", async () => {
    const unknown = await call(
      "POST",
      "/v1/operator/sites",
      { name: "X", url: "https://x.example", colour: "red" },
      OPERATOR,
    );
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({
      error: { code: "unknown_field", message: "colour is not a known field.", field: "colour" },
    });
    const missing = await call("POST", "/v1/operator/sites", { name: "X" }, OPERATOR);
    expect(missing.status).toBe(400);
    const { site } = await createSite();
    for (const body of [
      { senderEmail: "not an address" },
      { smsFrom: "07700900123" },
      { countries: ["GBR"] },
      { retentionDays: 7 },
      { publicUrl: "ftp://x.example" },
      { timeZone: "Mars/Olympus" },
      { senderName: "Evil\r\nBcc: all@example.com" },
    ]) {
      const res = await call("PATCH", `/v1/operator/sites/${site.id}`, body, OPERATOR);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_field", field: Object.keys(body)[0] } });
    }
    expect((await call("PATCH", "/v1/operator/sites/nope", { name: "Y" }, OPERATOR)).status).toBe(404);
  });

  it("should change only the settings sent, and hide the Resend signing secret", async () => {
    const { site } = await createSite({ senderName: "Fresh", senderEmail: "hello@fresh.example" });
    const res = await call(
      "PATCH",
      `/v1/operator/sites/${site.id}`,
      {
        publicUrl: "https://fresh.example/nudge/",
        replyTo: "care@fresh.example",
        smsFrom: "+447700900999",
        resendWebhookSecret: "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0",
        countries: ["gb", "FR"],
        retentionDays: 400,
        timeZone: "Europe/Paris",
      },
      OPERATOR,
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).not.toContain("whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0");
    expect(JSON.parse(body).site).toMatchObject({
      timeZone: "Europe/Paris",
      settings: {
        senderName: "Fresh",
        senderEmail: "hello@fresh.example",
        publicUrl: "https://fresh.example/nudge",
        replyTo: "care@fresh.example",
        smsFrom: "+447700900999",
        resendWebhookSecret: "(set)",
        countries: ["GB", "FR"],
        retentionDays: 400,
      },
    });
  });

  it("should rotate keys: the new one works, the old secret key stops at once", async () => {
    const { site, keys } = await createSite();
    const rotated = await call("POST", `/v1/operator/sites/${site.id}/keys/secret`, undefined, OPERATOR);
    const { secretKey } = await rotated.json<{ secretKey: string }>();
    expect(secretKey).toMatch(/^sk_/);
    const admin = (key: string) => call("GET", "/v1/admin/messages", undefined, { authorization: `Bearer ${key}` });
    expect((await admin(keys.secretKey)).status).toBe(401);
    expect((await admin(secretKey)).status).toBe(200);

    const { publicKey } = await (
      await call("POST", `/v1/operator/sites/${site.id}/keys/public`, undefined, OPERATOR)
    ).json<{ publicKey: string }>();
    expect(publicKey).not.toBe(keys.publicKey);
    const ok = await call("POST", "/v1/track", {
      writeKey: publicKey,
      messageId: uid("m"),
      anonymousId: "a",
      event: "E",
    });
    expect(ok.status).toBe(200);
  });
});

describe("a production Worker fails closed", () => {
  it("should refuse to enable a step whose channel has no provider, naming the secret", async () => {
    const { keys } = await createSite({ senderEmail: "shop@fresh.example" });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    const noEmail = await call("PUT", "/v1/admin/campaigns/cart", emailStep(), secret, production());
    expect(noEmail.status).toBe(400);
    expect(await noEmail.json()).toMatchObject({
      error: { code: "channel_not_configured", message: expect.stringContaining("RESEND_API_KEY") },
    });
    // The template's SMS and call steps need Twilio even when email is configured.
    const template = await call(
      "POST",
      "/v1/admin/campaigns/templates/abandoned_cart/enable",
      undefined,
      secret,
      withResend(),
    );
    expect(template.status).toBe(400);
    expect((await template.json<{ error: { message: string } }>()).error.message).toContain("TWILIO_ACCOUNT_SID");
    const noAddress = await call(
      "PUT",
      "/v1/admin/campaigns/cart",
      emailStep(),
      secret,
      withResend({ PUBLIC_URL: undefined }),
    );
    expect((await noAddress.json<{ error: { message: string } }>()).error.message).toContain("PUBLIC_URL");
    const unsigned = await call(
      "PUT",
      "/v1/admin/campaigns/cart",
      emailStep(),
      secret,
      withResend({ LINK_SECRET: undefined }),
    );
    expect((await unsigned.json<{ error: { message: string } }>()).error.message).toContain("LINK_SECRET");
    // Paused is fine: nothing will be sent.
    const paused = await call(
      "PUT",
      "/v1/admin/campaigns/cart",
      { ...emailStep(), enabled: false },
      secret,
      production(),
    );
    expect(paused.status).toBe(200);
    expect((await call("PUT", "/v1/admin/campaigns/cart", emailStep(), secret, withResend())).status).toBe(200);
  });

  it("should mark due messages dead with the missing secret, never sent, and store nothing", async () => {
    const { keys, site } = await createSite({ senderEmail: "shop@fresh.example" });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    expect((await call("PUT", "/v1/admin/campaigns/cart", emailStep(), secret)).status).toBe(200);
    const email = `${uid("dead")}@example.com`;
    await leaveCart(keys.publicKey, email);
    const result = await sweepHomes(production(), (await clock()) + 60_000);
    expect(result.sent).toBe(0);
    const row = await (await homeOf(site.id))
      .prepare(`SELECT status, reason FROM messages WHERE site_id = ?`)
      .bind(site.id)
      .first<{ status: string; reason: string }>();
    expect(row).toMatchObject({ status: "dead", reason: expect.stringContaining("RESEND_API_KEY") });
    const stored = await (await homeOf(site.id))
      .prepare(`SELECT count(*) AS n FROM outbox WHERE site_id = ?`)
      .bind(site.id)
      .first();
    expect(stored).toEqual({ n: 0 });
  });

  it("should build every link on the public address, the site's own first, and send as the site", async () => {
    const { keys, site } = await createSite({
      senderName: "Fresh Shop",
      senderEmail: "shop@fresh.example",
      replyTo: "care@fresh.example",
    });
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    expect((await call("PUT", "/v1/admin/campaigns/cart", emailStep(), secret)).status).toBe(200);
    const first = `${uid("links")}@example.com`;
    await leaveCart(keys.publicKey, first);
    await sweepHomes(withResend(), (await clock()) + 60_000);
    const [mail] = await resendRequests(first);
    const body = mail?.body as {
      from: string;
      reply_to: string;
      html: string;
      text: string;
      headers: Record<string, string>;
    };
    expect(body).toMatchObject({ from: "Fresh Shop <shop@fresh.example>", reply_to: "care@fresh.example" });
    const links = [...`${body.html} ${body.text}`.matchAll(/https?:\/\/[^\s"'<>)]+\/v1\/links\/[^\s"'<>)]+/g)].map(
      (m) => m[0],
    );
    expect(links.length).toBeGreaterThanOrEqual(3); // cta, unsubscribe, open pixel
    for (const link of links) expect(link).toMatch(/^https:\/\/nudge\.example\/v1\/links\//);
    expect(body.headers["List-Unsubscribe"]).toMatch(/^<https:\/\/nudge\.example\/v1\/links\/unsubscribe\?t=/);
    expect(body.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    expect(`${body.html} ${body.text}`).not.toContain("https://fresh.example/v1/");

    const patched = await call(
      "PATCH",
      `/v1/operator/sites/${site.id}`,
      { publicUrl: "https://fresh.example/nudge" },
      OPERATOR,
    );
    expect(patched.status).toBe(200);
    const second = `${uid("links")}@example.com`;
    await leaveCart(keys.publicKey, second);
    await sweepHomes(withResend(), (await clock()) + 60_000);
    const [own] = await resendRequests(second);
    expect((own?.body as { headers: Record<string, string> } | undefined)?.headers["List-Unsubscribe"]).toMatch(
      /^<https:\/\/fresh\.example\/nudge\/v1\/links\/unsubscribe\?t=/,
    );
  });
});

describe("templates bring their promotions", () => {
  it("should take a fresh site from enabling abandoned_cart to a code accepted at checkout", async () => {
    const { keys } = await createSite();
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    const before = await (await call("GET", "/v1/admin/promotions", undefined, secret)).json<{
      promotions: unknown[];
    }>();
    expect(before.promotions).toEqual([]);
    const enabled = await call("POST", "/v1/admin/campaigns/templates/abandoned_cart/enable", undefined, secret);
    expect(enabled.status).toBe(201);
    const after = await (await call("GET", "/v1/admin/promotions", undefined, secret)).json<{
      promotions: { id: string }[];
    }>();
    expect(after.promotions.map((p) => p.id)).toEqual(["exit-intent-10"]);

    const email = `${uid("fresh")}@example.com`;
    await leaveCart(keys.publicKey, email);
    await advance(2 * HOUR);
    await advance(DAY + HOUR);
    const outbox = await (await call("GET", "/v1/admin/outbox?limit=10", undefined, secret)).json<{
      messages: { to: string; step: number; text: string }[];
    }>();
    const code = outbox.messages.find((m) => m.to === email && m.step === 2)?.text.match(/Your code: (\S+)/)?.[1];
    expect(code).toBeTruthy();
    const priced = await call("POST", "/v1/cart/price", {
      writeKey: keys.publicKey,
      coupons: [code],
      lines: [{ product_id: "E7247", price: 7900, quantity: 1 }],
    });
    expect(priced.status).toBe(200);
    const result = await priced.json<{ rejected: unknown[]; totals: { discount: number } }>();
    expect(result.rejected).toEqual([]);
    expect(result.totals.discount).toBe(790);
    expect(await mailbox(email)).toEqual([]); // another site's mail is not the demo's
  });

  it("should create the exit-intent promotion when a fresh site turns on the coupon widget", async () => {
    const { keys } = await createSite();
    const secret = { authorization: `Bearer ${keys.secretKey}` };
    const saved = await call("PUT", "/v1/admin/onsite", { config: DEMO_CONFIG }, secret);
    expect(saved.status).toBe(200);
    const { promotions } = await (await call("GET", "/v1/admin/promotions", undefined, secret)).json<{
      promotions: { id: string }[];
    }>();
    expect(promotions.map((p) => p.id)).toEqual(["exit-intent-10"]);
  });

  it("should refuse a coupon step naming a promotion the site does not have", async () => {
    const { keys } = await createSite();
    const res = await call(
      "PUT",
      "/v1/admin/campaigns/odd",
      emailStep({
        steps: [{ delay: 0, channel: "email", template: "cart_reminder", coupon: { promotionId: "nope" } }],
      }),
      { authorization: `Bearer ${keys.secretKey}` },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "unknown_promotion" } });
  });
});
