/**
 * Who is pricing a cart, as far as promotions care: the contact behind the browser's anonymous id
 * (only that id: a public endpoint must not reveal facts about an email or user id typed into it)
 * and the built-in segments `first_order` (no completed order yet) or `returning`.
 */
export interface PricingShopper {
  contactId: string | null;
  /** The contact has an email or user id (an anonymous browser's own contact does not count). */
  known: boolean;
  anonymousId: string | null;
  segments: string[];
}

export async function findShopper(db: D1Database, siteId: string, anonymousId: string | null): Promise<PricingShopper> {
  const row = anonymousId
    ? await db
        .prepare(
          `SELECT c.id, c.orders_count, (c.email IS NOT NULL OR c.user_id IS NOT NULL) AS known FROM identities i JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
           WHERE i.site_id = ? AND i.kind = 'anonymous' AND i.value = ?`,
        )
        .bind(siteId, anonymousId)
        .first<{ id: string; orders_count: number; known: number }>()
    : null;
  return {
    contactId: row?.id ?? null,
    known: row?.known === 1,
    anonymousId,
    segments: (row?.orders_count ?? 0) > 0 ? ["returning"] : ["first_order"],
  };
}
