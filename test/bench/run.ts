import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * `npm run bench`: runs every test/bench/*.bench.ts in turn (add a file to add a benchmark).
 * Benchmarks print their tables; they are measurements, not pass/fail tests.
 */
const dir = join(import.meta.dirname);
const only = process.argv.slice(2);
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .sort()) {
  if (only.length && !only.some((o) => file.includes(o))) continue;
  console.log(`\n# ${file}`);
  execFileSync(process.execPath, [join(dir, file)], { stdio: "inherit" });
}
