/** Ids: the anonymous visitor id and every event's messageId. */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
let pool = new Uint8Array(0);
let at = 0;

/**
 * The random tail of a UUID: "-Vxxx-xxxxxxxxxxxx" (V the RFC 9562 variant). Random bytes come
 * from a pooled getRandomValues: crypto.randomUUID costs ~7 µs a call in Chromium, the pool
 * well under one; getRandomValues also works on plain http:// where randomUUID is missing.
 */
function randomTail(): string {
  if (at + 8 > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(4096));
    at = 0;
  }
  let h = "";
  for (let i = 0; i < 8; i++) h += HEX[pool[at++] as number];
  return `-${"89ab"[h.charCodeAt(0) & 3]}${h.slice(1, 4)}-${h.slice(4)}`;
}

let lastMs = 0;
let tick = 0;
/**
 * A UUIDv7 (RFC 9562): milliseconds, then a counter, then randomness. Ids sort in the order
 * events were made, so the outbox can use them as keys and send the oldest first.
 */
export function uuid7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    tick = 0;
  } else if (++tick > 0xfff) {
    lastMs++;
    tick = 0;
  }
  const t = lastMs.toString(16).padStart(12, "0");
  return `${t.slice(0, 8)}-${t.slice(8)}-7${tick.toString(16).padStart(3, "0")}${randomTail()}`;
}
