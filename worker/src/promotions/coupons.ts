/**
 * Coupon codes at checkout and on orders: which typed codes are valid for this shopper now
 * (exists, not expired, not used up overall or by them, theirs if bound to someone), redemption
 * when an order completes (idempotent by order id) and release when it is cancelled or refunded.
 * Unknown codes count against the client: past GUESS_LIMIT per window every code is refused, so
 * enumerating codes costs an attacker more than the codes are worth. Minting lives in model/coupons.
 */
import type { CodeInput, CodeScope, Rejection } from "./engine";

export const GUESS_LIMIT = 10;
export const GUESS_WINDOW_MS = 10 * 60_000;
export const MAX_CODES = 5;

export interface Shopper {
  contactId: string | null;
  anonymousId: string | null;
  /** The contact has an email or user id: a person, not just a browser we have seen. */
  known?: boolean;
}

interface CouponRow {
  code: string;
  promotion_id: string;
  contact_id: string | null;
  anonymous_id: string | null;
  anonymous_contact: string | null;
  max_uses: number | null;
  uses: number;
  max_uses_per_contact: number | null;
  expires_at: number | null;
  used_by_shopper: number;
  product_id: string | null;
  category: string | null;
  /** The bound product's name, from the merchant's catalogue only. */
  product_name: string | null;
}

/** Trimmed, upper-case, de-duplicated, at most MAX_CODES codes of sane length. */
export function normaliseCodes(raw: unknown[]): string[] {
  const codes = raw
    .filter((c): c is string => typeof c === "string")
    .map((c) => c.trim().toUpperCase())
    .filter((c) => c.length > 0 && c.length <= 64);
  return [...new Set(codes)].slice(0, MAX_CODES);
}

/** Splits codes into those that unlock a promotion and those refused, with a reason for the shopper. */
export async function checkCodes(
  db: D1Database,
  siteId: string,
  codes: string[],
  shopper: Shopper,
  client: string,
  now: number,
): Promise<{ accepted: CodeInput[]; rejected: Rejection[] }> {
  if (codes.length === 0) return { accepted: [], rejected: [] };
  // Every code counts as a guess before any is looked up, in one upsert that returns the window's
  // new total: requests racing each see the others' guesses, so 30 parallel requests evaluate at
  // most GUESS_LIMIT codes between them (reading the count first and adding failures afterwards let
  // them all pass the check: 35 codes against a limit of 10). Codes that turn out to exist are
  // given back below: only unknown codes use up the allowance.
  const bucket = Math.floor(now / GUESS_WINDOW_MS);
  const [counted] = await db.batch<{ failures: number }>([
    db
      .prepare(
        `INSERT INTO coupon_attempts (bucket, site_id, client, failures) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET failures = failures + excluded.failures RETURNING failures`,
      )
      .bind(bucket, siteId, client, codes.length),
    db.prepare(`DELETE FROM coupon_attempts WHERE bucket < ?`).bind(bucket - 1),
  ]);
  const before = (counted?.results?.[0]?.failures ?? codes.length) - codes.length;
  const tried = codes.slice(0, Math.max(0, GUESS_LIMIT - before));
  const refused = codes.slice(tried.length).map((code) => ({
    code,
    reason: "too_many_attempts" as const,
    message: "Too many codes tried. Please wait a few minutes and try again.",
  }));
  if (tried.length === 0) return { accepted: [], rejected: refused };

  const { results } = await db
    .prepare(
      `SELECT c.code, c.promotion_id, c.contact_id, c.anonymous_id, i.contact_id AS anonymous_contact, c.max_uses,
              c.uses, c.max_uses_per_contact, c.expires_at, c.product_id, c.category, p.name AS product_name,
              (SELECT count(*) FROM coupon_redemptions r
               WHERE r.site_id = c.site_id AND r.code = c.code AND r.contact_id = ?3 AND r.released_at IS NULL) AS used_by_shopper
       FROM coupons c
       LEFT JOIN identities i ON i.site_id = c.site_id AND i.kind = 'anonymous' AND i.value = c.anonymous_id
       LEFT JOIN products p ON p.site_id = c.site_id AND p.product_id = c.product_id AND p.merchant = 1
       WHERE c.site_id = ?1 AND c.code IN (SELECT value FROM json_each(?2))`,
    )
    .bind(siteId, JSON.stringify(tried), shopper.contactId)
    .all<CouponRow>();
  const rows = new Map((results ?? []).map((r) => [r.code, r]));

  const accepted: CodeInput[] = [];
  const rejected: Rejection[] = [];
  let unknown = 0;
  for (const code of tried) {
    const row = rows.get(code);
    const reject = (reason: Rejection["reason"], message: string) => rejected.push({ code, reason, message });
    if (!row) {
      unknown++;
      reject("unknown", "We don't recognise this code. Check it and try again.");
    } else if (row.expires_at !== null && now >= row.expires_at) reject("expired", "This code has expired.");
    else if (row.max_uses !== null && row.uses >= row.max_uses) reject("used", "This code has already been used.");
    else if (row.max_uses_per_contact !== null && row.used_by_shopper >= row.max_uses_per_contact)
      reject("used", "You have already used this code.");
    else if (!belongsTo(row, shopper)) reject("not_yours", "This code was issued to someone else.");
    else accepted.push({ code, promotionId: row.promotion_id, ...scopeOf(row) });
  }
  if (unknown < tried.length)
    await db
      .prepare(
        `UPDATE coupon_attempts SET failures = max(0, failures - ?) WHERE bucket = ? AND site_id = ? AND client = ?`,
      )
      .bind(tried.length - unknown, bucket, siteId, client)
      .run();
  return { accepted, rejected: [...rejected, ...refused] };
}

/**
 * A personal code bound to a product (or a category) unlocks its promotion on those lines only.
 * The shopper reads the product's name only when the merchant wrote it; a row a browser described
 * is named by its id (a stranger's words never reach a checkout through someone else's code).
 */
function scopeOf(row: CouponRow): { scope?: CodeScope } {
  if (row.product_id !== null)
    return { scope: { products: [row.product_id], label: row.product_name ?? `product ${row.product_id}` } };
  if (row.category !== null) return { scope: { categories: [row.category], label: `${row.category} products` } };
  return {};
}

/**
 * A code bound to a browser works in that browser or for the contact it became. A code bound to a
 * contact is refused only to a shopper known to be someone else: on a new device the recipient
 * is not known yet, and the unguessable code they were sent is itself the proof.
 */
function belongsTo(row: CouponRow, s: Shopper): boolean {
  if (row.contact_id === null && row.anonymous_id === null) return true;
  const owner = row.contact_id ?? row.anonymous_contact;
  if (owner !== null && owner === s.contactId) return true;
  if (row.anonymous_id !== null) return row.anonymous_id === s.anonymousId;
  // Every browser has a contact from its first event; only an identified one is "someone else".
  return s.contactId === null || s.known !== true;
}

/** uses = unreleased redemptions, for every code this order touched: recomputed, so replays cannot drift it. */
function recount(db: D1Database, siteId: string, orderId: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE coupons SET uses = (SELECT count(*) FROM coupon_redemptions r
                                  WHERE r.site_id = coupons.site_id AND r.code = coupons.code AND r.released_at IS NULL)
       WHERE site_id = ?1 AND code IN (SELECT code FROM coupon_redemptions WHERE site_id = ?1 AND order_id = ?2)`,
    )
    .bind(siteId, orderId);
}

/** Statements that redeem an order's codes: once per code and order id, however often the event arrives. */
export function redeemCoupons(
  db: D1Database,
  siteId: string,
  orderId: string,
  contactId: string,
  codes: readonly (string | null | undefined)[],
  at: number,
): D1PreparedStatement[] {
  const list = codes.filter((c) => typeof c === "string" && c.length > 0);
  if (list.length === 0) return [];
  return [
    db
      .prepare(
        `INSERT INTO coupon_redemptions (site_id, code, order_id, contact_id, redeemed_at)
         SELECT ?1, c.code, ?2, ?3, ?4 FROM coupons c WHERE c.site_id = ?1 AND c.code IN (SELECT value FROM json_each(?5))
         ON CONFLICT DO NOTHING`,
      )
      .bind(siteId, orderId, contactId, at, JSON.stringify(list)),
    recount(db, siteId, orderId),
  ];
}

/** Statements that give a cancelled or refunded order's codes back: only that contact's redemptions. */
export function releaseCoupons(
  db: D1Database,
  siteId: string,
  orderId: string,
  contactId: string,
  at: number,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `UPDATE coupon_redemptions SET released_at = ?
         WHERE site_id = ? AND order_id = ? AND contact_id = ? AND released_at IS NULL`,
      )
      .bind(at, siteId, orderId, contactId),
    recount(db, siteId, orderId),
  ];
}
