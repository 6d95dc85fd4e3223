import { Hono } from "hono";
import * as v from "valibot";
import { readQuery } from "../lib/schema";
import { rotateWebhookSecret } from "../model/sites";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/** The secret-key API for merchants and their tools. */
export const admin = new Hono<SecretEnv>();
admin.use("*", requireSecretKey);

interface OutboxRow {
  id: number;
  campaign: string;
  step: number;
  variant: string | null;
  channel: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  status: string;
  created_at: number;
  sent_at: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What the local outbox channel "sent", newest first: the demo mailbox reads this. */
admin.get("/outbox", async (c) => {
  const query = readQuery(
    c.req.url,
    v.strictObject({ limit: v.optional(v.string()), to: v.optional(v.pipe(v.string(), v.maxLength(320))) }),
  );
  // Lenient on purpose: outside checks read `?limit=N` (DESIGN.md), and any N gets 1 to 200 rows.
  const limit = Math.min(Math.max(Number(query.limit ?? 50) || 50, 1), 200);
  // `to`: one recipient's messages only (an address or a number), however many others came since.
  const { results } = await c.env.DB.prepare(
    `SELECT m.id, m.campaign, m.step, m.variant, o.channel, o.recipient AS "to", o.subject, o.html, o.text, m.status,
            o.created_at, m.sent_at
     FROM outbox o JOIN messages m ON m.id = o.message_id
     WHERE o.site_id = ?1 AND (?3 IS NULL OR o.recipient = ?3)
     ORDER BY o.created_at DESC, o.message_id DESC LIMIT ?2`,
  )
    .bind(c.get("site").id, limit, query.to ?? null)
    .all<OutboxRow>();
  const messages = (results ?? []).map((r) => ({ ...r, created_at: iso(r.created_at), sent_at: iso(r.sent_at) }));
  return c.json({ messages });
});

/**
 * Scheduled and past messages with their status: what a merchant checks when a mail is missing.
 * Branch and wait steps are rows too (channel `branch` / `wait`), with the way taken in `branch`.
 */
admin.get("/messages", async (c) => {
  const { results } = await c.env.DB.prepare(
    `SELECT id, contact_id, campaign, step, channel, status, attempts, reason, branch, due_at, sent_at, created_at
     FROM messages WHERE site_id = ? ORDER BY id DESC LIMIT 200`,
  )
    .bind(c.get("site").id)
    .all();
  return c.json({ messages: results ?? [] });
});

/** What the merchant must hear about (a daily budget reached), newest first. */
admin.get("/alerts", async (c) => {
  const { results } = await c.env.DB.prepare(
    `SELECT kind, day, message, created_at FROM alerts WHERE site_id = ? ORDER BY created_at DESC LIMIT 100`,
  )
    .bind(c.get("site").id)
    .all<{ kind: string; day: string; message: string; created_at: number }>();
  return c.json({ alerts: (results ?? []).map((r) => ({ ...r, created_at: iso(r.created_at) })) });
});

/**
 * The key every webhook of this site is signed with (`X-Nudge-Signature`, channels/webhook.ts).
 * POST makes a new one and shows it this once; the old one stops at once. GET only says whether
 * one exists: the key is never shown twice.
 */
admin.post("/webhook-secret", async (c) => c.json({ secret: await rotateWebhookSecret(c.env.DB, c.get("site").id) }));
admin.get("/webhook-secret", async (c) => {
  const row = await c.env.DB.prepare(`SELECT webhook_secret IS NOT NULL AS configured FROM sites WHERE id = ?`)
    .bind(c.get("site").id)
    .first<{ configured: number }>();
  return c.json({ configured: row?.configured === 1 });
});
