import { Hono } from "hono";
import type { Context } from "hono";
import { html } from "hono/html";
import { HTTPException } from "hono/http-exception";
import { LEAVE_REASONS, type Locale, localeOf, MESSAGE_TEMPLATES, REASONS } from "../campaigns/messages";
import type { Env } from "../env";
import { now } from "../lib/clock";
import { linkUrl } from "../lib/links";
import { readSiteLink } from "./auth";
import { normalisePhone, phoneAllowed, phoneCountries } from "../lib/phone";
import { isDict } from "../lib/values";
import { recordLeaveReason } from "../model/leave-reasons";
import { recordClick } from "../model/messages";
import { callbackById, callbackIdOf, createOfferedCallback, offerRequestId } from "../model/onsite";
import { siteById } from "../model/sites";
import type { Site } from "../model/sites";
import { formFields } from "./links";
import { cappedShared, notifyMerchant } from "./onsite";

/**
 * What a shopper answers to a message (issue 18, Carts Guru's flows), mounted beside the other
 * signed links under /v1/links:
 *  - `/callback`: the callback offer's link (an SMS of a `callback` template) opens a one-field form,
 *    the number the offer went to filled in; sending it records a callback task for the merchant
 *    (GET /v1/admin/callbacks), one per message. `takeOffer` is shared with an SMS reply "CALL"
 *    (routes/feedback.ts).
 *  - `/reason`: a one-tap "why did you leave?" answer from a reminder, counted in results.
 * Both are reached only through a signed, expiring link from our own message (lib/links.ts): no
 * public key can ask for a call. A callback still counts against the callback widget's per-number
 * and per-site caps (routes/onsite.ts), in the same buckets.
 */
export const answers = new Hono<{ Bindings: Env }>();

/** Templates whose button is a callback offer: a reply to one of them asks for a call. */
export const CALLBACK_OFFER_TEMPLATES = [...MESSAGE_TEMPLATES].filter(([, t]) => t.cta === "callback").map(([k]) => k);
/** A reply asks for a call for this long after the offer was sent. */
export const OFFER_DAYS = 7;

const WORDS: Record<
  Locale,
  {
    title: string;
    lead: string;
    phone: string;
    hint: string;
    submit: string;
    consent: string;
    done: string;
    doneBody: string;
    cart: string;
    badPhone: string;
    notAllowed: string;
    capped: string;
    thanks: string;
    told: string;
    expired: string;
  }
> = {
  en: {
    title: "Call me back",
    lead: "Leave your number and {store} will call you back as soon as we can.",
    phone: "Your phone number",
    hint: "With its country code, e.g. +44 20 7946 0958.",
    submit: "Call me back",
    consent: "By sending this you agree that {store} calls you at this number about your order.",
    done: "Thank you, we will call you",
    doneBody: "{store} will call you at {phone} as soon as we can.",
    cart: "Return to your cart",
    badPhone: "Enter the phone number with its country code, e.g. +44 20 7946 0958.",
    notAllowed: "We cannot call this number. Please give a number in the store's country.",
    capped: "We have had enough requests for this number today. Please try again tomorrow.",
    thanks: "Thank you",
    told: "You told us: {reason}. It helps {store} do better.",
    expired: "This link has expired",
  },
  fr: {
    title: "Rappelez-moi",
    lead: "Laissez votre numéro et {store} vous rappellera dès que possible.",
    phone: "Votre numéro de téléphone",
    hint: "Avec l'indicatif du pays, par ex. +33 1 23 45 67 89.",
    submit: "Rappelez-moi",
    consent:
      "En envoyant ce formulaire, vous acceptez que {store} vous appelle à ce numéro au sujet de votre commande.",
    done: "Merci, nous allons vous appeler",
    doneBody: "{store} vous appellera au {phone} dès que possible.",
    cart: "Retrouver mon panier",
    badPhone: "Indiquez le numéro avec l'indicatif du pays, par ex. +33 1 23 45 67 89.",
    notAllowed: "Nous ne pouvons pas appeler ce numéro. Indiquez un numéro du pays de la boutique.",
    capped: "Nous avons reçu assez de demandes pour ce numéro aujourd'hui. Réessayez demain.",
    thanks: "Merci",
    told: "Votre réponse : {reason}. Elle aide {store} à s'améliorer.",
    expired: "Ce lien a expiré",
  },
  ru: {
    title: "Перезвоните мне",
    lead: "Оставьте номер, и {store} перезвонит вам как можно скорее.",
    phone: "Ваш номер телефона",
    hint: "С кодом страны, например +7 495 123-45-67.",
    submit: "Перезвоните мне",
    consent: "Отправляя номер, вы соглашаетесь, что {store} позвонит вам по этому номеру о вашем заказе.",
    done: "Спасибо, мы вам перезвоним",
    doneBody: "{store} позвонит вам на номер {phone} как можно скорее.",
    cart: "Вернуться в корзину",
    badPhone: "Укажите номер с кодом страны, например +7 495 123-45-67.",
    notAllowed: "Мы не можем позвонить на этот номер. Укажите номер в стране магазина.",
    capped: "Сегодня для этого номера уже достаточно заявок. Попробуйте завтра.",
    thanks: "Спасибо",
    told: "Ваш ответ: {reason}. Это помогает {store} стать лучше.",
    expired: "Срок действия ссылки истёк",
  },
};

const say = (text: string, vars: Record<string, string>) => text.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);

const page = (locale: Locale, title: string, body: unknown) =>
  html`<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
label{display:block;font-weight:600}input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}
.hint{color:#4a5560;font-size:.9rem;margin:0}.error{color:#a61b1b}
button{font:inherit;padding:.6rem 1rem;border-radius:6px;border:0;background:#2457d6;color:#fff;cursor:pointer;margin-top:.5rem}</style></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

/** What a callback or reason link is about: the message (sent to this contact) and where its offer went. */
async function messageOf(env: Env, claims: { s: string; c: string; m?: number }) {
  if (claims.m === undefined) return null;
  const site = await siteById(env.DB, claims.s);
  const row =
    site &&
    (await env.DB.prepare(
      `SELECT coalesce(m.data ->> 'phone', c.phone) AS phone, c.traits FROM messages m
       JOIN contacts c ON c.site_id = m.site_id AND c.id = m.contact_id
       WHERE m.site_id = ? AND m.id = ? AND m.contact_id = ? AND m.status = 'sent'`,
    )
      .bind(claims.s, claims.m, claims.c)
      .first<{ phone: string | null; traits: string }>());
  if (!site || !row) return null;
  let traits: unknown = {};
  try {
    traits = JSON.parse(row.traits);
  } catch {
    // unreadable traits: English
  }
  const locale = localeOf(isDict(traits) ? (traits.locale ?? traits.language) : null);
  return { site, messageId: claims.m, contactId: claims.c, phone: row.phone, locale };
}

const expired = (c: Context<{ Bindings: Env }>) =>
  c.html(page("en", WORDS.en.expired, html`<p>The link is invalid or has expired.</p>`), 400);

/** The callback form; `error` is shown above the field and tied to it for screen readers. */
async function callbackForm(
  c: Context<{ Bindings: Env }>,
  x: {
    token: string;
    site: Site;
    contactId: string;
    locale: Locale;
    phone: string;
    error?: string;
    status?: 400 | 429;
  },
) {
  const w = WORDS[x.locale];
  const store = { store: x.site.name };
  const restore = await linkUrl(c.env, new URL(c.req.url).origin, "restore", x.site.id, x.contactId, await now(c.env));
  const body = html`<p>${say(w.lead, store)}</p>
<form method="post" action="/v1/links/callback" novalidate>
<input type="hidden" name="t" value="${x.token}">
<label for="phone">${w.phone}</label>
<p class="hint" id="phone-hint">${w.hint}</p>
${x.error ? html`<p class="error" id="phone-error" role="alert">${x.error}</p>` : ""}
<input id="phone" name="phone" type="tel" autocomplete="tel" required value="${x.phone}"
 aria-describedby="phone-hint${x.error ? " phone-error" : ""}"${x.error ? html` aria-invalid="true"` : ""}>
<p class="hint">${say(w.consent, store)}</p>
<button type="submit">${w.submit}</button>
</form>
<p><a href="${restore}">${w.cart}</a></p>`;
  return c.html(page(x.locale, w.title, body), x.error ? (x.status ?? 400) : 200);
}

answers.get("/callback", async (c) => {
  const token = c.req.query("t") ?? "";
  const at = await now(c.env);
  const claims = await readSiteLink(c, token, "callback", at);
  const m = claims && (await messageOf(c.env, claims));
  if (!m) return expired(c);
  // The tap is the offer's click: counted like any button's.
  await recordClick(c.env.DB, { id: m.messageId, siteId: m.site.id, contactId: m.contactId, at }).run();
  return callbackForm(c, { token, ...m, phone: normalisePhone(m.phone) ?? "" });
});

answers.post("/callback", async (c) => {
  const field = await formFields(c.req.raw);
  const token = field("t");
  const at = await now(c.env);
  const claims = await readSiteLink(c, token, "callback", at);
  const m = claims && (await messageOf(c.env, claims));
  if (!m) return expired(c);
  const w = WORDS[m.locale];
  const given = field("phone").slice(0, 64);
  const phone = normalisePhone(given);
  const refused = !phone ? w.badPhone : !phoneAllowed(phone, phoneCountries(m.site)) ? w.notAllowed : null;
  if (!phone || refused) return callbackForm(c, { token, ...m, phone: given, error: refused ?? w.badPhone });
  try {
    await takeOffer(
      c.env,
      m.site,
      {
        contactId: m.contactId,
        messageId: m.messageId,
        phone,
        via: "link",
        wording: `${say(w.consent, { store: m.site.name })} (${w.submit})`,
        at,
      },
      (p) => c.executionCtx.waitUntil(p),
    );
  } catch (e) {
    // Past a cap (this number's two a day, the site's day): said on the form, not as JSON.
    if (!isCapped(e)) throw e;
    return callbackForm(c, { token, ...m, phone, error: w.capped, status: 429 });
  }
  return c.html(page(m.locale, w.done, html`<p role="status">${say(w.doneBody, { store: m.site.name, phone })}</p>`));
});

/**
 * A callback from an offer: one per offer message (a second tap or reply finds the first, and
 * counts against nothing), else capped like the widget's (per number, per site) and handed to the
 * merchant's webhook. 429 past a cap.
 */
export async function takeOffer(
  env: Env,
  site: Site,
  x: { contactId: string; messageId: number; phone: string; via: "link" | "reply"; wording: string; at: number },
  waitUntil: (p: Promise<unknown>) => void,
): Promise<{ id: number; created: boolean }> {
  const existing = await callbackIdOf(env.DB, site.id, offerRequestId(x.messageId));
  if (existing !== null) return { id: existing, created: false };
  await cappedShared(env, site.id, "callback", x.phone, x.at);
  const made = await createOfferedCallback(env.DB, { siteId: site.id, now: x.at, ...x });
  const callback = made.created ? await callbackById(env.DB, site.id, made.id) : null;
  // After answering; a failed try is retried by the sweep (jobs/webhooks.ts).
  if (callback) waitUntil(notifyMerchant(env, site, callback, x.at));
  return made;
}

/** Whether a 429 from a cap: the caller answers without a task. */
export const isCapped = (e: unknown) => e instanceof HTTPException && e.status === 429;

answers.get("/reason", async (c) => {
  const at = await now(c.env);
  const claims = await readSiteLink(c, c.req.query("t") ?? "", "reason", at);
  const reason = LEAVE_REASONS.find((r) => r === claims?.a);
  const m = claims && reason && (await messageOf(c.env, claims));
  if (!m || !reason) return expired(c);
  // One tap is the answer (a later tap changes it). Link scanners that fetch every link of a mail
  // can add noise here; they cannot unsubscribe anyone or cost anything (README, "Why did you leave?").
  await recordLeaveReason(c.env.DB, {
    siteId: m.site.id,
    contactId: m.contactId,
    messageId: m.messageId,
    reason,
    now: at,
  });
  const w = WORDS[m.locale];
  return c.html(
    page(
      m.locale,
      w.thanks,
      html`<p role="status">${say(w.told, { reason: REASONS[m.locale][reason].toLocaleLowerCase(m.locale), store: m.site.name })}</p>`,
    ),
  );
});
