/**
 * Sending throughput: `npm run bench` (or `node test/bench/run.ts sending`).
 *
 * 50 000 due messages (email, one per contact) are delivered by the real sweep inside workerd
 * (Miniflare, the same Worker code as scheduler.bench.ts) through Resend's adapter, pointed at a
 * loopback stand-in that answers like Resend (200 with an id) after checking the request carries
 * the idempotency key. Each `/send` is one sweep as one cron invocation runs it: its time budget,
 * and D1's ~1 000 calls per invocation. Reports messages per second while sweeping, messages per
 * sweep, and the time to drain — back to back, and at one cron run a minute — beside the old
 * design's one claim of 100 per run. The stand-in is unthrottled and PROVIDER_RATES lifts Resend's
 * default 2/s, so this measures the Worker and D1, not the provider.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

const TOTAL = Number(process.env.SENDING_TOTAL ?? 50_000);
const root = new URL("../../", import.meta.url).pathname;

let accepted = 0;
let refused = 0;
const keys = new Set<string>();
const provider = createServer((req, res) => {
  const key = String(req.headers["idempotency-key"] ?? "");
  req.resume();
  req.on("end", () => {
    if (!key) refused++;
    else {
      accepted++;
      keys.add(key);
    }
    res.writeHead(key ? 200 : 422, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: key }));
  });
});
await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
const port = (provider.address() as AddressInfo).port;

const migrations = readdirSync(join(root, "worker/migrations"))
  .filter((f) => f.endsWith(".sql"))
  .sort()
  .map((f) => readFileSync(join(root, "worker/migrations", f), "utf8"));
const bundle = await build({
  entryPoints: [join(root, "test/bench/scheduler-worker.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  write: false,
  logLevel: "error",
});
const mf = new Miniflare(
  convertV4MiniflareOptions({
    workers: [
      {
        name: "bench",
        modules: true,
        script: bundle.outputFiles[0]?.text ?? "",
        compatibilityDate: "2026-10-01",
        compatibilityFlags: ["nodejs_compat"],
        d1Databases: { DB: "bench" },
        bindings: {
          LINK_SECRET: "bench-secret",
          RESEND_API_KEY: "re_bench",
          RESEND_API_URL: `http://127.0.0.1:${port}`,
          EMAIL_FROM: "Bench <bench@example.com>",
          PROVIDER_RATES: JSON.stringify({ resend: 100_000 }),
        },
      },
    ],
  }),
);
const call = async <T>(path: string, body?: unknown): Promise<T> => {
  const res = await mf.dispatchFetch(
    `http://bench${path}`,
    body === undefined ? {} : { method: "POST", body: JSON.stringify(body) },
  );
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-GB", { maximumFractionDigits: digits, minimumFractionDigits: digits });
await call("/migrate", migrations);
await call(`/seed-messages?n=${TOTAL}&due=${TOTAL}`);

interface Sweep {
  ms: number;
  sent: number;
  claimed: number;
  rounds: number;
  d1Calls: number;
  failed: number;
  errors: string[];
}
const sweeps: Sweep[] = [];
for (;;) {
  const r = await call<Sweep>("/send");
  if (r.errors.length) throw new Error(`sweep errors: ${r.errors.join("; ")}`);
  if (r.claimed === 0) break;
  sweeps.push(r);
}
const status = await call<Record<string, number>>("/status");
await mf.dispose();
provider.close();

const sent = sweeps.reduce((a, r) => a + r.sent, 0);
const ms = sweeps.reduce((a, r) => a + r.ms, 0);
const perSweep = sent / sweeps.length;
const calls = sweeps.reduce((a, r) => a + r.d1Calls, 0);
const cronMinutes = sweeps.length;
const oldMinutes = Math.ceil(TOTAL / 100);
const lines = [
  `sending ${fmt(TOTAL)} due emails through a loopback Resend stand-in:`,
  `  sent ${fmt(sent)} (status ${JSON.stringify(status)}), provider accepted ${fmt(accepted)}, ${fmt(keys.size)} distinct idempotency keys, refused ${refused}`,
  `  ${fmt(sweeps.length)} sweeps, ${fmt(perSweep)} messages each (${fmt(calls / sent, 2)} D1 calls per message, ≤ 950 a sweep), ${fmt(ms / sweeps.length)} ms each`,
  `  while sweeping: ${fmt((sent / ms) * 1000)} messages/s; drained back to back in ${fmt(ms / 1000, 1)} s`,
  `  at one cron run a minute: drained in ${fmt(cronMinutes)} min (${fmt(cronMinutes / 60, 1)} h), ${fmt(perSweep)} a minute`,
  `  before (one claim of 100 a run): ${fmt(oldMinutes)} min (${fmt(oldMinutes / 60, 1)} h), 100 a minute`,
];
for (const l of lines) console.log(l);
if (sent !== TOTAL || keys.size !== TOTAL) throw new Error("not every message was delivered exactly once");
