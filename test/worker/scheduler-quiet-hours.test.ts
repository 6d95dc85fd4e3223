import { describe, expect, it } from "vitest";
import { deferUntil, validTimeZone } from "../../worker/src/jobs/quiet-hours";

const at = (iso: string) => Date.parse(iso);

describe("quiet hours", () => {
  it.each([
    // [now (UTC), zone, quiet, expected send time (UTC)]
    ["2026-11-23T12:00:00Z", "Europe/London", { from: 21, to: 8 }, "2026-11-23T12:00:00Z"], // daytime: now
    ["2026-11-23T22:30:00Z", "Europe/London", { from: 21, to: 8 }, "2026-11-24T08:00:00Z"], // late: next morning
    ["2026-11-24T03:15:00Z", "Europe/London", { from: 21, to: 8 }, "2026-11-24T08:00:00Z"], // after midnight: same morning
    ["2026-11-23T13:00:00Z", "Asia/Tokyo", { from: 21, to: 8 }, "2026-11-23T23:00:00Z"], // 22:00 in Tokyo → 08:00 there
    ["2026-07-01T21:30:00Z", "Europe/Paris", { from: 21, to: 8 }, "2026-07-02T06:00:00Z"], // summer time, UTC+2
    ["2026-11-23T10:00:00Z", "Europe/London", { from: 6, to: 1 }, "2026-11-24T01:00:00Z"], // night-only campaign
    ["2026-11-24T02:00:00Z", "Europe/London", { from: 6, to: 1 }, "2026-11-24T02:00:00Z"], // inside its night window
    ["2026-11-23T20:59:00Z", "Europe/London", { from: 21, to: 8 }, "2026-11-23T20:59:00Z"], // a minute before
  ])("should send a message due %s in %s (quiet %j) at %s", (now, zone, quiet, expected) => {
    expect(new Date(deferUntil(at(now), zone, quiet)).toISOString()).toBe(new Date(at(expected)).toISOString());
  });

  it("should accept IANA zones and refuse anything else", () => {
    expect(validTimeZone("America/New_York")).toBe("America/New_York");
    expect(validTimeZone("Mars/Olympus")).toBeNull();
    expect(validTimeZone(42)).toBeNull();
  });
});
