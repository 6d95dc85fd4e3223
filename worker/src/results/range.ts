import * as v from "valibot";
import { fail } from "../lib/http";

/** The query fields `resultsRange` reads, for the strict query schemas of the endpoints using it. */
export const rangeQuery = { from: v.optional(v.string()), to: v.optional(v.string()), days: v.optional(v.string()) };

/**
 * `?from=&to=` of the results and overview endpoints: ISO dates ("2026-12-01", UTC midnight) or
 * times. `to` is exclusive; a bare date as `to` includes that whole day. Defaults: everything up to now.
 * `?days=N` instead: the last N days up to now (the server's now, which in the demo is the dev clock).
 */
export function resultsRange(from: string | undefined, to: string | undefined, now: number, days?: string) {
  if (days !== undefined && days !== "") {
    const n = Number(days);
    if (!(Number.isInteger(n) && n >= 1 && n <= 3660))
      fail(400, "invalid_range", "days must be a whole number from 1 to 3660.");
    return { from: now - n * 86400_000, to: now + 1 };
  }
  const parse = (v: string, name: string, end: boolean) => {
    const t = Date.parse(v);
    if (v.length > 40 || Number.isNaN(t)) fail(400, "invalid_range", `${name} must be an ISO date or time.`);
    return end && /^\d{4}-\d{2}-\d{2}$/.test(v) ? t + 86400_000 : t;
  };
  const range = { from: from ? parse(from, "from", false) : 0, to: to ? parse(to, "to", true) : now + 1 };
  if (range.from >= range.to) fail(400, "invalid_range", "from must be before to.");
  return range;
}
