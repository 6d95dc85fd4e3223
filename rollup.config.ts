import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { brotliCompressSync, gzipSync } from "node:zlib";
import nodeResolve from "@rollup/plugin-node-resolve";
import terser from "@rollup/plugin-terser";
import type { OutputBundle, Plugin, RollupOptions } from "rollup";
import esbuild from "rollup-plugin-esbuild";
import { SDK_URL_PLACEHOLDER } from "./sdk/scripts/snippet";

/**
 * Builds the product's browser code (the demo store has its own config, demo-store/rollup.config.ts):
 *   dist/cdn/sdk/snippet.js   the inline loader stub, with a placeholder for the SDK's address that
 *                             `npm run snippet` fills in for a store (sdk/scripts/snippet.ts)
 *   dist/cdn/sdk/nudge.js     the SDK for the script tag (IIFE), served by the Worker
 *   dist/cdn/sdk/nudge.dev.js the same, unminified, with development warnings
 *   dist/esm/                 the SDK as ES modules, for stores with their own bundler (.d.ts
 *                             emitted by `tsc -p sdk/tsconfig.types.json` in `npm run build`)
 *   dist/cdn/admin/           the merchant dashboard's script and styles
 * Each SDK entry has a gzip budget; the build fails when one is exceeded.
 */

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

/** Gzip budgets in bytes. Raising one is a decision to write down in the README, not a fix. */
const BUDGETS: Record<string, number> = {
  "snippet.js": 700,
  "nudge.js": 5 * 1024,
  // Onsite: triggers load when a site has widgets; preact + the widgets only when one shows.
  "onsite.js": 3 * 1024,
  "widgets.js": 14 * 1024,
  // The merchant dashboard (/admin): preact, the pages, the chart; loaded by merchants, not shoppers.
  "app.js": 20 * 1024,
};
/**
 * Each of the dashboard's lazily loaded chunks (the editors: campaign steps, segments builder,
 * widgets, settings, and what they share), fetched the first time a merchant opens one.
 */
const DASHBOARD_CHUNK_BUDGET = 6 * 1024;

const define = (dev: boolean) => ({
  __DEV__: String(dev),
  __VERSION__: JSON.stringify(pkg.version),
  __NUDGE_SRC__: JSON.stringify(SDK_URL_PLACEHOLDER),
});

/**
 * `core`: the SDK's script-tag build, every byte of which every shopper downloads, takes two of
 * terser's unsafe rewrites that hold for its code (−15 B gzip): object methods written as arrows
 * become method shorthand (unsafe only for a method called with `new`; none is), and comparisons
 * are reversed or negated (unsafe only for operands with getters, valueOf or NaN; the core compares
 * lengths, counts and times).
 */
export const minify = (core = false) =>
  terser({
    ecma: 2020,
    compress: {
      passes: 3,
      pure_getters: true,
      unsafe_arrows: true,
      ...(core ? { unsafe_methods: true, unsafe_comps: true } : {}),
    },
    // Internal fields start with `_`: mangling them is the single largest size win.
    mangle: { properties: { regex: /^_[a-z]/i } },
    format: { comments: false },
  });

/**
 * `target`: the core's is es2021 (logical assignment, `||=`, kept rather than spelled out): it
 * already needs Object.hasOwn (Chrome 93, Firefox 92, Safari 15.4), which came after.
 */
export const ts = (dev = false, target = "es2020") =>
  esbuild({ target, define: define(dev), tsconfig: "tsconfig.json" });

/** Prints gzip and brotli sizes and fails the build past a budget (`others`: any file not named in BUDGETS). */
function sizeBudget(others?: number): Plugin {
  return {
    name: "size-budget",
    generateBundle(_options, bundle: OutputBundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== "chunk") continue;
        const code = Buffer.from(file.code);
        const gz = gzipSync(code, { level: 9 }).length;
        const br = brotliCompressSync(code).length;
        const budget = BUDGETS[file.fileName] ?? others;
        const verdict = budget === undefined ? "" : gz <= budget ? `≤ ${budget} B budget` : `OVER ${budget} B budget`;
        console.log(
          `  ${file.fileName.padEnd(file.fileName.length > 12 ? 28 : 12)} ${String(code.length).padStart(6)} B  gzip ${String(gz).padStart(5)} B  brotli ${String(br).padStart(5)} B  ${verdict}`,
        );
        if (budget !== undefined && gz > budget)
          this.error(`${file.fileName} is ${gz} B gzip, over its ${budget} B budget`);
      }
    },
  };
}

/**
 * Stores load the SDK with a classic script tag, but the onsite chunks are ES modules imported
 * from the Worker's origin, which needs CORS. Workers static assets read `_headers`.
 */
function chunkHeaders(): Plugin {
  return {
    name: "chunk-headers",
    writeBundle() {
      writeFileSync("dist/cdn/_headers", "/sdk/*\n  Access-Control-Allow-Origin: *\n");
    },
  };
}

/** The dashboard's styles beside its script; chunks of an earlier build removed first. */
function dashboardAssets(): Plugin {
  return {
    name: "dashboard-assets",
    buildStart() {
      rmSync("dist/cdn/admin", { recursive: true, force: true });
    },
    writeBundle() {
      cpSync("dashboard/app.css", "dist/cdn/admin/app.css");
    },
  };
}

const config: RollupOptions[] = [
  {
    input: "sdk/snippet.ts",
    output: { file: "dist/cdn/sdk/snippet.js", format: "iife" },
    plugins: [ts(), minify(), sizeBudget()],
  },
  {
    input: "sdk/global.ts",
    output: { file: "dist/cdn/sdk/nudge.js", format: "iife" },
    plugins: [nodeResolve(), ts(false, "es2021"), minify(true), sizeBudget()],
  },
  {
    // Development build: readable, with the __DEV__ warnings (misspelt event names, misuse).
    input: "sdk/global.ts",
    output: { file: "dist/cdn/sdk/nudge.dev.js", format: "iife" },
    plugins: [nodeResolve(), ts(true)],
  },
  {
    // The onsite chunks, ES modules the core import()s by URL; onsite.js import()s widgets.js.
    input: { onsite: "sdk/triggers/index.ts", widgets: "sdk/widgets/index.tsx" },
    output: { dir: "dist/cdn/sdk", format: "es", entryFileNames: "[name].js", chunkFileNames: "[name].js" },
    plugins: [nodeResolve(), ts(), minify(), sizeBudget(), chunkHeaders()],
  },
  {
    input: "sdk/index.ts",
    output: { dir: "dist/esm", format: "es" },
    external: ["idb-keyval"],
    plugins: [ts()],
  },
  {
    // The merchant dashboard, served by the Worker at /admin (routes/dashboard.ts).
    // The editors are chunks of their own (hashed names: a new build is never mixed with a cached one).
    input: "dashboard/main.tsx",
    output: { dir: "dist/cdn/admin", format: "es", entryFileNames: "app.js", chunkFileNames: "[name]-[hash].js" },
    plugins: [nodeResolve(), ts(), minify(), sizeBudget(DASHBOARD_CHUNK_BUDGET), dashboardAssets()],
  },
];

export default config;
