/** Seeds the demo store's promotions and static codes (development only); never overwrites a merchant's edits. */
import { DEMO_CODES, DEMO_PROMOTIONS } from "./demo-data";
import { putPromotion } from "./store";

export async function seedDemoPromotions(db: D1Database, siteId: string, now: number): Promise<void> {
  await db.batch([
    ...DEMO_PROMOTIONS.map((p) => putPromotion(db, siteId, p, true, now, true)),
    ...DEMO_CODES.map((c) =>
      db
        .prepare(
          `INSERT INTO coupons (site_id, code, promotion_id, source, created_at) VALUES (?, ?, ?, 'admin', ?)
           ON CONFLICT DO NOTHING`,
        )
        .bind(siteId, c.code, c.promotionId, now),
    ),
  ]);
}
