import { clear, createStore } from "idb-keyval";
import { vi } from "vitest";
import { _resetForTests } from "../../sdk/client";

type Json = Record<string, unknown>;
/** A batch request's body as sent. */
export interface Wire {
  batch: Json[];
  context?: Json;
  writeKey: string;
  sentAt: string;
}

export interface Sent {
  url: string;
  /** The body as the Worker applies it: the batch's context under each event's own keys. */
  body: Wire;
  /** As it crossed the wire: its size in bytes, whether gzipped, and the JSON before the context was applied. */
  wire: { bytes: number; gzip: boolean; json: Wire };
}

/**
 * A request body's JSON, read the way the Worker reads it (worker/src/lib/http.ts): gunzipped when
 * the URL says `?compression=gzip`, else plain text.
 */
export async function readBody(url: string, body: BodyInit): Promise<{ text: string; bytes: number; gzip: boolean }> {
  const gzip = new URL(url).searchParams.get("compression") === "gzip";
  const raw = new Response(body);
  if (!gzip) {
    const text = await raw.text();
    return { text, bytes: new TextEncoder().encode(text).length, gzip };
  }
  const bytes = (await raw.clone().arrayBuffer()).byteLength;
  const text = await new Response((raw.body as ReadableStream).pipeThrough(new DecompressionStream("gzip"))).text();
  return { text, bytes, gzip };
}

/** The batch's context applied to each event, its own keys first (worker/src/ingest/validate.ts `withSharedContext`). */
export const applied = (wire: Wire): Wire =>
  wire.context
    ? { ...wire, batch: wire.batch.map((e) => ({ ...e, context: { ...wire.context, ...(e.context as Json) } })) }
    : wire;

/** A stand-in for the Worker: records each request and answers with the given statuses in turn. */
export function fakeServer(...statuses: number[]) {
  const requests: Sent[] = [];
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    // The onsite hook's config request (GET /v1/sdk/config): no widgets, and not an event batch.
    if (!init.body) return new Response('{"widgets":[]}', { status: 200 });
    if (!url.startsWith("https://nudge.example/")) throw new TypeError("Failed to fetch");
    const { text, bytes, gzip } = await readBody(url, init.body);
    const json = JSON.parse(text) as Wire;
    requests.push({ url, body: applied(json), wire: { bytes, gzip, json } });
    const status = statuses.length > 1 ? (statuses.shift() ?? 200) : (statuses[0] ?? 200);
    return new Response("{}", { status });
  });
  vi.stubGlobal("fetch", fetchMock);
  const events = () => requests.flatMap((r) => r.body.batch);
  return { requests, events, fetchMock };
}

/** A fresh page: SDK state, storage and the outbox database wiped, history unpatched. */
export async function freshPage() {
  _resetForTests();
  // init patches these on the instance (SPA page views); the prototype's are the originals.
  delete (history as Partial<History>).pushState;
  delete (history as Partial<History>).replaceState;
  localStorage.clear();
  await clear(createStore("nudge-outbox", "kv"));
  vi.unstubAllGlobals();
}
