/**
 * Scheduler and segment benchmark: `npm run bench` (or `node test/bench/run.ts scheduler`).
 *
 *  1. Sweep time for 1 000 due messages among 1 000 vs 1 000 000 scheduled rows (goal: within 2×).
 *  2. Segment compile-and-count over 1 000 000 contacts (goal: ≤ 2 s).
 *
 * Runs the real sweep and compiler inside workerd (Miniflare) against a local D1 (SQLite), as
 * `wrangler dev` does. Each size gets a fresh in-memory database.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

const root = new URL("../../", import.meta.url).pathname;
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
const script = bundle.outputFiles[0]?.text ?? "";

async function fresh() {
  // miniflare 5 takes a new options shape; it converts the classic one.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: "bench",
          modules: true,
          script,
          compatibilityDate: "2026-10-01",
          compatibilityFlags: ["nodejs_compat"],
          d1Databases: { DB: "bench" },
          bindings: { LINK_SECRET: "bench-secret" },
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
  await call("/migrate", migrations);
  return { mf, call };
}

const fmt = (n: number) => n.toLocaleString("en-GB");
const results: string[] = [];

const sweeps: Record<number, number> = {};
for (const total of process.argv.includes("--quick") ? [1_000] : [1_000, 1_000_000]) {
  const { mf, call } = await fresh();
  const t0 = Date.now();
  await call(`/seed-messages?n=${total}&due=1000`);
  const seeded = Date.now() - t0;
  // Best of three runs: the machine is shared, and the best run is the least disturbed one.
  const times: number[] = [];
  let runs = 0;
  for (let i = 0; i < 3; i++) {
    if (i > 0) await call("/rearm");
    const r = await call<{ ms: number; sent: number; runs: number; outcomes: unknown[] }>("/sweep");
    if (r.sent !== 1000) throw new Error(`expected 1 000 sent, got ${JSON.stringify(r.outcomes)}`);
    times.push(r.ms);
    runs = r.runs;
  }
  sweeps[total] = Math.min(...times);
  const all = times.map((t) => t.toFixed(0)).join(" / ");
  results.push(
    `sweep: 1,000 due among ${fmt(total)} scheduled: best ${sweeps[total]?.toFixed(0)} ms of ${all} (${runs} sweeps; seeded in ${seeded} ms)`,
  );
  console.log(results.at(-1));
  await mf.dispose();
}
const ratio = (sweeps[1_000_000] ?? 0) / (sweeps[1_000] ?? 1);
results.push(`sweep ratio 1 000 000 / 1 000 rows: ${ratio.toFixed(2)}× (goal ≤ 2×)`);
console.log(results.at(-1));

{
  const { mf, call } = await fresh();
  const t0 = Date.now();
  await call("/seed-contacts?n=1000000");
  console.log(`seeded 1 000 000 contacts, 100 000 orders in ${Date.now() - t0} ms`);
  const rules: [string, unknown][] = [
    ["gender = female", { attr: "gender", op: "eq", value: "female" }],
    ["inactive ≥ 180 days or never bought", { any: [{ inactive_days: 180 }, { never_ordered: true }] }],
    [
      "365-day spend ≥ £500 and locale fr",
      {
        all: [
          { metric: "spend_365d", op: "gte", value: 50000 },
          { attr: "locale", op: "eq", value: "fr" },
        ],
      },
    ],
  ];
  for (const [name, rule] of rules) {
    const runs: { ms: number; count: number }[] = [];
    for (let i = 0; i < 3; i++) runs.push(await call<{ ms: number; count: number }>("/count", rule));
    const best = Math.min(...runs.map((r) => r.ms));
    const all = runs.map((r) => r.ms).join(" / ");
    results.push(
      `segment over 1 000 000 contacts, ${name}: ${fmt(runs[0]?.count ?? 0)}, best ${best} ms of ${all} (goal ≤ 2 000 ms)`,
    );
    console.log(results.at(-1));
  }
  await mf.dispose();
}
