import * as v from "valibot";
import type { ChannelName } from "../channels/channel";
import type { Source } from "../model/events";
import { check, int, num, text, variantMessage } from "../lib/schema";
import { isDict } from "../lib/values";
import { compileRule, parseRule, type Rule, RuleError } from "../segments/rules";

import { LOCALES, MESSAGE_TEMPLATES, PLACEHOLDERS } from "./messages";

/**
 * A campaign as data: what starts a journey, who may enter, the steps, and what ends it. Stored
 * as JSON in D1 (`campaigns.definition`), written through the admin API, always validated here
 * first — nothing else reads raw JSON from a merchant. `campaignSchema` is the one definition;
 * the types are derived from it. Fields are camelCase like the rest of the admin API (definitions
 * stored in snake_case before were rewritten by migration 0014).
 */

const SOURCES = ["browser", "server", "widget"] as const satisfies readonly Source[];
export type { ChannelName };
const CHANNELS = ["email", "sms", "call", "webhook"] as const satisfies readonly ChannelName[];

export class DefinitionError extends Error {}

/** Why a webhook URL may not be used (routes pass lib/hosts.ts `webhookUrlProblem`), or null. */
export type UrlCheck = (url: string) => string | null;

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const JOURNEY = /^[A-Za-z0-9_:{}.-]{1,100}$/;
const YEAR_MS = 366 * 86400_000;
const UNIT_MS = { s: 1000, m: 60_000, h: 3600_000, d: 86400_000, w: 7 * 86400_000 };

/** "90s", "30m", "1h", "2d", "1w" or a number of milliseconds, as milliseconds; null if not a delay. */
function delayMs(d: string | number): number | null {
  if (d === 0 || d === "0") return 0;
  if (typeof d === "number") return Number.isInteger(d) && d >= 0 && d <= YEAR_MS ? d : null;
  const m = /^(\d{1,6})\s*(s|m|h|d|w)$/.exec(d.trim());
  const ms = m?.[1] && m[2] ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
  return ms !== null && ms <= YEAR_MS ? ms : null;
}

const DELAY = 'must be a delay of at most a year, like "30m", "1h", "2d" (or milliseconds).';
const delay = v.pipe(
  v.union([v.string(DELAY), v.number(DELAY)], DELAY),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ms = delayMs(dataset.value);
    if (ms === null) addIssue({ message: DELAY });
    return ms ?? NEVER;
  }),
);

/** A segment rule (segments/rules.ts owns its language and reports where a rule is wrong). */
const rule = (name: string) =>
  v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parseRule(dataset.value, name);
      } catch (e) {
        if (!(e instanceof RuleError)) throw e;
        addIssue({ message: e.message });
        return NEVER;
      }
    }),
  );

const TEMPLATES = `must be a message template (${[...MESSAGE_TEMPLATES.keys()].join(", ")}).`;
const template = v.pipe(
  v.string(TEMPLATES),
  v.check((t) => MESSAGE_TEMPLATES.has(t), TEMPLATES),
);
const channel = v.picklist(CHANNELS, `must be one of ${CHANNELS.join(", ")}.`);
const eventName = v.pipe(text(100), v.regex(/^.{1,100}$/, "must be an event name on one line."));

const trigger = v.variant(
  "type",
  [
    /** Each matching event starts (or, with `reset`, restarts the timer of) a journey. */
    v.pipe(
      v.strictObject({
        type: v.literal("event"),
        events: v.optional(
          v.pipe(
            v.array(eventName, "must list 1 to 10 event names."),
            v.minLength(1, "must list 1 to 10 event names."),
            v.maxLength(10, "must list 1 to 10 event names."),
          ),
        ),
        /** One event name, for `events: [event]`. */
        event: v.optional(eventName),
        journey: v.optional(
          v.pipe(v.string(), v.regex(JOURNEY, 'must be a key like "once", "{order_id}" or "{product_id}".')),
          "{message_id}",
        ),
        reset: v.optional(v.boolean("must be true or false."), false),
        /** Event properties that must equal these values, e.g. { share_via: "email" }. */
        match: v.optional(
          v.pipe(
            v.record(text(64), text(200), "must map up to 5 property names to values."),
            v.check((m) => Object.keys(m).length <= 5, "must map up to 5 property names to values."),
          ),
        ),
        /** The property holding the email of whom to message instead of the actor (a referred friend). */
        recipient: v.optional(text(64)),
        /**
         * Who may start it (default: anyone). A welcome mailed the moment an address appears must
         * not start from a browser's word alone: any script can name any address with the public key.
         */
        sources: v.optional(
          v.pipe(
            v.array(v.picklist(SOURCES, `must list sources among ${SOURCES.join(", ")}.`)),
            v.minLength(1, `must list sources among ${SOURCES.join(", ")}.`),
          ),
        ),
      }),
      v.check((t) => (t.events ?? (t.event ? [t.event] : [])).length > 0, "must list events: 1 to 10 event names."),
      // The output keeps the stored field order: saving compares triggers as JSON text (campaigns/store.ts).
      v.transform(({ type, events, event, journey, reset, match, recipient, sources }) => ({
        type,
        events: events ?? (event ? [event] : []),
        journey,
        reset,
        ...(match ? { match } : {}),
        ...(recipient ? { recipient } : {}),
        ...(sources ? { sources } : {}),
      })),
    ),
    /**
     * A referred friend's first order, as the merchant reported it, earned the contact (the
     * referrer) a reward: started by the order itself (model/referrals.ts), never by an event name.
     */
    v.strictObject({ type: v.literal("referral") }),
    /** The contact's open cart: re-armed by every cart change, one journey per cart. */
    v.strictObject({ type: v.literal("cart") }),
    /** The contact enters the segment (checked after every event of theirs); once per contact. */
    v.strictObject({ type: v.literal("segment_entry"), segment: rule("trigger.segment") }),
    /** A bulk run over the audience at a date (ISO 8601; UTC unless it carries an offset). */
    v.strictObject({
      type: v.literal("date"),
      at: v.pipe(
        text(40),
        v.check((at) => Number.isFinite(Date.parse(at)), 'must be an ISO 8601 time, e.g. "2027-03-06T10:00:00Z".'),
      ),
      every: v.optional(v.picklist(["day", "week", "month", "year"], 'must be "day", "week", "month" or "year".')),
    }),
  ],
  variantMessage("trigger types"),
);
export type Trigger = v.InferOutput<typeof trigger>;

const VARIANTS = "must list 2 to 5 variants.";
const variant = v.strictObject({
  id: text(32),
  weight: v.optional(num(0, 1000), 1),
  template: v.optional(template),
  subject: v.optional(text(200)),
});
export type Variant = v.InferOutput<typeof variant>;

const PLACES = `must use only the placeholders ${PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}.`;
/** Merchant words: bounded, placeholders the renderer knows (a misspelt one would reach shoppers as typed). */
const words = (max: number, oneLine: boolean) =>
  v.pipe(
    text(max),
    v.check((s) => !oneLine || !/[\r\n]/.test(s), "must be one line."),
    v.check(
      (s) => [...s.matchAll(/\{([^}]*)\}/g)].every((m) => (PLACEHOLDERS as readonly string[]).includes(m[1] ?? "")),
      PLACES,
    ),
  );
/** A step's own words per locale over its template's (campaigns/messages.ts `Copy`); each part optional. */
export const copySchema = v.strictObject(
  { subject: v.optional(words(200, true)), intro: v.optional(words(1000, false)), cta: v.optional(words(60, true)) },
  "must be { subject?, intro?, cta? }.",
);
const copy = v.optional(copySchema);
const content = v.strictObject(
  { en: copy, fr: copy, ru: copy } satisfies Record<(typeof LOCALES)[number], unknown>,
  `must map locales (${LOCALES.join(", ")}) to { subject?, intro?, cta? }.`,
);

const messageStep = (checkUrl?: UrlCheck) =>
  v.pipe(
    v.strictObject({
      /** What merchants write ("1d"); `delayMs` is what is stored. */
      delay: v.optional(delay),
      delayMs: v.optional(delay),
      channel: v.optional(channel, "email"),
      template,
      subject: v.optional(text(200)),
      /** The merchant's words per locale (content blocks); a variant's subject still wins for its A/B test. */
      content: v.optional(content),
      /**
       * `reuse`: hand out the contact's unused code from this source (e.g. "exit_intent") instead of a new one.
       * `bind`: the code works only on the product the message shows (the journey's viewed product, the
       * top product), or on that product's category; the promotion itself stays as it is.
       */
      coupon: v.optional(
        v.strictObject(
          {
            promotionId: text(64),
            expiresDays: v.optional(num(1, 365), 14),
            reuse: v.optional(text(64)),
            bind: v.optional(v.picklist(["product", "category"], 'must be "product" or "category".')),
          },
          "must be { promotionId, expiresDays?, reuse?, bind? }.",
        ),
      ),
      variants: v.optional(
        v.pipe(
          v.array(variant, VARIANTS),
          v.minLength(2, VARIANTS),
          v.maxLength(5, VARIANTS),
          v.check((vs) => new Set(vs.map((x) => x.id)).size === vs.length, "must have different ids."),
          v.check((vs) => vs.some((x) => x.weight > 0), "need a positive weight."),
        ),
      ),
      /** Webhook steps: where to POST (https, or loopback http in development). */
      url: v.optional(
        v.pipe(
          text(2000),
          v.check((url) => /^https?:\/\//.test(url) && URL.canParse(url), "must be an http(s) URL."),
          v.rawCheck(({ dataset, addIssue }) => {
            const problem = dataset.typed ? checkUrl?.(dataset.value) : null;
            if (problem) addIssue({ message: `${problem}.` });
          }),
        ),
      ),
    }),
    v.forward(
      v.partialCheck(
        [["channel"], ["url"]],
        (s) => (s.channel === "webhook") === (s.url !== undefined),
        "is required on webhook steps and only there.",
      ),
      ["url"],
    ),
    v.transform(({ delay, delayMs, ...s }) => ({ delayMs: delay ?? delayMs ?? 0, ...s })),
  );
/** A step that sends a message. */
export type Step = v.InferOutput<ReturnType<typeof messageStep>>;

const hour = int(0, 23, "must be an hour from 0 to 23.");

/**
 * Branching and waiting. A journey is a tree written as nested lists: a step is a message, a
 * branch (`if` a condition, `then` these steps, `else` those) or a wait (`waitUntil` an event —
 * `then` if it came, `else` if the timeout passed — or a time). When an arm's steps are done the
 * journey goes on with the steps after the branch, so there is no `goto`: what a dashboard edits
 * is exactly what runs. Steps are numbered in reading order (campaigns/flow.ts), so a definition
 * without branches numbers its steps 1…N as before.
 */
export type Condition =
  | { opened: boolean }
  | { clicked: boolean }
  | { cartValue: { gte?: number; lt?: number } }
  | { segment: Rule };
export type WaitFor = { event: string; timeoutMs: number } | { at: string } | { hour: number };
export interface BranchStep {
  delayMs: number;
  if: Condition;
  then: FlowStep[];
  else: FlowStep[];
}
export interface WaitStep {
  waitUntil: WaitFor;
  then: FlowStep[];
  else: FlowStep[];
}
export type FlowStep = Step | BranchStep | WaitStep;

/** Bounds: nesting, and every step of the tree (cart re-arming binds two parameters per step; D1 allows 100). */
export const MAX_DEPTH = 3;
export const MAX_STEPS = 30;

const CONDITION = "must be one of { opened }, { clicked }, { cartValue: { gte, lt } } or { segment }.";
const minor = int(0, 1_000_000_000, "must be an amount in minor units (pence, cents) from 0 to 10^9.");
const condition = v.pipe(
  v.strictObject(
    {
      /** The journey's previous message was opened (or clicked: a click is an open the pixel missed). */
      opened: v.optional(v.boolean("must be true or false.")),
      clicked: v.optional(v.boolean("must be true or false.")),
      /** The open cart's value when the step falls due, in minor units: at least `gte`, below `lt`. */
      cartValue: v.optional(
        v.pipe(
          v.strictObject({ gte: v.optional(minor), lt: v.optional(minor) }, "must be { gte, lt }."),
          v.check((c) => c.gte !== undefined || c.lt !== undefined, "needs gte or lt (minor units)."),
        ),
      ),
      segment: v.optional(rule("if.segment")),
    },
    CONDITION,
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }): Condition => {
    const { opened, clicked, cartValue, segment } = dataset.value;
    if (Object.keys(dataset.value).length === 1) {
      if (opened !== undefined) return { opened };
      if (clicked !== undefined) return { clicked };
      if (cartValue) return { cartValue };
      // D1 binds at most 100 parameters per statement: the contact's lookup needs two of its own.
      if (segment && compileRule(segment, 0).params.length <= 90) return { segment };
      if (segment) addIssue({ message: "The segment is too large for one statement; simplify it." });
      return NEVER;
    }
    addIssue({ message: CONDITION.replace("must be", "must hold exactly") });
    return NEVER;
  }),
);

const WAIT = 'must be { event, timeout } (e.g. { "event": "Checkout Started", "timeout": "3d" }), { at } or { hour }.';
const waitFor = v.pipe(
  v.strictObject(
    {
      event: v.optional(eventName),
      /** How long to wait for the event (then the `else` steps run). */
      timeout: v.optional(delay),
      timeoutMs: v.optional(delay),
      /** An ISO 8601 time: the journey goes on then (at once if it has passed). */
      at: v.optional(
        v.pipe(
          text(40),
          v.check((at) => Number.isFinite(Date.parse(at)), 'must be an ISO 8601 time, e.g. "2027-03-06T10:00:00Z".'),
        ),
      ),
      /** The next time the contact's local clock (their time zone, else the site's) shows this hour. */
      hour: v.optional(hour),
    },
    WAIT,
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }): WaitFor => {
    const { event, timeout, timeoutMs, at, hour } = dataset.value;
    const ms = timeout ?? timeoutMs;
    if (event !== undefined && ms !== undefined && ms > 0 && at === undefined && hour === undefined)
      return { event, timeoutMs: ms };
    if (at !== undefined && event === undefined && ms === undefined && hour === undefined) return { at };
    if (hour !== undefined && event === undefined && ms === undefined && at === undefined) return { hour };
    addIssue({ message: event !== undefined && !ms ? 'needs a timeout for the event (like "3d").' : WAIT });
    return NEVER;
  }),
);

const ARM = `must list at most 10 steps.`;
/** A list of steps: `top` is the journey's own list (1 to 10, starting with a message). */
const stepList = (checkUrl: UrlCheck | undefined, top: boolean): v.GenericSchema<unknown, FlowStep[]> => {
  const message = top ? "must list 1 to 10 steps." : ARM;
  return v.pipe(
    v.array(
      v.lazy((input) =>
        isDict(input) && "if" in input
          ? branchStep(checkUrl)
          : isDict(input) && "waitUntil" in input
            ? waitStep(checkUrl)
            : messageStep(checkUrl),
      ),
      message,
    ),
    v.minLength(top ? 1 : 0, message),
    v.maxLength(10, message),
    // A recursive schema cannot infer its own type: it is spelled out above (FlowStep) instead.
  ) as v.GenericSchema<unknown, FlowStep[]>;
};

/** The two ways of a branch or a wait: lists of steps, empty when left out. */
const ways = (checkUrl: UrlCheck | undefined) => ({
  then: v.optional(
    v.lazy(() => stepList(checkUrl, false)),
    () => [],
  ),
  else: v.optional(
    v.lazy(() => stepList(checkUrl, false)),
    () => [],
  ),
});

const branchStep = (checkUrl: UrlCheck | undefined) =>
  v.pipe(
    v.strictObject({
      delay: v.optional(delay),
      delayMs: v.optional(delay),
      if: condition,
      ...ways(checkUrl),
    }),
    v.check((b) => b.then.length + b.else.length > 0, "needs steps in then or else."),
    // Stored in this key order: steps are numbered in reading order (flow.ts, messages.ts cancelPending).
    v.transform((b): BranchStep => ({ delayMs: b.delay ?? b.delayMs ?? 0, if: b.if, then: b.then, else: b.else })),
  );

const waitStep = (checkUrl: UrlCheck | undefined) =>
  v.pipe(
    v.strictObject({
      waitUntil: waitFor,
      ...ways(checkUrl),
    }),
    v.check(
      (w) => "event" in w.waitUntil || w.then.length + w.else.length === 0,
      "then and else need an event to wait for; a wait for a time just goes on with the next step.",
    ),
    v.transform((w): WaitStep => ({ waitUntil: w.waitUntil, then: w.then, else: w.else })),
  );

/** Depth of nesting and the number of steps in the whole tree. */
function treeSize(steps: FlowStep[], depth = 1): { depth: number; count: number } {
  let out = { depth: steps.length > 0 ? depth : 0, count: steps.length };
  for (const s of steps)
    if ("then" in s)
      for (const arm of [s.then, s.else]) {
        const sub = treeSize(arm, depth + 1);
        out = { depth: Math.max(out.depth, sub.depth), count: out.count + sub.count };
      }
  return out;
}

/** The campaign schema; `checkUrl` vets webhook step URLs (the admin API passes the deployment's rule). */
export const campaignSchema = (checkUrl?: UrlCheck) =>
  v.pipe(
    v.strictObject(
      {
        id: v.pipe(v.string(), v.regex(ID, "must be 1 to 64 lower-case letters, digits, _ or -.")),
        name: v.optional(text(200)),
        priority: v.optional(num(0, 100), 50),
        trigger,
        audience: v.optional(rule("audience")),
        steps: v.pipe(
          stepList(checkUrl, true),
          v.check((s) => !!s[0] && "template" in s[0], "must start with a message (a branch or wait comes after one)."),
          v.check((s) => treeSize(s).depth <= MAX_DEPTH, `must nest branches at most ${MAX_DEPTH - 1} deep.`),
          v.check(
            (s) => treeSize(s).count <= MAX_STEPS,
            `must hold at most ${MAX_STEPS} steps in all, branches included.`,
          ),
        ),
        exit: v.optional(
          v.strictObject({
            ordered: v.optional(v.boolean("must be true or false."), true),
            events: v.optional(
              v.pipe(v.array(eventName), v.maxLength(10, "must list at most 10 event names.")),
              () => [],
            ),
          }),
          () => ({ ordered: true, events: [] }),
        ),
        /** Local hours (contact's time zone) when nothing is sent; due messages wait until `to`. */
        quietHours: v.optional(
          v.pipe(
            v.strictObject({ from: hour, to: hour, channels: v.optional(v.array(channel)) }, "must be { from, to }."),
            v.check((q) => q.from !== q.to, "must have different from and to hours."),
          ),
        ),
        /** At most `max` messages (any campaign) per `hours` to one contact; transactional steps skip it. */
        frequencyCap: v.optional(
          v.strictObject({ max: num(1, 100), hours: num(1, 24 * 90) }, "must be { max, hours }."),
        ),
        holdoutPercent: v.optional(num(0, 90), 0),
        attributionDays: v.optional(num(1, 90), 5),
      },
      "A campaign definition must be a JSON object.",
    ),
    v.check(
      (d) => d.trigger.type !== "date" || d.audience !== undefined,
      "A date-triggered campaign needs an audience (a segment).",
    ),
    // The order names this one campaign (model/referrals.ts): under another id it would never start.
    v.check(
      (d) => d.trigger.type !== "referral" || d.id === "referral_reward",
      'The referral trigger starts only the campaign "referral_reward" (the referral programme\'s reward).',
    ),
    // D1 binds at most 100 parameters per statement; the scheduling INSERT needs about 15 of its own.
    v.check(
      (d) =>
        [d.audience, d.trigger.type === "segment_entry" ? d.trigger.segment : undefined]
          .map((r) => (r ? compileRule(r, 0).params.length : 0))
          .reduce((a, b) => a + b, 0) <= 80,
      "The trigger segment and audience together are too large; simplify them.",
    ),
    v.transform(({ id, name, ...d }) => ({ id, name: name ?? id, ...d })),
  );
export type CampaignDef = v.InferOutput<ReturnType<typeof campaignSchema>>;

/** `input` with the id from the path, if there is one (it wins over one in the body). */
export const withId = (input: unknown, id?: string): unknown =>
  id !== undefined && isDict(input) ? { ...input, id } : input;

/** The definition if `input` is valid, else a DefinitionError that says what to fix. */
export function parseDefinition(input: unknown, id?: string, checkUrl?: UrlCheck): CampaignDef {
  const r = check(campaignSchema(checkUrl), withId(input, id));
  if (!r.ok) throw new DefinitionError(r.problem.message);
  return r.value;
}
