import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { count } from "../format";

/** Examples of the rule language (worker/src/segments/rules.ts), to start from. */
const PRESETS: [string, unknown][] = [
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

export function Segments() {
  const [text, setText] = useState(JSON.stringify(PRESETS[0]?.[1], null, 2));
  const [result, setResult] = useState<{ count?: number; error?: string; loading: boolean }>({ loading: true });
  // The audience is counted as the rule is typed (after a short pause), with the same SQL campaigns use.
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
      <p>Write a rule and see how many contacts match it right now. Campaigns use the same rules as their audience.</p>
      <p class="actions">
        {PRESETS.map(([name, rule]) => (
          <button type="button" class="secondary" key={name} onClick={() => setText(JSON.stringify(rule, null, 2))}>
            {name}
          </button>
        ))}
      </p>
      <label for="rule">Rule (JSON)</label>
      <textarea
        id="rule"
        rows={8}
        spellcheck={false}
        value={text}
        maxLength={8000}
        aria-describedby="audience"
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
      />
      <p id="audience" class="audience" role="status" aria-live="polite">
        {result.loading
          ? "Counting…"
          : result.error
            ? `Not a valid rule: ${result.error}`
            : `${count(result.count ?? 0)} contacts match.`}
      </p>
    </>
  );
}
