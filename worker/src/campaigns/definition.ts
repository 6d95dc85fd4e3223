import { isDict } from "../lib/values";
import { compileRule, parseRule, RuleError } from "../segments/rules";
import type { Rule } from "../segments/rules";
import type { ChannelName } from "../channels/channel";
import { MESSAGE_TEMPLATES } from "./messages";

/**
 * A campaign as data: what starts a journey, who may enter, the steps, and what ends it. Stored
 * as JSON in D1 (`campaigns.definition`), written through the admin API, always validated here
 * first — nothing else reads raw JSON from a merchant.
 */

export type Trigger =
  /** Each matching event starts (or, with `reset`, restarts the timer of) a journey. */
  | {
      type: "event";
      events: string[];
      journey: string;
      reset: boolean;
      /** Event properties that must equal these values, e.g. { share_via: "email" }. */
      match?: Record<string, string>;
      /** The property holding the email of whom to message instead of the actor (a referred friend). */
      recipient?: string;
    }
  /** The contact's open cart: re-armed by every cart change, one journey per cart. */
  | { type: "cart" }
  /** The contact enters the segment (checked after every event of theirs); once per contact. */
  | { type: "segment_entry"; segment: Rule }
  /** A bulk run over the audience at a date (ISO 8601; UTC unless it carries an offset). */
  | { type: "date"; at: string; every?: "day" | "week" | "month" | "year" };

export interface Variant {
  id: string;
  weight: number;
  template?: string;
  subject?: string;
}

export interface Step {
  delay_ms: number;
  channel: ChannelName;
  template: string;
  subject?: string;
  /** `reuse`: hand out the contact's unused code from this source (e.g. "exit_intent") instead of a new one. */
  coupon?: { promotion_id: string; expires_days: number; reuse?: string };
  variants?: Variant[];
  /** Webhook steps: where to POST (https, or loopback http in development). */
  url?: string;
}

export interface CampaignDef {
  id: string;
  name: string;
  priority: number;
  trigger: Trigger;
  audience?: Rule;
  steps: Step[];
  exit: { ordered: boolean; events: string[] };
  /** Local hours (contact's time zone) when nothing is sent; due messages wait until `to`. */
  quiet_hours?: { from: number; to: number; channels?: ChannelName[] };
  /** At most `max` messages (any campaign) per `hours` to one contact; transactional steps skip it. */
  frequency_cap?: { max: number; hours: number };
  holdout_percent: number;
  attribution_days: number;
}

export class DefinitionError extends Error {}

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const EVENT = /^.{1,100}$/;
const CHANNELS = new Set<ChannelName>(["email", "sms", "call", "webhook"]);
const JOURNEY = /^[A-Za-z0-9_:{}.-]{1,100}$/;

/** "90s", "30m", "1h", "2d", "1w" or a number of milliseconds. */
export function parseDelay(v: unknown, at: string): number {
  if (v === undefined || v === 0 || v === "0") return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 366 * 86400_000) return v;
  const m = typeof v === "string" ? /^(\d{1,6})\s*(s|m|h|d|w)$/.exec(v.trim()) : null;
  const unit = { s: 1000, m: 60_000, h: 3600_000, d: 86400_000, w: 7 * 86400_000 };
  if (!m?.[1] || !m[2]) throw new DefinitionError(`${at} must be a delay like "30m", "1h", "2d".`);
  const ms = Number(m[1]) * unit[m[2] as keyof typeof unit];
  if (ms > 366 * 86400_000) throw new DefinitionError(`${at} is longer than a year.`);
  return ms;
}

const str = (v: unknown, at: string, max = 200): string => {
  if (typeof v !== "string" || v.length === 0 || v.length > max)
    throw new DefinitionError(`${at} must be a non-empty string of at most ${max} characters.`);
  return v;
};

const num = (v: unknown, at: string, min: number, max: number, fallback?: number): number => {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max)
    throw new DefinitionError(`${at} must be a number from ${min} to ${max}.`);
  return v;
};

const rule = (v: unknown, at: string): Rule => {
  try {
    return parseRule(v, at);
  } catch (e) {
    throw new DefinitionError(e instanceof RuleError ? e.message : `${at} is not a valid segment.`);
  }
};

function template(v: unknown, at: string): string {
  const t = str(v, at, 64);
  if (!MESSAGE_TEMPLATES.has(t))
    throw new DefinitionError(`${at} "${t}" is not a message template (${[...MESSAGE_TEMPLATES.keys()].join(", ")}).`);
  return t;
}

function trigger(v: unknown): Trigger {
  if (!isDict(v)) throw new DefinitionError("trigger must be an object with a type.");
  switch (v.type) {
    case "event": {
      const events = Array.isArray(v.events) ? v.events : typeof v.event === "string" ? [v.event] : null;
      if (!events || events.length === 0 || events.length > 10)
        throw new DefinitionError("trigger.events must list 1 to 10 event names.");
      const names = events.map((e, i) => str(e, `trigger.events[${i}]`, 100)).filter((e) => EVENT.test(e));
      const journey = v.journey === undefined ? "{message_id}" : str(v.journey, "trigger.journey", 100);
      if (!JOURNEY.test(journey))
        throw new DefinitionError('trigger.journey must be a key like "once", "{order_id}" or "{product_id}".');
      if (v.reset !== undefined && typeof v.reset !== "boolean")
        throw new DefinitionError("trigger.reset must be true or false.");
      const t: Trigger = { type: "event", events: names, journey, reset: v.reset === true };
      if (v.match !== undefined) {
        if (!isDict(v.match) || Object.keys(v.match).length > 5)
          throw new DefinitionError("trigger.match must map up to 5 property names to values.");
        t.match = Object.fromEntries(
          Object.entries(v.match).map(([k, x]) => [str(k, "trigger.match key", 64), str(x, `trigger.match.${k}`)]),
        );
      }
      if (v.recipient !== undefined) t.recipient = str(v.recipient, "trigger.recipient", 64);
      return t;
    }
    case "cart":
      return { type: "cart" };
    case "segment_entry":
      return { type: "segment_entry", segment: rule(v.segment, "trigger.segment") };
    case "date": {
      const at = str(v.at, "trigger.at", 40);
      if (!Number.isFinite(Date.parse(at)))
        throw new DefinitionError('trigger.at must be an ISO 8601 time, e.g. "2027-03-06T10:00:00Z".');
      if (v.every !== undefined && !["day", "week", "month", "year"].includes(String(v.every)))
        throw new DefinitionError('trigger.every must be "day", "week", "month" or "year".');
      return v.every === undefined
        ? { type: "date", at }
        : { type: "date", at, every: v.every as "day" | "week" | "month" | "year" };
    }
    default:
      throw new DefinitionError('trigger.type must be "event", "cart", "segment_entry" or "date".');
  }
}

/** Why a webhook URL may not be used (routes pass lib/hosts.ts `webhookUrlProblem`), or null. */
export type UrlCheck = (url: string) => string | null;

function step(v: unknown, i: number, checkUrl?: UrlCheck): Step {
  const at = `steps[${i}]`;
  if (!isDict(v)) throw new DefinitionError(`${at} must be an object.`);
  const channel = v.channel ?? "email";
  if (typeof channel !== "string" || !CHANNELS.has(channel as ChannelName))
    throw new DefinitionError(`${at}.channel must be one of ${[...CHANNELS].join(", ")}.`);
  const s: Step = {
    // Stored definitions carry the parsed `delay_ms`; merchants write `delay`.
    delay_ms: parseDelay(v.delay ?? v.delay_ms, `${at}.delay`),
    channel: channel as ChannelName,
    template: template(v.template, `${at}.template`),
  };
  if (v.subject !== undefined) s.subject = str(v.subject, `${at}.subject`);
  if (v.coupon !== undefined) {
    if (!isDict(v.coupon)) throw new DefinitionError(`${at}.coupon must be { promotion_id, expires_days? }.`);
    s.coupon = {
      promotion_id: str(v.coupon.promotion_id, `${at}.coupon.promotion_id`, 64),
      expires_days: num(v.coupon.expires_days, `${at}.coupon.expires_days`, 1, 365, 14),
    };
    if (v.coupon.reuse !== undefined) s.coupon.reuse = str(v.coupon.reuse, `${at}.coupon.reuse`, 64);
  }
  if (v.variants !== undefined) {
    if (!Array.isArray(v.variants) || v.variants.length < 2 || v.variants.length > 5)
      throw new DefinitionError(`${at}.variants must list 2 to 5 variants.`);
    s.variants = v.variants.map((x, j) => {
      const vat = `${at}.variants[${j}]`;
      if (!isDict(x)) throw new DefinitionError(`${vat} must be an object.`);
      const variant: Variant = { id: str(x.id, `${vat}.id`, 32), weight: num(x.weight, `${vat}.weight`, 0, 1000, 1) };
      if (x.template !== undefined) variant.template = template(x.template, `${vat}.template`);
      if (x.subject !== undefined) variant.subject = str(x.subject, `${vat}.subject`);
      return variant;
    });
    if (new Set(s.variants.map((x) => x.id)).size !== s.variants.length)
      throw new DefinitionError(`${at}.variants ids must differ.`);
    if (s.variants.every((x) => x.weight === 0)) throw new DefinitionError(`${at}.variants need a positive weight.`);
  }
  if (s.channel === "webhook") {
    const url = str(v.url, `${at}.url`, 2000);
    if (!/^https?:\/\//.test(url) || !URL.canParse(url)) throw new DefinitionError(`${at}.url must be an http(s) URL.`);
    const problem = checkUrl?.(url);
    if (problem) throw new DefinitionError(`${at}.url ${problem}.`);
    s.url = url;
  }
  return s;
}

/** The definition if `input` is valid, else a DefinitionError that says what to fix. */
export function parseDefinition(input: unknown, id?: string, checkUrl?: UrlCheck): CampaignDef {
  if (!isDict(input)) throw new DefinitionError("A campaign definition must be a JSON object.");
  const cid = id ?? input.id;
  if (typeof cid !== "string" || !ID.test(cid))
    throw new DefinitionError("id must be 1 to 64 lower-case letters, digits, _ or -.");
  if (!Array.isArray(input.steps) || input.steps.length === 0 || input.steps.length > 10)
    throw new DefinitionError("steps must list 1 to 10 steps.");
  const exit = isDict(input.exit) ? input.exit : {};
  const def: CampaignDef = {
    id: cid,
    name: input.name === undefined ? cid : str(input.name, "name"),
    priority: num(input.priority, "priority", 0, 100, 50),
    trigger: trigger(input.trigger),
    steps: input.steps.map((v, i) => step(v, i, checkUrl)),
    exit: {
      ordered: exit.ordered === undefined ? true : exit.ordered === true,
      events: Array.isArray(exit.events)
        ? exit.events.slice(0, 10).map((e, i) => str(e, `exit.events[${i}]`, 100))
        : [],
    },
    holdout_percent: num(input.holdout_percent, "holdout_percent", 0, 90, 0),
    attribution_days: num(input.attribution_days, "attribution_days", 1, 90, 5),
  };
  if (input.audience !== undefined) def.audience = rule(input.audience, "audience");
  if (input.quiet_hours !== undefined) {
    if (!isDict(input.quiet_hours)) throw new DefinitionError("quiet_hours must be { from, to } (hours 0–23).");
    def.quiet_hours = {
      from: num(input.quiet_hours.from, "quiet_hours.from", 0, 23),
      to: num(input.quiet_hours.to, "quiet_hours.to", 0, 23),
    };
    const channels = input.quiet_hours.channels;
    if (channels !== undefined) {
      if (!Array.isArray(channels) || !channels.every((x) => CHANNELS.has(x as ChannelName)))
        throw new DefinitionError(`quiet_hours.channels must list channels (${[...CHANNELS].join(", ")}).`);
      def.quiet_hours.channels = channels as ChannelName[];
    }
    if (def.quiet_hours.from === def.quiet_hours.to) throw new DefinitionError("quiet_hours.from and .to must differ.");
  }
  if (input.frequency_cap !== undefined) {
    if (!isDict(input.frequency_cap)) throw new DefinitionError("frequency_cap must be { max, hours }.");
    def.frequency_cap = {
      max: num(input.frequency_cap.max, "frequency_cap.max", 1, 100),
      hours: num(input.frequency_cap.hours, "frequency_cap.hours", 1, 24 * 90),
    };
  }
  // D1 binds at most 100 parameters per statement; the scheduling INSERT needs about 15 of its own.
  const bound = [def.audience, def.trigger.type === "segment_entry" ? def.trigger.segment : undefined]
    .map((r) => (r ? compileRule(r, 0).params.length : 0))
    .reduce((a, b) => a + b, 0);
  if (bound > 80) throw new DefinitionError("The trigger segment and audience together are too large; simplify them.");
  if (def.trigger.type === "date" && !def.audience)
    throw new DefinitionError("A date-triggered campaign needs an audience (a segment).");
  return def;
}
