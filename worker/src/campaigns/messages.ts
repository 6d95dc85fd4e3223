import { html } from "hono/html";
import { formatMoney } from "../lib/money";
import type { CartLine } from "../model/carts";
import type { Site } from "../model/sites";

/**
 * Message templates: the words (en, fr, ru) and the shape (which products, which button) of every
 * message the built-in campaigns send. Everything that comes from a shopper or a merchant goes
 * through hono's `html` tag, which escapes it.
 */

export type Locale = "en" | "fr" | "ru";
export const LOCALES: readonly Locale[] = ["en", "fr", "ru"];

export interface Product {
  productId: string;
  name: string;
  price: number;
  url: string | null;
  imageUrl: string | null;
  /** The merchant wrote this row (server events, admin API): its url may lead off the store's hosts. */
  merchant?: boolean;
}

export interface MessageContext {
  site: Site;
  locale: Locale;
  name: string | null;
  /** The open cart (cart templates). */
  lines: CartLine[];
  /** The products the template shows: viewed, related, top, shared. */
  products: Product[];
  coupon: string | null;
  /** From the trigger: the sender of a referral (free text), a callback window (one of four words). */
  sender: string | null;
  window: string | null;
  /** `cta` already goes through click tracking; `open` is the pixel; `unsubscribe` asks first. */
  links: { cta: string; unsubscribe: string; open: string };
  subject?: string;
}

export interface Rendered {
  subject: string;
  html: string;
  text: string;
}

/** What a template needs loaded before it renders. */
export type Block = "cart" | "viewed" | "related" | "top" | "shared" | "none";
/** Where its button leads. */
export type Cta = "restore" | "product" | "store";

interface Copy {
  subject: string;
  intro: string;
  cta: string;
}

export interface MessageTemplate {
  block: Block;
  cta: Cta;
  /** Transactional messages (a confirmation the shopper asked for) skip quiet hours and caps. */
  transactional?: boolean;
  copy: Record<Locale, Copy>;
}

// Placeholders: {name} {store} {items} {product} {sender} {window}. Filled as plain text, then escaped.
const T = (block: Block, cta: Cta, copy: Record<Locale, Copy>, transactional = false): MessageTemplate => ({
  block,
  cta,
  copy,
  transactional,
});

export const MESSAGE_TEMPLATES: ReadonlyMap<string, MessageTemplate> = new Map(
  Object.entries({
    cart_reminder: T("cart", "restore", {
      en: {
        subject: "You left {items} in your cart",
        intro: "Your cart at {store} is waiting for you.",
        cta: "Return to your cart",
      },
      fr: {
        subject: "Vous avez oublié {items} dans votre panier",
        intro: "Votre panier chez {store} vous attend.",
        cta: "Retrouver mon panier",
      },
      ru: {
        subject: "В вашей корзине остались товары: {items}",
        intro: "Ваша корзина в {store} ждёт вас.",
        cta: "Вернуться в корзину",
      },
    }),
    cart_last_call: T("cart", "restore", {
      en: {
        subject: "Still thinking it over? Your cart is saved",
        intro: "We kept your cart at {store} for you.",
        cta: "Return to your cart",
      },
      fr: {
        subject: "Vous hésitez encore ? Votre panier est sauvegardé",
        intro: "Nous avons gardé votre panier chez {store}.",
        cta: "Retrouver mon panier",
      },
      ru: {
        subject: "Всё ещё думаете? Корзина сохранена",
        intro: "Мы сохранили вашу корзину в {store}.",
        cta: "Вернуться в корзину",
      },
    }),
    cart_sms: T("cart", "restore", {
      en: {
        subject: "{store}: your cart is waiting",
        intro: "{store}: you left {items} in your cart.",
        cta: "Finish your order",
      },
      fr: {
        subject: "{store} : votre panier vous attend",
        intro: "{store} : vous avez oublié {items} dans votre panier.",
        cta: "Terminer la commande",
      },
      ru: {
        subject: "{store}: корзина ждёт",
        intro: "{store}: в корзине остались товары ({items}).",
        cta: "Оформить заказ",
      },
    }),
    cart_call: T("cart", "restore", {
      en: {
        subject: "Call about your cart",
        intro:
          "Hello {name}, this is {store}. You left {items} in your cart. We have sent you a link to finish your order. Thank you!",
        cta: "",
      },
      fr: {
        subject: "Appel au sujet de votre panier",
        intro:
          "Bonjour {name}, ici {store}. Vous avez laissé {items} dans votre panier. Nous vous avons envoyé un lien pour terminer votre commande. Merci !",
        cta: "",
      },
      ru: {
        subject: "Звонок о вашей корзине",
        intro:
          "Здравствуйте, {name}! Это {store}. В вашей корзине остались товары. Мы отправили вам ссылку, чтобы завершить заказ. Спасибо!",
        cta: "",
      },
    }),
    browse: T("viewed", "product", {
      en: {
        subject: "Still interested in {product}?",
        intro: "You were looking at {product}. Here is something to help you decide.",
        cta: "Take another look",
      },
      fr: {
        subject: "Toujours intéressé par {product} ?",
        intro: "Vous regardiez {product}. Voici de quoi vous décider.",
        cta: "Revoir le produit",
      },
      ru: {
        subject: "Всё ещё интересует {product}?",
        intro: "Вы смотрели {product}. Вот кое-что, чтобы решиться.",
        cta: "Посмотреть ещё раз",
      },
    }),
    cross_sell: T(
      "related",
      "store",
      {
        en: {
          subject: "Thank you for your order",
          intro: "Your payment to {store} went through. Customers who bought this also liked:",
          cta: "Visit the store",
        },
        fr: {
          subject: "Merci pour votre commande",
          intro: "Votre paiement à {store} est confirmé. Ces produits pourraient vous plaire :",
          cta: "Voir la boutique",
        },
        ru: {
          subject: "Спасибо за заказ",
          intro: "Оплата в {store} прошла. С этим заказом часто берут:",
          cta: "Перейти в магазин",
        },
      },
      // Not transactional: the products it recommends make it marketing (unsubscribe, quiet hours
      // and caps apply); a store's own order confirmation is the transactional mail.
    ),
    welcome: T("none", "store", {
      en: {
        subject: "Welcome to {store}",
        intro: "Thank you for subscribing. Here is a welcome gift for your first order.",
        cta: "Start shopping",
      },
      fr: {
        subject: "Bienvenue chez {store}",
        intro: "Merci de votre inscription. Voici un cadeau de bienvenue pour votre première commande.",
        cta: "Découvrir la boutique",
      },
      ru: {
        subject: "Добро пожаловать в {store}",
        intro: "Спасибо за подписку! Вот подарок к вашему первому заказу.",
        cta: "За покупками",
      },
    }),
    winback: T("top", "product", {
      en: {
        subject: "We miss you at {store}",
        intro: "It has been a while. Our most popular pick is waiting, with a discount just for you.",
        cta: "See what's new",
      },
      fr: {
        subject: "Vous nous manquez chez {store}",
        intro: "Cela fait longtemps. Notre produit phare vous attend, avec une remise rien que pour vous.",
        cta: "Voir les nouveautés",
      },
      ru: {
        subject: "Мы скучаем по вам в {store}",
        intro: "Давно не виделись. Наш самый популярный товар ждёт вас — со скидкой только для вас.",
        cta: "Посмотреть",
      },
    }),
    loyalty: T("none", "store", {
      en: {
        subject: "A personal thank-you from {store}",
        intro: "You are one of our best customers. Here is a personal discount.",
        cta: "Use my discount",
      },
      fr: {
        subject: "Un merci personnel de {store}",
        intro: "Vous faites partie de nos meilleurs clients. Voici une remise personnelle.",
        cta: "Utiliser ma remise",
      },
      ru: {
        subject: "Личное спасибо от {store}",
        intro: "Вы — один из наших лучших покупателей. Дарим вам персональную скидку.",
        cta: "Воспользоваться скидкой",
      },
    }),
    holiday: T("none", "store", {
      en: {
        subject: "Happy holidays from {store}",
        intro: "We have a gift for you: claim it on our site.",
        cta: "Claim my gift",
      },
      fr: {
        subject: "Joyeuses fêtes de la part de {store}",
        intro: "Nous avons un cadeau pour vous : récupérez-le sur notre site.",
        cta: "Recevoir mon cadeau",
      },
      ru: {
        subject: "С праздником от {store}!",
        intro: "У нас для вас подарок — заберите его на сайте.",
        cta: "Получить подарок",
      },
    }),
    referral: T("shared", "product", {
      en: {
        subject: "{sender} thinks you'll like {product}",
        intro: "{sender} shared {product} from {store} with you, with an offer for your first order.",
        cta: "See it",
      },
      fr: {
        subject: "{sender} pense que {product} va vous plaire",
        intro: "{sender} vous a partagé {product} de {store}, avec une offre pour votre première commande.",
        cta: "Voir le produit",
      },
      ru: {
        subject: "{sender} советует вам {product}",
        intro: "{sender} поделился с вами товаром {product} из {store} и скидкой на первый заказ.",
        cta: "Посмотреть",
      },
    }),
    // Transactional: the referrer asked for her code and earned this; it names no friend (whose
    // order is theirs to tell).
    referral_reward: T(
      "none",
      "store",
      {
        en: {
          subject: "Thank you! A friend you referred placed their first order",
          intro: "Someone you invited to {store} placed their first order. Here is your reward.",
          cta: "Shop with your reward",
        },
        fr: {
          subject: "Merci ! Un ami que vous avez parrainé a passé sa première commande",
          intro:
            "Une personne que vous avez invitée chez {store} a passé sa première commande. Voici votre récompense.",
          cta: "Utiliser ma récompense",
        },
        ru: {
          subject: "Спасибо! Приглашённый вами друг сделал первый заказ",
          intro: "Человек, которого вы пригласили в {store}, сделал первый заказ. Вот ваша награда.",
          cta: "Использовать награду",
        },
      },
      true,
    ),
    callback_sms: T(
      "none",
      "store",
      {
        en: {
          subject: "{store}: callback request received",
          intro: "{store}: thank you, we will call you back {window}.",
          cta: "",
        },
        fr: {
          subject: "{store} : demande de rappel reçue",
          intro: "{store} : merci, nous vous rappellerons {window}.",
          cta: "",
        },
        ru: {
          subject: "{store}: заявка на звонок принята",
          intro: "{store}: спасибо, мы перезвоним вам {window}.",
          cta: "",
        },
      },
      true,
    ),
  }),
);

const ITEMS: Record<Locale, (n: number) => string> = {
  en: (n) => (n === 1 ? "something" : `${n} items`),
  fr: (n) => (n === 1 ? "quelque chose" : `${n} articles`),
  ru: (n) => String(n),
};
const SOON: Record<Locale, string> = { en: "soon", fr: "bientôt", ru: "в ближайшее время" };
/**
 * The callback widget's four windows in words. The SMS says only these (or "soon"): whatever else
 * an event carried — "pay the fee at http://evil.test" — never reaches the shopper's phone.
 */
const WINDOWS: Record<Locale, Record<string, string>> = {
  en: {
    asap: "as soon as we can",
    morning: "in the morning",
    afternoon: "in the afternoon",
    evening: "in the evening",
  },
  fr: { asap: "dès que possible", morning: "dans la matinée", afternoon: "dans l'après-midi", evening: "en soirée" },
  ru: { asap: "как можно скорее", morning: "утром", afternoon: "днём", evening: "вечером" },
};
const HELLO: Record<Locale, [string, string]> = {
  en: ["Hi {name},", "Hi,"],
  fr: ["Bonjour {name},", "Bonjour,"],
  ru: ["Здравствуйте, {name}!", "Здравствуйте!"],
};
const FOOT: Record<Locale, { total: string; code: string; unsubscribe: string }> = {
  en: { total: "Total", code: "Your code", unsubscribe: "Unsubscribe" },
  fr: { total: "Total", code: "Votre code", unsubscribe: "Se désabonner" },
  ru: { total: "Итого", code: "Ваш промокод", unsubscribe: "Отписаться" },
};

/** The contact's language when we speak it, else English. */
export function localeOf(value: unknown): Locale {
  const tag = typeof value === "string" ? value.slice(0, 2).toLowerCase() : "";
  return (LOCALES as readonly string[]).includes(tag) ? (tag as Locale) : "en";
}

function fill(text: string, ctx: MessageContext): string {
  const vars: Record<string, string> = {
    name: ctx.name ?? "",
    store: ctx.site.name,
    items: ITEMS[ctx.locale](ctx.lines.length),
    product: ctx.products[0]?.name ?? "",
    sender: ctx.sender ?? "",
    window:
      (ctx.window && Object.hasOwn(WINDOWS[ctx.locale], ctx.window) && WINDOWS[ctx.locale][ctx.window]) ||
      SOON[ctx.locale],
  };
  return text.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m).replace(/\s+([,.!])/g, "$1");
}

/** Email (HTML + text). The SMS and call channels send `text`'s first paragraph(s) instead. */
export async function renderMessage(t: MessageTemplate, ctx: MessageContext): Promise<Rendered> {
  const copy = t.copy[ctx.locale];
  const foot = FOOT[ctx.locale];
  const money = (n: number) => formatMoney(n, ctx.site.currency);
  const subject = fill(ctx.subject ?? copy.subject, ctx);
  const greeting = fill(HELLO[ctx.locale][ctx.name ? 0 : 1], ctx);
  const intro = fill(copy.intro, ctx);
  const total = ctx.lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
  const img = (src: string | null) => (src ? html`<img src="${src}" alt="" width="64" height="64">` : "");

  const table =
    t.block === "cart"
      ? html`<table cellpadding="6">${ctx.lines.map(
          (l) =>
            html`<tr><td>${img(l.imageUrl)}</td><td>${l.name} × ${l.quantity}</td><td align="right">${money(l.price * l.quantity)}</td></tr>`,
        )}
<tr><td></td><td><strong>${foot.total}</strong></td><td align="right"><strong>${money(total)}</strong></td></tr></table>`
      : ctx.products.length > 0
        ? html`<table cellpadding="6">${ctx.products.map(
            (p) => html`<tr><td>${img(p.imageUrl)}</td><td>${p.name}</td><td align="right">${money(p.price)}</td></tr>`,
          )}</table>`
        : "";
  const coupon = ctx.coupon
    ? html`<p style="font-size:18px">${foot.code}: <strong style="letter-spacing:1px">${ctx.coupon}</strong></p>`
    : "";
  const button = copy.cta
    ? html`<p><a href="${ctx.links.cta}" style="background:#2457d6;color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">${fill(copy.cta, ctx)}</a></p>`
    : "";
  const body =
    await html`<!doctype html><html lang="${ctx.locale}"><body style="font-family:system-ui,sans-serif;color:#1f2933">
<p>${greeting}</p>
<p>${intro}</p>
${table}${coupon}${button}
<p style="font-size:12px;color:#667"><a href="${ctx.links.unsubscribe}">${foot.unsubscribe}</a></p>
<img src="${ctx.links.open}" alt="" width="1" height="1" style="display:none">
</body></html>`;

  const lines =
    t.block === "cart"
      ? [
          ...ctx.lines.map((l) => `- ${l.name} × ${l.quantity}: ${money(l.price * l.quantity)}`),
          `${foot.total}: ${money(total)}`,
        ]
      : ctx.products.map((p) => `- ${p.name}: ${money(p.price)}`);
  const text = [
    greeting,
    "",
    intro,
    ...lines,
    ...(ctx.coupon ? ["", `${foot.code}: ${ctx.coupon}`] : []),
    ...(copy.cta ? ["", `${fill(copy.cta, ctx)}: ${ctx.links.cta}`] : []),
    "",
    `${foot.unsubscribe}: ${ctx.links.unsubscribe}`,
  ].join("\n");
  return { subject, html: body.toString(), text };
}

/** A short message for SMS (≤ 2 segments where possible): intro, code, link. */
export function renderSms(t: MessageTemplate, ctx: MessageContext): string {
  const copy = t.copy[ctx.locale];
  return [
    fill(copy.intro, ctx),
    ctx.coupon ? `${FOOT[ctx.locale].code}: ${ctx.coupon}` : "",
    copy.cta ? ctx.links.cta : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/** What the automated call says (TwiML <Say>); the caller-facing words only, no links. */
export function renderCallScript(t: MessageTemplate, ctx: MessageContext): string {
  const copy = t.copy[ctx.locale];
  return [fill(copy.intro, ctx), ctx.coupon ? `${FOOT[ctx.locale].code}: ${ctx.coupon.split("").join(" ")}.` : ""]
    .filter(Boolean)
    .join(" ");
}
