import { sha256Hex } from "../lib/crypto";

/**
 * Addresses a site must not contact again (migration 0011): hard bounces and complaints from the
 * email provider, STOP texts. Stored as the SHA-256 of the normalised address, so the list keeps no
 * address and outlives the contact's erasure — a re-import of the same address stays suppressed.
 */

export type SuppressionReason = "bounced" | "complained" | "stop" | "unsubscribed";

/** Email: trimmed and lower-cased; phone: without spaces, dots, dashes and brackets — the same
 * form erasure hashes (model/privacy.ts), so either kind of entry finds the other's address. */
export const normalise = (address: string): string => {
  const a = address.trim();
  return a.includes("@") ? a.toLowerCase() : a.replace(/[\s().-]/g, "");
};

export const suppressionHash = (address: string) => sha256Hex(normalise(address));

export async function suppress(
  db: D1Database,
  siteId: string,
  addresses: string[],
  reason: SuppressionReason,
  now: number,
): Promise<void> {
  if (addresses.length === 0) return;
  const hashes = await Promise.all(addresses.map(suppressionHash));
  await db.batch(
    hashes.map((hash) =>
      db
        .prepare(
          `INSERT INTO suppressions (site_id, hash, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .bind(siteId, hash, reason, now),
    ),
  );
}

/** Why `address` is suppressed on the site, or null. */
export async function suppressionOf(db: D1Database, siteId: string, address: string): Promise<string | null> {
  const row = await db
    .prepare(`SELECT reason FROM suppressions WHERE site_id = ? AND hash = ?`)
    .bind(siteId, await suppressionHash(address))
    .first<{ reason: string }>();
  return row?.reason ?? null;
}
