import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enqueue } from "../../worker/src/ingest/inbox";
import type { Message } from "../../worker/src/model/events";
import { mintCoupon } from "../../worker/src/model/coupons";
import {
  advance,
  advanceToLocal,
  BASE,
  clock,
  listProduct,
  mailbox,
  messagesOf,
  post,
  product,
  SECRET,
  send,
  sendAsServer,
  shopperWithCart,
  unwrap,
  uid,
} from "./helpers";

const HOUR = 3600_000;

const DAY = 24 * HOUR;

/** Every scenario of the catalogue, driven by the dev clock on the demo site (all templates enabled). */
describe("campaign scenarios", () => {
  it("should run abandoned cart as email, email with a coupon, a callback-offer SMS, then an automated call", async () => {
    await advanceToLocal(10);
    const email = `${uid("chain")}@example.com`;
    const anonymousId = uid("anon");
    // The number comes from the merchant's server (secret key): a browser's own `identify { phone }`
    // is never texted (trust-costs.test.ts).
    const server = await post(
      "/v1/batch",
      {
        batch: [
          {
            type: "identify",
            messageId: uid("m"),
            anonymousId,
            traits: { email, name: "Ada", phone: "+447700900123" },
          },
        ],
      },
      SECRET,
    );
    expect(server.status).toBe(200);
    await send([{ type: "track", anonymousId, event: "Product Added", properties: product("E7247") }]);
    await advance(2 * HOUR);
    expect((await mailbox(email, "abandoned_cart")).map((m) => m.step)).toEqual([1]);

    await advance(DAY);
    const [second] = await mailbox(email, "abandoned_cart");
    expect(second?.step).toBe(2);
    const code = second?.text.match(/Your code: (\S+)/)?.[1] ?? "";
    const coupon = await env.DB.prepare(`SELECT promotion_id, contact_id, max_uses FROM coupons WHERE code = ?`)
      .bind(code)
      .first<{ promotion_id: string; contact_id: string; max_uses: number }>();
    expect(coupon?.promotion_id).toBe("exit-intent-10");
    expect(coupon?.max_uses).toBe(1);

    await advance(DAY);
    const sms = (await mailbox("+447700900123", "abandoned_cart"))[0];
    expect(sms?.channel).toBe("sms");
    expect(sms?.text).toContain("you left 1 item in your cart. Questions? Reply CALL or tap to be called back:");
    expect(sms?.text.length).toBeLessThanOrEqual(306); // two concatenated GSM-7 segments
    expect(sms?.text).toMatch(/\/v1\/links\/callback\?t=\S+$/); // flows.test.ts follows it

    await advance(DAY);
    const call = (await mailbox("+447700900123", "abandoned_cart"))[0];
    expect(call?.channel).toBe("call");
    expect(call?.html).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?><Response><Say language="en-GB">Hello Ada, this is Wavelength\./,
    );
    // The reminders went out, so the call may say so (flows.test.ts: a call with none before does not).
    expect(call?.text).toContain("You left 1 item in your cart. We have sent you a link to finish your order.");
    expect(
      await messagesOf("abandoned_cart").then((r) => r.filter((m) => m.email === email).map((m) => m.status)),
    ).toEqual(["sent", "sent", "sent", "sent"]);
    void anonymousId;
  });

  it("should put the shopper's unused exit-intent code in the coupon reminder instead of a new one", async () => {
    const email = `${uid("exit")}@example.com`;
    const anonymousId = uid("anon");
    // The exit-intent popup minted a code for this browser before the shopper was known.
    const code = await mintCoupon(env.DB, {
      siteId: "demo",
      promotionId: "exit-intent-10",
      anonymousId,
      source: "exit_intent",
      now: Date.now(),
    });
    await send([
      { type: "track", anonymousId, event: "Product Added", properties: product("E7247") },
      { type: "identify", anonymousId, traits: { email } },
    ]);
    await advance(2 * HOUR);
    await advance(DAY);
    const [second] = await mailbox(email, "abandoned_cart");
    expect(second?.step).toBe(2);
    expect(second?.text).toContain(`Your code: ${code}`);
  });

  it("should send browse abandonment the next day with the viewed product, unless they added it", async () => {
    await advanceToLocal(10);
    const viewer = `${uid("browse")}@example.com`;
    const adder = `${uid("browse-add")}@example.com`;
    for (const email of [viewer, adder]) {
      const anonymousId = uid("anon");
      await send([
        { type: "identify", anonymousId, traits: { email, name: "Bo" } },
        {
          type: "track",
          anonymousId,
          event: "Product Viewed",
          properties: { ...product("H100", 25.5), url: `${BASE}/p/H100` },
        },
        ...(email === adder
          ? [{ type: "track", anonymousId, event: "Product Added", properties: product("H100", 25.5) }]
          : []),
      ]);
    }
    await advance(HOUR);
    expect(await mailbox(viewer, "browse_abandonment")).toHaveLength(0);
    await advance(DAY);
    const [mail] = await mailbox(viewer, "browse_abandonment");
    expect(mail?.subject).toBe("Still interested in Product H100?");
    expect(mail?.html).toContain("£25.50");
    expect(mail?.text).toMatch(/Your code: [2-9A-Z]{4}-/);
    expect(await unwrap(mail?.text.match(/Take another look: (\S+)/)?.[1] ?? "")).toBe(`${BASE}/p/H100`);
    expect(await mailbox(adder, "browse_abandonment")).toHaveLength(0);
  });

  it("should time a journey from its event, even when the event was applied hours later from the inbox", async () => {
    await advanceToLocal(10);
    const viewedAt = await clock();
    const anonymousId = uid("anon");
    const email = `${uid("late")}@example.com`;
    // The request could not apply the batch (a D1 error, or INGEST_PROCESSING=sweep): it waits in the inbox.
    const msg = (event: Record<string, unknown>, i: number) => ({
      messageId: uid("m"),
      anonymousId,
      userId: null,
      previousId: null,
      properties: {},
      traits: {},
      context: {},
      timestamp: viewedAt + i,
      source: "browser" as const,
      ...event,
    });
    await enqueue(
      env.DB,
      "demo",
      [
        msg({ type: "identify", traits: { email } }, 0),
        msg({ type: "track", event: "Product Viewed", properties: product("H100", 25.5) }, 1),
      ] as Message[],
      viewedAt,
    );
    // Applied by the sweep six hours later: the reminder is still due a day after the view.
    await advance(6 * HOUR);
    const [row] = (await messagesOf("browse_abandonment")).filter((m) => m.email === email);
    expect(row?.due_at).toBe(viewedAt + 1 + DAY);
  });

  it("should confirm a payment with related products right after the order", async () => {
    const email = `${uid("buyer")}@example.com`;
    const anonymousId = uid("anon");
    const sister = uid("SPK");
    await listProduct(sister, "Sister speaker", 9900, "speakers");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      {
        type: "track",
        anonymousId,
        event: "Product Viewed",
        properties: { ...product("SPK-1"), category: "speakers" },
      },
      {
        type: "track",
        anonymousId,
        event: "Product Viewed",
        properties: { ...product(sister, 99), name: "Sister speaker", category: "speakers" },
      },
      // A product only a browser ever described: never recommended to anyone.
      {
        type: "track",
        anonymousId: uid("stranger"),
        event: "Product Viewed",
        properties: { ...product(uid("FAKE")), name: "Pay the customs fee at evil.test", category: "speakers" },
      },
    ]);
    // The store's server reports the payment: a confirmation confirms what the merchant said.
    await sendAsServer([
      {
        type: "track",
        anonymousId,
        event: "Order Completed",
        properties: { order_id: uid("o"), total: 79, products: [product("SPK-1")] },
      },
    ]);
    await advance(60_000);
    const [mail] = await mailbox(email, "cross_sell");
    expect(mail?.subject).toBe("Thank you for your order");
    expect(mail?.html).toContain("Sister speaker");
    // Nobody else bought SPK-1: the mail says the pick is by category, not "also bought".
    expect(mail?.text).toContain("More from the same category:\n- Sister speaker: £99.00");
    expect(mail?.text).not.toContain("also bought");
    expect(mail?.html).not.toContain("customs fee");
    expect(mail?.html).not.toContain(">Product SPK-1<");
  });

  it("should welcome an account the store reports once, in its language, with the welcome coupon, and no address a browser names", async () => {
    const email = `${uid("new")}@example.com`;
    const anonymousId = uid("anon");
    // A browser saying so mails no one: any script can name any address with the public key.
    const stranger = `${uid("stranger")}@example.com`;
    await send([
      { type: "identify", anonymousId: uid("script"), traits: { email: stranger, name: "Pay at evil.test" } },
      { type: "track", anonymousId: uid("script"), event: "Signed Up", properties: {} },
    ]);
    await send([{ type: "identify", anonymousId, traits: { email, name: "Zoé", locale: "fr-FR" } }]);
    // The store's server reports the account (twice, as a retry would: one welcome).
    await sendAsServer([
      { type: "track", anonymousId, event: "Signed Up", properties: {} },
      { type: "track", anonymousId, event: "Signed Up", properties: {} },
    ]);
    await advance(60_000);
    expect(await mailbox(stranger, "welcome")).toEqual([]);
    const mails = await mailbox(email, "welcome");
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toBe("Bienvenue chez Wavelength");
    expect(mails[0]?.html).toContain('<html lang="fr">');
    const code = mails[0]?.text.match(/Votre code: (\S+)/)?.[1] ?? "";
    const row = await env.DB.prepare(`SELECT promotion_id FROM coupons WHERE code = ?`).bind(code).first();
    expect(row).toEqual({ promotion_id: "welcome-10" });
  });

  it("should reward a contact the moment their 12-month spend crosses the threshold, once", async () => {
    const email = `${uid("vip")}@example.com`;
    const anonymousId = uid("anon");
    const order = (total: number) => ({
      type: "track",
      anonymousId,
      event: "Order Completed",
      properties: { order_id: uid("o"), total },
    });
    // Spend is what the merchant's server reports (a browser's word earns no reward: trust-money.test.ts).
    await sendAsServer([{ type: "identify", anonymousId, traits: { email } }, order(300)]);
    await advance(60_000);
    expect(await mailbox(email, "loyalty")).toHaveLength(0);
    await sendAsServer([order(250)]); // 550 ≥ 500
    await advance(60_000);
    await sendAsServer([order(100)]);
    await advance(60_000);
    const mails = await mailbox(email, "loyalty");
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toBe("A personal thank-you from Wavelength");
  });

  it("should send the referral offer to the friend, not the sharer, and only once per friend", async () => {
    const sharer = `${uid("sharer")}@example.com`;
    const friend = `${uid("friend")}@example.com`;
    const anonymousId = uid("anon");
    // Through the send-to-friend widget: a Product Shared sent to /v1/batch mails nobody (trust-costs.test.ts).
    await send([
      { type: "identify", anonymousId, traits: { email: sharer } },
      { type: "track", anonymousId, event: "Product Viewed", properties: product("E7247") },
    ]);
    const share = () =>
      post("/v1/onsite/friend", {
        key: "pk_demo",
        anonymousId,
        requestId: uid("r"),
        productId: "E7247",
        friendEmail: friend,
        senderName: "Ada <b>",
        consent: true,
        consentText: "My friend knows me.",
      });
    expect((await share()).status).toBe(200);
    expect((await share()).status).toBe(200);
    await advance(60_000);
    const mails = await mailbox(friend, "referral");
    expect(mails).toHaveLength(1);
    // E7247 is not in the merchant's catalogue here: its name is not a browser's to give.
    expect(mails[0]?.subject).toBe("Ada <b> thinks you'll like E7247");
    expect(mails[0]?.html).toContain("Ada &lt;b&gt;");
    expect(await mailbox(sharer, "referral")).toHaveLength(0);
  });

  it("should confirm a callback request by SMS to the number given", async () => {
    const res = await post("/v1/onsite/callback", {
      key: "pk_demo",
      anonymousId: uid("anon"),
      requestId: uid("r"),
      phone: "+44 20 7946 0321",
      window: "morning",
      consent: true,
      consentText: "Call me about my request.",
    });
    expect(res.status).toBe(200);
    await advance(60_000);
    const [sms] = await mailbox("+442079460321", "callback_confirmation");
    expect(sms?.channel).toBe("sms");
    expect(sms?.text).toBe("Wavelength: thank you, we will call you back in the morning.");
  });

  it("should greet a segment on a date and win back the inactive at night", async () => {
    const her = `${uid("her")}@example.com`;
    const him = `${uid("him")}@example.com`;
    for (const [email, gender] of [
      [her, "female"],
      [him, "male"],
    ])
      await send([{ type: "identify", anonymousId: uid("anon"), traits: { email, gender } }]);
    const start = await advanceToLocal(9);
    const at = new Date(Date.parse(start.now) + HOUR).toISOString(); // 10:00 in London
    const auth = { authorization: "Bearer sk_demo" };
    expect(
      (await post("/v1/admin/campaigns/templates/holiday/enable", { trigger: { type: "date", at } }, auth)).status,
    ).toBe(201);
    expect(
      (
        await post(
          "/v1/admin/campaigns/templates/win_back/enable",
          { trigger: { type: "date", at }, holdoutPercent: 0 },
          auth,
        )
      ).status,
    ).toBe(201);
    await advance(30 * 60_000);
    expect(await mailbox(her, "holiday")).toHaveLength(0);

    // The date comes: the greeting goes to the segment at once, the win-back waits for the night.
    await advance(HOUR);
    expect(await mailbox(her, "holiday")).toHaveLength(1);
    expect(await mailbox(him, "holiday")).toHaveLength(0);
    const pending = (await messagesOf("win_back")).find((m) => m.email === her);
    expect(pending?.status).toBe("pending");
    expect(pending?.reason).toMatch(/^quiet hours/);
    const local = Number(
      new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", hour: "numeric", hourCycle: "h23" }).format(
        pending?.due_at,
      ),
    );
    expect(local).toBe(1);
    await advanceToLocal(0);
    expect(await mailbox(her, "win_back")).toHaveLength(0);
    await advanceToLocal(1); // the cron runs every minute; this is its run at 01:00
    expect(await mailbox(her, "win_back")).toHaveLength(1);
    expect(await mailbox(him, "win_back")).toHaveLength(1); // never bought
  });

  it("should stop everything when the contact unsubscribes", async () => {
    await advanceToLocal(10);
    const email = `${uid("stop")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await send([{ type: "track", anonymousId, event: "Product Viewed", properties: product("H100") }]);
    await advance(2 * HOUR);
    const [mail] = await mailbox(email, "abandoned_cart");
    const link = mail?.text.match(/Unsubscribe: (\S+)/)?.[1] ?? "";
    const res = await post(link.replace("http://127.0.0.1:8787", ""), "List-Unsubscribe=One-Click", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(res.status).toBe(200);
    await send([{ type: "track", anonymousId, event: "Newsletter Subscribed", properties: {} }]);
    await advance(10 * DAY);
    expect((await mailbox(email)).map((m) => m.campaign)).toEqual(["abandoned_cart"]);
    const rows = (await Promise.all(["abandoned_cart", "browse_abandonment", "welcome"].map(messagesOf)))
      .flat()
      .filter((m) => m.email === email);
    expect(rows.filter((m) => m.status === "pending")).toEqual([]);
    expect(rows.filter((m) => m.status === "cancelled").map((m) => m.reason)).toContain("unsubscribed");
  });
});
