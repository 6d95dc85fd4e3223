import { Hono } from "hono";
import type { Env } from "../env";
import { fail, readJson } from "../lib/http";
import { processEvents } from "../ingest/process";
import { storeEvents } from "../ingest/store";
import { LIMITS, isDict, parseSentAt, validateMessage } from "../ingest/validate";
import type { Message, MessageError, MessageType } from "../ingest/validate";
import { siteByPublicKey } from "../model/sites";
import type { Site } from "../model/sites";
import { now } from "../lib/clock";

/**
 * Ingest in the shape of Segment's HTTP Tracking API: `/v1/batch` plus one route per call type.
 * The write key comes in the body (`writeKey`) or as the HTTP Basic username, as Segment's
 * libraries send it. Valid messages are stored even when others in the batch are rejected; the
 * answer lists each rejected one, so a client can tell a retry from a lost cause.
 */
export const ingest = new Hono<{ Bindings: Env }>();

export function writeKey(header: string | undefined, body: Record<string, unknown>): string | null {
  if (typeof body.writeKey === "string") return body.writeKey;
  if (header?.startsWith("Basic ")) {
    try {
      return atob(header.slice(6)).split(":")[0] || null;
    } catch {
      return null;
    }
  }
  return null;
}

export async function authorise(db: D1Database, key: string | null, origin: string | undefined): Promise<Site> {
  if (!key) fail(401, "missing_key", "Send the site's public key as writeKey or as the HTTP Basic username.");
  if (key.length > 200) fail(401, "invalid_key", "Unknown write key.");
  const site = await siteByPublicKey(db, key);
  if (!site) fail(401, "invalid_key", "Unknown write key.");
  if (origin && site.allowedOrigins.length > 0 && !site.allowedOrigins.includes(origin))
    fail(403, "origin_not_allowed", `Origin ${origin} is not allowed for this site.`);
  return site;
}

async function accept(
  c: { env: Env; req: { raw: Request; header(name: string): string | undefined } },
  type?: MessageType,
) {
  const body = await readJson(c.req.raw, LIMITS.requestBytes);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const site = await authorise(c.env.DB, writeKey(c.req.header("authorization"), body), c.req.header("origin"));
  const raw = type ? [body] : body.batch;
  if (!Array.isArray(raw)) fail(400, "invalid_batch", "batch must be an array of messages.");
  if (raw.length === 0) fail(400, "empty_batch", "batch is empty.");
  if (raw.length > LIMITS.batchMessages)
    fail(413, "batch_too_large", `A batch holds at most ${LIMITS.batchMessages} messages.`);

  const receivedAt = await now(c.env);
  const sentAt = parseSentAt(body);
  const valid: Message[] = [];
  const errors: MessageError[] = [];
  raw.forEach((m, i) => {
    const r = validateMessage(m, i, receivedAt, sentAt, type);
    if ("code" in r) errors.push(r);
    else valid.push(r);
  });
  if (valid.length === 0) fail(400, "invalid_messages", "No message in the request is valid.", { errors });

  const fresh = await storeEvents(c.env.DB, site.id, valid, receivedAt);
  try {
    await processEvents(c.env.DB, site, fresh, receivedAt);
  } catch (e) {
    // The events are stored: the scheduled sweep processes what is left (recoverEvents), so the
    // sender must not retry — a 500 here would only make it resend what we already have.
    console.error("processing deferred to the sweep", e);
  }
  return { success: true, accepted: valid.length, duplicates: valid.length - fresh.length, errors };
}

ingest.post("/batch", async (c) => c.json(await accept(c)));
for (const type of ["track", "identify", "page", "screen", "alias", "group"] as const) {
  ingest.post(`/${type}`, async (c) => c.json(await accept(c, type)));
}
