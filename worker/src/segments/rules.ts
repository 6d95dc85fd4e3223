import { isDict } from "../lib/values";
import { LAPSING_DAYS, type Stage, STAGES, stageSql } from "../model/contacts";

/**
 * The segment rule language: JSON that a merchant writes (through the admin API or the dashboard's
 * segments page), validated here, compiled to one parameterised SQL boolean expression over
 * `contacts c`. The same compiled expression answers both questions: "is this contact in the
 * segment?" (with `c.id = ?`, inside the event's transaction, so it sees what the event just
 * changed) and "who is?" (a bulk scan).
 * One compiler for both means the two can never disagree.
 *
 *   { "all": [rule…] } · { "any": [rule…] } · { "not": rule }
 *   { "attr": "locale", "op": "eq", "value": "fr" }          email, phone, name, or any trait
 *   { "metric": "spend_365d", "op": "gte", "value": 800000 } orders_count, total_spent, spend_365d
 *                                                            (minor units), days_since_last_order,
 *                                                            days_since_last_seen, days_since_first_seen
 *   { "viewed_product": "E7247", "within_days": 7 }           product id, or "*" for any
 *   { "open_cart": true } · { "opted_in": true } · { "never_ordered": true }
 *   { "inactive_days": 180 }                                  no visit for ≥ N days
 *   { "stage": "loyal" } · { "stage": ["customer", "loyal"] }  lifecycle stage (model/contacts.ts STAGES)
 *   { "metric": "rfm_recency", "op": "gte", "value": 4 }      also rfm_frequency, rfm_monetary:
 *                                                            quintiles 1–5 (segments/rfm.ts)
 *   { "did": "Product Viewed", "at_least": 3, "within_days": 7, "where": { "category": "Headphones" } }
 *                                                            an event n times in d days; `where`:
 *                                                            product_id and/or category
 *   { "top_category": "Headphones" }                          the category they viewed most
 */

export type Rule =
  | { all: Rule[] }
  | { any: Rule[] }
  | { not: Rule }
  | { attr: string; op: AttrOp; value?: string | number | boolean | (string | number)[] }
  | { metric: Metric; op: CompareOp; value: number }
  | { viewed_product: string; within_days?: number }
  | { open_cart: boolean }
  | { opted_in: boolean }
  | { never_ordered: boolean }
  | { inactive_days: number }
  | { stage: Stage[] }
  | { did: string; at_least: number; within_days?: number; where?: { product_id?: string; category?: string } }
  | { top_category: string };

type AttrOp = "eq" | "ne" | "in" | "exists" | "contains";
type CompareOp = "eq" | "gt" | "gte" | "lt" | "lte";
type Metric =
  | "orders_count"
  | "total_spent"
  | "spend_365d"
  | "days_since_last_order"
  | "days_since_last_seen"
  | "days_since_first_seen"
  | "rfm_recency"
  | "rfm_frequency"
  | "rfm_monetary";

const DAY = 24 * 3600 * 1000;
const MAX_DEPTH = 6;
// Each rule binds at most two values (a `did` with `where`: five); D1 allows 100 per statement.
const MAX_NODES = 40;
const MAX_PARAMS = 80;
const ATTR_OPS = new Set<string>(["eq", "ne", "in", "exists", "contains"]);
const COMPARE: Record<CompareOp, string> = { eq: "=", gt: ">", gte: ">=", lt: "<", lte: "<=" };
const METRICS = new Set<string>([
  "orders_count",
  "total_spent",
  "spend_365d",
  "days_since_last_order",
  "days_since_last_seen",
  "days_since_first_seen",
  "rfm_recency",
  "rfm_frequency",
  "rfm_monetary",
]);
const RFM: Record<string, string> = { rfm_recency: "c.rfm_r", rfm_frequency: "c.rfm_f", rfm_monetary: "c.rfm_m" };
/** Attributes kept as columns; every other name is read from the contact's traits JSON. */
const COLUMNS: Record<string, string> = { email: "c.email", phone: "c.phone", name: "c.name", user_id: "c.user_id" };
const TRAIT = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export class RuleError extends Error {}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const scalar = (v: unknown) => typeof v === "string" || isNum(v) || typeof v === "boolean";

/** The rule if `input` is a valid one, else a RuleError naming what is wrong and where. */
/**
 * The traits that say a contact agreed to marketing email, read by the `opted_in` rule. Nudge's own
 * newsletter widget writes the first (`NEWSLETTER_OPT_IN_TRAIT`); the others are the names store
 * integrations commonly send with `identify`.
 */
export const OPT_IN_TRAITS = ["email_marketing", "newsletter", "email_opt_in", "marketing_consent"] as const;
export const NEWSLETTER_OPT_IN_TRAIT = OPT_IN_TRAITS[0];

export function parseRule(input: unknown, path = "segment"): Rule {
  let nodes = 0;
  const walk = (v: unknown, at: string, depth: number): Rule => {
    if (++nodes > MAX_NODES) throw new RuleError(`${path} has more than ${MAX_NODES} rules.`);
    if (depth > MAX_DEPTH) throw new RuleError(`${at} nests deeper than ${MAX_DEPTH} levels.`);
    if (!isDict(v)) throw new RuleError(`${at} must be an object.`);
    const keys = Object.keys(v);
    if ("all" in v || "any" in v) {
      const list = v.all ?? v.any;
      const k = "all" in v ? "all" : "any";
      if (!Array.isArray(list) || list.length === 0 || list.length > 20)
        throw new RuleError(`${at}.${k} must be a list of 1 to 20 rules.`);
      const rules = list.map((r, i) => walk(r, `${at}.${k}[${i}]`, depth + 1));
      return k === "all" ? { all: rules } : { any: rules };
    }
    if ("not" in v) return { not: walk(v.not, `${at}.not`, depth + 1) };
    if ("attr" in v) {
      if (typeof v.attr !== "string" || !(v.attr in COLUMNS || TRAIT.test(v.attr)))
        throw new RuleError(`${at}.attr must be a trait name (letters, digits, _).`);
      if (typeof v.op !== "string" || !ATTR_OPS.has(v.op))
        throw new RuleError(`${at}.op must be one of ${[...ATTR_OPS].join(", ")}.`);
      const op = v.op as AttrOp;
      if (op === "exists") return { attr: v.attr, op };
      if (op === "in") {
        if (!Array.isArray(v.value) || v.value.length === 0 || v.value.length > 100 || !v.value.every(scalar))
          throw new RuleError(`${at}.value must be a list of 1 to 100 strings or numbers.`);
        return { attr: v.attr, op, value: v.value as (string | number)[] };
      }
      if (!scalar(v.value) || (typeof v.value === "string" && v.value.length > 200))
        throw new RuleError(`${at}.value must be a string (≤ 200 characters), number or boolean.`);
      return { attr: v.attr, op, value: v.value as string | number | boolean };
    }
    if ("metric" in v) {
      if (typeof v.metric !== "string" || !METRICS.has(v.metric))
        throw new RuleError(`${at}.metric must be one of ${[...METRICS].join(", ")}.`);
      if (typeof v.op !== "string" || !(v.op in COMPARE))
        throw new RuleError(`${at}.op must be one of ${Object.keys(COMPARE).join(", ")}.`);
      if (!isNum(v.value)) throw new RuleError(`${at}.value must be a number.`);
      return { metric: v.metric as Metric, op: v.op as CompareOp, value: v.value };
    }
    if ("viewed_product" in v) {
      if (typeof v.viewed_product !== "string" || v.viewed_product.length === 0 || v.viewed_product.length > 200)
        throw new RuleError(`${at}.viewed_product must be a product id or "*".`);
      if (v.within_days !== undefined && !(isNum(v.within_days) && v.within_days > 0))
        throw new RuleError(`${at}.within_days must be a positive number.`);
      return { viewed_product: v.viewed_product, within_days: v.within_days as number | undefined };
    }
    for (const flag of ["open_cart", "opted_in", "never_ordered"] as const) {
      if (flag in v) {
        if (typeof v[flag] !== "boolean") throw new RuleError(`${at}.${flag} must be true or false.`);
        return { [flag]: v[flag] } as Rule;
      }
    }
    if ("stage" in v) {
      const list = Array.isArray(v.stage) ? v.stage : [v.stage];
      if (list.length === 0 || !list.every((x) => (STAGES as readonly unknown[]).includes(x)))
        throw new RuleError(`${at}.stage must be one of ${STAGES.join(", ")}, or a list of them.`);
      return { stage: list as Stage[] };
    }
    if ("did" in v) {
      if (typeof v.did !== "string" || v.did.length === 0 || v.did.length > 200)
        throw new RuleError(`${at}.did must be an event name.`);
      const atLeast = v.at_least ?? 1;
      if (!Number.isInteger(atLeast) || (atLeast as number) < 1 || (atLeast as number) > 1000)
        throw new RuleError(`${at}.at_least must be a whole number from 1 to 1000.`);
      if (v.within_days !== undefined && !(isNum(v.within_days) && v.within_days > 0 && v.within_days <= 3660))
        throw new RuleError(`${at}.within_days must be a positive number of days (at most 3660).`);
      let where: { product_id?: string; category?: string } | undefined;
      if (v.where !== undefined) {
        const w = v.where;
        const ok = (x: unknown) => x === undefined || (typeof x === "string" && x.length > 0 && x.length <= 200);
        if (
          !isDict(w) ||
          Object.keys(w).some((k) => k !== "product_id" && k !== "category") ||
          !ok(w.product_id) ||
          !ok(w.category)
        )
          throw new RuleError(`${at}.where must be { product_id?, category? } with short strings.`);
        where = {
          ...(w.product_id !== undefined ? { product_id: w.product_id as string } : {}),
          ...(w.category !== undefined ? { category: w.category as string } : {}),
        };
      }
      return {
        did: v.did,
        at_least: atLeast as number,
        ...(v.within_days !== undefined ? { within_days: v.within_days as number } : {}),
        ...(where ? { where } : {}),
      };
    }
    if ("top_category" in v) {
      if (typeof v.top_category !== "string" || v.top_category.length === 0 || v.top_category.length > 200)
        throw new RuleError(`${at}.top_category must be a category name.`);
      return { top_category: v.top_category };
    }
    if ("inactive_days" in v) {
      if (!isNum(v.inactive_days) || v.inactive_days <= 0)
        throw new RuleError(`${at}.inactive_days must be a positive number.`);
      return { inactive_days: v.inactive_days };
    }
    throw new RuleError(`${at} is not a rule (keys: ${keys.join(", ") || "none"}).`);
  };
  const rule = walk(input, path, 0);
  // D1 binds at most 100 values per statement, and the statements that use a rule bind their own.
  if (compileRule(rule, 0).params.length > MAX_PARAMS)
    throw new RuleError(`${path} binds more than ${MAX_PARAMS} values; use fewer or simpler rules.`);
  return rule;
}

export interface Compiled {
  /** A boolean SQL expression over `c` (a contacts row), with `?` placeholders only. */
  sql: string;
  params: unknown[];
}

/**
 * Compiles a validated rule to SQL. Only fixed fragments from this file become SQL text; every
 * value from the rule (trait paths included) is a bound parameter.
 */
export function compileRule(rule: Rule, now: number): Compiled {
  const params: unknown[] = [];
  const bind = (v: unknown) => {
    params.push(typeof v === "boolean" ? (v ? 1 : 0) : v);
    return "?";
  };
  const attr = (name: string) => COLUMNS[name] ?? `json_extract(c.traits, ${bind(`$.${name}`)})`;
  const spend365 = () =>
    `(SELECT coalesce(sum(o.total), 0) FROM orders o WHERE o.site_id = c.site_id AND o.contact_id = c.id
      AND o.status = 'placed' AND o.placed_at >= ${bind(now - 365 * DAY)})`;
  const daysSince = (col: string) => `((${bind(now)} - ${col}) / ${DAY}.0)`;

  const walk = (r: Rule): string => {
    if ("all" in r) return `(${r.all.map(walk).join(" AND ")})`;
    if ("any" in r) return `(${r.any.map(walk).join(" OR ")})`;
    if ("not" in r) return `(NOT coalesce(${walk(r.not)}, 0))`;
    if ("attr" in r) {
      const col = attr(r.attr);
      switch (r.op) {
        case "exists":
          return `(nullif(${col}, '') IS NOT NULL)`;
        case "eq":
          return `(${col} = ${bind(r.value)})`;
        case "ne":
          return `(${col} IS NOT ${bind(r.value)})`;
        case "contains":
          return `(instr(lower(${col}), lower(${bind(r.value)})) > 0)`;
        case "in":
          return `(${col} IN (SELECT value FROM json_each(${bind(JSON.stringify(r.value))})))`;
      }
    }
    if ("metric" in r) {
      const op = COMPARE[r.op];
      switch (r.metric) {
        case "orders_count":
          return `(c.orders_count ${op} ${bind(r.value)})`;
        case "total_spent":
          return `(c.total_spent ${op} ${bind(r.value)})`;
        case "spend_365d":
          return `(${spend365()} ${op} ${bind(r.value)})`;
        case "days_since_last_order":
          return `(c.last_order_at IS NOT NULL AND ${daysSince("c.last_order_at")} ${op} ${bind(r.value)})`;
        case "days_since_last_seen":
          return `(${daysSince("c.last_seen")} ${op} ${bind(r.value)})`;
        case "days_since_first_seen":
          return `(${daysSince("c.first_seen")} ${op} ${bind(r.value)})`;
        default:
          // NULL (no order, not scored yet) matches no comparison.
          return `(${RFM[r.metric]} ${op} ${bind(r.value)})`;
      }
    }
    if ("viewed_product" in r) {
      const product = r.viewed_product === "*" ? "" : ` AND v.product_id = ${bind(r.viewed_product)}`;
      const since = r.within_days ? ` AND v.viewed_at >= ${bind(now - r.within_days * DAY)}` : "";
      return `EXISTS (SELECT 1 FROM product_views v WHERE v.site_id = c.site_id AND v.contact_id = c.id${product}${since})`;
    }
    if ("open_cart" in r)
      return `(${r.open_cart ? "" : "NOT "}EXISTS (SELECT 1 FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.id))`;
    if ("opted_in" in r) {
      // Opted in: a newsletter sign-up (trait set by identify or the subscribe widget) and no unsubscribe.
      const traits = OPT_IN_TRAITS.map((t) => `json_extract(c.traits, '$.${t}')`).join(", ");
      const yes = `(c.unsubscribed = 0 AND coalesce(${traits}, 0) IN (1, 'true', 'yes'))`;
      return r.opted_in ? yes : `(NOT ${yes})`;
    }
    if ("stage" in r) {
      const stage = stageSql(bind(now - LAPSING_DAYS * DAY));
      return `(${stage} IN (SELECT value FROM json_each(${bind(JSON.stringify(r.stage))})))`;
    }
    if ("did" in r) {
      // Counted up to `at_least` only (the LIMIT), along the (site, contact, timestamp) index.
      // Placeholders are bound in the order they appear in the text.
      const event = bind(r.did);
      const since = r.within_days ? ` AND e.timestamp >= ${bind(now - r.within_days * DAY)}` : "";
      const product =
        r.where?.product_id !== undefined ? ` AND e.properties ->> '$.product_id' = ${bind(r.where.product_id)}` : "";
      const category =
        r.where?.category !== undefined ? ` AND e.properties ->> '$.category' = ${bind(r.where.category)}` : "";
      return `((SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.site_id = c.site_id AND e.contact_id = c.id
        AND e.event = ${event}${since}${product}${category} LIMIT ${bind(r.at_least)})) >= ${bind(r.at_least)})`;
    }
    if ("top_category" in r)
      // Views per category of the products they viewed (the catalogue's category); ties: the first by name.
      return `((SELECT p.category FROM product_views v JOIN products p ON p.site_id = v.site_id AND p.product_id = v.product_id
        WHERE v.site_id = c.site_id AND v.contact_id = c.id AND p.category IS NOT NULL
        GROUP BY p.category ORDER BY sum(v.views) DESC, p.category LIMIT 1) = ${bind(r.top_category)})`;
    if ("never_ordered" in r) return `(c.orders_count ${r.never_ordered ? "=" : ">"} 0)`;
    return `(c.last_seen <= ${bind(now - r.inactive_days * DAY)})`;
  };
  return { sql: walk(rule), params };
}

/** Is this contact in the segment now? (The per-contact use of the compiled rule.) */
export async function contactMatches(
  db: D1Database,
  siteId: string,
  contactId: string,
  rule: Rule,
  now: number,
): Promise<boolean> {
  const { sql, params } = compileRule(rule, now);
  const row = await db
    .prepare(`SELECT 1 FROM contacts c WHERE c.site_id = ? AND c.id = ? AND ${sql}`)
    .bind(siteId, contactId, ...params)
    .first();
  return row !== null;
}
