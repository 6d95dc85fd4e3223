/**
 * RFM scores: each customer's recency (last order), frequency (orders) and monetary value (total
 * spent) as quintiles 1–5 among the site's customers (contacts with an order), 5 the best. Ties
 * share a score (rank, not row number), so two customers with the same spend never differ. Kept on
 * the contact (`rfm_r`, `rfm_f`, `rfm_m`) and read by the segment rules as metrics.
 *
 * Recomputed on a schedule, not per order: a quintile moves with everyone else's orders, so an
 * incremental update would rescore the whole site anyway. The sweep refreshes sites whose scores
 * are older than RFM_EVERY_MS, a few sites per run; one refresh is three statements in one batch
 * (a transaction): scores for customers, NULLs for contacts who no longer have an order, the run.
 */

export const RFM_EVERY_MS = 24 * 3600_000;
/** Sites refreshed per sweep: bounded work per run; the rest wait for the next minute. */
const SITES_PER_SWEEP = 5;

/** Scores one site's customers (?1): score = 1 + ⌊5 · (rank − 1) / n⌋, ties sharing a rank. */
export const RFM_SQL = `WITH n AS MATERIALIZED (SELECT count(*) AS n FROM contacts WHERE site_id = ?1 AND orders_count > 0),
        scored AS MATERIALIZED (
          SELECT id,
            1 + 5 * (rank() OVER (ORDER BY coalesce(last_order_at, 0)) - 1) / n.n AS r,
            1 + 5 * (rank() OVER (ORDER BY orders_count) - 1) / n.n AS f,
            1 + 5 * (rank() OVER (ORDER BY total_spent) - 1) / n.n AS m
          FROM contacts, n WHERE site_id = ?1 AND orders_count > 0)
   UPDATE contacts SET rfm_r = scored.r, rfm_f = scored.f, rfm_m = scored.m
   FROM scored WHERE contacts.site_id = ?1 AND contacts.id = scored.id`;

/** Statements that recompute one site's scores as of now (score = 1 + ⌊5 · (rank − 1) / n⌋). */
export function rfmStatements(db: D1Database, siteId: string, now: number): D1PreparedStatement[] {
  return [
    db.prepare(RFM_SQL).bind(siteId),
    db
      .prepare(
        `UPDATE contacts SET rfm_r = NULL, rfm_f = NULL, rfm_m = NULL
         WHERE site_id = ? AND orders_count = 0 AND rfm_r IS NOT NULL`,
      )
      .bind(siteId),
    db
      .prepare(
        `INSERT INTO rfm_runs (site_id, computed_at) VALUES (?, ?)
         ON CONFLICT DO UPDATE SET computed_at = excluded.computed_at`,
      )
      .bind(siteId, now),
  ];
}

/** The sweep's phase: refreshes the sites whose scores are stale; returns how many it refreshed. */
export async function refreshRfm(db: D1Database, now: number): Promise<number> {
  const { results } = await db
    .prepare(
      `SELECT s.id FROM sites s LEFT JOIN rfm_runs r ON r.site_id = s.id
       WHERE r.computed_at IS NULL OR r.computed_at <= ? ORDER BY r.computed_at LIMIT ?`,
    )
    .bind(now - RFM_EVERY_MS, SITES_PER_SWEEP)
    .all<{ id: string }>();
  for (const { id } of results ?? []) await db.batch(rfmStatements(db, id, now));
  return results?.length ?? 0;
}
