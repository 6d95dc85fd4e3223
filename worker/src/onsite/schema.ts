import { LOCALES, type OnsiteConfig, TRIGGERS, type Trigger, WIDGET_TYPES, type Widget } from "../../../sdk/contract";
import { isDict } from "../lib/values";

export type { OnsiteConfig, Widget };

/**
 * The onsite configuration: which widgets a site shows, when, to whom, how often, and in which
 * words and colours. The SDK reads it from `GET /v1/sdk/config`; merchants write it through
 * `PUT /v1/admin/onsite`. Input is rebuilt field by field with bounds, never trusted as is —
 * whatever is stored is served to every shopper's browser.
 */

export class ConfigError extends Error {}

const bad = (message: string): never => {
  throw new ConfigError(message);
};

const oneOf = <T extends string>(v: unknown, options: readonly T[], field: string): T =>
  typeof v === "string" && (options as readonly string[]).includes(v)
    ? (v as T)
    : bad(`${field} must be one of ${options.join(", ")}.`);

const num = (v: unknown, min: number, max: number, field: string): number =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max
    ? v
    : bad(`${field} must be a number from ${min} to ${max}.`);

const str = (v: unknown, max: number, field: string): string =>
  typeof v === "string" && v.length > 0 && v.length <= max
    ? v
    : bad(`${field} must be a string of 1–${max} characters.`);

const bool = (v: unknown, field: string): boolean =>
  typeof v === "boolean" ? v : bad(`${field} must be true or false.`);

const dict = (v: unknown, field: string): Record<string, unknown> =>
  isDict(v) ? v : bad(`${field} must be an object.`);

const opt = <T>(v: unknown, read: (v: unknown) => T): T | undefined => (v === undefined ? undefined : read(v));

/** Drops undefined fields, so the stored JSON (and its ETag) only says what was set. */
const compact = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const patterns = (v: unknown, field: string): string[] =>
  Array.isArray(v) && v.length <= 20
    ? v.map((p, i) => str(p, 200, `${field}[${i}]`))
    : bad(`${field} must be a list of at most 20 patterns.`);

function trigger(raw: unknown, f: string): Trigger {
  const t = dict(raw, f);
  const on = oneOf(t.on, TRIGGERS, `${f}.on`);
  const m = opt(t.mobile, (v) => dict(v, `${f}.mobile`));
  return compact({
    on,
    value: opt(t.value, (v) => num(v, 0, 86_400, `${f}.value`)),
    delay: opt(t.delay, (v) => num(v, 0, 600_000, `${f}.delay`)),
    selector: on === "click" ? str(t.selector, 200, `${f}.selector`) : undefined,
    mobile: m
      ? compact({
          scrollUp: opt(m.scrollUp, (v) => bool(v, `${f}.mobile.scrollUp`)),
          tabSwitch: opt(m.tabSwitch, (v) => bool(v, `${f}.mobile.tabSwitch`)),
          inactivity: opt(m.inactivity, (v) => num(v, 1, 3600, `${f}.mobile.inactivity`)),
          back: opt(m.back, (v) => bool(v, `${f}.mobile.back`)),
        })
      : undefined,
  });
}

function widget(raw: unknown, f: string): Widget {
  const w = dict(raw, f);
  const pages = opt(w.pages, (v) => dict(v, `${f}.pages`));
  const cart = opt(w.cart, (v) => dict(v, `${f}.cart`));
  const aud = opt(w.audience, (v) => dict(v, `${f}.audience`));
  const cap = opt(w.cap, (v) => dict(v, `${f}.cap`));
  const id = str(w.id, 64, `${f}.id`);
  if (!/^[\w-]+$/.test(id)) bad(`${f}.id may hold letters, digits, _ and - only.`);
  return compact({
    id,
    type: oneOf(w.type, WIDGET_TYPES, `${f}.type`),
    priority: w.priority === undefined ? 0 : num(w.priority, -1000, 1000, `${f}.priority`),
    trigger: trigger(w.trigger, `${f}.trigger`),
    pages:
      pages &&
      compact({
        include: opt(pages.include, (v) => patterns(v, `${f}.pages.include`)),
        exclude: opt(pages.exclude, (v) => patterns(v, `${f}.pages.exclude`)),
      }),
    cart:
      cart &&
      compact({
        hasItems: opt(cart.hasItems, (v) => bool(v, `${f}.cart.hasItems`)),
        minValue: opt(cart.minValue, (v) => num(v, 0, 1e9, `${f}.cart.minValue`)),
      }),
    audience:
      aud &&
      compact({
        visitor: opt(aud.visitor, (v) => oneOf(v, ["new", "returning"] as const, `${f}.audience.visitor`)),
        identified: opt(aud.identified, (v) => bool(v, `${f}.audience.identified`)),
        segment: opt(aud.segment, (v) => str(v, 64, `${f}.audience.segment`)),
      }),
    cap:
      cap &&
      compact({
        session: opt(cap.session, (v) => num(v, 0, 100, `${f}.cap.session`)),
        days: opt(cap.days, (v) => num(v, 0, 3650, `${f}.cap.days`)),
        dismiss: opt(cap.dismiss, (v) => bool(v, `${f}.cap.dismiss`)),
        convert: opt(cap.convert, (v) => bool(v, `${f}.cap.convert`)),
      }),
    promotion: opt(w.promotion, (v) => str(v, 64, `${f}.promotion`)),
    offer: opt(w.offer, (v) => str(v, 32, `${f}.offer`)),
    link: opt(w.link, (v) =>
      /^(\/|https?:\/\/)/.test(str(v, 500, `${f}.link`))
        ? (v as string)
        : bad(`${f}.link must be a path or an http(s) URL.`),
    ),
  });
}

/** CSS custom properties only, with values that cannot close the declaration or load anything. */
function theme(raw: unknown): Record<string, string> {
  const t = dict(raw, "theme");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(t).slice(0, 40)) {
    if (!/^--nudge-[a-z0-9-]{1,40}$/.test(k)) bad(`theme.${k}: only --nudge-* custom properties can be set.`);
    const value = str(v, 100, `theme.${k}`);
    if (/[;{}<>\\]|url\(/i.test(value)) bad(`theme.${k} must be a plain CSS value.`);
    out[k] = value;
  }
  return out;
}

function texts(raw: unknown): OnsiteConfig["text"] {
  const t = dict(raw, "text");
  const out: NonNullable<OnsiteConfig["text"]> = {};
  for (const [locale, strings] of Object.entries(t)) {
    const l = oneOf(locale, LOCALES, "text locale");
    const s = dict(strings, `text.${l}`);
    if (Object.keys(s).length > 100) bad(`text.${l} holds at most 100 strings.`);
    out[l] = Object.fromEntries(
      Object.entries(s).map(([k, v]) => [str(k, 64, `text.${l} key`), str(v, 500, `text.${l}.${k}`)]),
    );
  }
  return out;
}

/** A valid configuration from untrusted JSON, or a ConfigError naming the first bad field. */
export function parseConfig(raw: unknown): OnsiteConfig {
  const c = dict(raw, "config");
  if (!Array.isArray(c.widgets) || c.widgets.length > 20) bad("widgets must be a list of at most 20 widgets.");
  const widgets = (c.widgets as unknown[]).map((w, i) => widget(w, `widgets[${i}]`));
  if (new Set(widgets.map((w) => w.id)).size !== widgets.length) bad("widget ids must be unique.");
  return compact({
    locale: opt(c.locale, (v) => oneOf(v, LOCALES, "locale")),
    theme: opt(c.theme, theme),
    text: opt(c.text, texts),
    widgets,
  });
}

/** The demo store's widgets (development only): what `npm run demo` shows. */
export const DEMO_CONFIG: OnsiteConfig = {
  locale: "en",
  theme: { "--nudge-accent": "#0f6e68" },
  widgets: [
    {
      id: "exit-coupon",
      type: "coupon",
      priority: 10,
      promotion: "exit-intent-10",
      offer: "10%",
      trigger: { on: "exit_intent", value: 20, delay: 1000, mobile: { scrollUp: true, tabSwitch: true } },
      pages: { exclude: ["/checkout*", "/mailbox*"] },
      cap: { session: 1, days: 7, convert: true },
    },
    {
      id: "send-to-friend",
      type: "friend",
      priority: 5,
      trigger: { on: "click", selector: "[data-nudge-open=friend]" },
      pages: { include: ["/product*"] },
    },
    { id: "callback", type: "callback", priority: 5, trigger: { on: "click", selector: "[data-nudge-open=callback]" } },
    {
      id: "newsletter",
      type: "newsletter",
      priority: 5,
      trigger: { on: "click", selector: "[data-nudge-open=newsletter]" },
      cap: { convert: true },
    },
    {
      id: "cart-reminder",
      type: "cart_reminder",
      priority: 1,
      trigger: { on: "load" },
      pages: { include: ["/", "/product*"] },
      audience: { visitor: "returning" },
      cart: { hasItems: true },
      cap: { session: 1 },
      link: "/cart",
    },
  ],
};
