import { sha256Hex } from "../lib/crypto";

/**
 * Addresses a site must not contact again (migration 0011): hard bounces and complaints from the
 * email provider, STOP texts. Stored as the SHA-256 of the normalised address, so the list keeps no
 * address and outlives the contact's erasure — a re-import of the same address stays suppressed.
 */

export type SuppressionReason = "bounced" | "complained" | "stop" | "unsubscribed";

/** Email: trimmed and lower-cased; phone: without spaces, dots, dashes and brackets. */
export const normalise = (address: string): string => {
  const a = address.trim();
  return a.includes("@") ? a.toLowerCase() : a.replace(/[\s().-]/g, "");
};

/**
 * The mailbox an address reaches: its `+tag` dropped, and for Gmail its dots too (Gmail delivers
 * `vic.tim+x@googlemail.com` to `victim@gmail.com`). Entries are stored in this form, so writing an
 * address another way does not bring back someone who asked to hear nothing more.
 */
export function canonical(address: string): string {
  const a = normalise(address);
  const at = a.lastIndexOf("@");
  if (at < 0) return a;
  let local = a.slice(0, at).split("+")[0] ?? "";
  let domain = a.slice(at + 1);
  if (domain === "googlemail.com") domain = "gmail.com";
  if (domain === "gmail.com") local = local.replace(/\./g, "");
  return `${local}@${domain}`;
}

/** The entry an address is stored under. */
export const suppressionHash = (address: string) => sha256Hex(canonical(address));

/** Every entry that would name this address: its mailbox's, and its exact form's (entries stored before). */
export const suppressionHashes = async (address: string): Promise<string[]> => [
  ...new Set([await sha256Hex(canonical(address)), await sha256Hex(normalise(address))]),
];

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

/**
 * Why `address` is suppressed on the site, or null: a provider's reason (bounced, complained,
 * stop), or "unsubscribed" for someone who unsubscribed and was then erased (model/privacy.ts).
 */
export async function suppressionOf(db: D1Database, siteId: string, address: string): Promise<string | null> {
  const { results } = await db
    .prepare(
      `SELECT coalesce(reason, 'unsubscribed') AS reason FROM suppressions
       WHERE site_id = ? AND hash IN (SELECT value FROM json_each(?))`,
    )
    .bind(siteId, JSON.stringify(await suppressionHashes(address)))
    .all<{ reason: string }>();
  // A provider's reason outranks an unsubscribe: it stops transactional mail too.
  return results.find((r) => r.reason !== "unsubscribed")?.reason ?? results[0]?.reason ?? null;
}
