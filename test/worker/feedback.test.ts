import { createHmac } from "node:crypto";
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../worker/src/env";
import { app } from "../../worker/src/index";
import { prune } from "../../worker/src/jobs/retention";
import { sweep } from "../../worker/src/jobs/sweep";
import { canonical, suppress, suppressionHash, suppressionOf } from "../../worker/src/model/suppressions";
import { advance, BASE, mailbox, messagesOf, SECRET, shopperWithCart, twilioSigned, uid } from "./helpers";

const RESEND_SECRET = `whsec_${btoa("resend-webhook-signing-key-0123")}`;
const TWILIO_TOKEN = "twilio-auth-token-test";
const feedbackEnv: Env = {
  ...env,
  RESEND_WEBHOOK_SECRET: RESEND_SECRET,
  POSTMARK_WEBHOOK_AUTH: "postmark:hook-password",
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
};

const post = (path: string, body: string, headers: Record<string, string>) =>
  app.request(`${BASE}/v1/feedback/${path}`, { method: "POST", body, headers }, feedbackEnv);

/** Signed the way Svix signs Resend's webhooks (an independent implementation: node's crypto). */
function svix(body: string, at = Date.now(), secret = RESEND_SECRET) {
  const id = `msg_${uid("svix")}`;
  const timestamp = String(Math.floor(at / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const sig = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return {
    "content-type": "application/json",
    "svix-id": id,
    "svix-timestamp": timestamp,
    "svix-signature": `v1,bm90IGl0 v1,${sig}`,
  };
}

const suppression = async (siteId: string, address: string) =>
  env.DB.prepare(`SELECT reason FROM suppressions WHERE site_id = ? AND hash = ?`)
    .bind(siteId, await suppressionHash(address))
    .first<{ reason: string }>();

describe("provider feedback becomes suppressions", () => {
  it("should suppress a Resend bounce, and cancel the next mail to that address", async () => {
    const email = `${uid("bounce")}@example.com`;
    await shopperWithCart(email);
    const body = JSON.stringify({
      type: "email.bounced",
      created_at: new Date().toISOString(),
      data: { email_id: "e1", to: [email.toUpperCase()], subject: "Your cart" },
    });
    const res = await post("resend/demo", body, svix(body));
    expect(res.status).toBe(200);
    expect(await suppression("demo", email)).toEqual({ reason: "bounced" });
    // Only the hash is kept.
    const rows = JSON.stringify(await env.DB.prepare(`SELECT * FROM suppressions`).all());
    expect(rows).not.toContain(email);

    await advance(2 * 3600_000);
    const mine = (await messagesOf("abandoned_cart")).filter((m) => m.email === email);
    expect(mine.map((m) => [m.status, m.reason])).toEqual([["cancelled", "suppressed: bounced"]]);
  });

  it("should refuse unsigned, mis-signed, altered and stale Resend requests", async () => {
    const email = `${uid("forged")}@example.com`;
    const body = JSON.stringify({ type: "email.complained", data: { to: [email] } });
    const cases: [string, Record<string, string>][] = [
      ["unsigned", { "content-type": "application/json" }],
      ["wrong key", svix(body, Date.now(), `whsec_${btoa("another-key-entirely-00")}`)],
      ["altered", svix(body.replace("complained", "bounced"))],
      ["stale", svix(body, Date.now() - 10 * 60_000)],
    ];
    for (const [what, headers] of cases) expect((await post("resend/demo", body, headers)).status, what).toBe(401);
    expect(await suppression("demo", email)).toBeNull();
    expect((await post("resend/demo", body, svix(body))).status).toBe(200);
    expect(await suppression("demo", email)).toEqual({ reason: "complained" });
  });

  it("should take Postmark hard bounces and spam complaints with the webhook's basic auth only", async () => {
    const hard = `${uid("pm")}@example.com`;
    const soft = `${uid("pm")}@example.com`;
    const auth = { "content-type": "application/json", authorization: `Basic ${btoa("postmark:hook-password")}` };
    const bounce = (email: string, type: string) => JSON.stringify({ RecordType: "Bounce", Type: type, Email: email });
    const wrong = { ...auth, authorization: `Basic ${btoa("postmark:guess")}` };
    expect((await post("postmark/demo", bounce(hard, "HardBounce"), wrong)).status).toBe(401);
    expect(await suppression("demo", hard)).toBeNull();
    expect((await post("postmark/demo", bounce(hard, "HardBounce"), auth)).status).toBe(200);
    expect((await post("postmark/demo", bounce(soft, "SoftBounce"), auth)).status).toBe(200);
    expect(await suppression("demo", hard)).toEqual({ reason: "bounced" });
    expect(await suppression("demo", soft)).toBeNull();
    const spam = JSON.stringify({ RecordType: "SpamComplaint", Type: "SpamComplaint", Email: soft });
    expect((await post("postmark/demo", spam, auth)).status).toBe(200);
    expect(await suppression("demo", soft)).toEqual({ reason: "complained" });
  });

  it("should take a Twilio STOP only with a valid X-Twilio-Signature", async () => {
    const phone = `+4477009${String(Date.now()).slice(-5)}`;
    const url = `${BASE}/v1/feedback/twilio/demo`;
    const params = { MessageSid: "SM1", AccountSid: "AC1", From: phone, To: "+441234567890", Body: " stop " };
    const { body, signature } = twilioSigned(url, params, TWILIO_TOKEN);
    const form = { "content-type": "application/x-www-form-urlencoded" };
    expect((await post("twilio/demo", body, { ...form, "x-twilio-signature": "AAAA" })).status).toBe(401);
    expect(
      (await post("twilio/demo", body.replace("stop", "hello"), { ...form, "x-twilio-signature": signature })).status,
    ).toBe(401);
    expect(await suppression("demo", phone)).toBeNull();
    const ok = await post("twilio/demo", body, { ...form, "x-twilio-signature": signature });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("<Response/>");
    expect(await suppression("demo", phone)).toEqual({ reason: "stop" });
  });
});

describe("retention", () => {
  const DAY = 86_400_000;

  it("should prune events, messages and outbox copies past the site's period in bounded batches, keeping aggregates", async () => {
    const res = await app.request(
      `${BASE}/v1/operator/sites`,
      {
        method: "POST",
        headers: { authorization: "Bearer test-operator-token", "content-type": "application/json" },
        body: JSON.stringify({ name: "Old shop", url: "https://old.example", retentionDays: 30 }),
      },
      env,
    );
    const { site } = await res.json<{ site: { id: string } }>();
    const now = Date.now();
    const old = now - 40 * DAY;
    const recent = now - 10 * DAY;
    const db = env.DB;
    const event = (id: string, at: number) =>
      db
        .prepare(
          `INSERT INTO events (site_id, message_id, type, event, contact_id, timestamp, received_at, processed)
           VALUES (?, ?, 'track', 'Product Viewed', 'c1', ?, ?, 1)`,
        )
        .bind(site.id, id, at, at);
    const message = (id: number, at: number, status: string) =>
      db
        .prepare(
          `INSERT INTO messages (id, site_id, contact_id, campaign, step, channel, dedupe_key, due_at, status, created_at)
           VALUES (?, ?, 'c1', 'x', 1, 'email', ?, ?, ?, ?)`,
        )
        // A pending one is due tomorrow (scheduled long ago, still waiting: a date campaign).
        .bind(id, site.id, `retention:${site.id}:${id}`, status === "pending" ? now + DAY : at, status, at);
    const copy = (id: number, at: number) =>
      db
        .prepare(
          `INSERT INTO outbox (message_id, site_id, channel, recipient, subject, html, text, created_at)
           VALUES (?, ?, 'email', 'a@example.com', 's', 'h', 't', ?)`,
        )
        .bind(id, site.id, at);
    const base = 9_000_000 + Math.floor(Math.random() * 1_000_000);
    await db.batch([
      db
        .prepare(`INSERT INTO contacts (site_id, id, first_seen, last_seen) VALUES (?, 'c1', ?, ?)`)
        .bind(site.id, old, recent),
      event("old-1", old),
      event("old-2", old),
      event("old-3", old),
      event("new-1", recent),
      message(base, old, "sent"),
      message(base + 1, old, "pending"), // not settled: kept
      message(base + 2, recent, "sent"),
      copy(base, old),
    ]);
    const count = async (table: string) =>
      (await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE site_id = ?`).bind(site.id).first<{ n: number }>())
        ?.n;

    expect(await prune(db, now, 2)).toEqual({ events: 2, messages: 1, outbox: 1, contexts: 0 });
    expect(await count("events")).toBe(2);
    // The sweep prunes the rest (and nothing recent, nothing unsettled).
    await sweep(env, now);
    expect(await count("events")).toBe(1);
    expect(await count("outbox")).toBe(0);
    const left = await db.prepare(`SELECT id FROM messages WHERE site_id = ? ORDER BY id`).bind(site.id).all();
    expect(left.results).toEqual([{ id: base + 1 }, { id: base + 2 }]);
    expect(await count("contacts")).toBe(1);
  });
});

describe("one mailbox, many spellings", () => {
  it("should store a suppression by mailbox, so +tags, Gmail dots and googlemail.com stay suppressed", async () => {
    expect(canonical(" Vic.Tim+promo@GoogleMail.com ")).toBe("victim@gmail.com");
    expect(canonical("vic.tim+x@example.com")).toBe("vic.tim@example.com");
    expect(canonical("+44 (0)7700-900.123")).toBe("+4407700900123");
    const siteId = "demo";
    const base = `vic.tim.${uid("s").replace(/[^a-z0-9]/g, "")}`;
    await suppress(env.DB, siteId, [`${base}@gmail.com`], "complained", Date.now());
    for (const variant of [
      `${base}@gmail.com`,
      `${base.replace(/\./g, "")}+again@googlemail.com`,
      `${base.toUpperCase()}+x@GMAIL.com`,
    ])
      expect(await suppressionOf(env.DB, siteId, variant), variant).toBe("complained");
    expect(await suppressionOf(env.DB, siteId, `${base}@example.com`)).toBeNull();
  });

  it("should keep the next reminder from reaching an erased, unsubscribed shopper's address written another way", async () => {
    const local = `ann.${uid("g").replace(/[^a-z0-9]/g, "")}`;
    const email = `${local}@gmail.com`;
    await shopperWithCart(email);
    await advance(2 * 3600_000);
    // She unsubscribes, then asks to be erased.
    await env.DB.prepare(`UPDATE contacts SET unsubscribed = 1 WHERE site_id = 'demo' AND email = ?`).bind(email).run();
    const { contact } = await (
      await SELF.fetch(`${BASE}/v1/admin/contacts?email=${encodeURIComponent(email)}`, { headers: SECRET })
    ).json<{ contact: { id: string } }>();
    expect(
      (await SELF.fetch(`${BASE}/v1/admin/contacts/${contact.id}`, { method: "DELETE", headers: SECRET })).status,
    ).toBe(200);
    // A script (or she, absent-mindedly) comes back with the same mailbox spelt differently.
    const variant = `${local.replace(/\./g, "")}+shop@googlemail.com`;
    await shopperWithCart(variant);
    await advance(2 * 3600_000);
    expect(await mailbox(variant, "abandoned_cart")).toEqual([]);
  });
});
