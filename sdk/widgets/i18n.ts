import type { Locale, OnsiteConfig } from "../contract";

/**
 * The widgets' words in English, French and Russian. Merchants override any string per locale in
 * the onsite config (`text.fr.coupon_title`). `{offer}` style placeholders are filled in by `t`.
 */
const en = {
  close: "Close",
  loading: "Loading…",
  error: "Something went wrong. Please try again.",
  required: "Please fill in this field.",
  invalid_email: "Enter a valid email address, e.g. name@example.com.",
  invalid_phone: "Enter the number with its country code, e.g. +44 20 7946 0958.",
  consent_required: "Please tick the box to continue.",
  rate_limited: "You've done that a few times already. Please try again later.",
  coupon_title: "Before you go: {offer} off",
  coupon_body: "Here's your personal code. It's already applied to your cart.",
  coupon_code: "Your code",
  coupon_copy: "Copy code",
  coupon_copied: "Copied",
  coupon_continue: "Continue shopping",
  friend_title: "Send to a friend",
  friend_body: "We'll email your friend a link to this product with a welcome offer.",
  friend_email: "Your friend's email",
  friend_name: "Your name",
  friend_consent: "My friend knows me and is happy to get one email about this.",
  friend_submit: "Send",
  friend_done: "Sent. Thanks for sharing!",
  share_title: "Or share a link",
  share_reward: "It carries your referral code: when a friend places their first order, you get a reward.",
  share_text: "I think you'll like this",
  share_link: "Your link",
  share_copy: "Copy link",
  callback_title: "Request a callback",
  callback_body: "Leave your number and our team will call you back.",
  callback_name: "Your name (optional)",
  callback_phone: "Phone number with country code",
  callback_window: "Best time to call",
  window_asap: "As soon as possible",
  window_morning: "Morning (9–12)",
  window_afternoon: "Afternoon (12–17)",
  window_evening: "Evening (17–20)",
  callback_consent: "Call me about my request and confirm it by SMS.",
  callback_submit: "Call me back",
  callback_done: "Thank you! We'll call you back and confirm by SMS.",
  newsletter_title: "Join our newsletter",
  newsletter_body: "New arrivals, tips and a welcome offer, about twice a month.",
  newsletter_email: "Email",
  newsletter_consent: "Send me marketing emails. I can unsubscribe at any time.",
  newsletter_submit: "Subscribe",
  newsletter_done: "You're subscribed. Check your inbox for a welcome gift.",
  cart_title: "Welcome back! Your cart is waiting for you.",
  cart_link: "View cart",
};

export type Key = keyof typeof en;

const fr: Record<Key, string> = {
  close: "Fermer",
  loading: "Chargement…",
  error: "Une erreur s'est produite. Veuillez réessayer.",
  required: "Veuillez remplir ce champ.",
  invalid_email: "Saisissez une adresse e-mail valide, p. ex. nom@exemple.fr.",
  invalid_phone: "Saisissez le numéro avec l'indicatif du pays, p. ex. +33 1 23 45 67 89.",
  consent_required: "Veuillez cocher la case pour continuer.",
  rate_limited: "Vous l'avez déjà fait plusieurs fois. Réessayez plus tard.",
  coupon_title: "Avant de partir : {offer} de réduction",
  coupon_body: "Voici votre code personnel. Il est déjà appliqué à votre panier.",
  coupon_code: "Votre code",
  coupon_copy: "Copier le code",
  coupon_copied: "Copié",
  coupon_continue: "Continuer mes achats",
  friend_title: "Envoyer à un ami",
  friend_body: "Nous enverrons à votre ami un lien vers ce produit avec une offre de bienvenue.",
  friend_email: "E-mail de votre ami",
  friend_name: "Votre nom",
  friend_consent: "Mon ami me connaît et accepte de recevoir un e-mail à ce sujet.",
  friend_submit: "Envoyer",
  friend_done: "Envoyé. Merci du partage !",
  share_title: "Ou partagez un lien",
  share_reward: "Il contient votre code de parrainage : quand un ami passe sa première commande, vous êtes récompensé.",
  share_text: "Je pense que ceci va te plaire",
  share_link: "Votre lien",
  share_copy: "Copier le lien",
  callback_title: "Être rappelé",
  callback_body: "Laissez votre numéro, notre équipe vous rappellera.",
  callback_name: "Votre nom (facultatif)",
  callback_phone: "Numéro de téléphone avec indicatif",
  callback_window: "Meilleur moment pour appeler",
  window_asap: "Dès que possible",
  window_morning: "Matin (9h–12h)",
  window_afternoon: "Après-midi (12h–17h)",
  window_evening: "Soir (17h–20h)",
  callback_consent: "Appelez-moi au sujet de ma demande et confirmez-la par SMS.",
  callback_submit: "Rappelez-moi",
  callback_done: "Merci ! Nous vous rappellerons et confirmerons par SMS.",
  newsletter_title: "Abonnez-vous à notre newsletter",
  newsletter_body: "Nouveautés, conseils et une offre de bienvenue, environ deux fois par mois.",
  newsletter_email: "E-mail",
  newsletter_consent: "Envoyez-moi des e-mails marketing. Je peux me désabonner à tout moment.",
  newsletter_submit: "S'abonner",
  newsletter_done: "Vous êtes abonné. Un cadeau de bienvenue vous attend dans votre boîte mail.",
  cart_title: "Bon retour ! Votre panier vous attend.",
  cart_link: "Voir le panier",
};

const ru: Record<Key, string> = {
  close: "Закрыть",
  loading: "Загрузка…",
  error: "Что-то пошло не так. Попробуйте ещё раз.",
  required: "Заполните это поле.",
  invalid_email: "Введите корректный адрес почты, например name@example.com.",
  invalid_phone: "Введите номер с кодом страны, например +7 495 123-45-67.",
  consent_required: "Отметьте флажок, чтобы продолжить.",
  rate_limited: "Вы уже сделали это несколько раз. Попробуйте позже.",
  coupon_title: "Не уходите: скидка {offer}",
  coupon_body: "Ваш личный код. Он уже применён к корзине.",
  coupon_code: "Ваш код",
  coupon_copy: "Скопировать код",
  coupon_copied: "Скопировано",
  coupon_continue: "Продолжить покупки",
  friend_title: "Отправить другу",
  friend_body: "Мы отправим другу ссылку на этот товар и приветственное предложение.",
  friend_email: "Почта друга",
  friend_name: "Ваше имя",
  friend_consent: "Мой друг знает меня и не против получить одно письмо об этом.",
  friend_submit: "Отправить",
  friend_done: "Отправлено. Спасибо, что поделились!",
  share_title: "Или поделитесь ссылкой",
  share_reward: "В ней ваш реферальный код: когда друг сделает первый заказ, вы получите награду.",
  share_text: "Думаю, тебе понравится",
  share_link: "Ваша ссылка",
  share_copy: "Копировать ссылку",
  callback_title: "Заказать обратный звонок",
  callback_body: "Оставьте номер, и наша команда вам перезвонит.",
  callback_name: "Ваше имя (необязательно)",
  callback_phone: "Номер телефона с кодом страны",
  callback_window: "Удобное время для звонка",
  window_asap: "Как можно скорее",
  window_morning: "Утром (9–12)",
  window_afternoon: "Днём (12–17)",
  window_evening: "Вечером (17–20)",
  callback_consent: "Позвоните мне по заявке и подтвердите её по SMS.",
  callback_submit: "Перезвоните мне",
  callback_done: "Спасибо! Мы перезвоним и подтвердим заявку по SMS.",
  newsletter_title: "Подпишитесь на рассылку",
  newsletter_body: "Новинки, советы и приветственный подарок — пару раз в месяц.",
  newsletter_email: "Почта",
  newsletter_consent: "Присылайте мне рекламные письма. Я могу отписаться в любой момент.",
  newsletter_submit: "Подписаться",
  newsletter_done: "Вы подписаны. Подарок уже ждёт вас в почте.",
  cart_title: "С возвращением! Ваша корзина ждёт вас.",
  cart_link: "Перейти в корзину",
};

const BUILT_IN: Record<Locale, Record<Key, string>> = { en, fr, ru };

/** Every text key (the dashboard's editor lists a widget's by prefix); unused by the widget chunk. */
export const textKeys = (): Key[] => Object.keys(en) as Key[];

/**
 * The shopper's language: the page's when we speak it (the store chose it for this page), else,
 * on a page that names none, the browser's first one we speak, else the site's default, else English.
 */
export function pickLocale(config: OnsiteConfig, pageLang: string, browserLangs: readonly string[] = []): Locale {
  const spoken = (tag: string) => {
    const lang = tag.slice(0, 2).toLowerCase();
    return lang in BUILT_IN ? (lang as Locale) : undefined;
  };
  return (pageLang ? spoken(pageLang) : browserLangs.map(spoken).find(Boolean)) ?? config.locale ?? "en";
}

/** Texts by key; an unknown key (say, a new server error code) comes back as itself. */
export type T = (key: Key, vars?: Record<string, string>) => string;

export function translator(config: OnsiteConfig, locale: Locale): T {
  const own = config.text?.[locale] ?? {};
  return (key, vars = {}) =>
    (own[key] ?? BUILT_IN[locale][key] ?? en[key] ?? key).replace(/\{(\w+)\}/g, (m, name: string) => vars[name] ?? m);
}
