/** Ids: the anonymous visitor id and every event's messageId. */

let pool: Uint8Array;
// Past the pool's end: the first id fills it.
let at = 4096;

/**
 * A UUIDv7 (RFC 9562) from its parts: milliseconds, a 12-bit counter, then 16 hex digits (the
 * first becomes the variant). Ids sort in the order events were made, so the outbox can use them
 * as keys and send the oldest first.
 */
function uuid(ms: number, n: number, hex: string): string {
  const t = ms.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8)}-7${n.toString(16).padStart(3, "0")}-${"89ab"[hex.charCodeAt(0) & 3]}${hex.slice(1, 4)}-${hex.slice(4, 16)}`;
}

let lastMs = 0;
let tick = 0;
/**
 * A fresh UUIDv7, monotonic within the page. Random bytes come from a pooled getRandomValues:
 * crypto.randomUUID costs ~7 µs a call in Chromium, the pool well under one; getRandomValues also
 * works on plain http:// where randomUUID is missing.
 */
export function uuid7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    tick = 0;
  } else if (++tick > 0xfff) {
    lastMs++;
    tick = 0;
  }
  if (at > 4088) {
    pool = crypto.getRandomValues(new Uint8Array(4096));
    at = 0;
  }
  let h = "";
  // 256 + byte: two hex digits after a leading 1, so no padding step.
  for (let i = 0; i < 8; i++) h += ((pool[at++] as number) + 256).toString(16).slice(1);
  return uuid(lastMs, tick, h);
}

/**
 * The messageId of the `n`th call the loader stub queued on the page it tagged `tag` (random hex),
 * made at `ms`: the same each time it is computed, so a call replayed twice is stored once.
 */
export const stubId = (ms: number, n: number, tag: string): string => uuid(ms, n & 0xfff, tag.padEnd(16, "0"));
