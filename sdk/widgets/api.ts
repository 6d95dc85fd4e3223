import type { Host } from "../triggers/types";

export type Answer<T> = { ok: true; data: T } | { ok: false; code: string; message: string; field?: string };

/** POSTs a widget action with the site key and visitor id; network and 4xx alike come back as values. */
export async function post<T>(host: Host, path: string, body: Record<string, unknown>): Promise<Answer<T>> {
  try {
    const res = await fetch(`${host.endpoint}/v1/onsite/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: host.key, anonymousId: host.aid(), ...body }),
    });
    const json = await res.json().catch(() => ({}));
    if (res.ok) return { ok: true, data: json as T };
    const e = (json as { error?: { code?: string; message?: string; field?: string } }).error ?? {};
    return { ok: false, code: e.code ?? "error", message: e.message ?? "", field: e.field };
  } catch {
    return { ok: false, code: "error", message: "" };
  }
}

export const requestId = (): string =>
  typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
