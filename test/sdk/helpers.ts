import { clear, createStore } from "idb-keyval";
import { vi } from "vitest";
import { _resetForTests } from "../../sdk/client";

export interface Sent {
  url: string;
  body: { batch: Record<string, unknown>[]; writeKey: string; sentAt: string };
}

/** A stand-in for the Worker: records each request and answers with the given statuses in turn. */
export function fakeServer(...statuses: number[]) {
  const requests: Sent[] = [];
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    // The onsite hook's config request (GET /v1/sdk/config): no widgets, and not an event batch.
    if (!init.body) return new Response('{"widgets":[]}', { status: 200 });
    if (!url.startsWith("https://nudge.example/")) throw new TypeError("Failed to fetch");
    requests.push({ url, body: JSON.parse(String(init.body)) });
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
