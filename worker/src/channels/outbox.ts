import type { Transport } from "./channel";

/**
 * The default transport: "sends" by storing the message in D1, where the demo mailbox shows it.
 * Keyed by message id, so a retried send after a crash stores it once. The row's `html` column is
 * the email's HTML part, or a call's TwiML (what the demo mailbox and the admin outbox show).
 */
export const outbox: Transport = async (env, m, now) => {
  await env.DB.prepare(
    `INSERT INTO outbox (message_id, site_id, channel, recipient, subject, html, text, headers, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  )
    .bind(m.messageId, m.siteId, m.channel, m.to, m.subject, m.twiml ?? m.html, m.text, JSON.stringify(m.headers), now)
    .run();
};
