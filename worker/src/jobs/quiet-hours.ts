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

/** When the message may go: `at` itself outside quiet hours, else the local time `to`:00 next. */
export function deferUntil(at: number, timeZone: string, quiet: { from: number; to: number }): number {
  const m = localMinutes(at, timeZone);
  const hour = Math.floor(m / 60);
  const inside = quiet.from < quiet.to ? hour >= quiet.from && hour < quiet.to : hour >= quiet.from || hour < quiet.to;
  if (!inside) return at;
  const wait = (quiet.to * 60 - m + 1440) % 1440;
  // On a DST change day this can land an hour off; the sweep checks again and defers once more.
  return at - (at % 60_000) + wait * 60_000;
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
