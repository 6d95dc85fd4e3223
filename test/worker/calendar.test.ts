import { describe, expect, it } from "vitest";
import { latestOccurrence } from "../../worker/src/campaigns/engine";
import { deferUntil } from "../../worker/src/jobs/quiet-hours";

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("latestOccurrence: calendar steps that cannot overflow", () => {
  it.each([
    // [first, every, now, expected]
    ["2027-01-31T09:00:00Z", "month", "2027-02-28T09:00:00Z", "2027-02-28T09:00:00.000Z"], // clamped to Feb's end
    ["2027-01-31T09:00:00Z", "month", "2027-02-28T08:59:59Z", "2027-01-31T09:00:00.000Z"], // not yet that day's time
    ["2027-01-31T09:00:00Z", "month", "2027-03-30T12:00:00Z", "2027-02-28T09:00:00.000Z"], // March's is the 31st
    ["2027-01-31T09:00:00Z", "month", "2027-03-31T09:00:00Z", "2027-03-31T09:00:00.000Z"], // back to the 31st, not drifting
    ["2027-01-31T09:00:00Z", "month", "2027-04-30T10:00:00Z", "2027-04-30T09:00:00.000Z"],
    ["2027-01-31T09:00:00Z", "month", "2028-02-29T09:00:00Z", "2028-02-29T09:00:00.000Z"], // leap February
    ["2027-01-30T09:00:00Z", "month", "2027-03-01T00:00:00Z", "2027-02-28T09:00:00.000Z"],
    ["2027-03-31T23:30:00Z", "month", "2027-05-01T00:00:00Z", "2027-04-30T23:30:00.000Z"],
    ["2027-12-31T00:00:00Z", "month", "2028-01-31T00:00:00Z", "2028-01-31T00:00:00.000Z"], // over the year end
    ["2028-02-29T12:00:00Z", "year", "2029-03-01T00:00:00Z", "2029-02-28T12:00:00.000Z"], // leap day, other years
    ["2028-02-29T12:00:00Z", "year", "2032-02-29T12:00:00Z", "2032-02-29T12:00:00.000Z"],
    ["2028-02-29T12:00:00Z", "year", "2029-02-28T11:00:00Z", "2028-02-29T12:00:00.000Z"],
    ["2027-03-06T08:00:00Z", "year", "2035-03-06T08:00:00Z", "2035-03-06T08:00:00.000Z"],
    ["2027-03-06T08:00:00Z", "day", "2027-03-28T07:59:59Z", "2027-03-27T08:00:00.000Z"], // UTC: no DST step
    ["2027-03-06T08:00:00Z", "week", "2027-03-27T08:00:00Z", "2027-03-27T08:00:00.000Z"],
    ["2027-03-06T08:00:00Z", undefined, "2030-01-01T00:00:00Z", "2027-03-06T08:00:00.000Z"],
    ["2027-03-06T08:00:00Z", "month", "2027-03-06T07:00:00Z", null], // before the first
  ] as const)("from %s every %s, at %s: %s", (first, every, now, expected) => {
    expect(iso(latestOccurrence(first, every, t(now)))).toBe(expected);
  });

  it("should fire once in every month from the 31st for ten years, never twice in one", () => {
    const first = "2027-01-31T09:00:00Z";
    const seen = new Map<string, number>();
    // Every day at 10:00, as a daily sweep would see it.
    for (let now = t("2027-01-31T10:00:00Z"); now < t("2037-01-31T00:00:00Z"); now += 86400_000) {
      const occurrence = iso(latestOccurrence(first, "month", now)) ?? "";
      seen.set(occurrence, (seen.get(occurrence) ?? 0) + 1);
    }
    const months = [...seen.keys()].map((o) => o.slice(0, 7));
    expect(new Set(months).size).toBe(months.length);
    expect(months).toHaveLength(120);
    expect(months).toContain("2027-02");
  });
});

describe("quiet hours across DST", () => {
  const quiet = { from: 21, to: 8 };
  const local = (ms: number, timeZone: string) =>
    new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(ms);

  it.each([
    // [zone, at, expected local time of the deferred send]
    ["Europe/London", "2027-03-27T22:00:00Z", "2027-03-28T07:00:00.000Z"], // spring forward: 08:00 BST
    ["Europe/London", "2027-10-30T21:00:00Z", "2027-10-31T08:00:00.000Z"], // fall back: 08:00 GMT
    ["Europe/London", "2027-06-01T21:30:00Z", "2027-06-02T07:00:00.000Z"], // ordinary summer night
    ["America/New_York", "2027-03-14T03:00:00Z", "2027-03-14T12:00:00.000Z"], // spring forward: 08:00 EDT
    ["America/New_York", "2027-11-07T02:00:00Z", "2027-11-07T13:00:00.000Z"], // fall back: 08:00 EST
    ["Australia/Sydney", "2027-04-03T12:00:00Z", "2027-04-03T22:00:00.000Z"], // fall back (April): 08:00 AEST
  ])("in %s, a message due at %s goes at %s (08:00 local)", (zone, at, expected) => {
    const until = deferUntil(t(at), zone, quiet);
    expect(iso(until)).toBe(expected);
    expect(local(until, zone)).toBe("08:00");
  });

  it("should defer into a DST gap to the first instant after it", () => {
    // Quiet until 02:00 on the night London's clocks skip 01:00–02:00: 02:00 local does not exist
    // (01:00 GMT becomes 02:00 BST); the first allowed instant is 01:00 UTC (= 02:00 BST).
    const until = deferUntil(t("2027-03-27T23:00:00Z"), "Europe/London", { from: 22, to: 2 });
    expect(iso(until)).toBe("2027-03-28T01:00:00.000Z");
  });

  it("should let a message outside quiet hours go at once", () => {
    const at = t("2027-03-28T12:00:00Z");
    expect(deferUntil(at, "Europe/London", quiet)).toBe(at);
  });
});
