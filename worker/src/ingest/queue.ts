import type { Env } from "../env";
import { routedTo } from "../env";
import { MOVING_RETRY_SECONDS, placementOf } from "../model/directory";
import type { Message } from "../model/events";
import { siteById } from "../model/sites";
import type { Site } from "../model/sites";
import { enqueue } from "./inbox";
import { processEvents } from "./process";

/**
 * The Queue path (INGEST_QUEUE bound): the request validates a batch and hands it to a Cloudflare
 * Queue, and the consumer applies many requests' batches per invocation — one `processEvents` per
 * site, so their statements fold together (the group commit the request path cannot get: there each
 * request has to commit before it answers). The request no longer waits on D1 at all.
 *
 * Nothing is lost or doubled:
 *  - the producer sends before the request answers; if the Queue refuses, the request stores the
 *    batch in the inbox as without a Queue (the caller does that);
 *  - the consumer applies with the events' storing in the same transactions, deduplicated by
 *    messageId (a resent batch, a redelivered message) like the request path;
 *  - a site's jobs that fail to apply go to the inbox, whose sweep applies them event by event and
 *    sets aside what keeps failing, with its reason (dead letters) — so one malformed event never
 *    holds the Queue; only when the inbox itself cannot be written is the message retried, and
 *    after `max_retries` it reaches the dead-letter queue, whose consumer tries the inbox again.
 */

/** A dead-letter queue is named after its queue with this suffix ("nudge-ingest-dlq"). */
export const DEAD_LETTER_SUFFIX = "-dlq";

/** One job: part of one request's validated batch. */
export interface IngestJob {
  siteId: string;
  receivedAt: number;
  events: Message[];
}

/** A Queue message holds at most 128 KB, and one `sendBatch` 256 KB and 100 messages. */
const JOB_BYTES = 100_000;
const SEND_BYTES = 200_000;
const SEND_MESSAGES = 100;

const encoder = new TextEncoder();

/** One delivered Queue message (the global `Message` type's name is taken by an event here). */
type Delivery = MessageBatch<IngestJob>["messages"][number];

/** The batch as jobs of at most JOB_BYTES of JSON each (an event is at most 32 KB). */
export function jobsOf(siteId: string, events: Message[], receivedAt: number): { job: IngestJob; bytes: number }[] {
  const jobs: { job: IngestJob; bytes: number }[] = [];
  let open: Message[] = [];
  let bytes = 0;
  for (const m of events) {
    const size = encoder.encode(JSON.stringify(m)).length + 1;
    if (open.length > 0 && bytes + size > JOB_BYTES) {
      jobs.push({ job: { siteId, receivedAt, events: open }, bytes });
      open = [];
      bytes = 0;
    }
    open.push(m);
    bytes += size;
  }
  if (open.length > 0) jobs.push({ job: { siteId, receivedAt, events: open }, bytes });
  return jobs;
}

/** Sends a validated batch to the Queue; false if the Queue refused any part (the caller then uses the inbox). */
export async function sendToQueue(
  queue: Queue,
  siteId: string,
  events: Message[],
  receivedAt: number,
): Promise<boolean> {
  const jobs = jobsOf(siteId, events, receivedAt);
  try {
    for (let i = 0; i < jobs.length; ) {
      const group: MessageSendRequest<IngestJob>[] = [];
      let bytes = 0;
      while (i < jobs.length && group.length < SEND_MESSAGES) {
        const next = jobs[i] as { job: IngestJob; bytes: number };
        if (group.length > 0 && bytes + next.bytes > SEND_BYTES) break;
        group.push({ body: next.job, contentType: "json" });
        bytes += next.bytes;
        i++;
      }
      await queue.sendBatch(group);
    }
    return true;
  } catch (e) {
    // A part may have gone: the inbox copy is deduplicated against it by messageId when applied.
    console.error("queue refused a batch; storing it in the inbox", e);
    return false;
  }
}

/** Backoff before a retried message comes back, in seconds (the inbox could not be written). */
const RETRY_SECONDS = 10;

/**
 * The consumer: applies a delivery of jobs, per site, in one `processEvents` each. `deadLetter`
 * (the dead-letter queue's consumer) only stores them in the inbox.
 */
export async function consumeIngest(
  env: Env,
  batch: MessageBatch<IngestJob>,
  now: number,
  { deadLetter = false } = {},
): Promise<void> {
  const bySite = new Map<string, Delivery[]>();
  for (const msg of batch.messages) {
    const list = bySite.get(msg.body.siteId) ?? [];
    list.push(msg);
    bySite.set(msg.body.siteId, list);
  }
  const sites = new Map<string, Site | null>();
  for (const [siteId, msgs] of bySite) {
    // Where the site lives (model/directory.ts); while it moves, its jobs wait like its requests.
    const placement = await placementOf(env, siteId).catch((e: unknown) => {
      console.error(`ingest queue: the directory could not say where site ${siteId} lives; retrying`, e);
      return undefined;
    });
    if (placement === null) {
      // A site deleted since: its events have no one to apply to (the inbox would drop them too).
      for (const msg of msgs) msg.ack();
      continue;
    }
    if (placement === undefined || placement.movingTo) {
      for (const msg of msgs) msg.retry({ delaySeconds: placement ? MOVING_RETRY_SECONDS : RETRY_SECONDS });
      continue;
    }
    const db = routedTo(env, placement.home).DB;
    if (!deadLetter && (await applied(db, siteId, msgs, now, sites))) {
      for (const msg of msgs) msg.ack();
      continue;
    }
    for (const msg of msgs) {
      try {
        await enqueue(db, siteId, msg.body.events, msg.body.receivedAt);
        msg.ack();
      } catch (e) {
        console.error(`ingest queue: site ${siteId}'s job could not reach the inbox; retrying`, e);
        msg.retry({ delaySeconds: RETRY_SECONDS });
      }
    }
  }
}

/** Applies a site's jobs together; false if that failed (they then go to the inbox). */
async function applied(
  db: D1Database,
  siteId: string,
  msgs: Delivery[],
  now: number,
  sites: Map<string, Site | null>,
): Promise<boolean> {
  try {
    if (!sites.has(siteId)) sites.set(siteId, await siteById(db, siteId));
    const site = sites.get(siteId);
    // A site deleted since: its events have no one to apply to (the inbox would drop them too).
    if (!site) return true;
    const receivedAt = new Map<Message, number>();
    const events = msgs.flatMap((msg) => {
      for (const m of msg.body.events) receivedAt.set(m, msg.body.receivedAt);
      return msg.body.events;
    });
    await processEvents(db, site, events, now, (m) => receivedAt.get(m) ?? now);
    return true;
  } catch (e) {
    console.error(`ingest queue: applying site ${siteId}'s events deferred to the inbox`, e);
    return false;
  }
}
