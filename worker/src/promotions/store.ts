/** Promotions as rows: the validated definition as JSON, plus whether it is live. */
import type { Promotion } from "./definition";
import { parsePromotion } from "./definition";

export interface StoredPromotion extends Promotion {
  active: boolean;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  definition: string;
  active: number;
  created_at: number;
  updated_at: number;
}

function toStored(row: Row): StoredPromotion | null {
  // Rows were validated on the way in; re-parsing keeps a bad row (manual SQL) out of pricing.
  const parsed = parsePromotion(JSON.parse(row.definition));
  if ("error" in parsed) return null;
  return { ...parsed.promotion, active: row.active === 1, createdAt: row.created_at, updatedAt: row.updated_at };
}

export async function listPromotions(db: D1Database, siteId: string, onlyActive = false): Promise<StoredPromotion[]> {
  const { results } = await db
    .prepare(
      `SELECT definition, active, created_at, updated_at FROM promotions
       WHERE site_id = ? AND (? = 0 OR active = 1) ORDER BY id LIMIT 500`,
    )
    .bind(siteId, onlyActive ? 1 : 0)
    .all<Row>();
  return (results ?? []).map(toStored).filter((p) => p !== null);
}

export async function getPromotion(db: D1Database, siteId: string, id: string): Promise<StoredPromotion | null> {
  const row = await db
    .prepare(`SELECT definition, active, created_at, updated_at FROM promotions WHERE site_id = ? AND id = ?`)
    .bind(siteId, id)
    .first<Row>();
  return row ? toStored(row) : null;
}

/** Creates or replaces a promotion (`onlyIfMissing`: leaves an existing one alone, for seeding). */
export function putPromotion(
  db: D1Database,
  siteId: string,
  p: Promotion,
  active: boolean,
  now: number,
  onlyIfMissing = false,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO promotions (site_id, id, definition, active, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
       ON CONFLICT DO UPDATE SET definition = excluded.definition, active = excluded.active, updated_at = excluded.updated_at
       WHERE ?6 = 0`,
    )
    .bind(siteId, p.id, JSON.stringify(p), active ? 1 : 0, now, onlyIfMissing ? 1 : 0);
}

/**
 * Deletes a promotion and its coupon codes in one batch: a code left behind would stay listed and,
 * were a promotion of the same id created later, would start discounting again.
 */
export async function deletePromotion(db: D1Database, siteId: string, id: string): Promise<boolean> {
  const [, r] = await db.batch([
    db.prepare(`DELETE FROM coupons WHERE site_id = ? AND promotion_id = ?`).bind(siteId, id),
    db.prepare(`DELETE FROM promotions WHERE site_id = ? AND id = ?`).bind(siteId, id),
  ]);
  return (r?.meta.changes ?? 0) > 0;
}
