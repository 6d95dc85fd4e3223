/**
 * Minting coupon codes. Unique codes are unguessable (80 bits from crypto.getRandomValues) and
 * use an alphabet without look-alikes (no 0/O, 1/I/L), so a shopper can type one from a text.
 * Validation, limits and redemption belong to the promotions engine.
 */

const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"; // 31 symbols, no 0 O 1 I L
const LENGTH = 16; // 31^16 ≈ 2^79

export function randomCode(prefix = ""): string {
  const bytes = crypto.getRandomValues(new Uint8Array(LENGTH * 2));
  let code = "";
  // Rejection sampling keeps every symbol equally likely (256 is not a multiple of 31).
  for (const b of bytes) {
    if (b < 248 && code.length < LENGTH) code += ALPHABET[b % 31];
  }
  while (code.length < LENGTH) code += ALPHABET[(crypto.getRandomValues(new Uint8Array(1))[0] ?? 0) % 31];
  return `${prefix}${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8, 12)}-${code.slice(12)}`;
}

export interface MintOptions {
  siteId: string;
  promotionId: string;
  contactId?: string | null;
  anonymousId?: string | null;
  /** e.g. "exit_intent", "campaign:abandoned_cart". */
  source: string;
  expiresAt?: number | null;
  maxUses?: number | null;
  prefix?: string;
  /** A personal code: it discounts only this product, or only this category (checkout enforces it). */
  productId?: string | null;
  category?: string | null;
  now: number;
}

/** Creates a unique single-use (by default) code bound to a recipient and returns it. */
export async function mintCoupon(db: D1Database, o: MintOptions): Promise<string> {
  const code = randomCode(o.prefix);
  await db
    .prepare(
      `INSERT INTO coupons (site_id, code, promotion_id, contact_id, anonymous_id, max_uses, expires_at, source, created_at,
         product_id, category)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      o.siteId,
      code,
      o.promotionId,
      o.contactId ?? null,
      o.anonymousId ?? null,
      o.maxUses === undefined ? 1 : o.maxUses,
      o.expiresAt ?? null,
      o.source,
      o.now,
      o.productId ?? null,
      o.category ?? null,
    )
    .run();
  return code;
}

/**
 * The newest code from `source` (e.g. "exit_intent") a contact holds, still valid and unused, for a
 * follow-up message to repeat. Found by contact or by any of the contact's browsers, since the code
 * may have been minted before the visitor was known.
 */
export async function heldCoupon(db: D1Database, siteId: string, contactId: string, source: string, now: number) {
  return db
    .prepare(
      `SELECT code, promotion_id, expires_at FROM coupons WHERE site_id = ?1 AND source = ?3
         AND (contact_id = ?2 OR anonymous_id IN
              (SELECT value FROM identities WHERE site_id = ?1 AND kind = 'anonymous' AND contact_id = ?2))
         AND (expires_at IS NULL OR expires_at > ?4) AND (max_uses IS NULL OR uses < max_uses)
       ORDER BY created_at DESC LIMIT 1`,
    )
    .bind(siteId, contactId, source, now)
    .first<{ code: string; promotion_id: string; expires_at: number | null }>();
}

/** The product or category a code is bound to (both null: the whole order). */
export async function boundTo(db: D1Database, siteId: string, code: string) {
  return (
    (await db
      .prepare(`SELECT product_id, category FROM coupons WHERE site_id = ? AND code = ?`)
      .bind(siteId, code)
      .first<{ product_id: string | null; category: string | null }>()) ?? { product_id: null, category: null }
  );
}
