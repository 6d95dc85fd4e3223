import * as v from "valibot";
import { LOCALES, type Locale, type OnsiteConfig, TRIGGERS, WIDGET_TYPES, type Widget } from "../../../sdk/contract";
import { num, text } from "../lib/schema";

export type { OnsiteConfig, Widget };

/**
 * The onsite configuration: which widgets a site shows, when, to whom, how often, and in which
 * words and colours. The SDK reads it from `GET /v1/sdk/config`; merchants write it through
 * `PUT /v1/admin/onsite`. Input is checked by `configSchema` (strict, with bounds) before it is
 * stored — whatever is stored is served to every shopper's browser.
 */

const oneOf = <T extends string>(options: readonly T[]) => v.picklist(options, `must be one of ${options.join(", ")}.`);
const bool = v.boolean("must be true or false.");
const patterns = v.pipe(
  v.array(text(200), "must be a list of at most 20 patterns."),
  v.maxLength(20, "must be a list of at most 20 patterns."),
);

const trigger = v.pipe(
  v.strictObject(
    {
      on: oneOf(TRIGGERS),
      value: v.optional(num(0, 86_400)),
      delay: v.optional(num(0, 600_000)),
      selector: v.optional(text(200)),
      mobile: v.optional(
        v.strictObject(
          {
            scrollUp: v.optional(bool),
            tabSwitch: v.optional(bool),
            inactivity: v.optional(num(1, 3600)),
            back: v.optional(bool),
          },
          "must be an object.",
        ),
      ),
    },
    "must be an object.",
  ),
  v.forward(
    v.partialCheck(
      [["on"], ["selector"]],
      (t) => t.on !== "click" || t.selector !== undefined,
      "is required for click triggers.",
    ),
    ["selector"],
  ),
  // A selector only means something to a click trigger; the dashboard keeps it when the kind changes.
  v.transform(({ selector, ...t }) => (t.on === "click" ? { ...t, selector } : t)),
);

const widget = v.strictObject(
  {
    id: v.pipe(text(64), v.regex(/^[\w-]+$/, "may hold letters, digits, _ and - only.")),
    type: oneOf(WIDGET_TYPES),
    priority: v.optional(num(-1000, 1000), 0),
    trigger,
    pages: v.optional(
      v.strictObject({ include: v.optional(patterns), exclude: v.optional(patterns) }, "must be an object."),
    ),
    cart: v.optional(
      v.strictObject({ hasItems: v.optional(bool), minValue: v.optional(num(0, 1e9)) }, "must be an object."),
    ),
    audience: v.optional(
      v.strictObject(
        {
          visitor: v.optional(oneOf(["new", "returning"] as const)),
          identified: v.optional(bool),
          segment: v.optional(text(64)),
        },
        "must be an object.",
      ),
    ),
    cap: v.optional(
      v.strictObject(
        {
          session: v.optional(num(0, 100)),
          days: v.optional(num(0, 3650)),
          dismiss: v.optional(bool),
          convert: v.optional(bool),
        },
        "must be an object.",
      ),
    ),
    promotion: v.optional(text(64)),
    offer: v.optional(text(32)),
    link: v.optional(v.pipe(text(500), v.regex(/^(\/|https?:\/\/)/, "must be a path or an http(s) URL."))),
  },
  "must be an object.",
);

/** CSS custom properties only, with values that cannot close the declaration or load anything. */
const theme = v.pipe(
  v.record(
    v.pipe(v.string(), v.regex(/^--nudge-[a-z0-9-]{1,40}$/, "only --nudge-* custom properties can be set.")),
    v.pipe(
      text(100),
      v.check((value) => !/[;{}<>\\]|url\(/i.test(value), "must be a plain CSS value."),
    ),
    "must be an object.",
  ),
  v.check((t) => Object.keys(t).length <= 40, "sets at most 40 properties."),
);

const strings = v.pipe(
  v.record(text(64), text(500), "must be an object."),
  v.check((s) => Object.keys(s).length <= 100, "holds at most 100 strings."),
);

/** The onsite configuration schema; its output is the SDK's wire type (checked below). */
export const configSchema = v.strictObject(
  {
    locale: v.optional(oneOf(LOCALES)),
    theme: v.optional(theme),
    text: v.optional(
      v.strictObject(
        Object.fromEntries(LOCALES.map((l) => [l, v.optional(strings)])) as Record<
          Locale,
          v.OptionalSchema<typeof strings, undefined>
        >,
        "must be an object.",
      ),
    ),
    widgets: v.pipe(
      v.array(widget, "must be a list of at most 20 widgets."),
      v.maxLength(20, "must be a list of at most 20 widgets."),
      v.check((ws) => new Set(ws.map((w) => w.id)).size === ws.length, "must have unique ids."),
    ),
  },
  "must be an object.",
);

// The SDK's type is the wire contract (the SDK keeps hand-written checks for size); this line makes
// the compiler refuse a schema whose output the SDK could not read.
configSchema satisfies v.GenericSchema<unknown, OnsiteConfig>;

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
