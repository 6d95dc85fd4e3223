import * as v from "valibot";
import type { ChannelName } from "../channels/channel";
import type { Source } from "../model/events";
import { check, int, num, text, variantMessage } from "../lib/schema";
import { isDict } from "../lib/values";
import { compileRule, parseRule, RuleError } from "../segments/rules";

import { MESSAGE_TEMPLATES } from "./messages";

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

const step = (checkUrl?: UrlCheck) =>
  v.pipe(
    v.strictObject({
      /** What merchants write ("1d"); `delayMs` is what is stored. */
      delay: v.optional(delay),
      delayMs: v.optional(delay),
      channel: v.optional(channel, "email"),
      template,
      subject: v.optional(text(200)),
      /** `reuse`: hand out the contact's unused code from this source (e.g. "exit_intent") instead of a new one. */
      coupon: v.optional(
        v.strictObject(
          {
            promotionId: text(64),
            expiresDays: v.optional(num(1, 365), 14),
            reuse: v.optional(text(64)),
          },
          "must be { promotionId, expiresDays? }.",
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
export type Step = v.InferOutput<ReturnType<typeof step>>;

const hour = int(0, 23, "must be an hour from 0 to 23.");

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
          v.array(step(checkUrl), "must list 1 to 10 steps."),
          v.minLength(1, "must list 1 to 10 steps."),
          v.maxLength(10, "must list 1 to 10 steps."),
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
