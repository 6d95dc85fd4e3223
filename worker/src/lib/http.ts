import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The one error shape of every 4xx/5xx answer: `{ error: { code, message, ...details } }`. */
export function fail(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): never {
  const body = JSON.stringify({ error: { code, message, ...details } });
  throw new HTTPException(status, {
    res: new Response(body, { status, headers: { ...headers, "content-type": "application/json" } }),
  });
}

/**
 * How deep any request body may nest. SQLite's JSON functions refuse more than 1 000 levels
 * ("malformed JSON") and V8's JSON.stringify recurses, so a 500 KB body of `[[[[…` (250 000 levels)
 * would otherwise reach D1 or overflow the stack; no body any client of ours sends nests past ~10.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The depth of a parsed JSON value, counting containers, or `Infinity` past `max` (it stops
 * there: the walk is bounded by `max` levels, never by the input).
 */
export function jsonDepth(value: unknown, max = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [v, depth] = top;
    if (typeof v !== "object" || v === null) continue;
    if (depth + 1 > max) return Number.POSITIVE_INFINITY;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * A gzip body: `Content-Encoding: gzip` (what Segment's HTTP API accepts from server libraries), or
 * `?compression=gzip` (browsers: a Content-Encoding header would cost a CORS preflight per batch).
 * Any other encoding is refused rather than parsed as if it were plain.
 */
function gzipped(req: Request): boolean {
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "gzip") return true;
  if (encoding !== "identity")
    fail(415, "unsupported_encoding", `Content-Encoding ${encoding.slice(0, 40)} is not accepted: send gzip or none.`);
  return new URL(req.url).searchParams.get("compression") === "gzip";
}

const tooLarge = (limit: number): never =>
  fail(413, "payload_too_large", `Request body is over ${limit} bytes.`, { limit });

/**
 * The body's bytes, at most `limit` of them, failing with 413/400 instead of throwing a 500. The
 * body is read as a stream and cut off at the limit: a chunked upload of 40 MB (no content-length,
 * or a lying one) costs `limit` bytes of memory, not 40 MB.
 */
export async function readBytes(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) tooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  // `limit` counts the bytes after decompression, so a small gzip body cannot expand without bound.
  const reader = (gzipped(req) ? req.body?.pipeThrough(new DecompressionStream("gzip")) : req.body)?.getReader();
  if (reader) {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        size += r.value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => undefined);
          tooLarge(limit);
        }
        chunks.push(r.value);
      }
    } catch (e) {
      if (e instanceof HTTPException) throw e;
      fail(400, "invalid_body", `The request body could not be ${gzipped(req) ? "decompressed (gzip)" : "read"}.`);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

/** The body as text (UTF-8), at most `limit` bytes (see readBytes). */
export async function readText(req: Request, limit: number): Promise<string> {
  return new TextDecoder().decode(await readBytes(req, limit));
}

/**
 * Reads a JSON body of at most `limit` bytes (see readBytes). `depth` bounds the nesting; ingest
 * lifts it, to answer each message of a batch on its own (ingest/validate.ts).
 */
export async function readJson(req: Request, limit: number, depth = MAX_JSON_DEPTH): Promise<unknown> {
  const bytes = await readBytes(req, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    fail(400, "invalid_json", "Request body is not valid JSON.");
  }
  if (Number.isFinite(depth) && jsonDepth(parsed, depth) > depth)
    fail(400, "too_deep", `Request body nests deeper than ${depth} levels.`, { limit: depth });
  return parsed;
}
