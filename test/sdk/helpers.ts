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
  const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
    if (!url.startsWith("https://nudge.example/")) throw new TypeError("Failed to fetch");
    requests.push({ url, body: JSON.parse(String(init.body)) });
    const status = statuses.length > 1 ? (statuses.shift() ?? 200) : (statuses[0] ?? 200);
    return new Response("{}", { status });
  });
  vi.stubGlobal("fetch", fetchMock);
  const events = () => requests.flatMap((r) => r.body.batch);
  return { requests, events, fetchMock };
}

/** A fresh page: SDK state, storage and the outbox database wiped. */
export async function freshPage() {
  _resetForTests();
  localStorage.clear();
  await clear(createStore("nudge", "kv"));
  vi.unstubAllGlobals();
}
