import type { Site } from "./sites";
import { schedule } from "./messages";

/**
 * The referral programme's data: a stable code per referrer, and what a friend's order earns.
 *
 * A referrer's code is also a coupon (promotion REFERRAL_OFFER, the friend's first-order offer), so
 * the friend types it at checkout or arrives by `?ref=CODE` and the shop applies it; the merchant's
 * order then carries it. `referralStatements` runs inside the order's own D1 batch
 * (ingest/orders.ts): one `INSERT … SELECT` decides, in SQL and atomically, whether this friend
 * is new and whether the referrer is under the cap, and one more schedules the reward mail through
 * the enabled `referral_reward` campaign (the sweep mints the referrer's coupon when it sends).
 */

/** The campaign whose one step mails the referrer their reward; disabled or missing: no reward. */
export const REWARD_CAMPAIGN = "referral_reward";
/** The friend's offer a referral code unlocks (a built-in promotion, promotions/defaults.ts). */
export const REFERRAL_OFFER = "referral-10";
const DAY = 86400_000;
/** The window of the per-referrer cap (`referralRewardsPerMonth`). */
export const CAP_WINDOW_MS = 30 * DAY;

// 31 symbols without look-alikes, as coupon codes (model/coupons.ts): REF-XXXX-XXXX is 31^8 ≈ 2^40.
// Shorter than a unique coupon on purpose: it is typed by friends and read aloud. Guessing one
// only finds someone's public code (and spends the checkout's guess allowance doing it).
const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

function newCode(): string {
  let s = "";
  // Rejection sampling keeps every symbol equally likely (256 is not a multiple of 31).
  while (s.length < 8)
    for (const b of crypto.getRandomValues(new Uint8Array(16))) if (b < 248 && s.length < 8) s += ALPHABET[b % 31];
  return `REF-${s.slice(0, 4)}-${s.slice(4)}`;
}

/** The referrer's code, made on first ask: one statement, so two racing requests still make one. */
export async function referralCode(db: D1Database, siteId: string, contactId: string, now: number): Promise<string> {
  const code = newCode();
  const [, , read] = await db.batch<{ code: string }>([
    db
      .prepare(
        `INSERT INTO referral_codes (site_id, code, contact_id, created_at)
         SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM referral_codes WHERE site_id = ?1 AND contact_id = ?3)`,
      )
      .bind(siteId, code, contactId, now),
    // Anyone may use it (the friend is not known yet), once each; the engine's first_order condition
    // keeps it to new customers.
    db
      .prepare(
        `INSERT INTO coupons (site_id, code, promotion_id, max_uses, max_uses_per_contact, source, created_at)
         SELECT site_id, code, ?3, NULL, 1, 'referral', created_at FROM referral_codes WHERE site_id = ?1 AND code = ?2
         ON CONFLICT DO NOTHING`,
      )
      .bind(siteId, code, REFERRAL_OFFER),
    db
      .prepare(`SELECT code FROM referral_codes WHERE site_id = ? AND contact_id = ? ORDER BY created_at, code LIMIT 1`)
      .bind(siteId, contactId),
  ]);
  const found = read?.results?.[0]?.code;
  if (!found) throw new Error("referral code not stored");
  return found;
}

/** The shop's link that carries a code: the store applies `?ref=` as the friend's code. */
/**
 * The customer behind a browser, or null: a contact with an email whose order the merchant reported
 * (orders count only then, SECURITY.md). Only a customer may ask for a referral link from a page.
 */
export async function customerOfBrowser(db: D1Database, siteId: string, anonymousId: string): Promise<string | null> {
  const row = await db
    .prepare(
      `SELECT c.id FROM identities i JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
       WHERE i.site_id = ? AND i.kind = 'anonymous' AND i.value = ? AND c.email IS NOT NULL AND c.orders_count > 0`,
    )
    .bind(siteId, anonymousId)
    .first<{ id: string }>();
  return row?.id ?? null;
}

export const referralUrl = (site: Pick<Site, "url">, code: string) => `${site.url.replace(/\/+$/, "")}/?ref=${code}`;

/**
 * SQL for the mailbox an address delivers to: lower-case, without a `+tag`, and for Gmail without
 * dots (a.nn+x@googlemail.com is ann@gmail.com), so a referrer cannot refer herself under a variant
 * of her own address. `col` is a column name from this file, never input.
 */
function mailbox(col: string): string {
  const local = `CASE WHEN instr(${col}, '+') > 0 THEN substr(${col}, 1, instr(${col}, '+') - 1)
                     ELSE substr(${col}, 1, instr(${col}, '@') - 1) END`;
  const domain = `substr(${col}, instr(${col}, '@') + 1)`;
  return `(CASE WHEN ${domain} IN ('gmail.com', 'googlemail.com') THEN replace(${local}, '.', '') || '@gmail.com'
               ELSE ${local} || '@' || ${domain} END)`;
}

export interface ReferredOrder {
  orderId: string;
  contactId: string;
  /** The order's codes (upper-case): the coupons, and a `referral_code` the shop captured. */
  codes: string[];
  total: number;
  currency: string;
  /** The event's (skew-corrected) time: the reward is due from it, as a journey runs from its event. */
  placedAt: number;
}

/**
 * What a merchant-reported order changes in the programme: at most one referrals row per friend
 * (the first order naming a code) and, when that row says `rewarded`, the referrer's reward mail.
 * The status is decided in the statement from what the same transaction sees:
 *  - `self`: the friend is the referrer — the same contact, the same mailbox, or the same phone;
 *  - `returning`: the friend had another order already (a customer is not a new one);
 *  - `off`: the site has no enabled `referral_reward` campaign;
 *  - `capped`: the referrer already has `referralRewardsPerMonth` rewards in the last 30 days;
 *  - else `rewarded` (`reversed` later if the merchant cancels or refunds that order).
 * A second order by the same friend finds the row and changes nothing; a resent order too.
 */
export function referralStatements(db: D1Database, site: Site, o: ReferredOrder): D1PreparedStatement[] {
  if (o.codes.length === 0) return [];
  return [
    db
      .prepare(
        `INSERT INTO referrals (site_id, contact_id, referrer_id, code, order_id, total, currency, placed_at, status)
         SELECT ?1, f.id, rc.contact_id, rc.code, ?3, ?4, ?5, ?6,
           CASE
             WHEN rc.contact_id = f.id
               OR (f.email IS NOT NULL AND r.email IS NOT NULL AND ${mailbox("f.email")} = ${mailbox("r.email")})
               OR (f.phone IS NOT NULL AND f.phone = r.phone) THEN 'self'
             WHEN EXISTS (SELECT 1 FROM orders o WHERE o.site_id = ?1 AND o.contact_id = f.id AND o.order_id != ?3)
               THEN 'returning'
             WHEN NOT EXISTS (SELECT 1 FROM campaigns cp WHERE cp.site_id = ?1 AND cp.id = ?8 AND cp.enabled = 1)
               THEN 'off'
             WHEN (SELECT count(*) FROM referrals x WHERE x.site_id = ?1 AND x.referrer_id = rc.contact_id
                     AND x.status = 'rewarded' AND x.placed_at > ?6 - ?9) >= ?10 THEN 'capped'
             ELSE 'rewarded'
           END
         FROM contacts f
         JOIN referral_codes rc ON rc.site_id = f.site_id AND rc.code IN (SELECT value FROM json_each(?7))
         JOIN contacts r ON r.site_id = rc.site_id AND r.id = rc.contact_id
         WHERE f.site_id = ?1 AND f.id = ?2
         ORDER BY rc.created_at LIMIT 1
         ON CONFLICT DO NOTHING`,
      )
      .bind(
        site.id,
        o.contactId,
        o.orderId,
        o.total,
        o.currency,
        o.placedAt,
        JSON.stringify(o.codes),
        REWARD_CAMPAIGN,
        CAP_WINDOW_MS,
        Math.max(0, site.settings.referralRewardsPerMonth),
      ),
    // The reward: the campaign's first step, for the referrer, once per friend (the dedupe key).
    schedule(
      db,
      `SELECT r.site_id, r.referrer_id, cp.id, 1, coalesce(json_extract(cp.definition, '$.steps[0].channel'), 'email'),
              cp.id || ':' || r.site_id || ':' || r.contact_id || ':1',
              ?4 + coalesce(json_extract(cp.definition, '$.steps[0].delayMs'), 0), ?4, NULL, 0,
              coalesce(json_extract(cp.definition, '$.priority'), 50),
              json_object('started_at', ?4, 'order_id', r.order_id, 'event', 'referral')
       FROM referrals r JOIN campaigns cp ON cp.site_id = r.site_id AND cp.id = ?3 AND cp.enabled = 1
       WHERE r.site_id = ?1 AND r.contact_id = ?2 AND r.order_id = ?5 AND r.status = 'rewarded'`,
      [site.id, o.contactId, REWARD_CAMPAIGN, o.placedAt, o.orderId],
    ),
  ];
}

/**
 * The friend's order was cancelled or refunded (by the merchant): the referral no longer earns a
 * reward, and the slot under the referrer's cap is free again. A reward not yet sent is then not
 * sent (the sweep asks `rewardStands`); give the reward step a delay as long as the shop's return
 * window to make this catch refunds, not only quick cancellations.
 */
export const reverseReferral = (db: D1Database, siteId: string, orderId: string, contactId: string) =>
  db
    .prepare(
      `UPDATE referrals SET status = 'reversed'
       WHERE site_id = ? AND order_id = ? AND contact_id = ? AND status = 'rewarded'`,
    )
    .bind(siteId, orderId, contactId);

/** Whether the referral a reward message names still earns it (checked by the sweep at send time). */
export async function rewardStands(db: D1Database, siteId: string, orderId: unknown): Promise<boolean> {
  if (typeof orderId !== "string") return false;
  const row = await db
    .prepare(`SELECT 1 AS ok FROM referrals WHERE site_id = ? AND order_id = ? AND status = 'rewarded'`)
    .bind(siteId, orderId)
    .first<{ ok: number }>();
  return row !== null;
}
