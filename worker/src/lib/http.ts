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

/** Reads a JSON body of at most `limit` bytes, failing with 413/400 instead of throwing a 500. */
export async function readJson(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) fail(413, "payload_too_large", `Request body is over ${limit} bytes.`, { limit });
  const text = await req.text();
  // content-length may be absent (chunked) or lie, so measure what actually arrived.
  if (new TextEncoder().encode(text).length > limit)
    fail(413, "payload_too_large", `Request body is over ${limit} bytes.`, { limit });
  try {
    return JSON.parse(text);
  } catch {
    fail(400, "invalid_json", "Request body is not valid JSON.");
  }
}
