import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { gunzipSync } from "node:zlib";
import { type Browser, chromium, type Page } from "playwright-core";
import { findChromium } from "../e2e/ensure-chromium.ts";
import { PEERS, peerModules } from "./peers.ts";

/**
 * The SDK side by side with posthog-js, @segment/analytics-next, @snowplow/browser-tracker and
 * @plausible-analytics/tracker (installed on first use, peers.ts), each loaded from its package
 * file into its own fresh page, all sending to one sink on loopback that answers 200 `{}`. The page is cross-origin isolated
 * (COOP/COEP) so performance.now() is precise to 5 µs rather than 100 µs.
 *
 * Per SDK: script time until ready (the package file, fetched beforehand, evaluated as an inline
 * script, then initialised, until the SDK says it is ready; Plausible's ES module is imported from
 * the warm HTTP cache; median of READY_PAGES fresh pages, with the range); track() per call (10 000 calls timed in chunks of 100, median of the
 * chunks); long tasks (> 50 ms) over the whole run; requests and time from the last call until
 * the sink has all 10 000 events (waiting at most 15 s); bytes on the wire: the request bodies as
 * sent (compressed where the SDK compresses; headers not counted), per event delivered. Nudge is ready when init returns and does
 * its setup (reading its ids from localStorage, context, queue) in the next task; that task is
 * timed too and printed under the table, so the split hides nothing.
 *
 * Run: npm run bench (builds first). Options: node test/bench/sdk.bench.ts [sdk names…];
 * NUDGE_BENCH_WAIT_S=<seconds> waits longer than 15 s for the events to arrive (posthog-js takes
 * minutes to deliver 10 000, and its bytes per event are only comparable once it has).
 */

const CALLS = 10_000;
/**
 * Fresh pages per SDK for "ready": the median is reported, with the range. One page alone says
 * little on a shared machine: the same script takes 1 ms or 10 ms as the OS schedules it.
 */
const READY_PAGES = 5;
const CHUNK = 100;
const WAIT_MS = Number(process.env.NUDGE_BENCH_WAIT_S ?? 15) * 1000;
const ROOT = process.cwd();

// biome-ignore lint/suspicious/noExplicitAny: the peers' globals are untyped; this is the one place.
type Loose = Record<string, any>;

const TYPES: Record<string, string> = { ".js": "text/javascript", ".html": "text/html", ".mjs": "text/javascript" };

let requests = 0;
let events = 0;
/** Request body bytes as they arrived, before any decompression. */
let bytes = 0;
let lastAt = 0;

/** Counts events in a request body, for the formats these SDKs send. */
function countEvents(body: Buffer): number {
  try {
    const text = (body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body).toString("utf8");
    const json = JSON.parse(text) as unknown;
    if (Array.isArray(json)) return json.length;
    if (json && typeof json === "object") {
      const o = json as { batch?: unknown[]; data?: unknown[] };
      if (Array.isArray(o.batch)) return o.batch.length;
      if (Array.isArray(o.data)) return o.data.length;
    }
  } catch {
    // form-encoded or opaque: one event per request
  }
  return 1;
}

/** The bench's peers' node_modules (peers.ts), set before the server starts when one is measured. */
let peers = "";
/** Where a package's files are served from: the bench's peers from their folder, the rest from the project's. */
const packageRoot = (rel: string) =>
  rel.split("/", rel.startsWith("@") ? 2 : 1).join("/") in PEERS ? peers : join(ROOT, "node_modules");

function serve(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://x");
  const isolate = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
  };
  if (req.method === "GET" && url.pathname === "/bench.html") {
    res.writeHead(200, { ...isolate, "content-type": "text/html" });
    // The long-task observer starts before any SDK code runs.
    res.end(`<!doctype html><meta charset="utf-8"><title>bench</title><script>
      window.__inline = async (src) => {
        const text = await (await fetch(src)).text();
        const s = document.createElement("script");
        s.textContent = text;
        const t0 = performance.now();
        document.head.append(s); // runs now, synchronously
        return t0;
      };
      window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]); })
        .observe({ type: "longtask", buffered: true });
    </script>`);
    return;
  }
  if (req.method === "GET" && (url.pathname.startsWith("/pkg/") || url.pathname.startsWith("/dist/"))) {
    const pkg = url.pathname.startsWith("/pkg/");
    const rel = url.pathname.slice(pkg ? 5 : 1);
    const root = pkg ? packageRoot(rel) : ROOT;
    const path = normalize(join(root, rel));
    if (!path.startsWith(root)) return void res.writeHead(403).end();
    try {
      const body = readFileSync(path);
      res.writeHead(200, {
        ...isolate,
        "content-type": TYPES[extname(path)] ?? "application/octet-stream",
        "cache-control": "max-age=3600",
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
    return;
  }
  // posthog-js's remote config, answered as PostHog's servers answer it: without
  // `supportedCompression` it sends its batches uncompressed.
  if (req.method === "GET" && /^\/array\/[^/]+\/config$/.test(url.pathname)) {
    res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
    res.end(JSON.stringify({ supportedCompression: ["gzip-js", "base64"] }));
    return;
  }
  // Everything else is the sink.
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (req.method === "POST") {
      const body = Buffer.concat(chunks);
      requests++;
      bytes += body.length;
      events += countEvents(body);
      lastAt = performance.now();
    }
    res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
    res.end("{}");
  });
}

interface Sdk {
  name: string;
  files: string[];
  /** Runs in the page: loads and initialises the SDK, defines window.__track, returns ms until ready. */
  load: (origin: string) => Promise<number>;
}

const SDKS: Sdk[] = [
  {
    name: "nudge",
    files: ["/dist/cdn/sdk/nudge.js"],
    load: async (origin) => {
      const w = window as unknown as Loose;
      const t0 = await w.__inline("/dist/cdn/sdk/nudge.js");
      w.nudge("init", { key: "pk_bench", endpoint: origin, trackPages: false, respectPrivacySignals: false });
      const ready = performance.now() - t0;
      // The deferred setup, run now by flush (the same work the next task would do), timed alone.
      const t1 = performance.now();
      w.nudge("flush");
      w.__setup = performance.now() - t1;
      w.__track = (i: number) => w.nudge("track", "Bench Event", { i });
      return ready;
    },
  },
  {
    name: "posthog-js",
    files: ["/pkg/posthog-js/dist/array.js"],
    load: async (origin) => {
      const w = window as unknown as Loose;
      const t0 = await w.__inline("/pkg/posthog-js/dist/array.js");
      await new Promise((loaded) =>
        w.posthog.init("phc_bench", {
          api_host: origin,
          autocapture: false,
          capture_pageview: false,
          advanced_disable_flags: true,
          disable_external_dependency_loading: true,
          // The bench's Chromium is headless, which posthog-js takes for a bot and drops every event of.
          opt_out_useragent_filter: true,
          // By default it drops, on the client, what comes past 10 events a second (bursts of 100):
          // lifted, so it sends the same 10 000 events as the others.
          rate_limiting: { events_per_second: 1_000_000, events_burst_limit: 1_000_000 },
          loaded,
        }),
      );
      const ready = performance.now() - t0;
      w.__track = (i: number) => w.posthog.capture("Bench Event", { i });
      return ready;
    },
  },
  {
    name: "@segment/analytics-next",
    files: ["/pkg/@segment/analytics-next/dist/umd/index.js"],
    load: async (origin) => {
      const w = window as unknown as Loose;
      const t0 = await w.__inline("/pkg/@segment/analytics-next/dist/umd/index.js");
      const host = new URL(origin).host;
      const [analytics] = await w.AnalyticsNext.AnalyticsBrowser.load({
        writeKey: "bench",
        cdnURL: origin,
        cdnSettings: { integrations: { "Segment.io": { apiKey: "bench", apiHost: `${host}/v1`, protocol: "http" } } },
      });
      const ready = performance.now() - t0;
      w.__track = (i: number) => analytics.track("Bench Event", { i });
      return ready;
    },
  },
  {
    name: "@snowplow/browser-tracker",
    files: ["/pkg/@snowplow/browser-tracker/dist/index.umd.min.js"],
    load: async (origin) => {
      const w = window as unknown as Loose;
      const t0 = await w.__inline("/pkg/@snowplow/browser-tracker/dist/index.umd.min.js");
      const sp = w.snowplowBrowserTracking;
      sp.newTracker("sp", origin, { eventMethod: "post" });
      const ready = performance.now() - t0;
      w.__track = (i: number) => sp.trackStructEvent({ category: "bench", action: "Bench Event", value: i });
      return ready;
    },
  },
  {
    name: "@plausible-analytics/tracker",
    files: ["/pkg/@plausible-analytics/tracker/plausible.js"],
    load: async (origin) => {
      const w = window as unknown as Loose;
      await (await fetch("/pkg/@plausible-analytics/tracker/plausible.js")).text();
      const t0 = performance.now();
      const p = await import(`${origin}/pkg/@plausible-analytics/tracker/plausible.js`);
      p.init({
        domain: "bench.example",
        endpoint: `${origin}/api/event`,
        autoCapturePageviews: false,
        captureOnLocalhost: true,
      });
      const ready = performance.now() - t0;
      w.__track = (i: number) => p.track("Bench Event", { props: { i: String(i) } });
      return ready;
    },
  },
];

/** In the page: CALLS calls of window.__track, timed in chunks; returns µs per call of each chunk. */
function trackLoop({ calls, chunk }: { calls: number; chunk: number }): number[] {
  const w = window as unknown as { __track: (i: number) => void; __loop: [number, number] };
  const track = w.__track;
  const perCall: number[] = [];
  const start = performance.now();
  for (let c = 0; c < calls / chunk; c++) {
    const t = performance.now();
    for (let j = 0; j < chunk; j++) track(c * chunk + j);
    perCall.push(((performance.now() - t) / chunk) * 1000);
  }
  w.__loop = [start, performance.now()];
  return perCall;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** A fresh bench page with the SDK's files in the HTTP cache, so "ready" measures the SDK, not the transfer. */
async function benchPage(browser: Browser, origin: string, sdk: Sdk): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/bench.html`);
  const isolated = await page.evaluate(() => crossOriginIsolated);
  if (!isolated) throw new Error("bench page is not cross-origin isolated: timers would be coarse");
  await page.evaluate(async (files) => {
    for (const f of files) await (await fetch(f)).arrayBuffer();
  }, sdk.files);
  return page;
}

async function measure(browser: Browser, origin: string, sdk: Sdk) {
  const readies: number[] = [];
  for (let i = 1; i < READY_PAGES; i++) {
    const page = await benchPage(browser, origin, sdk);
    readies.push(await page.evaluate(sdk.load, origin));
    await page.context().close();
  }
  // The last page also runs the calls.
  const page = await benchPage(browser, origin, sdk);
  requests = 0;
  events = 0;
  bytes = 0;
  lastAt = 0;
  readies.push(await page.evaluate(sdk.load, origin));
  const baseline = { requests, events, bytes };
  const perCall = await page.evaluate(trackLoop, { calls: CALLS, chunk: CHUNK });
  const sentAt = performance.now();
  while (events - baseline.events < CALLS && performance.now() - sentAt < WAIT_MS)
    await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200)); // let late requests show in the count
  const delivered = events - baseline.events;
  const long = await page.evaluate(() => (window as unknown as { __long: [number, number][] }).__long);
  const setup = await page.evaluate(() => (window as unknown as { __setup?: number }).__setup);
  // Long tasks that began during the page's own 10 000-call loop are that loop (stalled or
  // collecting garbage), not the SDK's later work; the note under the table says which is which.
  const loop = await page.evaluate(() => (window as unknown as { __loop: [number, number] }).__loop);
  const during = long.filter(([start]) => start >= loop[0] - 1 && start <= loop[1]).length;
  await page.context().close();
  return {
    sdk: sdk.name,
    ready: median(readies),
    readyRange: [Math.min(...readies), Math.max(...readies)],
    setup,
    perCall: median(perCall),
    p95: [...perCall].sort((a, b) => a - b)[Math.floor(perCall.length * 0.95)] ?? Number.NaN,
    longTasks: long.length,
    longest: Math.max(0, ...long.map(([, d]) => d)),
    during,
    delivered,
    requests: requests - baseline.requests,
    bytes: bytes - baseline.bytes,
    deliverMs: delivered >= CALLS ? lastAt - sentAt : undefined,
  };
}

const only = process.argv.slice(2);
const selected = SDKS.filter((s) => !only.length || only.some((o) => s.name.includes(o)));
if (selected.some((s) => s.name in PEERS)) peers = peerModules();
const server = createServer(serve);
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const executablePath = findChromium();
if (!executablePath) throw new Error("Chromium not found: run `node test/e2e/ensure-chromium.ts`.");
const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
const rows = [];
const failed: string[] = [];
try {
  for (const sdk of selected) {
    try {
      rows.push(await measure(browser, origin, sdk));
    } catch (e) {
      failed.push(`${sdk.name}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
} finally {
  await browser.close();
  server.close();
}

const f = (n: number, digits = 1) => n.toFixed(digits);
console.log(
  `\n${CALLS} track() calls per SDK, Chromium ${browser.version()}, cross-origin isolated page, sink on loopback\n`,
);
console.log(
  "| SDK | ready (ms): median (range) | track() median (µs) | p95 (µs) | long tasks (longest ms) | delivered | requests | time to deliver (ms) | on the wire (KB) | B/event |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows)
  console.log(
    `| ${r.sdk} | ${f(r.ready)} (${f(r.readyRange[0] ?? 0)}–${f(r.readyRange[1] ?? 0)}) | ${f(r.perCall, 2)} | ${f(r.p95, 2)} | ${r.longTasks}${r.longTasks ? ` (${f(r.longest, 0)})` : ""} | ${r.delivered} | ${r.requests} | ${r.deliverMs === undefined ? `— (> ${WAIT_MS / 1000} s)` : f(r.deliverMs, 0)} | ${f(r.bytes / 1000, 0)} | ${r.delivered ? f(r.bytes / r.delivered, 0) : "—"} |`,
  );
for (const line of failed) console.log(`| ${line} | | | | | | | | | |`);
// Bytes per event mean nothing for an SDK that sent nothing (posthog-js offline may wait for its remote config).
for (const r of rows)
  if (!r.delivered)
    console.log(`\n${r.sdk}: sent no events to the sink within ${WAIT_MS / 1000} s, so no bytes per event.`);
for (const r of rows)
  if (r.setup !== undefined) console.log(`\n${r.sdk}: setup deferred to the task after init: ${f(r.setup)} ms`);
for (const r of rows)
  if (r.longTasks) console.log(`${r.sdk}: ${r.during} of ${r.longTasks} long tasks began during the page's call loop`);
