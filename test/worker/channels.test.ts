import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { Outgoing } from "../../worker/src/channels/channel";
import { postmark, resend } from "../../worker/src/channels/email";
import { twilioCall, twilioSms, twiml } from "../../worker/src/channels/twilio";
import { webhook } from "../../worker/src/channels/webhook";
import type { Env } from "../../worker/src/env";
import { MAX_ATTEMPTS, sweep } from "../../worker/src/jobs/sweep";
import { clock, messagesOf, putCampaign, send, uid } from "./helpers";
import { webhookSecret } from "../../worker/src/model/sites";
import type { Recorded } from "./provider-fakes";

/** provider-fakes.ts `WEBHOOK_SECRET` (that module runs in Node, not here). */
const WEBHOOK_SECRET = "whsec-test";

const fakes = inject("providers");

/** The Worker's environment with every provider configured against the loopback fakes. */
const providerEnv = (): Env => ({
  ...env,
  EMAIL_FROM: "Wavelength <shop@example.com>",
  RESEND_API_KEY: "re_test_123",
  RESEND_API_URL: `${fakes}/resend`,
  POSTMARK_SERVER_TOKEN: "pm-server-token",
  POSTMARK_API_URL: `${fakes}/postmark`,
  TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
  TWILIO_AUTH_TOKEN: "twilio-token",
  TWILIO_FROM: "+441234567890",
  TWILIO_API_URL: `${fakes}/twilio`,
});

const requests = async (): Promise<Recorded[]> => (await fetch(`${fakes}/__requests`)).json();
async function last(provider: string): Promise<Recorded> {
  const r = (await requests()).filter((x) => x.provider === provider).at(-1);
  if (!r) throw new Error(`${provider} received nothing`);
  return r;
}

const message = (over: Partial<Outgoing>): Outgoing => ({
  messageId: Math.floor(Math.random() * 1e9),
  siteId: "demo",
  channel: "email",
  to: "ada@example.com",
  subject: "Your cart",
  html: "<p>Hi</p>",
  text: "Hi",
  headers: { "List-Unsubscribe": "<https://x.example/u>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
  ...over,
});

describe("channels against the providers' documented request shapes", () => {
  it("should send email through Resend with the API key, fields and an idempotency key", async () => {
    const m = message({});
    await resend(providerEnv(), m, Date.now());
    const r = await last("resend");
    expect(r.status).toBe(200);
    expect(r.headers.authorization).toBe("Bearer re_test_123");
    expect(r.headers["idempotency-key"]).toBe(`nudge-message/${m.messageId}`);
    expect(r.body).toMatchObject({
      from: "Wavelength <shop@example.com>",
      to: ["ada@example.com"],
      subject: "Your cart",
      html: "<p>Hi</p>",
      text: "Hi",
    });
    expect((r.body as { headers: Record<string, string> }).headers["List-Unsubscribe-Post"]).toBe(
      "List-Unsubscribe=One-Click",
    );
  });

  it("should send email through Postmark with the server token and the broadcast stream", async () => {
    await postmark(providerEnv(), message({}), Date.now());
    const r = await last("postmark");
    expect(r.status).toBe(200);
    expect(r.headers["x-postmark-server-token"]).toBe("pm-server-token");
    expect(r.body).toMatchObject({
      From: "Wavelength <shop@example.com>",
      To: "ada@example.com",
      HtmlBody: "<p>Hi</p>",
      TextBody: "Hi",
      MessageStream: "broadcast",
    });
    expect((r.body as { Headers: unknown[] }).Headers).toContainEqual({
      Name: "List-Unsubscribe-Post",
      Value: "List-Unsubscribe=One-Click",
    });
  });

  it("should text and call through Twilio with Basic auth, form fields and inline TwiML", async () => {
    await twilioSms(
      providerEnv(),
      message({ channel: "sms", to: "+447700900123", text: "Your cart is waiting" }),
      Date.now(),
    );
    const sms = await last("twilio");
    expect(sms.status).toBe(200);
    expect(sms.path).toBe("/twilio/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
    expect(sms.body).toEqual({ To: "+447700900123", From: "+441234567890", Body: "Your cart is waiting" });

    const say = twiml("Hello <Ada> & friends", "fr");
    await twilioCall(providerEnv(), message({ channel: "call", to: "+447700900123", twiml: say }), Date.now());
    const call = await last("twilio");
    expect(call.status).toBe(200);
    expect(call.path).toMatch(/\/Calls\.json$/);
    expect((call.body as { Twiml: string }).Twiml).toContain(
      '<Say language="fr-FR">Hello &lt;Ada&gt; &amp; friends</Say>',
    );
  });

  it("should sign webhooks so the receiver can verify them", async () => {
    const body = JSON.stringify({ campaign: "callback", contact: { phone: "+33612345678" } });
    const hook = (signingSecret: string) =>
      message({ channel: "webhook", to: `${fakes}/webhook/team`, text: body, signingSecret });
    const at = Date.now();
    await webhook(providerEnv(), hook(WEBHOOK_SECRET), at);
    const r = await last("webhook");
    expect(r.status).toBe(200); // the fake recomputed the HMAC and accepted it
    expect(r.body).toBe(body);
    expect(r.headers["x-nudge-signature"]).toMatch(new RegExp(`^t=${Math.floor(at / 1000)},v1=[0-9a-f]{64}$`));
    await expect(webhook(providerEnv(), hook("wrong"), Date.now())).rejects.toThrow(/^Webhook answered 422$/);
  });

  it("should fail loudly when a provider rejects the credentials", async () => {
    await expect(resend({ ...providerEnv(), RESEND_API_KEY: "nope" }, message({}), Date.now())).rejects.toThrow(
      /Resend answered 401/,
    );
  });

  it("should retry a provider's 500s with backoff, then dead-letter the message with the reason", async () => {
    await putCampaign("outage", {
      trigger: { type: "event", events: ["Outage Test"] },
      steps: [{ delay: 0, template: "welcome" }],
    });
    const ok = `${uid("ok")}@example.com`;
    const failing = `${uid("fail500")}@example.com`;
    for (const email of [ok, failing]) {
      const anonymousId = uid("anon");
      await send([
        { type: "identify", anonymousId, traits: { email } },
        { type: "track", anonymousId, event: "Outage Test", properties: {} },
      ]);
    }
    let at = (await clock()) + 1000;
    const e = providerEnv();
    for (let i = 0; i < MAX_ATTEMPTS + 2; i++) {
      await sweep(e, at);
      at += 60 * 60_000;
    }
    const rows = await messagesOf("outage");
    const dead = rows.find((r) => r.status === "dead");
    expect(rows.find((r) => r.email === ok)?.status).toBe("sent");
    expect(dead?.reason).toMatch(/^dead after 5 attempts: Resend answered 500/);
    const tries = (await requests()).filter(
      (r) => r.provider === "resend" && (r.body as { to: string[] }).to[0] === failing,
    );
    expect(tries).toHaveLength(MAX_ATTEMPTS);
    // Every retry carried the same idempotency key, so a provider that did accept one delivers once.
    expect(new Set(tries.map((t) => t.headers["idempotency-key"])).size).toBe(1);
  });

  it("should notify the merchant's team of a callback request through a signed webhook step", async () => {
    // Signed with the demo site's own secret, which the receiver knows (registered with the fake).
    const path = `/webhook/${uid("team")}`;
    const { secret } = await webhookSecret(env.DB, "demo");
    await fetch(`${fakes}/__secrets`, { method: "POST", body: JSON.stringify({ path, secret }) });
    await putCampaign("callback-team", {
      trigger: { type: "event", events: ["Callback Requested"] },
      steps: [{ delay: 0, channel: "webhook", url: `${fakes}${path}`, template: "callback_sms" }],
    });
    await send([
      {
        type: "track",
        anonymousId: uid("anon"),
        event: "Callback Requested",
        properties: { phone: "+33612345678", preferred_time: "9–11" },
      },
    ]);
    await sweep(providerEnv(), (await clock()) + 1000);
    const hook = (await requests())
      .filter((r) => r.provider === "webhook" && String(r.body).includes("callback-team"))
      .at(-1);
    expect(hook?.status).toBe(200);
    expect(JSON.parse(String(hook?.body))).toMatchObject({
      campaign: "callback-team",
      step: 1,
      data: { phone: "+33612345678", window: "9–11" },
    });
    expect((await messagesOf("callback-team"))[0]?.status).toBe("sent");
  });
});
