/**
 * Ingest benchmark: `npm run bench:ingest` (NUDGE_BENCH_PORT, default 8812; BENCH_SECONDS, default 8).
 *
 * (BENCH_MODES, default "request,queue,sweep": which processing modes to run.)
 * Posts batches of 100 and 500 events from 4 concurrent clients to the Worker on local workerd
 * (`wrangler dev`, the demo config, its own fresh database), side by side with
 *   - the ceiling: POST /v1/noop of the same Worker, which only parses the same batch;
 *   - the storage bound: POST /v1/noop/store, which validates it like /v1/batch and stores its
 *     events, nothing else — what any path that also applies them is bounded by;
 *   - raw SQLite: node:sqlite inserting the same rows into the same events table, one transaction
 *     per batch.
 * The Worker runs in each processing mode: "request" (the default: each request stores and applies
 * its batch before answering, group-committed with concurrent requests), "queue" (INGEST_QUEUE
 * bound to a local Queue: the request validates and queues; the Worker's consumer applies many
 * requests' batches per invocation) and "sweep" (the request only stores the batch in the inbox;
 * the scheduled sweep, run here right after the load, applies it). Each mode's Worker measures the
 * bound again, so every ratio compares figures of the same run. For "queue", a fifth client sends a
 * one-event probe every 100 ms during the load and polls until it is applied: "lag p99" is how far
 * behind the request's answer the data is current. For "sweep", "applied/s" is events divided by
 * the time its drain took.
 * Do not edit worker sources while it runs: wrangler dev reloads and drops requests.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

const PORT = Number(process.env.NUDGE_BENCH_PORT ?? 8812);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CLIENTS = 4;
/** BENCH_MODES=request runs only the default path (and prints "Stored:"); all three by default. */
const MODES = (process.env.BENCH_MODES ?? "request,queue,sweep").split(",");
const WARM_UP_MS = 2000;
const PERSIST = ".wrangler/bench-ingest";
const WRANGLER = "node_modules/wrangler/bin/wrangler.js";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const BASE = `http://127.0.0.1:${PORT}`;

/** The device part of the context the SDK sends with every event (sdk/context.ts), as desktop Chrome fills it. */
const DEVICE = {
  library: { name: "nudge", version: "0.1.0" },
  locale: "en-GB",
  userAgent:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
  screen: { width: 1920, height: 1080, density: 1 },
  timezone: "Europe/London",
};

/**
 * The context of a shopper's page view: its device part, and the page. Each shopper lands from an ad
 * (a click id unique to the visit, `VISIT` made unique per request by `load`) and views one more
 * page, whose referrer is the landing page: every page view's context is its own, 5 events each —
 * what storing each distinct context once (model/event-contexts.ts) meets on a busy store, not the
 * one context for every event that would make it look free.
 */
function pageContext(shopper: string, product: string, landing: boolean) {
  const ad = `https://shop.example/p/${product}?utm_source=google&gclid=VISIT${shopper}`;
  const page = landing
    ? { path: `/p/${product}`, referrer: "https://www.google.com/", search: ad.slice(ad.indexOf("?")), url: ad }
    : { path: `/p/${product}`, referrer: ad, search: "", url: `https://shop.example/p/${product}` };
  return { ...DEVICE, page: { ...page, title: `Wavelength Speaker ${product} – Shop` } };
}

let seq = 0;
/** A batch as a busy store sends it: 10 events per shopper over two pages, mostly views, some pages and adds. */
function batch(size: number) {
  const run = `${process.pid}-${seq++}`;
  return Array.from({ length: size }, (_, i) => {
    const shopper = Math.floor(i / 10);
    const anonymousId = `bench-${run}-${shopper}`;
    const landing = i % 10 < 5;
    const base = {
      messageId: `${run}-${i}`,
      anonymousId,
      timestamp: new Date().toISOString(),
      context: pageContext(`${run}-${shopper}`, `P${(i - (i % 5)) % 50}`, landing),
    };
    const product = { product_id: `P${i % 50}`, name: `Product ${i % 50}`, price: 19.99, currency: "GBP" };
    if (i % 10 === 9)
      return { ...base, type: "track", event: "Product Added", properties: { ...product, quantity: 1 } };
    if (i % 5 === 0) return { ...base, type: "page", name: "Product", properties: { path: base.context.page.path } };
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

let probes = 0;
/** Sends a one-event batch and waits until it is applied; the milliseconds from its answer to then. */
async function probe(): Promise<number> {
  const anonymousId = `probe-${process.pid}-${probes++}`;
  const event = { type: "track", event: "Probe", messageId: anonymousId, anonymousId, properties: {} };
  const res = await fetch(`${BASE}/v1/batch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ writeKey: "pk_demo", batch: [event] }),
  });
  if (res.status !== 200) throw new Error(`probe: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  const answered = performance.now();
  const url = `${BASE}/v1/dev/events?anonymousId=${anonymousId}`;
  for (;;) {
    const found = (await (await fetch(url, { headers: { authorization: "Bearer sk_demo" } })).json()) as {
      events: unknown[];
    };
    if (found.events.length > 0) return performance.now() - answered;
    if (performance.now() - answered > 60_000) throw new Error("a probe was not applied within a minute");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `settle` runs between the warm-up and the measured run: the warm-up's backlog must not count.
 * With `lags`, a probe measures how current the data is every 100 ms of the measured run.
 */
async function load(path: string, size: number, settle = async () => {}, lags?: number[]): Promise<Result> {
  const bodies = Array.from({ length: 64 }, () => JSON.stringify({ writeKey: "pk_demo", batch: batch(size) }));
  // Fresh messageIds per request, so every event is new (no dedupe shortcut): patch the run id.
  let n = 0;
  const body = () =>
    bodies[n++ % bodies.length]
      ?.replaceAll('"bench-', `"b${n}-`)
      .replaceAll('"messageId":"', `"messageId":"${n}-`)
      .replaceAll("VISIT", `${n}-`) ?? "";
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
  const until = start + SECONDS * 1000;
  const probing = (async () => {
    while (lags && performance.now() < until) {
      lags.push(await probe());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await run(until, latencies);
  const seconds = (performance.now() - start) / 1000;
  await probing;
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

/**
 * The demo's config with the ingest Queue bound, written next to it (its paths are relative) for
 * the run. A full batch goes at once; a partial one waits at most `max_batch_timeout`.
 */
const QUEUE_CONFIG = "demo-store/.wrangler-bench-queue.json";
function writeQueueConfig() {
  const demo = JSON.parse(
    readFileSync("demo-store/wrangler.jsonc", "utf8")
      .split("\n")
      .filter((l) => !l.trim().startsWith("//"))
      .join("\n"),
  );
  const queues = {
    producers: [{ binding: "INGEST_QUEUE", queue: "nudge-ingest" }],
    consumers: [
      { queue: "nudge-ingest", max_batch_size: 100, max_batch_timeout: 0.1, dead_letter_queue: "nudge-ingest-dlq" },
      { queue: "nudge-ingest-dlq", max_batch_size: 100, max_batch_timeout: 1 },
    ],
  };
  writeFileSync(QUEUE_CONFIG, JSON.stringify({ ...demo, queues }));
}

let child: ChildProcess | undefined;
async function startWorker(mode: string) {
  rmSync(PERSIST, { recursive: true, force: true });
  if (mode === "queue") writeQueueConfig();
  const config = ["-c", mode === "queue" ? QUEUE_CONFIG : "demo-store/wrangler.jsonc", "--persist-to", PERSIST];
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
    `INGEST_PROCESSING:${mode === "sweep" ? "sweep" : "request"}`,
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
  rmSync(QUEUE_CONFIG, { force: true });
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

/**
 * Bytes on disk per stored event and per contact, as D1 stores them (local D1 is SQLite; page
 * sizes from its `dbstat` table, indexes included), after the request run's load.
 */
function storage(): string {
  const dir = `${PERSIST}/v3/d1/miniflare-D1DatabaseObject`;
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  const db = new DatabaseSync(`${dir}/${file}`, { readOnly: true });
  const bytes = (names: string[]) =>
    (
      db
        .prepare(
          `SELECT sum(pgsize) AS b FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name IN (SELECT value FROM json_each(?)))`,
        )
        .get(JSON.stringify(names)) as { b: number }
    ).b;
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  const events = count("events");
  const contacts = count("contacts");
  // Contexts stored once (migration 0023) count against the events; a database before it has none.
  const keyed = db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'event_contexts'`).get() !== undefined;
  const perEvent = bytes(["events", "event_contexts"]) / events;
  const perContact = bytes(["contacts", "identities", "carts", "cart_items", "product_views"]) / contacts;
  const inRow = keyed ? "length(context) + coalesce(length(context_hash), 0)" : "length(context)";
  const context =
    (db.prepare(`SELECT avg(${inRow}) AS c FROM events`).get() as { c: number }).c +
    (keyed ? bytes(["event_contexts"]) / events : 0);
  const distinct = keyed ? `, ${fmt(count("event_contexts"))} distinct` : "";
  db.close();
  return `Stored: ${fmt(events)} events, ${fmt(perEvent)} B each with their indexes (context ${fmt(context)} B of it${distinct}); ${fmt(contacts)} contacts, ${fmt(perContact)} B each with identities, carts and product views.`;
}

const rate = (r: Result) => r.events / r.seconds;
const fmt = (x: number) => Math.round(x).toLocaleString("en-GB").replaceAll(",", " ");
const ms = (x: number) => x.toFixed(1);

const pctOf = (x: number, of: number) => `${Math.round((100 * x) / of)} %`;

async function main() {
  const rows: string[] = [];
  const notes: string[] = [];
  const ceiling = new Map<number, number>();
  const sizes = [100, 500];
  const row = (size: number, path: string, r: Result, bound?: Result, extra = "") => {
    rows.push(
      `| ${size} | ${path} | ${fmt(rate(r))} | ${ms(pct(r.latencies, 50))} | ${ms(pct(r.latencies, 99))} | ${
        bound ? pctOf(rate(r), rate(bound)) : ""
      } | ${bound ? `${(pct(r.latencies, 99) / pct(bound.latencies, 99)).toFixed(2)} ×` : ""} | ${extra} |`,
    );
    console.error(rows.at(-1));
  };
  for (const mode of MODES) {
    await startWorker(mode);
    try {
      for (const size of sizes) {
        if (mode === "request") {
          const noop = await load("/v1/noop", size);
          ceiling.set(size, rate(noop));
          row(size, "no-op parse (ceiling)", noop);
        }
        // The bound again in every mode's Worker: each ratio compares figures of one run.
        const store = await load("/v1/noop/store", size);
        row(size, `validate + store only (bound, ${mode} run)`, store, store);
        const lags: number[] = [];
        const settle = async () => {
          if (mode === "queue") await probe();
          else await drained(mode === "sweep");
        };
        const r = await load("/v1/batch", size, settle, mode === "queue" ? lags : undefined);
        let extra = "";
        if (mode === "sweep") {
          // Run the scheduler now (as the cron would) until all is applied, and count only the
          // drain's time — it applies nothing while the load runs.
          const from = performance.now();
          await drained(true);
          extra = `applied ${fmt(r.events / ((performance.now() - from) / 1000))}/s`;
        } else if (mode === "queue") {
          extra = `lag p50 ${fmt(pct(lags, 50))} ms, p99 ${fmt(pct(lags, 99))} ms (${lags.length} probes)`;
          // Everything the load queued is applied before the next row.
          await probe();
        } else if ((await backlog()) > 0) throw new Error("request mode left a backlog: some batches were not applied");
        row(size, `/v1/batch, ${mode}`, r, store, extra);
      }
    } finally {
      await stopWorker();
    }
    if (mode === "request") notes.push(storage());
  }
  for (const size of sizes) {
    const r = sqlite(size);
    row(
      size,
      "raw node:sqlite, 1 tx/batch",
      r,
      undefined,
      `${pctOf(rate(r), ceiling.get(size) ?? Number.NaN)} of ceiling`,
    );
  }
  console.log(`\n${CLIENTS} clients, ${SECONDS} s per row, ${new Date().toISOString()}\n`);
  console.log("| batch | path | events/s | p50 ms | p99 ms | of bound | p99 / bound's | |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---|");
  for (const r of rows.sort((a, b) => Number(a.split("|")[1]) - Number(b.split("|")[1]))) console.log(r);
  console.log(`\n${notes.join("\n")}`);
}

main().catch(async (e) => {
  console.error(e);
  await stopWorker();
  process.exit(1);
});
