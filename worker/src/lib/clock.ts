import type { Env } from "../env";
import { isDev } from "../env";

/**
 * The current time. In development the dev clock (`POST /v1/dev/tick`) can move it forward so a
 * person or a test can see tomorrow's reminder today. It is kept as an offset from the real clock,
 * so simulated time keeps flowing after a jump. Deployments always use the real clock.
 */
export async function now(env: Env): Promise<number> {
  const real = Date.now();
  if (!isDev(env)) return real;
  const row = await env.DB.prepare(`SELECT offset_ms FROM dev_clock WHERE id = 1`).first<{ offset_ms: number }>();
  return real + (row?.offset_ms ?? 0);
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
}
