/**
 * The onsite wire contract: what `GET /v1/sdk/config` serves and `GET /v1/sdk/visitor` answers.
 * One module for both ends — the SDK reads these shapes, the Worker (worker/src/onsite/schema.ts)
 * validates merchant input against the same lists, and the dashboard's editor offers them — so a
 * widget type, trigger or locale added here reaches all three, and one missing from an end fails
 * its type check.
 *
 * Values and types only, no imports and no DOM: the Worker type-checks it without browser types.
 * The SDK imports the types alone, so none of these lists ends up in its bundles.
 */

export const WIDGET_TYPES = ["coupon", "friend", "callback", "newsletter", "cart_reminder"] as const;
export const TRIGGERS = ["exit_intent", "time", "scroll", "inactivity", "click", "load"] as const;
export const LOCALES = ["en", "fr", "ru"] as const;

export type WidgetType = (typeof WIDGET_TYPES)[number];
export type TriggerKind = (typeof TRIGGERS)[number];
export type Locale = (typeof LOCALES)[number];

export interface Trigger {
  on: TriggerKind;
  /** exit_intent: pixels from the top edge that count as leaving; time/inactivity: seconds; scroll: percent. */
  value?: number;
  /** exit_intent: ms on the page before it is armed (nobody leaves in the first second on purpose). */
  delay?: number;
  /** exit_intent on touch devices: which signals count as "about to leave". */
  mobile?: { scrollUp?: boolean; tabSwitch?: boolean; inactivity?: number; back?: boolean };
  /** click: the launcher elements, e.g. `[data-nudge-open=friend]`. */
  selector?: string;
}

export interface Widget {
  id: string;
  type: WidgetType;
  /** When several widgets could show, the highest priority wins; one widget at a time. */
  priority: number;
  trigger: Trigger;
  /** Path patterns (`*` matches anything): shown where an include matches and no exclude does. */
  pages?: { include?: string[]; exclude?: string[] };
  /** Cart conditions, from the server's view of the visitor's cart; minValue in minor units. */
  cart?: { hasItems?: boolean; minValue?: number };
  audience?: { visitor?: "new" | "returning"; identified?: boolean; segment?: string };
  /** Frequency caps: per session, once every N days, never again after a dismiss or a conversion. */
  cap?: { session?: number; days?: number; dismiss?: boolean; convert?: boolean };
  /** coupon: the promotion the minted code belongs to. */
  promotion?: string;
  /** coupon: the headline offer shown in the text ("10%"). */
  offer?: string;
  /** cart_reminder: where the bar links to. */
  link?: string;
}

export interface OnsiteConfig {
  locale?: Locale;
  /** CSS custom properties (`--nudge-*`) applied to the widget's host element. */
  theme?: Record<string, string>;
  /** Merchant wording, per locale, over the built-in texts. */
  text?: Partial<Record<Locale, Record<string, string>>>;
  widgets: Widget[];
}

/** What the Worker knows about the visitor (`GET /v1/sdk/visitor`), for cart and audience rules. */
export interface Visitor {
  identified: boolean;
  cart: { items: number; value: number };
  segments: string[];
}
