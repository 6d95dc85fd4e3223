import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { items } from "../../worker/src/campaigns/messages";
import type { Env } from "../../worker/src/env";
import { app } from "../../worker/src/index";
import {
  advance,
  advanceToLocal,
  BASE,
  listProduct,
  mailbox,
  messagesOf,
  post,
  product,
  putCampaign,
  SECRET,
  send,
  sendAsServer,
  twilioSigned,
  uid,
  unwrap,
} from "./helpers";

/**
 * Issue 18, Carts Guru's flows and the touchpoints after an order, on the demo site (every built-in
 * template enabled): the callback offer (link form and SMS reply), the one-tap "why did you leave?",
 * the payment-failure email and call, order confirmation and shipping status with their cross-sell
 * block, post-purchase content then a next-purchase code, and real plurals.
 */

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TWILIO_TOKEN = "twilio-auth-token-flows";

let phones = 0;
/** A fresh UK mobile number (Ofcom's drama range) per call. */
const phone = () => `+4477009${String(Date.now() + ++phones).slice(-5)}`;

/** A shopper whose phone came from the merchant's server (so it may be texted), with `items` in the cart. */
async function cartWithPhone(email: string, tel: string, cart = [product("E7247")]) {
  const anonymousId = uid("anon");
  await post(
    "/v1/batch",
    { batch: [{ type: "identify", messageId: uid("m"), anonymousId, traits: { email, name: "Ada", phone: tel } }] },
    SECRET,
  );
  await send(cart.map((p) => ({ type: "track", anonymousId, event: "Product Added", properties: p })));
  return anonymousId;
}

type Results = {
  responses: { leaveReasons: Record<string, number>; callbacks: { link: number; reply: number } };
};
const results = async (campaign: string) =>
  (await SELF.fetch(`${BASE}/v1/admin/campaigns/${campaign}/results`, { headers: SECRET })).json<Results>();

type Callback = { id: number; phone: string; via: string; message_id: number | null; email: string | null };
const callbacks = async () =>
  (await (await SELF.fetch(`${BASE}/v1/admin/callbacks`, { headers: SECRET })).json<{ callbacks: Callback[] }>())
    .callbacks;

/** Submits the callback form as a browser would (URL-encoded). */
const submit = (token: string, tel: string) =>
  SELF.fetch(`${BASE}/v1/links/callback`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ t: token, phone: tel }).toString(),
  });

/** Runs the abandoned-cart journey up to its third step, the callback-offer SMS; returns its text. */
async function callbackOffer(email: string, tel: string) {
  await advanceToLocal(10);
  await cartWithPhone(email, tel);
  await advance(2 * HOUR);
  await advance(DAY);
  await advance(DAY);
  const [sms] = await mailbox(tel, "abandoned_cart");
  expect(sms?.channel).toBe("sms");
  return sms?.text ?? "";
}

/** An inbound SMS as Twilio posts it to the site's feedback URL, signed. */
async function reply(from: string, text: string) {
  const url = `${BASE}/v1/feedback/twilio/demo`;
  const { body, signature } = twilioSigned(
    url,
    { MessageSid: uid("SM"), AccountSid: "AC1", From: from, To: "+441234567890", Body: text },
    TWILIO_TOKEN,
  );
  const ctx = createExecutionContext();
  const res = await app.request(
    url,
    {
      method: "POST",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    },
    { ...env, TWILIO_AUTH_TOKEN: TWILIO_TOKEN } satisfies Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("plurals", () => {
  it.each([
    ["en", 0, "0 items"],
    ["en", 1, "1 item"],
    ["en", 2, "2 items"],
    ["fr", 0, "0 article"],
    ["fr", 1, "1 article"],
    ["fr", 2, "2 articles"],
    ["ru", 1, "1 товар"],
    ["ru", 2, "2 товара"],
    ["ru", 5, "5 товаров"],
    ["ru", 11, "11 товаров"],
    ["ru", 21, "21 товар"],
    ["ru", 22, "22 товара"],
    ["ru", 25, "25 товаров"],
  ] as const)("should say %s %i as %s", (locale, n, said) => {
    expect(items(locale, n)).toBe(said);
  });

  it("should count a Russian shopper's cart in the reminder's subject by Russian rules", async () => {
    const email = `${uid("ru")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email, locale: "ru-RU" } },
      ...["A1", "A2"].map((id) => ({ type: "track", anonymousId, event: "Product Added", properties: product(id) })),
    ]);
    await advance(2 * HOUR);
    const [mail] = await mailbox(email, "abandoned_cart");
    expect(mail?.subject).toBe("Вы оставили в корзине 2 товара");
  });
});

describe("why did you leave?", () => {
  it("should ask in the reminder with one-tap answers, record the tap and count it in the campaign's results", async () => {
    const email = `${uid("why")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: "Product Added", properties: product("E7247") },
    ]);
    await advance(2 * HOUR);
    const [mail] = await mailbox(email, "abandoned_cart");
    expect(mail?.html).toContain("Not for you this time? Tell us why in one tap:");
    const link = (label: string) => mail?.text.match(new RegExp(`- ${label}: (\\S+)`))?.[1] ?? "";
    expect(link("Too expensive")).toMatch(/\/v1\/links\/reason\?t=/);
    const before = (await results("abandoned_cart")).responses.leaveReasons;

    const tap = await SELF.fetch(link("Delivery cost or time"));
    expect(tap.status).toBe(200);
    expect(await tap.text()).toContain("You told us: delivery cost or time.");
    let after = (await results("abandoned_cart")).responses.leaveReasons;
    expect(after.shipping).toBe((before.shipping ?? 0) + 1);

    // A second tap changes the answer: one answer per message.
    expect((await SELF.fetch(link("Too expensive"))).status).toBe(200);
    after = (await results("abandoned_cart")).responses.leaveReasons;
    expect(after.shipping).toBe(before.shipping ?? 0);
    expect(after.price).toBe((before.price ?? 0) + 1);

    // An edited token is no answer.
    const forged = `${link("Just looking").slice(0, -3)}AAA`;
    expect((await SELF.fetch(forged)).status).toBe(400);
    expect((await results("abandoned_cart")).responses.leaveReasons.browsing).toBe(before.browsing ?? 0);
  });
});

describe("callback offer", () => {
  it("should open a one-field form from the SMS, phone filled in, and record one callback the merchant sees", async () => {
    const email = `${uid("offer")}@example.com`;
    const tel = phone();
    const text = await callbackOffer(email, tel);
    const url = text.match(/(http\S+\/v1\/links\/callback\S+)/)?.[1] ?? "";
    const token = new URL(url).searchParams.get("t") ?? "";
    const before = (await results("abandoned_cart")).responses.callbacks.link;

    const form = await SELF.fetch(url);
    expect(form.status).toBe(200);
    const page = await form.text();
    expect(page).toContain(`value="${tel}"`);
    expect(page.match(/<input(?![^>]*type="hidden")[^>]*>/g)).toHaveLength(1); // one field
    expect(page).toContain("/v1/links/restore?t="); // or back to the cart
    // The tap counts as the SMS's click.
    const [sms] = (await messagesOf("abandoned_cart")).filter((m) => m.email === email && m.step === 3);
    const clicked = await env.DB.prepare(`SELECT clicked_at FROM messages WHERE id = ?`)
      .bind(sms?.id)
      .first<{ clicked_at: number | null }>();
    expect(clicked?.clicked_at).not.toBeNull();

    // A number it cannot call is refused with the reason, on the same form.
    const bad = await submit(token, "12345");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('role="alert">Enter the phone number with its country code');
    const abroad = await submit(token, "+1 212 555 0100");
    expect(abroad.status).toBe(400);
    expect(await abroad.text()).toContain("We cannot call this number.");

    // The callback widget's caps count here too: a number the widget was asked to call twice today
    // is not called a third time through an offer.
    const busy = phone();
    for (const requestId of [uid("r"), uid("r")]) {
      const widget = await post("/v1/onsite/callback", {
        key: "pk_demo",
        anonymousId: uid("aid"),
        requestId,
        phone: busy,
        window: "asap",
        consent: true,
        consentText: "I agree to be called.",
      });
      expect(widget.status).toBe(200);
    }
    const capped = await submit(token, busy);
    expect(capped.status).toBe(429);
    expect(await capped.text()).toContain("enough requests for this number today");

    const done = await submit(token, tel);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain(`will call you at ${tel} as soon as we can`);
    // Sent twice (a double tap): still one task.
    expect((await submit(token, tel)).status).toBe(200);
    const mine = (await callbacks()).filter((c) => c.message_id === sms?.id);
    expect(mine).toEqual([expect.objectContaining({ phone: tel, via: "link", email })]);
    expect((await results("abandoned_cart")).responses.callbacks.link).toBe(before + 1);
    // The shopper's own act is their consent to this call.
    const consent = await env.DB.prepare(`SELECT purpose FROM consents WHERE site_id = 'demo' AND subject = ?`)
      .bind(tel)
      .first<{ purpose: string }>();
    expect(consent?.purpose).toBe("callback");
  });

  it("should refuse a callback link that is forged, or signed for another purpose", async () => {
    const forged = await SELF.fetch(`${BASE}/v1/links/callback?t=eyJwIjoiY2FsbGJhY2sifQ.AAAA`);
    expect(forged.status).toBe(400);
    const res = await submit("not-a-token", phone());
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("This link has expired");
  });

  it("should take a reply CALL from the number the offer went to, and still take STOP as an opt-out", async () => {
    const email = `${uid("reply")}@example.com`;
    const tel = phone();
    await callbackOffer(email, tel);
    const before = (await results("abandoned_cart")).responses.callbacks.reply;

    // Any other text is no request, and a stranger's number that was never offered a call gets nothing.
    expect(await reply(tel, "how much is delivery?").then((r) => r.text())).toContain("<Response/>");
    const stranger = await reply(phone(), "CALL");
    expect(await stranger.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');

    const res = await reply(tel, " call ");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("<Message>Thank you, we will call you back as soon as we can.</Message>");
    expect(await reply(tel, "YES").then((r) => r.text())).toContain("<Response/>"); // answered once
    const mine = (await callbacks()).filter((c) => c.phone === tel);
    expect(mine).toEqual([expect.objectContaining({ via: "reply", email })]);
    expect((await results("abandoned_cart")).responses.callbacks.reply).toBe(before + 1);

    await reply(tel, "STOP");
    const stop = await env.DB.prepare(
      `SELECT count(*) AS n FROM suppressions WHERE site_id = 'demo' AND reason = 'stop'`,
    ).first<{ n: number }>();
    expect(stop?.n).toBeGreaterThan(0);
    // The call step that follows is refused: the number texted STOP.
    await advance(DAY);
    const [call] = (await messagesOf("abandoned_cart")).filter((m) => m.email === email && m.step === 4);
    expect(call?.reason).toBe("suppressed: stop");
  });
});

describe("payment failure", () => {
  /** The merchant's server reports a failed payment for a buyer it knows by email and phone. */
  async function paymentFailed(email: string, tel: string, source: "server" | "browser" = "server") {
    const userId = uid("user");
    const events = [
      { type: "identify", userId, traits: { email, phone: tel, name: "Ada" } },
      {
        type: "track",
        userId,
        event: "Payment Failed",
        properties: { order_id: `O-${userId}`, payment_url: "https://pay.example/retry?o=1" },
      },
    ];
    await (source === "server" ? sendAsServer(events) : send(events));
  }

  it("should mail at once and call after 30 minutes, saying the link was sent; only from the merchant's server", async () => {
    await advanceToLocal(11);
    const email = `${uid("pay")}@example.com`;
    const tel = phone();
    await paymentFailed(email, tel);
    await advance(60_000);
    const [mail] = await mailbox(email, "payment_failed");
    expect(mail?.subject).toBe("Your payment to Wavelength did not go through");
    expect(await unwrap(mail?.text.match(/Complete my payment: (\S+)/)?.[1] ?? "")).toBe(
      "https://pay.example/retry?o=1",
    );
    expect(await mailbox(tel, "payment_failed")).toHaveLength(0);

    await advance(31 * 60_000);
    const [call] = await mailbox(tel, "payment_failed");
    expect(call?.channel).toBe("call");
    expect(call?.text).toBe(
      "Hello Ada, this is Wavelength. Your payment for your order did not go through. We have sent you a link to complete your payment. Thank you!",
    );

    // The same words from a browser (any page's public key) call nobody and mail nobody.
    const other = `${uid("pay-browser")}@example.com`;
    await paymentFailed(other, phone(), "browser");
    await advance(HOUR);
    expect((await messagesOf("payment_failed")).filter((m) => m.email === other)).toEqual([]);
  });

  it("should not call once the merchant reports the order paid after all", async () => {
    await advanceToLocal(11);
    const email = `${uid("pay-ok")}@example.com`;
    const tel = phone();
    const userId = uid("user");
    await sendAsServer([
      { type: "identify", userId, traits: { email, phone: tel } },
      { type: "track", userId, event: "Payment Failed", properties: { order_id: "P-9" } },
    ]);
    await advance(60_000);
    await sendAsServer([
      { type: "track", userId, event: "Order Completed", properties: { order_id: "P-9", total: 79 } },
    ]);
    await advance(HOUR);
    const rows = (await messagesOf("payment_failed")).filter((m) => m.email === email);
    expect(rows.map((m) => [m.step, m.status, m.reason])).toEqual([
      [1, "sent", null],
      [2, "cancelled", "ordered"],
    ]);
    expect(await mailbox(tel, "payment_failed")).toHaveLength(0);
  });

  it("should wait for the morning to call, though the email went at once", async () => {
    await advanceToLocal(22);
    const email = `${uid("pay-night")}@example.com`;
    const tel = phone();
    await paymentFailed(email, tel);
    await advance(60_000);
    expect(await mailbox(email, "payment_failed")).toHaveLength(1);
    await advance(HOUR);
    const [call] = (await messagesOf("payment_failed")).filter((m) => m.email === email && m.step === 2);
    expect(call?.status).toBe("pending");
    expect(call?.reason).toMatch(/^quiet hours/);
  });

  it("should not say a link was sent when no earlier step of the journey sent one", async () => {
    await advanceToLocal(10);
    await putCampaign("call-first", {
      trigger: { type: "cart" },
      steps: [{ delay: "1h", channel: "call", template: "cart_call" }],
    });
    const email = `${uid("call-first")}@example.com`;
    const tel = phone();
    await cartWithPhone(email, tel, [product("E7247"), product("H100")]);
    await advance(2 * HOUR);
    const [call] = await mailbox(tel, "call-first");
    expect(call?.text).toContain("You left 2 items in your cart. You can finish your order on our website.");
    expect(call?.text).not.toContain("sent you a link");
    await SELF.fetch(`${BASE}/v1/admin/campaigns/call-first`, { method: "DELETE", headers: SECRET });
  });
});

describe("order touchpoints", () => {
  /** A buyer known to the merchant's server, and their order of the E7247 speaker. */
  async function order(email: string, orderId: string, traits: Record<string, unknown> = {}) {
    const userId = uid("buyer");
    await sendAsServer([
      { type: "identify", userId, traits: { email, ...traits } },
      {
        type: "track",
        userId,
        event: "Order Completed",
        properties: {
          order_id: orderId,
          total: 79,
          currency: "GBP",
          products: [{ product_id: "TP-E7247", price: 79, quantity: 1 }],
        },
      },
    ]);
    return userId;
  }

  it("should confirm an order (transactional) with a cross-sell block, and leave the block out for an unsubscribed buyer", async () => {
    await listProduct("TP-E7247", "E7247 speaker", 7900, "touch-speakers");
    await listProduct("TP-STAND", "Speaker stand", 2500, "touch-speakers");
    const email = `${uid("confirm")}@example.com`;
    await order(email, "A-1001");
    await advance(60_000);
    const [mail] = await mailbox(email, "order_confirmation");
    expect(mail?.subject).toBe("Your order A-1001 is confirmed");
    expect(mail?.text).toContain("We have received order A-1001");
    expect(mail?.text).toContain("- Speaker stand: £25.00");

    const optedOut = `${uid("confirm-unsub")}@example.com`;
    const userId = uid("buyer");
    await sendAsServer([
      { type: "identify", userId, traits: { email: optedOut } },
      { type: "track", userId, event: "Consent Updated", properties: { marketing: false } },
      {
        type: "track",
        userId,
        event: "Order Completed",
        properties: { order_id: "A-1002", total: 79, products: [{ product_id: "TP-E7247", price: 79, quantity: 1 }] },
      },
    ]);
    await advance(60_000);
    const [confirmation] = await mailbox(optedOut, "order_confirmation");
    expect(confirmation?.subject).toBe("Your order A-1002 is confirmed");
    expect(confirmation?.text).not.toContain("Speaker stand");
    expect(await mailbox(optedOut, "cross_sell")).toHaveLength(0); // the marketing one is not sent
  });

  it("should tell shipped and delivered from the merchant's events, tracking link http(s) only, order id escaped", async () => {
    const email = `${uid("ship")}@example.com`;
    const userId = await order(email, "<b>B-7</b>");
    const shipped = (tracking_url: string, event = "Order Shipped") =>
      sendAsServer([{ type: "track", userId, event, properties: { order_id: "<b>B-7</b>", tracking_url } }]);
    await shipped("https://track.example/B-7");
    await advance(60_000);
    const [mail] = await mailbox(email, "shipping_status");
    expect(mail?.subject).toBe("Your order <b>B-7</b> is on its way");
    expect(mail?.html).toContain("your order &lt;b&gt;B-7&lt;/b&gt; is on its way.");
    expect(mail?.html).not.toContain("<b>B-7");
    expect(await unwrap(mail?.text.match(/Track my order: (\S+)/)?.[1] ?? "")).toBe("https://track.example/B-7");

    await shipped("javascript:alert(1)", "Order Delivered");
    await advance(60_000);
    const [delivered] = await mailbox(email, "shipping_status");
    expect(delivered?.subject).toBe("Your order <b>B-7</b> has been delivered");
    expect(await unwrap(delivered?.text.match(/Track my order: (\S+)/)?.[1] ?? "")).toBe("http://127.0.0.1:8787");

    // A browser cannot make the store announce a shipment.
    const other = `${uid("ship-browser")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email: other } },
      {
        type: "track",
        anonymousId,
        event: "Order Shipped",
        properties: { order_id: "X", tracking_url: "https://x.test" },
      },
    ]);
    await advance(60_000);
    expect(await mailbox(other, "shipping_status")).toHaveLength(0);
  });

  it("should send useful content three days after an order, then a next-purchase code a week later", async () => {
    await advanceToLocal(10);
    const email = `${uid("after")}@example.com`;
    await order(email, "C-1");
    await advance(2 * DAY);
    expect(await mailbox(email, "post_purchase")).toHaveLength(0);
    await advance(DAY + HOUR);
    const [content] = await mailbox(email, "post_purchase");
    expect(content?.subject).toBe("Getting the most from your order");
    expect(content?.text).not.toContain("Your code");
    await advance(7 * DAY);
    const [code] = await mailbox(email, "post_purchase");
    expect(code?.subject).toBe("A little something for your next order at Wavelength");
    const minted = code?.text.match(/Your code: (\S+)/)?.[1] ?? "";
    const coupon = await env.DB.prepare(`SELECT promotion_id FROM coupons WHERE code = ?`)
      .bind(minted)
      .first<{ promotion_id: string }>();
    expect(coupon?.promotion_id).toBe("next-purchase-10");
  });
});
