import type { Env } from "../env";
import { directoryOf, isDev } from "../env";

/**
 * The current time. In development the dev clock (`POST /v1/dev/tick`) can move it forward so a
 * person or a test can see tomorrow's reminder today. It is kept as an offset from the real clock,
 * so simulated time keeps flowing after a jump. Deployments always use the real clock.
 */
export async function now(env: Env): Promise<number> {
  const real = Date.now();
  if (!isDev(env)) return real;
  return real + (await devOffset(directoryOf(env), real));
}

/**
 * The dev clock's offset, kept in memory for a second: every request reads the clock, and a D1
 * round trip each would make development slower than a deployment, benchmarks included. A move
 * of the clock in this isolate clears the copy; another isolate (there is one under `wrangler dev`)
 * would see it within OFFSET_CACHE_MS (`wrangler dev` runs one).
 */
const OFFSET_CACHE_MS = 1000;
let offset: { at: number; ms: number } | null = null;

async function devOffset(db: D1Database, real: number): Promise<number> {
  if (offset && real - offset.at < OFFSET_CACHE_MS) return offset.ms;
  const row = await db.prepare(`SELECT offset_ms FROM dev_clock WHERE id = 1`).first<{ offset_ms: number }>();
  offset = { at: real, ms: row?.offset_ms ?? 0 };
  return offset.ms;
}

/** After the dev clock was moved or reset: read it again. */
export function forgetDevClock() {
  offset = null;
}

/** Moves the development clock forward to `at`; it never goes backwards. */
export async function advanceDevClock(db: D1Database, at: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO dev_clock (id, offset_ms) VALUES (1, max(0, ?1 - ?2))
       ON CONFLICT (id) DO UPDATE SET offset_ms = max(offset_ms, excluded.offset_ms)`,
    )
    .bind(at, Date.now())
    .run();
  forgetDevClock();
}
