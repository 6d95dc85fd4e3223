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
  now: number;
}

/** Creates a unique single-use (by default) code bound to a recipient and returns it. */
export async function mintCoupon(db: D1Database, o: MintOptions): Promise<string> {
  const code = randomCode(o.prefix);
  await db
    .prepare(
      `INSERT INTO coupons (site_id, code, promotion_id, contact_id, anonymous_id, max_uses, expires_at, source, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    )
    .run();
  return code;
}
