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
  category?: string | null;
}

/**
 * How the products a message shows were chosen, said in the mail as it is: a cross-sell says
 * "bought together" only when orders show it, else "from the same category".
 */
export type Basis = "bought_together" | "same_category" | "best_seller" | "most_viewed" | "in_your_size";

/** A second list under the main products: the loyalty mail's products in the contact's size. */
export interface Showcase {
  basis: Basis;
  /** The contact's size as their `size` trait gives it. */
  size: string;
  products: Product[];
}

export interface MessageContext {
  site: Site;
  locale: Locale;
  name: string | null;
  /** The open cart (cart templates). */
  lines: CartLine[];
  /** The products the template shows: viewed, related, top, shared. */
  products: Product[];
  /** How `products` were chosen, when the message recommends them (null: the shopper's own product). */
  basis: Basis | null;
  showcase: Showcase | null;
  coupon: string | null;
  /** What a bound code works on ("E7247 speaker"), said beside the code; null: the whole order. */
  couponScope: string | null;
  /** From the trigger: the sender of a referral (free text), a callback window (one of four words). */
  sender: string | null;
  window: string | null;
  /** `cta` already goes through click tracking; `open` is the pixel; `unsubscribe` asks first. */
  links: { cta: string; unsubscribe: string; open: string };
  subject?: string;
  /** The order the journey is about (the merchant's id, shown escaped). */
  orderId?: string | null;
  /** Shipping status templates: which event started the journey. */
  shipment?: "shipped" | "delivered" | null;
  /** Calls: whether an earlier step of this journey sent the shopper a link (email or SMS). */
  linkSent?: boolean;
  /** Templates that `ask` why the cart was left: one signed link per answer. */
  reasons?: { reason: LeaveReason; url: string }[];
  /** The merchant's words for this step in this locale (campaign `content`), over the template's. */
  content?: Partial<Copy>;
}

export interface Rendered {
  subject: string;
  html: string;
  text: string;
}

/**
 * What a template needs loaded before it renders. `loyalty`: the top product (its code bound to
 * it) and a showcase of the merchant's products in the contact's size.
 */
export type Block = "cart" | "viewed" | "related" | "top" | "loyalty" | "shared" | "none";
/**
 * Where its button leads: the restored cart, the product, the store, the callback form (a signed
 * link to a one-field page), or the URL the merchant's event carried (tracking, payment).
 */
export type Cta = "restore" | "product" | "store" | "callback" | "journey";

/** The one-tap answers to "why did you leave?" (results count them per campaign). */
export const LEAVE_REASONS = ["price", "shipping", "browsing", "problem"] as const;
export type LeaveReason = (typeof LEAVE_REASONS)[number];

export interface Copy {
  subject: string;
  intro: string;
  cta: string;
  /**
   * Calls: what `{link}` says — [when an earlier step of the journey sent a link, when none did].
   * A call must never claim "we have sent you a link" that nobody sent.
   */
  link?: [string, string];
}

/** What `{…}` may name in a template's or a merchant's words; anything else is refused on save. */
export const PLACEHOLDERS = [
  "name",
  "store",
  "items",
  "order",
  "status",
  "link",
  "product",
  "sender",
  "window",
] as const;

export interface MessageTemplate {
  block: Block;
  cta: Cta;
  /** Transactional messages (a confirmation the shopper asked for) skip quiet hours and caps. */
  transactional?: boolean;
  /** Ask "why did you leave?" with one-tap answers (LEAVE_REASONS) below the button. */
  ask?: "leave_reason";
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
    cart_reminder: {
      ...T("cart", "restore", {
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
          subject: "Вы оставили в корзине {items}",
          intro: "Ваша корзина в {store} ждёт вас.",
          cta: "Вернуться в корзину",
        },
      }),
      ask: "leave_reason" as const,
    },
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
        intro: "{store}: вы оставили в корзине {items}.",
        cta: "Оформить заказ",
      },
    }),
    cart_call: T("cart", "restore", {
      en: {
        subject: "Call about your cart",
        intro: "Hello {name}, this is {store}. You left {items} in your cart. {link} Thank you!",
        cta: "",
        link: ["We have sent you a link to finish your order.", "You can finish your order on our website."],
      },
      fr: {
        subject: "Appel au sujet de votre panier",
        intro: "Bonjour {name}, ici {store}. Vous avez laissé {items} dans votre panier. {link} Merci !",
        cta: "",
        link: [
          "Nous vous avons envoyé un lien pour terminer votre commande.",
          "Vous pouvez terminer votre commande sur notre site.",
        ],
      },
      ru: {
        subject: "Звонок о вашей корзине",
        intro: "Здравствуйте, {name}! Это {store}. Вы оставили в корзине {items}. {link} Спасибо!",
        cta: "",
        link: ["Мы отправили вам ссылку, чтобы завершить заказ.", "Завершить заказ можно на нашем сайте."],
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
          intro: "Your payment to {store} went through.",
          cta: "Visit the store",
        },
        fr: {
          subject: "Merci pour votre commande",
          intro: "Votre paiement à {store} est confirmé.",
          cta: "Voir la boutique",
        },
        ru: {
          subject: "Спасибо за заказ",
          intro: "Оплата в {store} прошла.",
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
        intro: "It has been a while. Here is a discount just for you on one of our favourites.",
        cta: "See what's new",
      },
      fr: {
        subject: "Vous nous manquez chez {store}",
        intro: "Cela fait longtemps. Voici une remise rien que pour vous sur l'un de nos favoris.",
        cta: "Voir les nouveautés",
      },
      ru: {
        subject: "Мы скучаем по вам в {store}",
        intro: "Давно не виделись. Вот скидка только для вас на один из наших любимых товаров.",
        cta: "Посмотреть",
      },
    }),
    loyalty: T("loyalty", "product", {
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
    // Carts Guru's flows and the touchpoints after an order (issue 18).
    /** The third cart step: one link, to a one-field callback form; a reply CALL is taken too (routes/feedback.ts). */
    cart_callback_offer: T("cart", "callback", {
      en: {
        subject: "{store}: questions about your cart?",
        intro: "{store}: you left {items} in your cart. Questions? Reply CALL or tap to be called back:",
        cta: "Call me back",
      },
      fr: {
        subject: "{store} : une question sur votre panier ?",
        intro:
          "{store} : vous avez laissé {items} dans votre panier. Une question ? Répondez APPEL ou touchez pour être rappelé :",
        cta: "Rappelez-moi",
      },
      ru: {
        subject: "{store}: вопросы о корзине?",
        intro: "{store}: вы оставили в корзине {items}. Есть вопросы? Ответьте ЗВОНОК или нажмите, и мы перезвоним:",
        cta: "Перезвоните мне",
      },
    }),
    payment_failed: T(
      "none",
      "journey",
      {
        en: {
          subject: "Your payment to {store} did not go through",
          intro:
            "Your payment for order {order} was declined, so the order is not complete yet. You can pay again in a minute.",
          cta: "Complete my payment",
        },
        fr: {
          subject: "Votre paiement à {store} n'a pas abouti",
          intro:
            "Votre paiement pour la commande {order} a été refusé : la commande n'est pas encore validée. Vous pouvez payer à nouveau en une minute.",
          cta: "Finaliser mon paiement",
        },
        ru: {
          subject: "Оплата в {store} не прошла",
          intro: "Оплата заказа {order} отклонена, поэтому заказ ещё не оформлен. Оплатить снова можно за минуту.",
          cta: "Оплатить заказ",
        },
      },
      true,
    ),
    payment_failed_call: T(
      "none",
      "journey",
      {
        en: {
          subject: "Call about your payment",
          intro: "Hello {name}, this is {store}. Your payment for your order did not go through. {link} Thank you!",
          cta: "",
          link: ["We have sent you a link to complete your payment.", "You can complete your payment on our website."],
        },
        fr: {
          subject: "Appel au sujet de votre paiement",
          intro: "Bonjour {name}, ici {store}. Le paiement de votre commande n'a pas abouti. {link} Merci !",
          cta: "",
          link: [
            "Nous vous avons envoyé un lien pour finaliser votre paiement.",
            "Vous pouvez finaliser votre paiement sur notre site.",
          ],
        },
        ru: {
          subject: "Звонок об оплате заказа",
          intro: "Здравствуйте, {name}! Это {store}. Оплата вашего заказа не прошла. {link} Спасибо!",
          cta: "",
          link: ["Мы отправили вам ссылку для оплаты.", "Оплатить заказ можно на нашем сайте."],
        },
      },
      true,
    ),
    /**
     * Transactional with a cross-sell block: the confirmation leads and the subject says only that
     * (the "primary purpose" test of CAN-SPAM, 16 CFR 316.3(a)(2)), so it goes to an unsubscribed
     * buyer and at night; the recommendations are marketing, so they are left out for a contact who
     * opted out (the right to object in every message, ePrivacy Directive art. 13(2)).
     */
    order_confirmation: T(
      "related",
      "store",
      {
        en: {
          subject: "Your order {order} is confirmed",
          intro:
            "Thank you for your order at {store}. We have received order {order} and will let you know when it ships.",
          cta: "Visit the store",
        },
        fr: {
          subject: "Votre commande {order} est confirmée",
          intro:
            "Merci pour votre commande chez {store}. Nous avons bien reçu la commande {order} et vous préviendrons de son expédition.",
          cta: "Voir la boutique",
        },
        ru: {
          subject: "Заказ {order} подтверждён",
          intro: "Спасибо за заказ в {store}! Мы получили заказ {order} и сообщим, когда он будет отправлен.",
          cta: "Перейти в магазин",
        },
      },
      true,
    ),
    shipping_status: T(
      "related",
      "journey",
      {
        en: {
          subject: "Your order {order} {status}",
          intro: "Good news from {store}: your order {order} {status}.",
          cta: "Track my order",
        },
        fr: {
          subject: "Votre commande {order} {status}",
          intro: "Bonne nouvelle de {store} : votre commande {order} {status}.",
          cta: "Suivre ma commande",
        },
        ru: {
          subject: "Ваш заказ {order} {status}",
          intro: "Хорошие новости от {store}: ваш заказ {order} {status}.",
          cta: "Отследить заказ",
        },
      },
      true,
    ),
    // Post-purchase "email literature": useful content first, a reason to buy again after. Marketing.
    post_purchase_content: T("none", "store", {
      en: {
        subject: "Getting the most from your order",
        intro:
          "Thank you again for shopping at {store}. Three tips: keep the packaging for 30 days in case you want to return something, register your product for its warranty, and read our care and set-up guides.",
        cta: "Read our guides",
      },
      fr: {
        subject: "Profitez pleinement de votre commande",
        intro:
          "Merci encore pour votre achat chez {store}. Trois conseils : gardez l'emballage 30 jours en cas de retour, enregistrez votre produit pour sa garantie et lisez nos guides d'entretien et d'installation.",
        cta: "Lire nos guides",
      },
      ru: {
        subject: "Как получить максимум от покупки",
        intro:
          "Спасибо ещё раз за покупку в {store}. Три совета: сохраните упаковку на 30 дней на случай возврата, зарегистрируйте товар для гарантии и прочитайте наши инструкции по уходу и настройке.",
        cta: "Читать инструкции",
      },
    }),
    next_purchase: T("none", "store", {
      en: {
        subject: "A little something for your next order at {store}",
        intro: "Thank you for being a customer of {store}. Here is a code for your next purchase.",
        cta: "Shop again",
      },
      fr: {
        subject: "Une attention pour votre prochaine commande chez {store}",
        intro: "Merci d'être client de {store}. Voici un code pour votre prochain achat.",
        cta: "Retourner à la boutique",
      },
      ru: {
        subject: "Подарок к следующему заказу в {store}",
        intro: "Спасибо, что вы с {store}! Вот промокод на следующую покупку.",
        cta: "За покупками",
      },
    }),
  }),
);

/**
 * "3 items" by each language's plural rules (CLDR, through Intl.PluralRules): French treats 0 and 1
 * alike ("0 article"), Russian has three forms (1, 21 товар; 2, 22 товара; 5, 11, 25 товаров).
 * `other` is the fallback for any category a language's rules add.
 */
const ITEM_FORMS: Record<Locale, Partial<Record<Intl.LDMLPluralRule, string>> & { other: string }> = {
  en: { one: "# item", other: "# items" },
  fr: { one: "# article", many: "# d'articles", other: "# articles" },
  ru: { one: "# товар", few: "# товара", many: "# товаров", other: "# товара" },
};
const PLURALS = new Map(LOCALES.map((l) => [l, new Intl.PluralRules(l)]));

/** `n` items in `locale`, e.g. items("ru", 22) === "22 товара". */
export function items(locale: Locale, n: number): string {
  const forms = ITEM_FORMS[locale];
  const rule = PLURALS.get(locale)?.select(n) ?? "other";
  return (forms[rule] ?? forms.other).replace("#", String(n));
}
/** Shipping status in words, by the event that started the journey. */
const SHIPMENT: Record<Locale, Record<"shipped" | "delivered", string>> = {
  en: { shipped: "is on its way", delivered: "has been delivered" },
  fr: { shipped: "est en route", delivered: "a été livrée" },
  ru: { shipped: "в пути", delivered: "доставлен" },
};
/** The question and its answers, as the reminder shows them (routes/answers.ts echoes the one tapped). */
export const REASONS: Record<Locale, { ask: string } & Record<LeaveReason, string>> = {
  en: {
    ask: "Not for you this time? Tell us why in one tap:",
    price: "Too expensive",
    shipping: "Delivery cost or time",
    browsing: "Just looking",
    problem: "Something went wrong",
  },
  fr: {
    ask: "Pas cette fois ? Dites-nous pourquoi en un clic :",
    price: "Trop cher",
    shipping: "Livraison (prix ou délai)",
    browsing: "Je regardais seulement",
    problem: "Un problème technique",
  },
  ru: {
    ask: "Передумали? Расскажите почему — в одно касание:",
    price: "Слишком дорого",
    shipping: "Доставка (цена или срок)",
    browsing: "Просто смотрю",
    problem: "Что-то не работало",
  },
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
/** The caption over recommended products: the method, as it was. `{size}` is the contact's size. */
const BASIS: Record<Locale, Record<Basis, string>> = {
  en: {
    bought_together: "Customers who bought the same also bought:",
    same_category: "More from the same category:",
    best_seller: "Our best-seller of the last 90 days:",
    most_viewed: "Our most viewed product:",
    in_your_size: "In your size ({size}):",
  },
  fr: {
    bought_together: "Les clients qui ont acheté la même chose ont aussi acheté :",
    same_category: "Dans la même catégorie :",
    best_seller: "Notre meilleure vente des 90 derniers jours :",
    most_viewed: "Notre produit le plus consulté :",
    in_your_size: "Dans votre taille ({size}) :",
  },
  ru: {
    bought_together: "Покупатели, купившие то же самое, купили и это:",
    same_category: "Ещё из той же категории:",
    best_seller: "Наш хит продаж за последние 90 дней:",
    most_viewed: "Наш самый просматриваемый товар:",
    in_your_size: "В вашем размере ({size}):",
  },
};
const HELLO: Record<Locale, [string, string]> = {
  en: ["Hi {name},", "Hi,"],
  fr: ["Bonjour {name},", "Bonjour,"],
  ru: ["Здравствуйте, {name}!", "Здравствуйте!"],
};
const FOOT: Record<Locale, { total: string; code: string; only: string; unsubscribe: string }> = {
  en: { total: "Total", code: "Your code", only: "Valid on {scope} only.", unsubscribe: "Unsubscribe" },
  fr: { total: "Total", code: "Votre code", only: "Valable uniquement sur {scope}.", unsubscribe: "Se désabonner" },
  ru: { total: "Итого", code: "Ваш промокод", only: "Действует только на {scope}.", unsubscribe: "Отписаться" },
};

/** The contact's language when we speak it, else English. */
export function localeOf(value: unknown): Locale {
  const tag = typeof value === "string" ? value.slice(0, 2).toLowerCase() : "";
  return (LOCALES as readonly string[]).includes(tag) ? (tag as Locale) : "en";
}

function fill(text: string, ctx: MessageContext, copy?: Copy): string {
  const vars: Record<string, string> = {
    name: ctx.name ?? "",
    store: ctx.site.name,
    items: items(ctx.locale, ctx.lines.length),
    order: ctx.orderId ?? "",
    status: ctx.shipment ? SHIPMENT[ctx.locale][ctx.shipment] : "",
    link: ctx.linkSent ? (copy?.link?.[0] ?? "") : (copy?.link?.[1] ?? ""),
    product: ctx.products[0]?.name ?? "",
    sender: ctx.sender ?? "",
    window:
      (ctx.window && Object.hasOwn(WINDOWS[ctx.locale], ctx.window) && WINDOWS[ctx.locale][ctx.window]) ||
      SOON[ctx.locale],
  };
  return text
    .replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m)
    .replace(/ {2,}/g, " ")
    .replace(/\s+([,.!])/g, "$1");
}

/** The template's words for the contact's locale, with the merchant's own (a step's `content`) on top. */
const copyOf = (t: MessageTemplate, ctx: MessageContext): Copy => ({ ...t.copy[ctx.locale], ...ctx.content });

const DEFAULT_BRAND = "#2457d6";
/**
 * Dark or light words on the brand colour, whichever contrasts more (WCAG relative luminance): a
 * merchant's pale yellow button keeps readable text without a second setting.
 */
function onColour(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white is 1.05 / (l + 0.05); with near-black (#111, l ≈ 0.0056) (l + 0.05) / 0.0556.
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.0556 ? "#fff" : "#111";
}

/**
 * Email (HTML + text), in the site's branding (settings: logo, colour, footer text, postal address).
 * The SMS and call channels send `renderSms` / `renderCallScript` instead.
 */
export async function renderMessage(t: MessageTemplate, ctx: MessageContext): Promise<Rendered> {
  const copy = copyOf(t, ctx);
  const foot = FOOT[ctx.locale];
  const brand = ctx.site.settings;
  // Stored colours are checked as #rrggbb (routes/branding.ts); anything else reads as the default.
  const colour = /^#[0-9a-f]{6}$/i.test(brand.brandColor) ? brand.brandColor : DEFAULT_BRAND;
  const money = (n: number) => formatMoney(n, ctx.site.currency);
  const subject = fill(ctx.subject ?? copy.subject, ctx);
  const greeting = fill(HELLO[ctx.locale][ctx.name ? 0 : 1], ctx);
  const intro = fill(copy.intro, ctx, copy);
  const total = ctx.lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
  const img = (src: string | null) => (src ? html`<img src="${src}" alt="" width="64" height="64">` : "");

  const list = (products: Product[]) =>
    html`<table cellpadding="6">${products.map(
      (p) => html`<tr><td>${img(p.imageUrl)}</td><td>${p.name}</td><td align="right">${money(p.price)}</td></tr>`,
    )}</table>`;
  // A function replacer: a size trait is the shopper's text, and "$&" in it must stay "$&".
  const caption = (basis: Basis | null, size = "") =>
    basis ? BASIS[ctx.locale][basis].replace("{size}", () => size) : "";
  const head = caption(ctx.basis);
  const shows = ctx.showcase && ctx.showcase.products.length > 0 ? ctx.showcase : null;
  const more = shows ? caption(shows.basis, shows.size) : "";
  const table =
    t.block === "cart"
      ? html`<table cellpadding="6">${ctx.lines.map(
          (l) =>
            html`<tr><td>${img(l.imageUrl)}</td><td>${l.name} × ${l.quantity}</td><td align="right">${money(l.price * l.quantity)}</td></tr>`,
        )}
<tr><td></td><td><strong>${foot.total}</strong></td><td align="right"><strong>${money(total)}</strong></td></tr></table>`
      : ctx.products.length > 0
        ? html`${head ? html`<p>${head}</p>` : ""}${list(ctx.products)}`
        : "";
  const showcase = shows ? html`<p>${more}</p>${list(shows.products)}` : "";
  const only = ctx.coupon && ctx.couponScope ? foot.only.replace("{scope}", () => ctx.couponScope ?? "") : "";
  const coupon = ctx.coupon
    ? html`<p style="font-size:18px">${foot.code}: <strong style="letter-spacing:1px">${ctx.coupon}</strong></p>${only ? html`<p>${only}</p>` : ""}`
    : "";
  const button = copy.cta
    ? html`<p><a href="${ctx.links.cta}" style="background:${colour};color:${onColour(colour)};padding:10px 16px;border-radius:6px;text-decoration:none">${fill(copy.cta, ctx)}</a></p>`
    : "";
  const ask = REASONS[ctx.locale];
  const reasons = ctx.reasons?.length
    ? html`<p style="font-size:14px">${ask.ask}<br>${ctx.reasons.map(
        (r, i) => html`${i ? " · " : ""}<a href="${r.url}">${ask[r.reason]}</a>`,
      )}</p>`
    : "";
  const logo = brand.logoUrl
    ? html`<p><img src="${brand.logoUrl}" alt="${ctx.site.name}" height="40" style="max-width:200px;height:40px"></p>`
    : html`<p style="font-size:20px;font-weight:bold;color:${colour}">${ctx.site.name}</p>`;
  // The postal address: the physical address US law (CAN-SPAM) requires in commercial email.
  const lines = (s: string) => s.split("\n").map((l, i) => (i === 0 ? html`${l}` : html`<br>${l}`));
  const footer = html`<div style="border-top:1px solid #dde;margin-top:24px;padding-top:12px;font-size:12px;color:#667">
${brand.footerText ? html`<p>${lines(fill(brand.footerText, ctx))}</p>` : ""}<p>${ctx.site.name}${brand.postalAddress ? html`<br>${lines(brand.postalAddress)}` : ""}</p>
<p><a href="${ctx.links.unsubscribe}" style="color:#667">${foot.unsubscribe}</a></p></div>`;
  const body =
    await html`<!doctype html><html lang="${ctx.locale}"><body style="font-family:system-ui,sans-serif;color:#1f2933">
${logo}
<p>${greeting}</p>
<p>${intro}</p>
${table}${coupon}${showcase}${button}${reasons}
${footer}
<img src="${ctx.links.open}" alt="" width="1" height="1" style="display:none">
</body></html>`;

  const items =
    t.block === "cart"
      ? [
          ...ctx.lines.map((l) => `- ${l.name} × ${l.quantity}: ${money(l.price * l.quantity)}`),
          `${foot.total}: ${money(total)}`,
        ]
      : [...(head ? [head] : []), ...ctx.products.map((p) => `- ${p.name}: ${money(p.price)}`)];
  const text = [
    greeting,
    "",
    intro,
    ...items,
    ...(ctx.coupon ? ["", `${foot.code}: ${ctx.coupon}`, ...(only ? [only] : [])] : []),
    ...(shows ? ["", more, ...shows.products.map((p) => `- ${p.name}: ${money(p.price)}`)] : []),
    ...(copy.cta ? ["", `${fill(copy.cta, ctx)}: ${ctx.links.cta}`] : []),
    ...(ctx.reasons?.length ? ["", ask.ask, ...ctx.reasons.map((r) => `- ${ask[r.reason]}: ${r.url}`)] : []),
    "",
    "--",
    ...(brand.footerText ? [fill(brand.footerText, ctx)] : []),
    ctx.site.name,
    ...(brand.postalAddress ? [brand.postalAddress] : []),
    `${foot.unsubscribe}: ${ctx.links.unsubscribe}`,
  ].join("\n");
  return { subject, html: body.toString(), text };
}

/** A short message for SMS (≤ 2 segments where possible): intro, code, link. */
export function renderSms(t: MessageTemplate, ctx: MessageContext): string {
  const copy = copyOf(t, ctx);
  return [
    fill(copy.intro, ctx, copy),
    ctx.coupon ? `${FOOT[ctx.locale].code}: ${ctx.coupon}` : "",
    copy.cta ? ctx.links.cta : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/** What the automated call says (TwiML <Say>); the caller-facing words only, no links. */
export function renderCallScript(t: MessageTemplate, ctx: MessageContext): string {
  const copy = copyOf(t, ctx);
  return [fill(copy.intro, ctx, copy), ctx.coupon ? `${FOOT[ctx.locale].code}: ${ctx.coupon.split("").join(" ")}.` : ""]
    .filter(Boolean)
    .join(" ");
}
