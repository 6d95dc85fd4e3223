/**
 * Quiet hours in the contact's time zone. A message due inside them is deferred to the end of the
 * quiet period — never dropped. Hours are local wall-clock hours; `from > to` spans midnight.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function localMinutes(at: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "numeric", minute: "numeric", hourCycle: "h23" });
    } catch {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", hour: "numeric", minute: "numeric", hourCycle: "h23" });
    }
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get("hour") * 60 + get("minute");
}

const isQuiet = (minutes: number, quiet: { from: number; to: number }) => {
  const hour = Math.floor(minutes / 60);
  return quiet.from < quiet.to ? hour >= quiet.from && hour < quiet.to : hour >= quiet.from || hour < quiet.to;
};

/**
 * When the message may go: `at` itself outside quiet hours, else the first instant the local clock
 * reads `to`:00 (or, when that wall time does not exist that night, the first instant after it).
 * Counting the wait in local minutes is off by the offset change on a DST night — an hour late in
 * spring (09:00 for 08:00), an hour early in autumn (07:00, still quiet) — so the guess is
 * corrected by what the local clock actually reads there.
 */
export function deferUntil(at: number, timeZone: string, quiet: { from: number; to: number }): number {
  const m = localMinutes(at, timeZone);
  if (!isQuiet(m, quiet)) return at;
  const target = quiet.to * 60;
  const guess = at - (at % 60_000) + ((target - m + 1440) % 1440) * 60_000;
  // How far the clock there is from `to`:00, within ±12 h; zone offsets change by at most a few hours.
  const off = ((localMinutes(guess, timeZone) - target + 2160) % 1440) - 720;
  const corrected = guess - off * 60_000;
  // The corrected instant must be past `at` and outside quiet hours; a wall time skipped by a DST
  // gap has no instant, and the guess (already past the gap) is the first one allowed.
  return corrected > at && !isQuiet(localMinutes(corrected, timeZone), quiet) ? corrected : guess;
}

/** A usable IANA zone name, or null. */
export function validTimeZone(v: unknown): string | null {
  if (typeof v !== "string" || v.length > 64) return null;
  try {
    new Intl.DateTimeFormat("en", { timeZone: v });
    return v;
  } catch {
    return null;
  }
}
