import { REWARD_CAMPAIGN } from "../model/referrals";

/**
 * The referral programme's results: who refers, whom they brought, what those friends spent, and
 * what the rewards cost. A *friend* is a referrals row; a *new customer* is one whose first order
 * counted (rewarded, capped, or the programme off): self-referrals and returning customers are
 * listed by status but bring no revenue here. Revenue is every placed order of the new customers
 * since their first (their value to the shop, not only the order that named the code), in minor
 * units of the site's currency.
 */

const NEW_CUSTOMER = `status IN ('rewarded', 'capped', 'off')`;

export interface ReferralResults {
  referrers: number;
  friends: number;
  byStatus: Record<string, number>;
  newCustomers: number;
  orders: number;
  revenue: number;
  rewardsSent: number;
  rewardsRedeemed: number;
  top: { contactId: string; email: string | null; code: string; friends: number; rewarded: number; revenue: number }[];
}

export async function referralResults(db: D1Database, siteId: string, limit: number): Promise<ReferralResults> {
  const [codes, statuses, spend, rewards, top] = await db.batch([
    db.prepare(`SELECT count(DISTINCT contact_id) AS n FROM referral_codes WHERE site_id = ?`).bind(siteId),
    db.prepare(`SELECT status, count(*) AS n FROM referrals WHERE site_id = ? GROUP BY status`).bind(siteId),
    db
      .prepare(
        `SELECT count(*) AS orders, coalesce(sum(o.total), 0) AS revenue
         FROM referrals r JOIN orders o ON o.site_id = r.site_id AND o.contact_id = r.contact_id
           AND o.status = 'placed' AND o.placed_at >= r.placed_at
         WHERE r.site_id = ? AND r.${NEW_CUSTOMER}`,
      )
      .bind(siteId),
    db
      .prepare(
        `SELECT (SELECT count(*) FROM messages WHERE site_id = ?1 AND campaign = ?2 AND status = 'sent') AS sent,
                (SELECT count(*) FROM coupons WHERE site_id = ?1 AND source = 'campaign:' || ?2 AND uses > 0) AS redeemed`,
      )
      .bind(siteId, REWARD_CAMPAIGN),
    db
      .prepare(
        `SELECT rc.contact_id AS contactId, c.email, min(rc.code) AS code,
                (SELECT count(*) FROM referrals r WHERE r.site_id = rc.site_id AND r.referrer_id = rc.contact_id) AS friends,
                (SELECT count(*) FROM referrals r WHERE r.site_id = rc.site_id AND r.referrer_id = rc.contact_id
                   AND r.status = 'rewarded') AS rewarded,
                (SELECT coalesce(sum(o.total), 0) FROM referrals r JOIN orders o ON o.site_id = r.site_id
                   AND o.contact_id = r.contact_id AND o.status = 'placed' AND o.placed_at >= r.placed_at
                 WHERE r.site_id = rc.site_id AND r.referrer_id = rc.contact_id AND r.${NEW_CUSTOMER}) AS revenue
         FROM referral_codes rc LEFT JOIN contacts c ON c.site_id = rc.site_id AND c.id = rc.contact_id
         WHERE rc.site_id = ? GROUP BY rc.contact_id ORDER BY revenue DESC, friends DESC, rc.contact_id LIMIT ?`,
      )
      .bind(siteId, limit),
  ]);
  const first = <T>(r: D1Result | undefined) => (r?.results?.[0] ?? {}) as T;
  const byStatus = Object.fromEntries(
    ((statuses?.results ?? []) as { status: string; n: number }[]).map((r) => [r.status, r.n]),
  );
  const s = first<{ orders: number; revenue: number }>(spend);
  const w = first<{ sent: number; redeemed: number }>(rewards);
  return {
    referrers: first<{ n: number }>(codes).n ?? 0,
    friends: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    newCustomers: (byStatus.rewarded ?? 0) + (byStatus.capped ?? 0) + (byStatus.off ?? 0),
    orders: s.orders ?? 0,
    revenue: s.revenue ?? 0,
    rewardsSent: w.sent ?? 0,
    rewardsRedeemed: w.redeemed ?? 0,
    top: (top?.results ?? []) as ReferralResults["top"],
  };
}
