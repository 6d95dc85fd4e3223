import type { Message } from "./validate";

/**
 * Stores a batch of validated messages in one statement and returns the ones that were new.
 * A repeated messageId (a retry, a second tab, a beacon after a fetch) is ignored by the primary
 * key, so nothing is stored or counted twice.
 */
export async function storeEvents(db: D1Database, siteId: string, messages: Message[], receivedAt: number) {
  if (messages.length === 0) return [];
  const rows = messages.map((m) => [
    m.messageId,
    m.type,
    m.event,
    m.anonymousId,
    m.userId,
    m.previousId,
    JSON.stringify(m.properties),
    JSON.stringify(m.traits),
    JSON.stringify(m.context),
    m.timestamp,
  ]);
  // One INSERT … SELECT over json_each instead of one statement per row: far fewer round trips.
  const { results } = await db
    .prepare(
      `INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, previous_id, properties, traits, context, timestamp, received_at)
       SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
         value ->> 6, value ->> 7, value ->> 8, value ->> 9, ?2
       FROM json_each(?3) WHERE true
       ON CONFLICT DO NOTHING
       RETURNING message_id`,
    )
    .bind(siteId, receivedAt, JSON.stringify(rows))
    .all<{ message_id: string }>();
  const fresh = new Set((results ?? []).map((r) => r.message_id));
  // A batch may repeat a messageId within itself: keep the first of each.
  const seen = new Set<string>();
  return messages.filter((m) => fresh.has(m.messageId) && !seen.has(m.messageId) && seen.add(m.messageId));
}
