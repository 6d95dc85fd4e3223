import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { TestProject } from "vitest/node";

/**
 * Global setup of the e2e suite: the demo exactly as `npm run demo` runs it (wrangler dev, local
 * D1, demo-store assets), on its own port and with its own fresh database, so it never touches
 * the demo's data and a run starts clean.
 */

const PORT = Number(process.env.NUDGE_E2E_PORT ?? 8791);
const PERSIST = ".wrangler/e2e-state";
const WRANGLER = "node_modules/wrangler/bin/wrangler.js";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

let child: ChildProcess | undefined;

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  rmSync(PERSIST, { recursive: true, force: true });
  const config = ["-c", "demo-store/wrangler.jsonc", "--persist-to", PERSIST];
  execFileSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...config], {
    env,
    stdio: "pipe",
  });
  child = spawn(process.execPath, [WRANGLER, "dev", ...config, "--ip", "127.0.0.1", "--port", String(PORT)], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const baseUrl = `http://127.0.0.1:${PORT}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wrangler dev did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await startClockAt(baseUrl, process.env.NUDGE_E2E_START_HOUR);
  project.provide("baseUrl", baseUrl);
}

/**
 * `NUDGE_E2E_START_HOUR=23` moves the fresh demo's clock to the next 23:00 UTC before any test
 * runs, so the suite can be proved independent of the hour it runs at (night is inside every
 * template's quiet hours). Unset: the real time.
 */
async function startClockAt(baseUrl: string, hour: string | undefined): Promise<void> {
  if (hour === undefined || hour === "") return;
  const h = Number(hour);
  if (!Number.isInteger(h) || h < 0 || h > 23) throw new Error(`NUDGE_E2E_START_HOUR must be 0-23, not ${hour}`);
  const at = new Date();
  at.setUTCHours(h, 0, 0, 0);
  if (at.getTime() <= Date.now()) at.setUTCDate(at.getUTCDate() + 1);
  const res = await fetch(`${baseUrl}/v1/dev/tick`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk_demo" },
    body: JSON.stringify({ at: at.toISOString() }),
  });
  if (!res.ok)
    throw new Error(`could not move the demo clock to ${at.toISOString()}: ${res.status} ${await res.text()}`);
}

export async function teardown(): Promise<void> {
  child?.kill("SIGTERM");
}
