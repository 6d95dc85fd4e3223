import { fail } from "./http";

/**
 * Fixed-window rate limits kept in D1: one upsert counts the request and returns the window's
 * total, so concurrent requests cannot both slip under the limit. Each call also prunes a few
 * windows that ended long ago (any bucket), so the table stays proportional to recent senders
 * without a separate job.
 */
const KEEP_MS = 2 * 86_400_000; // longer than the longest window in use (a day)

export async function rateLimit(
  db: D1Database,
  bucket: string,
  limit: number,
  windowMs: number,
  now: number,
): Promise<void> {
  await rateLimits(db, [{ bucket, limit, windowMs }], now);
}

export interface Limit {
  bucket: string;
  limit: number;
  windowMs: number;
}

/**
 * Counts a request in every bucket at once — one D1 batch, each count an upsert that returns the
 * window's new total, so two requests racing cannot both see room — and answers 429 when any
 * bucket is over its limit (with the longest wait among them).
 */
export async function rateLimits(db: D1Database, limits: Limit[], now: number): Promise<void> {
  const counts = await countAll(db, limits, now);
  let retryAfter = 0;
  for (const [i, l] of limits.entries())
    if ((counts[i] ?? 0) > l.limit) {
      const start = now - (now % l.windowMs);
      retryAfter = Math.max(retryAfter, Math.ceil((start + l.windowMs - now) / 1000));
    }
  if (retryAfter > 0) fail(429, "rate_limited", `Too many requests; try again in ${retryAfter} s.`, { retryAfter });
}

/** Adds `by` (default one) to each bucket's current window and returns the new totals, in order. */
export async function countAll(
  db: D1Database,
  limits: (Omit<Limit, "limit"> & { by?: number })[],
  now: number,
): Promise<number[]> {
  const results = await db.batch<{ count: number }>([
    db
      .prepare(
        `DELETE FROM rate_limits WHERE (bucket, window_start) IN
           (SELECT bucket, window_start FROM rate_limits WHERE window_start < ? LIMIT 20)`,
      )
      .bind(now - KEEP_MS),
    ...limits.map((l) =>
      db
        .prepare(
          `INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, ?3)
           ON CONFLICT (bucket, window_start) DO UPDATE SET count = count + ?3 RETURNING count`,
        )
        .bind(l.bucket, now - (now % l.windowMs), l.by ?? 1),
    ),
  ]);
  return results.slice(1).map((r) => r.results?.[0]?.count ?? 0);
}

/** The current window's total of one bucket, without counting this request. */
export async function windowCount(db: D1Database, bucket: string, windowMs: number, now: number): Promise<number> {
  const row = await db
    .prepare(`SELECT count FROM rate_limits WHERE bucket = ? AND window_start = ?`)
    .bind(bucket, now - (now % windowMs))
    .first<{ count: number }>();
  return row?.count ?? 0;
}
