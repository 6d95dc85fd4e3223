import { type Browser, chromium, type Page } from "playwright-core";
import { inject } from "vitest";
import { findChromium } from "./ensure-chromium";

export const baseUrl = () => inject("baseUrl");

export async function launch(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error("Chromium not found: run `node test/e2e/ensure-chromium.ts`.");
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Fails the test on any uncaught error in the page: the SDK must never break a store. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

const SECRET = { authorization: "Bearer sk_demo" };

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl()}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...SECRET, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Runs the scheduler `ms` after the demo's current (simulated) time. */
export async function advance(ms: number) {
  const { now } = await api<{ now: string }>("/v1/dev/clock");
  return api<{ sent: number }>("/v1/dev/tick", { at: new Date(Date.parse(now) + ms).toISOString() });
}

export interface Mail {
  id: number;
  campaign: string;
  step: number;
  to: string;
  subject: string;
  text: string;
}

export async function mailsTo(email: string): Promise<Mail[]> {
  const { messages } = await api<{ messages: Mail[] }>("/v1/admin/outbox");
  return messages.filter((m) => m.to === email);
}
