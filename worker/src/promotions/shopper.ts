/**
 * Who is pricing a cart, as far as promotions care: the contact behind the browser's anonymous id
 * (only that id: a public endpoint must not reveal facts about an email or user id typed into it)
 * and the built-in segments `first_order` (no completed order yet) or `returning`.
 */
export interface PricingShopper {
  contactId: string | null;
  anonymousId: string | null;
  segments: string[];
}

export async function findShopper(db: D1Database, siteId: string, anonymousId: string | null): Promise<PricingShopper> {
  const row = anonymousId
    ? await db
        .prepare(
          `SELECT c.id, c.orders_count FROM identities i JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
           WHERE i.site_id = ? AND i.kind = 'anonymous' AND i.value = ?`,
        )
        .bind(siteId, anonymousId)
        .first<{ id: string; orders_count: number }>()
    : null;
  return {
    contactId: row?.id ?? null,
    anonymousId,
    segments: (row?.orders_count ?? 0) > 0 ? ["returning"] : ["first_order"],
  };
}
