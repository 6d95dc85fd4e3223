import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { count } from "../format";

/**
 * Segments: a rule built from groups (all of / any of) and conditions of the rule language
 * (worker/src/segments/rules.ts), each of which can be excluded (not), with the live count of the
 * contacts it matches. The JSON the builder writes stays one click away for what it does not draw.
 */

type Rule = Record<string, unknown>;

/** Examples of the rule language, to start from. */
const PRESETS: [string, Rule][] = [
  ["Has an open cart", { open_cart: true }],
  ["Spent 80.00 or more in 365 days", { metric: "spend_365d", op: "gte", value: 8000 }],
  ["No visit for 6 months", { inactive_days: 180 }],
  ["Loyal or lapsing customers", { stage: ["loyal", "lapsing"] }],
  ["Top spenders (RFM monetary 5)", { metric: "rfm_monetary", op: "eq", value: 5 }],
  [
    "Viewed headphones 3 times in a week",
    { did: "Product Viewed", at_least: 3, within_days: 7, where: { category: "Headphones" } },
  ],
  [
    "Ordered, and has an email",
    {
      all: [
        { metric: "orders_count", op: "gte", value: 1 },
        { attr: "email", op: "exists" },
      ],
    },
  ],
];

/** The kinds of condition, each with the rule a new one starts as. */
const KINDS: [string, string, Rule][] = [
  ["attr", "Attribute or trait", { attr: "locale", op: "eq", value: "fr" }],
  ["metric", "Orders and spend", { metric: "orders_count", op: "gte", value: 1 }],
  ["viewed_product", "Viewed a product", { viewed_product: "*", within_days: 7 }],
  ["open_cart", "Has an open cart", { open_cart: true }],
  ["opted_in", "Opted in to email", { opted_in: true }],
  ["never_ordered", "Never ordered", { never_ordered: true }],
  ["inactive_days", "No visit for days", { inactive_days: 180 }],
];
const METRICS: [string, string][] = [
  ["orders_count", "orders"],
  ["total_spent", "total spent (minor units)"],
  ["spend_365d", "spent in 365 days (minor units)"],
  ["days_since_last_order", "days since last order"],
  ["days_since_last_seen", "days since last visit"],
  ["days_since_first_seen", "days since first visit"],
];
const COMPARE: [string, string][] = [
  ["eq", "="],
  ["gt", ">"],
  ["gte", "≥"],
  ["lt", "<"],
  ["lte", "≤"],
];
const ATTR_OPS: [string, string][] = [
  ["eq", "is"],
  ["ne", "is not"],
  ["contains", "contains"],
  ["in", "is one of"],
  ["exists", "is set"],
];

const isRule = (v: unknown): v is Rule => typeof v === "object" && v !== null && !Array.isArray(v);
const kindOf = (r: Rule) => KINDS.find(([k]) => k in r)?.[0] ?? "";
const numberFrom = (e: Event) => Number((e.target as HTMLInputElement).value);

function Select(props: { label: string; value: string; options: [string, string][]; onChange: (v: string) => void }) {
  return (
    <select
      aria-label={props.label}
      value={props.value}
      onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
    >
      {props.options.map(([v, name]) => (
        <option key={v} value={v}>
          {name}
        </option>
      ))}
    </select>
  );
}

/** The inputs of one condition; `where` names it for screen readers ("condition 2"). */
function Condition({ rule, set, where }: { rule: Rule; set: (r: Rule) => void; where: string }) {
  const kind = kindOf(rule);
  const num = (key: string, label: string, min = 0) => (
    <input
      type="number"
      aria-label={`${label}, ${where}`}
      min={min}
      value={typeof rule[key] === "number" ? (rule[key] as number) : ""}
      onInput={(e) => set({ ...rule, [key]: numberFrom(e) })}
    />
  );
  const yesNo = (key: string) => (
    <Select
      label={`Yes or no, ${where}`}
      value={String(rule[key] !== false)}
      options={[
        ["true", "yes"],
        ["false", "no"],
      ]}
      onChange={(v) => set({ [key]: v === "true" })}
    />
  );
  switch (kind) {
    case "attr": {
      const value = Array.isArray(rule.value) ? rule.value.join(", ") : String(rule.value ?? "");
      return (
        <>
          <input
            aria-label={`Attribute name, ${where}`}
            value={String(rule.attr ?? "")}
            maxLength={64}
            size={10}
            onInput={(e) => set({ ...rule, attr: (e.target as HTMLInputElement).value })}
          />
          <Select
            label={`Comparison, ${where}`}
            value={String(rule.op)}
            options={ATTR_OPS}
            onChange={(op) => {
              const { value: _, ...rest } = rule;
              set(
                op === "exists"
                  ? { ...rest, op }
                  : { ...rest, op, value: op === "in" ? value.split(/\s*,\s*/) : value },
              );
            }}
          />
          {rule.op === "exists" ? null : (
            <input
              aria-label={`Value, ${where}`}
              value={value}
              maxLength={200}
              size={10}
              onInput={(e) => {
                const v = (e.target as HTMLInputElement).value;
                set({ ...rule, value: rule.op === "in" ? v.split(/\s*,\s*/) : v });
              }}
            />
          )}
        </>
      );
    }
    case "metric":
      return (
        <>
          <Select
            label={`Measure, ${where}`}
            value={String(rule.metric)}
            options={METRICS}
            onChange={(metric) => set({ ...rule, metric })}
          />
          <Select
            label={`Comparison, ${where}`}
            value={String(rule.op)}
            options={COMPARE}
            onChange={(op) => set({ ...rule, op })}
          />
          {num("value", "Value")}
        </>
      );
    case "viewed_product":
      return (
        <>
          <input
            aria-label={`Product id (* for any), ${where}`}
            value={String(rule.viewed_product ?? "")}
            maxLength={200}
            size={8}
            onInput={(e) => set({ ...rule, viewed_product: (e.target as HTMLInputElement).value })}
          />
          <span>within</span>
          {num("within_days", "Days", 1)}
          <span>days</span>
        </>
      );
    case "inactive_days":
      return num("inactive_days", "Days without a visit", 1);
    case "open_cart":
    case "opted_in":
    case "never_ordered":
      return yesNo(kind);
    default:
      return <code>{JSON.stringify(rule)}</code>;
  }
}

/** One rule of a group: a condition or a group, possibly wrapped in `not`. */
function Node({
  rule,
  set,
  remove,
  where,
}: {
  rule: Rule;
  set: (r: Rule) => void;
  remove?: () => void;
  where: string;
}) {
  const negated = "not" in rule && isRule(rule.not);
  const inner = negated ? (rule.not as Rule) : rule;
  const setInner = (r: Rule) => set(negated ? { not: r } : r);
  const group = "all" in inner || "any" in inner;
  return (
    <li class={group ? "rule group" : "rule"}>
      <label class="check">
        <input type="checkbox" checked={negated} onChange={() => set(negated ? inner : { not: inner })} /> Not
        <span class="sr-only"> ({where})</span>
      </label>
      {group ? (
        <Group rule={inner} set={setInner} where={where} />
      ) : (
        <>
          <Select
            label={`Kind of ${where}`}
            value={kindOf(inner)}
            options={KINDS.map(([k, name]) => [k, name])}
            onChange={(k) => setInner(KINDS.find(([x]) => x === k)?.[2] ?? inner)}
          />
          <Condition rule={inner} set={setInner} where={where} />
        </>
      )}
      {remove ? (
        <button type="button" class="secondary" onClick={remove} aria-label={`Remove ${where}`}>
          Remove
        </button>
      ) : null}
    </li>
  );
}

function Group({ rule, set, where }: { rule: Rule; set: (r: Rule) => void; where: string }) {
  const mode = "any" in rule ? "any" : "all";
  const list = (Array.isArray(rule[mode]) ? rule[mode] : []) as unknown[];
  const put = (next: unknown[]) => set({ [mode]: next });
  return (
    <div>
      <Select
        label={`Match, ${where}`}
        value={mode}
        options={[
          ["all", "All of these"],
          ["any", "Any of these"],
        ]}
        onChange={(m) => set({ [m]: list })}
      />
      <ul class="rules">
        {list.map((r, i) =>
          isRule(r) ? (
            <Node
              // Rules have no id; Node keeps no state of its own, so keying by position is safe.
              key={i}
              rule={r}
              where={`${where}, rule ${i + 1}`}
              set={(x) => put(list.map((y, j) => (j === i ? x : y)))}
              remove={list.length > 1 ? () => put(list.filter((_, j) => j !== i)) : undefined}
            />
          ) : null,
        )}
      </ul>
      {list.length < 20 ? (
        <p class="actions">
          <button type="button" class="secondary" onClick={() => put([...list, { open_cart: true }])}>
            Add a condition{where === "the rule" ? "" : ` to ${where}`}
          </button>
          <button type="button" class="secondary" onClick={() => put([...list, { any: [{ opted_in: true }] }])}>
            Add a group{where === "the rule" ? "" : ` to ${where}`}
          </button>
        </p>
      ) : null}
    </div>
  );
}

/** The builder always edits a group: a single condition is shown as "all of: it". */
const asGroup = (r: Rule): Rule => ("all" in r || "any" in r ? r : { all: [r] });

export function Segments() {
  const [text, setText] = useState(JSON.stringify(PRESETS[0]?.[1], null, 2));
  const [rule, setRule] = useState<Rule | null>(PRESETS[0]?.[1] ?? null);
  const [json, setJson] = useState(false);
  const [result, setResult] = useState<{ count?: number; error?: string; loading: boolean }>({ loading: true });
  const build = (r: Rule) => {
    setRule(r);
    setText(JSON.stringify(r, null, 2));
  };
  // The audience is counted as the rule changes (after a short pause), with the same SQL campaigns use.
  useEffect(() => {
    let live = true;
    setResult((r) => ({ ...r, loading: true }));
    const timer = setTimeout(async () => {
      let segment: unknown;
      try {
        segment = JSON.parse(text);
      } catch {
        if (live) setResult({ error: "This is not valid JSON yet.", loading: false });
        return;
      }
      try {
        const r = await api<{ count: number }>("/v1/admin/campaigns/audience", { method: "POST", body: { segment } });
        if (live) setResult({ count: r.count, loading: false });
      } catch (e) {
        if (live) setResult({ error: e instanceof Error ? e.message : "Invalid rule.", loading: false });
      }
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [text]);
  return (
    <>
      <h1 tabIndex={-1}>Segments</h1>
      <p>Build a rule and see how many contacts match it right now. Campaigns use the same rules as their audience.</p>
      <p class="actions">
        {PRESETS.map(([name, r]) => (
          <button type="button" class="secondary" key={name} onClick={() => build(r)}>
            {name}
          </button>
        ))}
      </p>
      <p id="audience" class="audience" role="status" aria-live="polite">
        {result.loading
          ? "Counting…"
          : result.error
            ? `Not a valid rule: ${result.error}`
            : `${count(result.count ?? 0)} contacts match.`}
      </p>
      <p>
        <button type="button" class="secondary" aria-pressed={json} onClick={() => setJson(!json)}>
          Edit as JSON (advanced)
        </button>
      </p>
      {json ? (
        <>
          <label for="rule">Rule (JSON)</label>
          <textarea
            id="rule"
            rows={10}
            spellcheck={false}
            value={text}
            maxLength={8000}
            aria-describedby="audience"
            onInput={(e) => {
              const t = (e.target as HTMLTextAreaElement).value;
              setText(t);
              try {
                const r: unknown = JSON.parse(t);
                setRule(isRule(r) ? r : null);
              } catch {
                // Half-typed JSON: the builder keeps the last rule it could read.
              }
            }}
          />
        </>
      ) : rule ? (
        <section class="builder" aria-label="Rule builder">
          <Group rule={asGroup(rule)} set={build} where="the rule" />
        </section>
      ) : (
        <p class="note">The JSON is not a rule the builder can draw; edit it as JSON.</p>
      )}
    </>
  );
}
