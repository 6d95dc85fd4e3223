import { join } from "node:path";
import { build } from "esbuild";

/**
 * The pricing engine (test/bench/promotions.ts measures it). The Worker's sources import without
 * file extensions, as bundlers expect, so node cannot run them directly: bundle, then run.
 * Run: npm run bench promotions, or node test/bench/promotions.bench.ts
 */
const { outputFiles } = await build({
  entryPoints: [join(import.meta.dirname, "promotions.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
  logLevel: "warning",
});
const code = outputFiles[0]?.text ?? "";
await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
