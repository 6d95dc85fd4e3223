import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject } from "vitest";
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

/** One Chromium per test file: launched before its tests, closed after. Call at module level. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error("the browser is launched in beforeAll");
    return browser;
  };
}

/** Sends what the page's SDK has queued, through the merchant API, and waits for the answer. */
export const flush = (page: Page) =>
  page.evaluate(() => (window as unknown as { nudge: (c: string) => Promise<void> }).nudge("flush"));

/** Signs in with the header form of the demo store, as a shopper would (a size is an identify trait). */
export async function signIn(page: Page, email: string, name?: string, size?: string) {
  await page.goto(`${baseUrl()}/`);
  await page.fill("#signin input[name=email]", email);
  if (name) await page.fill("#signin input[name=name]", name);
  if (size) await page.selectOption("#signin-size", size);
  await page.click("#signin button[type=submit]");
  await expect.poll(() => page.textContent("#signed-in")).toContain(email);
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

/**
 * Runs the scheduler at `at`, then again while a run claimed work: a sweep stops at its time and
 * D1 budgets, and on the suite's shared demo a clock jump makes every earlier test's mail due at
 * once, so one run may leave a shopper's message to the next — which a cron runs a minute later,
 * and a test would never. At most five runs.
 */
async function tickAt(at: number): Promise<{ sent: number }> {
  let run = await api<{ sent: number; claimed: number }>("/v1/dev/tick", { at: new Date(at).toISOString() });
  let sent = run.sent;
  for (let i = 0; i < 4 && run.claimed > 0; i++) {
    run = await api<{ sent: number; claimed: number }>("/v1/dev/tick", {});
    sent += run.sent;
  }
  return { sent };
}

/** Runs the scheduler `ms` after the demo's current (simulated) time. */
export async function advance(ms: number) {
  const { now } = await api<{ now: string }>("/v1/dev/clock");
  return tickAt(Date.parse(now) + ms);
}

/**
 * Runs the scheduler at least `ms` after the demo's current (simulated) time, at the first moment
 * after that when the demo site's clock (Europe/London) reads `hour`:00. A test that needs daytime
 * (a template with quiet hours) gets it whatever the hour it runs at, and wherever earlier tests
 * left the shared clock.
 */
export async function advanceToLocal(ms: number, hour: number, timeZone = "Europe/London") {
  const { now } = await api<{ now: string }>("/v1/dev/clock");
  const f = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "numeric", minute: "numeric", hourCycle: "h23" });
  let at = Date.parse(now) + ms;
  at = at - (at % 3600_000) + 3600_000; // whole hours: every zone's offset here is whole hours
  while (f.format(at) !== `${String(hour).padStart(2, "0")}:00`) at += 3600_000;
  return tickAt(at);
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
  // Filtered by the Worker: a tick that sends other tests' due mail cannot push hers out of a page.
  const { messages } = await api<{ messages: Mail[] }>(`/v1/admin/outbox?limit=200&to=${encodeURIComponent(email)}`);
  return messages;
}
