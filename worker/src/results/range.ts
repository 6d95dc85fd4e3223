import { fail } from "../lib/http";

/**
 * `?from=&to=` of the results and overview endpoints: ISO dates ("2026-12-01", UTC midnight) or
 * times. `to` is exclusive; a bare date as `to` includes that whole day. Defaults: everything up to now.
 */
export function resultsRange(from: string | undefined, to: string | undefined, now: number) {
  const parse = (v: string, name: string, end: boolean) => {
    const t = Date.parse(v);
    if (v.length > 40 || Number.isNaN(t)) fail(400, "invalid_range", `${name} must be an ISO date or time.`);
    return end && /^\d{4}-\d{2}-\d{2}$/.test(v) ? t + 86400_000 : t;
  };
  const range = { from: from ? parse(from, "from", false) : 0, to: to ? parse(to, "to", true) : now + 1 };
  if (range.from >= range.to) fail(400, "invalid_range", "from must be before to.");
  return range;
}
