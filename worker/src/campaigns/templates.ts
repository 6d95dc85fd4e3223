import { EVENT } from "../model/events";

/**
 * Built-in campaign templates: one per scenario of the catalogue. `POST
 * /v1/admin/campaigns/templates/:id/enable` copies one into a site's campaigns (with the
 * merchant's overrides), where it is an ordinary definition, editable like any other. Delays,
 * coupons and segments are the defaults a merchant would start from.
 */
export const CAMPAIGN_TEMPLATES: Readonly<Record<string, Record<string, unknown>>> = {
  abandoned_cart: {
    name: "Abandoned cart: email, email with coupon, SMS, call",
    priority: 80,
    trigger: { type: "cart" },
    steps: [
      { delay: "1h", channel: "email", template: "cart_reminder" },
      {
        delay: "1d",
        channel: "email",
        template: "cart_last_call",
        // The code the exit-intent popup gave this shopper, if still unused; else a new one.
        coupon: { promotionId: "exit-intent-10", expiresDays: 7, reuse: "exit_intent" },
      },
      // Carts Guru's offer: tap for a one-field callback form, or reply CALL (routes/callback-offer.ts).
      { delay: "1d", channel: "sms", template: "cart_callback_offer" },
      { delay: "1d", channel: "call", template: "cart_call" },
    ],
    exit: { ordered: true },
    // Texts and calls wait for the morning; the emails go when due.
    quietHours: { from: 21, to: 8, channels: ["sms", "call"] },
  },
  abandoned_cart_adaptive: {
    name: "Abandoned cart that adapts: a coupon only for carts worth it, a text only if the mail went unread",
    priority: 80,
    trigger: { type: "cart" },
    steps: [
      { delay: "1h", channel: "email", template: "cart_reminder" },
      {
        // Decided a day later, on the cart as it is then: a code costs margin, so only a cart of
        // £50 or more earns one; a smaller one gets the same reminder without it.
        delay: "1d",
        if: { cartValue: { gte: 5000 } },
        then: [
          {
            channel: "email",
            template: "cart_last_call",
            coupon: { promotionId: "exit-intent-10", expiresDays: 7, reuse: "exit_intent" },
          },
        ],
        else: [{ channel: "email", template: "cart_last_call" }],
      },
      // A mail they opened reached them; one they did not may never have: try a text instead.
      { delay: "1d", if: { opened: false }, then: [{ channel: "sms", template: "cart_sms" }] },
    ],
    exit: { ordered: true },
    quietHours: { from: 21, to: 8, channels: ["sms"] },
  },
  browse_abandonment: {
    name: "Browse abandonment: a discount on the product they looked at, next day",
    priority: 40,
    trigger: { type: "event", events: [EVENT.productViewed], journey: "{product_id}", reset: true },
    audience: { not: { open_cart: true } },
    steps: [
      // The code is bound to the product viewed: 10% off that product, not the whole order.
      {
        delay: "1d",
        channel: "email",
        template: "browse",
        coupon: { promotionId: "browse-10", expiresDays: 7, bind: "product" },
      },
    ],
    exit: { ordered: true, events: [EVENT.productAdded] },
    quietHours: { from: 21, to: 8 },
    frequencyCap: { max: 1, hours: 24 },
  },
  cross_sell: {
    name: "Post-purchase: payment confirmation with related products",
    priority: 90,
    trigger: { type: "event", events: [EVENT.orderCompleted], journey: "{order_id}" },
    steps: [{ delay: 0, channel: "email", template: "cross_sell" }],
    exit: { ordered: false },
  },
  welcome: {
    name: "Welcome on newsletter opt-in, with a first-order incentive",
    priority: 70,
    // The newsletter widget (consented, capped) or the store's server (an account made): a browser
    // saying "Signed Up" with any address it likes mails no one.
    trigger: {
      type: "event",
      events: [EVENT.signedUp, EVENT.newsletterSubscribed],
      journey: "once",
      sources: ["widget", "server"],
    },
    steps: [
      { delay: 0, channel: "email", template: "welcome", coupon: { promotionId: "welcome-10", expiresDays: 30 } },
    ],
    exit: { ordered: false },
  },
  win_back: {
    name: "Win-back: 6 months without a visit, or never bought; at night on a chosen date",
    priority: 20,
    trigger: { type: "date", at: "2027-03-01T00:00:00Z" },
    audience: { any: [{ inactive_days: 180 }, { never_ordered: true }] },
    steps: [
      // A discount on the top product the mail shows (the best-seller), bound to it.
      {
        delay: 0,
        channel: "email",
        template: "winback",
        coupon: { promotionId: "winback-15", expiresDays: 14, bind: "product" },
      },
    ],
    exit: { ordered: true },
    // Sent at night: quiet from 06:00 to 01:00, so messages leave between 01:00 and 06:00 local time.
    quietHours: { from: 6, to: 1 },
    holdoutPercent: 10,
  },
  loyalty: {
    name: "Loyalty: 12-month spend crosses a threshold",
    priority: 60,
    trigger: { type: "segment_entry", segment: { metric: "spend_365d", op: "gte", value: 50000 } },
    // An individual discount on the top product, and a showcase of products in the contact's size.
    steps: [
      {
        delay: 0,
        channel: "email",
        template: "loyalty",
        coupon: { promotionId: "loyalty-15", expiresDays: 60, bind: "product" },
      },
    ],
    exit: { ordered: false },
  },
  holiday: {
    name: "Holiday greeting to a segment on a date",
    priority: 30,
    trigger: { type: "date", at: "2027-03-06T09:00:00Z" },
    audience: { attr: "gender", op: "eq", value: "female" },
    steps: [
      { delay: 0, channel: "email", template: "holiday", coupon: { promotionId: "holiday-gift", expiresDays: 7 } },
    ],
    exit: { ordered: false },
    quietHours: { from: 21, to: 8 },
  },
  referral: {
    name: "Send to a friend: the friend gets a referral offer",
    priority: 70,
    trigger: {
      type: "event",
      events: [EVENT.productShared],
      // One referral message per friend, whoever shares and however often.
      journey: "once",
      match: { share_via: "email" },
      recipient: "recipient_email",
    },
    steps: [
      { delay: 0, channel: "email", template: "referral", coupon: { promotionId: "referral-10", expiresDays: 30 } },
    ],
    exit: { ordered: false },
  },
  referral_reward: {
    name: "Referral programme: the referrer's reward after a friend's first order",
    priority: 70,
    // Not an event: the merchant's order naming the referrer's code starts it, once per new customer
    // and within the site's referralRewardsPerMonth (model/referrals.ts).
    trigger: { type: "referral" },
    steps: [
      {
        delay: 0,
        channel: "email",
        template: "referral_reward",
        coupon: { promotionId: "referral-reward", expiresDays: 90 },
      },
    ],
    exit: { ordered: false },
  },
  callback_confirmation: {
    name: "Callback request: SMS confirmation",
    // Not 100: priority orders one contact's messages (who gets the room a frequency cap leaves),
    // and a flood of confirmations must not look more urgent than anyone's mail.
    priority: 60,
    trigger: { type: "event", events: [EVENT.callbackRequested] },
    steps: [{ delay: 0, channel: "sms", template: "callback_sms" }],
    exit: { ordered: false },
  },
  payment_failed: {
    name: "Payment failed: an email at once, then an automated call",
    priority: 95,
    // Only the merchant's server knows a payment failed; a browser's word must never make us call.
    trigger: { type: "event", events: [EVENT.paymentFailed], journey: "{order_id}", sources: ["server"] },
    steps: [
      { delay: 0, channel: "email", template: "payment_failed" },
      { delay: "30m", channel: "call", template: "payment_failed_call" },
    ],
    // The shopper paid after all: no call.
    exit: { ordered: true },
    // Transactional, but a robot call at night is never welcome (jobs/sweep.ts).
    quietHours: { from: 21, to: 8, channels: ["call"] },
  },
  order_confirmation: {
    name: "Order confirmation (transactional) with a cross-sell block",
    priority: 95,
    trigger: { type: "event", events: [EVENT.orderCompleted], journey: "{order_id}" },
    steps: [{ delay: 0, channel: "email", template: "order_confirmation" }],
    exit: { ordered: false },
  },
  shipping_status: {
    name: "Shipping status: shipped and delivered, with tracking and a cross-sell block",
    priority: 90,
    trigger: {
      type: "event",
      events: [EVENT.orderShipped, EVENT.orderDelivered],
      journey: "{order_id}:{event}",
      sources: ["server"],
    },
    steps: [{ delay: 0, channel: "email", template: "shipping_status" }],
    exit: { ordered: false },
  },
  post_purchase: {
    name: "Post-purchase: useful content after 3 days, a next-purchase code a week later",
    priority: 35,
    trigger: { type: "event", events: [EVENT.orderCompleted], journey: "{order_id}" },
    steps: [
      { delay: "3d", channel: "email", template: "post_purchase_content" },
      {
        delay: "7d",
        channel: "email",
        template: "next_purchase",
        coupon: { promotionId: "next-purchase-10", expiresDays: 30 },
      },
    ],
    exit: { ordered: false },
    quietHours: { from: 21, to: 8 },
  },
};

/**
 * Templates the demo seeds disabled: a second cart journey beside `abandoned_cart` would mail every
 * shopper twice. A merchant enables it instead of that one.
 */
export const SEEDED_DISABLED: ReadonlySet<string> = new Set(["abandoned_cart_adaptive"]);
