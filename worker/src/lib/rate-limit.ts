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
  const start = now - (now % windowMs);
  const [, counted] = await db.batch<{ count: number }>([
    db
      .prepare(
        `DELETE FROM rate_limits WHERE (bucket, window_start) IN
           (SELECT bucket, window_start FROM rate_limits WHERE window_start < ? LIMIT 20)`,
      )
      .bind(now - KEEP_MS),
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
