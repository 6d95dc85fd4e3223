/**
 * Ingest benchmark: `npm run bench:ingest` (NUDGE_BENCH_PORT, default 8812; BENCH_SECONDS, default 8).
 *
 * Posts batches of 100 and 500 events from 4 concurrent clients to the Worker on local workerd
 * (`wrangler dev`, the demo config, its own fresh database), side by side with
 *   - the ceiling: POST /v1/noop of the same Worker, which only parses the same batch;
 *   - the storage bound: POST /v1/noop/store, which validates it like /v1/batch and stores its
 *     events, nothing else — what any path that also applies them is bounded by;
 *   - raw SQLite: node:sqlite inserting the same rows into the same events table, one transaction
 *     per batch.
 * The Worker runs in each processing mode: "request" (the default: each request stores and applies
 * its batch before answering, group-committed with concurrent requests) and "sweep" (the request
 * only stores the batch in the inbox; the scheduled sweep, run here right after the load, applies
 * it). For "sweep", "applied/s" is events divided by the time its drain took.
 * Do not edit worker sources while it runs: wrangler dev reloads and drops requests.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { readFileSync } from "node:fs";

const PORT = Number(process.env.NUDGE_BENCH_PORT ?? 8812);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CLIENTS = 4;
const WARM_UP_MS = 2000;
const PERSIST = ".wrangler/bench-ingest";
const WRANGLER = "node_modules/wrangler/bin/wrangler.js";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const BASE = `http://127.0.0.1:${PORT}`;

let seq = 0;
/** A batch as a busy store sends it: 10 events per shopper, mostly views, some pages and adds. */
function batch(size: number) {
  const run = `${process.pid}-${seq++}`;
  return Array.from({ length: size }, (_, i) => {
    const anonymousId = `bench-${run}-${Math.floor(i / 10)}`;
    const base = {
      messageId: `${run}-${i}`,
      anonymousId,
      timestamp: new Date().toISOString(),
      context: { page: { url: "https://shop.example/p/E7247", referrer: "" }, userAgent: "Mozilla/5.0 bench" },
    };
    const product = { product_id: `P${i % 50}`, name: `Product ${i % 50}`, price: 19.99, currency: "GBP" };
    if (i % 10 === 9)
      return { ...base, type: "track", event: "Product Added", properties: { ...product, quantity: 1 } };
    if (i % 5 === 0) return { ...base, type: "page", name: "Product", properties: { path: "/p/E7247" } };
    return { ...base, type: "track", event: "Product Viewed", properties: product };
  });
}

interface Result {
  /** performance.now() when the measured run began (after the warm-up). */
  start: number;
  events: number;
  seconds: number;
  latencies: number[];
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** `settle` runs between the warm-up and the measured run: the warm-up's backlog must not count. */
async function load(path: string, size: number, settle = async () => {}): Promise<Result> {
  const bodies = Array.from({ length: 64 }, () => JSON.stringify({ writeKey: "pk_demo", batch: batch(size) }));
  // Fresh messageIds per request, so every event is new (no dedupe shortcut): patch the run id.
  let n = 0;
  const body = () =>
    bodies[n++ % bodies.length]?.replaceAll('"bench-', `"b${n}-`).replaceAll('"messageId":"', `"messageId":"${n}-`) ??
    "";
  const post = async () => {
    const res = await fetch(`${BASE}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(),
    });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const run = (until: number, latencies: number[]) =>
    Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < until) {
          const t = performance.now();
          await post();
          latencies.push(performance.now() - t);
        }
      }),
    );
  // Warm up at full load first: a freshly started workerd compiles and grows its heap during the
  // first seconds, which would otherwise count against whichever row runs first.
  await run(performance.now() + WARM_UP_MS, []);
  await settle();
  const latencies: number[] = [];
  const start = performance.now();
  await run(start + SECONDS * 1000, latencies);
  const seconds = (performance.now() - start) / 1000;
  return { start, events: latencies.length * size, seconds, latencies };
}

async function backlog(): Promise<number> {
  const res = await fetch(`${BASE}/v1/dev/backlog`, { headers: { authorization: "Bearer sk_demo" } });
  const b = (await res.json()) as { batches: number; unprocessed: number };
  return b.batches + b.unprocessed;
}

async function tick() {
  const res = await fetch(`${BASE}/v1/dev/tick`, {
    method: "POST",
    headers: { authorization: "Bearer sk_demo", "content-type": "application/json" },
    body: "{}",
  });
  await res.arrayBuffer();
}

/** Waits until every accepted event is applied, running the scheduler when the sweep must do it. */
async function drained(sweep: boolean) {
  while ((await backlog()) > 0) {
    if (sweep) await tick();
    else await new Promise((res) => setTimeout(res, 100));
  }
}

let child: ChildProcess | undefined;
async function startWorker(mode: string) {
  rmSync(PERSIST, { recursive: true, force: true });
  const config = ["-c", "demo-store/wrangler.jsonc", "--persist-to", PERSIST];
  execFileSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...config], {
    env,
    stdio: "pipe",
  });
  const args = [
    WRANGLER,
    "dev",
    ...config,
    "--ip",
    "127.0.0.1",
    "--port",
    String(PORT),
    "--var",
    `INGEST_PROCESSING:${mode}`,
  ];
  child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "ignore"] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${BASE}/v1/dev/clock`, { headers: { authorization: "Bearer sk_demo" } })).ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error("wrangler dev did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
}
async function stopWorker() {
  child?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
}

function sqlite(size: number): Result {
  const db = new DatabaseSync(":memory:");
  db.exec(readFileSync("worker/migrations/0001_init.sql", "utf8"));
  const insert = db.prepare(
    `INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, previous_id, properties, traits, context, timestamp, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const latencies: number[] = [];
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    const rows = batch(size);
    const t = performance.now();
    db.exec("BEGIN");
    for (const m of rows) {
      const p = m as Record<string, unknown>;
      insert.run(
        "demo",
        m.messageId,
        m.type,
        (p.event as string) ?? null,
        m.anonymousId,
        null,
        null,
        JSON.stringify(m.properties),
        "{}",
        JSON.stringify(m.context),
        Date.parse(m.timestamp),
        Date.now(),
      );
    }
    db.exec("COMMIT");
    latencies.push(performance.now() - t);
  }
  return { start, events: latencies.length * size, seconds: (performance.now() - start) / 1000, latencies };
}

const rate = (r: Result) => r.events / r.seconds;
const fmt = (x: number) => Math.round(x).toLocaleString("en-GB").replaceAll(",", " ");
const ms = (x: number) => x.toFixed(1);

async function main() {
  const rows: string[] = [];
  const ceiling = new Map<number, number>();
  const sizes = [100, 500];
  for (const mode of ["request", "sweep"]) {
    await startWorker(mode);
    try {
      for (const size of sizes) {
        if (mode === "request") {
          const noop = await load("/v1/noop", size);
          ceiling.set(size, rate(noop));
          rows.push(
            `| ${size} | no-op parse (ceiling) | ${fmt(rate(noop))} | ${ms(pct(noop.latencies, 50))} | ${ms(pct(noop.latencies, 99))} | 100 % | |`,
          );
          const store = await load("/v1/noop/store", size);
          rows.push(
            `| ${size} | validate + store events only (bound) | ${fmt(rate(store))} | ${ms(pct(store.latencies, 50))} | ${ms(pct(store.latencies, 99))} | ${Math.round((100 * rate(store)) / rate(noop))} % | |`,
          );
        }
        const r = await load("/v1/batch", size, () => drained(mode === "sweep"));
        let applied = "";
        if (mode === "sweep") {
          // Run the scheduler now (as the cron would) until all is applied, and count only the
          // drain's time — it applies nothing while the load runs.
          const from = performance.now();
          await drained(true);
          applied = fmt(r.events / ((performance.now() - from) / 1000));
        } else if ((await backlog()) > 0) throw new Error("request mode left a backlog: some batches were not applied");
        const ratio = `${Math.round((100 * rate(r)) / (ceiling.get(size) ?? Number.NaN))} %`;
        rows.push(
          `| ${size} | /v1/batch, ${mode} | ${fmt(rate(r))} | ${ms(pct(r.latencies, 50))} | ${ms(pct(r.latencies, 99))} | ${ratio} | ${applied} |`,
        );
        console.error(rows.at(-1));
      }
    } finally {
      await stopWorker();
    }
  }
  for (const size of sizes) {
    const r = sqlite(size);
    rows.push(
      `| ${size} | raw node:sqlite, 1 tx/batch | ${fmt(rate(r))} | ${ms(pct(r.latencies, 50))} | ${ms(pct(r.latencies, 99))} | ${Math.round((100 * rate(r)) / (ceiling.get(size) ?? Number.NaN))} % | |`,
    );
  }
  console.log(`\n${CLIENTS} clients, ${SECONDS} s per row, ${new Date().toISOString()}\n`);
  console.log("| batch | path | events/s | p50 ms | p99 ms | of ceiling | applied/s |");
  console.log("|---:|---|---:|---:|---:|---:|---:|");
  for (const r of rows.sort((a, b) => Number(a.split("|")[1]) - Number(b.split("|")[1]))) console.log(r);
}

main().catch(async (e) => {
  console.error(e);
  await stopWorker();
  process.exit(1);
});
