import { Hono } from "hono";
import type { Context } from "hono";
import type { Env } from "../env";
import { isDev } from "../env";
import { fail, readJson } from "../lib/http";
import { now } from "../lib/clock";
import { unverified } from "../ingest/identity";
import { enqueue } from "../ingest/inbox";
import { applyBatch, insertEvents } from "../ingest/process";
import { sendToQueue } from "../ingest/queue";
import { limitIngest, overAddressAllowance } from "../ingest/ratelimit";
import { LIMITS, parseSentAt, sharedContext, validateMessage, withSharedContext } from "../ingest/validate";
import { isDict } from "../lib/values";
import type { Message, MessageType } from "../model/events";
import type { MessageError } from "../ingest/validate";
import { cachedSiteByWriteKey } from "../model/sites";
import { authorise, checkOrigin, requireKey, writeKey } from "./auth";

/**
 * Ingest in the shape of Segment's HTTP Tracking API: `/v1/batch` plus one route per call type.
 * The write key comes in the body (`writeKey`) or as the HTTP Basic username, as Segment's
 * libraries send it. Valid messages are stored even when others in the batch are rejected; the
 * answer lists each rejected one, so a client can tell a retry from a lost cause.
 *
 * The request validates, then stores and applies the valid messages before it answers
 * (`applyBatch`): events are deduplicated, and profiles and campaigns current, when the sender
 * hears back. If that fails — or INGEST_PROCESSING is "sweep" — the batch is stored as one inbox
 * row for the scheduled sweep to apply (ingest/inbox.ts); only if that fails too does the sender
 * get an error, and retry.
 */
export const ingest = new Hono<{ Bindings: Env }>();

/** Everything a request checks before storing: body, key, rate limits, origin, each message. */
async function validated(c: Context<{ Bindings: Env }>, type?: MessageType) {
  // Nesting is bounded per message (validateMessage), so one deep message gets its own 400.
  const body = await readJson(c.req.raw, LIMITS.requestBytes, Number.POSITIVE_INFINITY);
  if (!isDict(body)) fail(400, "invalid_body", "Request body must be a JSON object.");
  const key = requireKey(writeKey(c.req.header("authorization"), body));
  // Independent reads in parallel: each is a round trip.
  const [found, receivedAt] = await Promise.all([
    cachedSiteByWriteKey(c.env, key),
    now(c.env),
    limitIngest(c.env, c.req.raw, key),
  ]);
  if (!found) fail(401, "invalid_key", "Unknown write key.");
  const { site, source } = found;
  c.env = found.env; // the site's home from here on (model/directory.ts)
  // The secret key is the merchant's server: no browser origin to check.
  if (source === "browser") checkOrigin(site, c.req.header("origin"));

  const raw = type ? [body] : body.batch;
  if (!Array.isArray(raw)) fail(400, "invalid_batch", "batch must be an array of messages.");
  if (raw.length === 0) fail(400, "empty_batch", "batch is empty.");
  if (raw.length > LIMITS.batchMessages)
    fail(413, "batch_too_large", `A batch holds at most ${LIMITS.batchMessages} messages.`);

  const sentAt = parseSentAt(body);
  const shared = sharedContext(type ? {} : body);
  if ("error" in shared) fail(400, "invalid_context", shared.error);
  let valid: Message[] = [];
  const errors: MessageError[] = [];
  const indexes: number[] = []; // each valid message's place in the request
  for (const [i, m] of raw.entries()) {
    const r = validateMessage(withSharedContext(m, shared.context), i, receivedAt, sentAt, source, type);
    if ("code" in r) {
      errors.push(r);
      continue;
    }
    // The hash is the browser's proof; the merchant's server (secret key) is the one who vouches.
    const e = source === "server" ? null : await unverified(site, r, i);
    if (e) errors.push(e);
    else {
      valid.push(r);
      indexes.push(i);
    }
  }
  if (source === "browser") {
    const over = new Set(
      await overAddressAllowance(c.env.DB, site, c.req.header("cf-connecting-ip") ?? null, valid, receivedAt),
    );
    if (over.size > 0) {
      for (const j of over)
        errors.push({
          index: indexes[j] ?? -1,
          messageId: valid[j]?.messageId,
          code: "too_many_addresses",
          message: `Browsers on this network named more than ${site.settings.browserAddressesPerHour} new email addresses this hour; this one waits for the next.`,
        });
      valid = valid.filter((_, j) => !over.has(j));
      errors.sort((a, b) => a.index - b.index);
    }
  }
  if (valid.length === 0) fail(400, "invalid_messages", "No message in the request is valid.", { errors });
  return { site, receivedAt, valid, errors };
}

async function accept(c: Context<{ Bindings: Env }>, type?: MessageType) {
  const { site, receivedAt, valid, errors } = await validated(c, type);
  const db = c.env.DB;
  const queue = c.env.INGEST_PROCESSING === "sweep" ? undefined : c.env.INGEST_QUEUE;
  // With a Queue, handed to its consumer; without one, stored and applied before the answer;
  // failing either (or with INGEST_PROCESSING=sweep), stored in the inbox for the sweep to apply.
  const applied = queue
    ? await sendToQueue(queue, site.id, valid, receivedAt)
    : c.env.INGEST_PROCESSING !== "sweep" && (await applyBatch(db, site, valid, receivedAt));
  if (!applied) await enqueue(db, site.id, valid, receivedAt);
  return { success: true, accepted: valid.length, errors };
}

ingest.post("/batch", async (c) => c.json(await accept(c)));
for (const type of ["track", "identify", "page", "screen", "alias", "group"] as const) {
  ingest.post(`/${type}`, async (c) => c.json(await accept(c, type)));
}

/**
 * Segment's browser library (analytics.js 2.0, `@segment/analytics-next`) as a sender: it posts one
 * call per request to the type's first letter (`/t`, `/p`, `/i`, `/a`, `/g`, `/s`) as `text/plain`
 * — a CORS "simple" request, no preflight — with the write key in the body, or batches to `/b`.
 * A store that runs it points `cdnURL` at the Worker and changes nothing else.
 */
const SHORT_PATHS = { t: "track", p: "page", i: "identify", a: "alias", g: "group", s: "screen" } as const;
for (const [path, type] of Object.entries(SHORT_PATHS)) {
  ingest.post(`/${path}`, async (c) => c.json(await accept(c, type)));
}
ingest.post("/b", async (c) => c.json(await accept(c)));

/**
 * The settings analytics.js fetches first (`GET <cdnURL>/v1/projects/<writeKey>/settings`): only
 * its own Segment.io destination, pointed back at this Worker, so every call comes here and nothing
 * else loads. Public-key only; cacheable like the onsite config.
 */
ingest.get("/projects/:writeKey/settings", async (c) => {
  const key = c.req.param("writeKey");
  await authorise(c, key, c.req.header("origin"));
  const url = new URL(c.req.url);
  const settings = {
    integrations: {
      "Segment.io": { apiKey: key, apiHost: `${url.host}/v1`, protocol: url.protocol.replace(":", "") },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: {}, group: {} },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
  return c.json(settings, 200, { "cache-control": "public, max-age=300", vary: "origin" });
});

/**
 * Development only: parses a batch like /v1/batch and does nothing else. The benchmark's ceiling —
 * what HTTP and JSON alone cost on this machine.
 */
ingest.post("/noop", async (c) => {
  if (!isDev(c.env)) fail(404, "not_found", "Not found.");
  const body = await readJson(c.req.raw, LIMITS.requestBytes);
  const batch = isDict(body) && Array.isArray(body.batch) ? body.batch : [];
  return c.json({ success: true, accepted: batch.length, errors: [] });
});

/**
 * Development only: validates a batch like /v1/batch, then stores its events and nothing else — no
 * profiles, carts or campaigns. The benchmark's other bound: what validating and storing the rows
 * alone cost, below which no path that also applies them can go.
 */
ingest.post("/noop/store", async (c) => {
  if (!isDev(c.env)) fail(404, "not_found", "Not found.");
  const { site, receivedAt, valid, errors } = await validated(c);
  const rows = valid.map((event) => ({ event, contactId: null }));
  await c.env.DB.batch(await insertEvents(c.env.DB, site.id, rows, () => receivedAt)).catch((e: unknown) => {
    if (String(e).includes("UNIQUE"))
      fail(409, "already_stored", "An event of this batch is stored already; send fresh messageIds.");
    throw e;
  });
  return c.json({ success: true, accepted: valid.length, errors });
});
