/**
 * One-tap answers to "why did you leave?" from a reminder (campaigns/messages.ts `ask`): one row per
 * message, a second tap changes the answer. Results count them per campaign (results/campaign.ts).
 */

/** Records `reason` for message `messageId` of this contact; false when no such message was sent to them. */
export async function recordLeaveReason(
  db: D1Database,
  x: { siteId: string; contactId: string; messageId: number; reason: string; now: number },
): Promise<boolean> {
  const r = await db
    .prepare(
      `INSERT INTO leave_reasons (site_id, message_id, contact_id, campaign, step, reason, created_at)
       SELECT site_id, id, contact_id, campaign, step, ?4, ?5 FROM messages
       WHERE site_id = ?1 AND id = ?2 AND contact_id = ?3 AND status = 'sent'
       ON CONFLICT (site_id, message_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`,
    )
    .bind(x.siteId, x.messageId, x.contactId, x.reason, x.now)
    .run();
  return (r.meta.changes ?? 0) > 0;
}
