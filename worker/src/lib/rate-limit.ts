import { fail } from "./http";

/**
 * Fixed-window rate limits kept in D1: one upsert counts the request and returns the window's
 * total, so concurrent requests cannot both slip under the limit. Old windows are pruned by the
 * same bucket's next window (cheap, and the table stays proportional to active senders).
 */
export async function rateLimit(
  db: D1Database,
  bucket: string,
  limit: number,
  windowMs: number,
  now: number,
): Promise<void> {
  const start = now - (now % windowMs);
  const [, counted] = await db.batch<{ count: number }>([
    db.prepare(`DELETE FROM rate_limits WHERE bucket = ? AND window_start < ?`).bind(bucket, start),
    db
      .prepare(
        `INSERT INTO rate_limits (bucket, window_start, count) VALUES (?, ?, 1)
         ON CONFLICT (bucket, window_start) DO UPDATE SET count = count + 1 RETURNING count`,
      )
      .bind(bucket, start),
  ]);
  const count = counted?.results?.[0]?.count ?? 0;
  if (count > limit) {
    const retryAfter = Math.ceil((start + windowMs - now) / 1000);
    fail(429, "rate_limited", `Too many requests; try again in ${retryAfter} s.`, { retryAfter });
  }
}
