/**
 * Validation of Segment-shaped messages (HTTP Tracking API), before anything touches storage.
 * Input is `unknown` and is narrowed field by field, with bounded lengths — never cast.
 */

import { type Dict, isDict } from "../lib/values";
import { MESSAGE_TYPES, type Message, type MessageType, type Source } from "../model/events";

export const LIMITS = {
  /** Segment's own limits: 32 KB per message, 500 KB per request. */
  messageBytes: 32 * 1024,
  requestBytes: 500 * 1024,
  batchMessages: 2500,
  idLength: 200,
  eventName: 200,
  /** Events stamped further in the future than this are clamped to the receive time. */
  futureSkewMs: 24 * 3600 * 1000,
  /**
   * The shape of a message's JSON. SQLite's JSON functions refuse more than 1 000 levels of
   * nesting, and a message D1 refuses would poison every pass that touches it, so the bounds sit far
   * below: the SDK's deepest message is 4 levels (context.page.…), Segment's E-commerce spec 4
   * (properties.products[].…). 32 KB already bounds the totals; these bound the shape.
   */
  depth: 32,
  keyLength: 256,
  keysPerObject: 1000,
  arrayItems: 1000,
} as const;

export interface MessageError {
  index: number;
  messageId?: string;
  code: string;
  message: string;
}

function optionalString(v: unknown, max: number, field: string): string | null {
  if (v === undefined || v === null || v === "") return null;
  if (typeof v === "number" && Number.isFinite(v)) return String(v); // Segment allows numeric ids
  if (typeof v !== "string") throw new InvalidField(field, `${field} must be a string.`);
  if (v.length > max) throw new InvalidField(field, `${field} is longer than ${max} characters.`);
  return v;
}

function optionalDict(v: unknown, field: string): Dict {
  if (v === undefined || v === null) return {};
  if (!isDict(v)) throw new InvalidField(field, `${field} must be an object.`);
  return v;
}

function parseTime(v: unknown, field: string): number | null {
  if (v === undefined || v === null) return null;
  const t = typeof v === "string" && v.length <= 64 ? Date.parse(v) : typeof v === "number" ? v : Number.NaN;
  if (!Number.isFinite(t)) throw new InvalidField(field, `${field} must be an ISO 8601 date.`);
  return t;
}

/**
 * The first way `value` breaks the shape bounds, or null. The walk stops at LIMITS.depth, so its
 * cost is bounded by the message's size, never its nesting.
 */
export function shapeError(value: unknown): string | null {
  const stack: [unknown, number][] = [[value, 1]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, depth] = top;
    if (typeof v !== "object" || v === null) continue;
    if (depth > LIMITS.depth) return `A message may nest at most ${LIMITS.depth} levels deep.`;
    if (Array.isArray(v)) {
      if (v.length > LIMITS.arrayItems) return `An array may hold at most ${LIMITS.arrayItems} items.`;
      for (const item of v) stack.push([item, depth + 1]);
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > LIMITS.keysPerObject) return `An object may hold at most ${LIMITS.keysPerObject} keys.`;
    for (const k of keys) {
      if (k.length > LIMITS.keyLength) return `A key may be at most ${LIMITS.keyLength} characters long.`;
      stack.push([(v as Dict)[k], depth + 1]);
    }
  }
  return null;
}

const encoder = new TextEncoder();

const isMessageType = (v: unknown): v is MessageType =>
  typeof v === "string" && (MESSAGE_TYPES as readonly string[]).includes(v);

class InvalidField extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks one message. `receivedAt` and the envelope's `sentAt` correct the client's clock the way
 * Segment does: timestamp + (receivedAt - sentAt).
 */
export function validateMessage(
  raw: unknown,
  index: number,
  receivedAt: number,
  sentAt: number | null,
  source: Source,
  defaultType?: MessageType,
): Message | MessageError {
  const messageId = isDict(raw) && typeof raw.messageId === "string" ? raw.messageId.slice(0, 200) : undefined;
  const error = (code: string, message: string): MessageError => ({ index, messageId, code, message });
  if (!isDict(raw)) return error("invalid_message", "Each message must be a JSON object.");
  // The shape first: JSON.stringify recurses, so it only ever sees a bounded depth.
  const shape = shapeError(raw);
  if (shape) return error("message_too_complex", shape);
  if (encoder.encode(JSON.stringify(raw)).length > LIMITS.messageBytes)
    return error("message_too_large", `A message must be at most ${LIMITS.messageBytes} bytes.`);
  try {
    const type = raw.type ?? defaultType;
    if (!isMessageType(type)) return error("invalid_type", `type must be one of ${MESSAGE_TYPES.join(", ")}.`);
    const id = optionalString(raw.messageId, LIMITS.idLength, "messageId");
    if (!id) return error("missing_message_id", "messageId is required: it is how retries are deduplicated.");
    const anonymousId = optionalString(raw.anonymousId, LIMITS.idLength, "anonymousId");
    const userId = optionalString(raw.userId, LIMITS.idLength, "userId");
    if (!anonymousId && !userId) return error("missing_identity", "Either anonymousId or userId is required.");
    const previousId = optionalString(raw.previousId, LIMITS.idLength, "previousId");
    if (type === "alias" && !previousId) return error("missing_previous_id", "alias needs previousId.");
    const event = optionalString(raw.event ?? (type === "track" ? undefined : raw.name), LIMITS.eventName, "event");
    if (type === "track" && !event) return error("missing_event", "track needs an event name.");
    const clientTime = parseTime(raw.timestamp, "timestamp");
    const skew = sentAt === null ? 0 : receivedAt - sentAt;
    let timestamp = clientTime === null ? receivedAt : Math.round(clientTime + skew);
    // Too far ahead, or before 1970 (a clock at zero, or a sentAt that skews it there): the receive
    // time. This also keeps every stored time a valid Date (|t| ≤ 8.64e15).
    if (!(timestamp >= 0 && timestamp <= receivedAt + LIMITS.futureSkewMs)) timestamp = receivedAt;
    return {
      type,
      messageId: id,
      anonymousId,
      userId,
      previousId,
      event,
      properties: optionalDict(raw.properties, "properties"),
      traits: optionalDict(raw.traits ?? (isDict(raw.context) ? raw.context.traits : undefined), "traits"),
      context: optionalDict(raw.context, "context"),
      timestamp,
      source,
    };
  } catch (e) {
    if (e instanceof InvalidField) return error("invalid_field", e.message);
    throw e;
  }
}

/** At most this much JSON of context shared by a batch's messages. */
const SHARED_CONTEXT_BYTES = 8 * 1024;

/**
 * The batch's own `context` (Segment's batch API: it applies to every call of the request), or an
 * error message. A sender that puts the page and device here once instead of in each message sends
 * a fraction of the bytes; a message's own context keys win over it.
 */
export function sharedContext(body: Dict): { context: Dict | null } | { error: string } {
  const context = body.context;
  if (context === undefined || context === null) return { context: null };
  if (!isDict(context)) return { error: "context must be an object: it applies to every message of the batch." };
  const shape = shapeError(context);
  if (shape) return { error: `context: ${shape}` };
  if (encoder.encode(JSON.stringify(context)).length > SHARED_CONTEXT_BYTES)
    return { error: `A batch's context must be at most ${SHARED_CONTEXT_BYTES} bytes.` };
  return { context };
}

/** `raw` with the batch's context under its own (its keys win), before it is validated. */
export const withSharedContext = (raw: unknown, shared: Dict | null): unknown =>
  shared && isDict(raw) ? { ...raw, context: { ...shared, ...(isDict(raw.context) ? raw.context : {}) } } : raw;

/** The envelope of `/v1/batch`: `{ batch: [...], sentAt?, writeKey?, context? }`. */
export function parseSentAt(body: Dict): number | null {
  try {
    return parseTime(body.sentAt, "sentAt");
  } catch {
    return null;
  }
}
