import type { Site } from "../model/sites";
import { MAX_EVENTS_PER_PASS } from "./inbox";
import { drainInbox } from "./process";

/**
 * Group commit, the default way accepted batches are applied. A request stores its batch and
 * answers; then, in ctx.waitUntil, this isolate's drainer applies the inbox. While a drain runs,
 * further requests only note that there is more (the running drain goes round again) instead of
 * starting their own — so under load one pass takes many requests' batches at once (up to
 * MAX_EVENTS_PER_PASS events) and applies them with the same dozen statements one batch would
 * need. At low load a pass holds one batch and starts at once: nothing waits for a timer.
 *
 * Nothing depends on the drainer for correctness: rows are claimed atomically, and what it leaves
 * (an isolate evicted mid-pass, a budget spent) the scheduled sweep applies.
 */

/** One drain's time budget: Workers keep ctx.waitUntil work alive for 30 s after the response. */
const DRAIN_MS = 10_000;
/** Passes per drain: each is a few D1 calls, and an invocation may make 1 000 at most. */
const MAX_PASSES = 50;
/** A drain older than this is taken as lost (its invocation was cancelled mid-await). */
const LOST_MS = 30_000;

let runningSince: number | null = null;
let again = false;

export async function drainInBackground(
  db: D1Database,
  siteById: (id: string) => Promise<Site | null>,
  now: () => Promise<number>,
): Promise<void> {
  if (runningSince !== null && Date.now() - runningSince < LOST_MS) {
    again = true;
    return;
  }
  const started = Date.now();
  runningSince = started;
  try {
    // One pass, and one more for each time a request came in meanwhile: no empty round trip to
    // find out the inbox is empty. What another isolate stored, its own drainer takes.
    let full: boolean;
    let passes = 0;
    do {
      again = false;
      full = (await drainInbox(db, siteById, await now(), { passes: 1 })) >= MAX_EVENTS_PER_PASS / 2;
    } while ((again || full) && ++passes < MAX_PASSES && Date.now() - started < DRAIN_MS);
  } finally {
    if (runningSince === started) runningSince = null;
  }
}
