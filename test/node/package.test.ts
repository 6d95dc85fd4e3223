import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodeResolve from "@rollup/plugin-node-resolve";
import { rollup, type RollupLog } from "rollup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The package as a store's app gets it: `npm pack` of this project (dist/esm, from `npm run build`),
 * the tarball installed into a scratch app with its dependencies from the registry (or npm's cache),
 * then imported from Node, type-checked as a TypeScript app and bundled with rollup as a store's
 * build would bundle it.
 */

const ROOT = process.cwd();
let dir = "";
let app = "";
let packed: { filename: string; files: { path: string }[] } | undefined;

const npm = (args: string[], cwd: string) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" });

beforeAll(() => {
  if (!existsSync("dist/esm/index.js")) throw new Error("dist/esm is missing: run `npm run build` first.");
  dir = mkdtempSync(join(tmpdir(), "nudge-package-"));
  [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], ROOT)) as NonNullable<typeof packed>[];
  app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "a-store", private: true, type: "module" }));
  // The registry is asked only for what npm's cache lacks (idb-keyval's metadata, on a fresh machine).
  npm(["install", "--prefer-offline", join(dir, packed?.filename ?? "")], app);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("should hold the ES modules and their types, and nothing of the Worker, demo or tests", () => {
    const files = packed?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining(["package.json", "README.md", "dist/esm/index.js", "dist/esm/index.d.ts"]),
    );
    expect(files.filter((f) => !f.startsWith("dist/esm/") && !["package.json", "README.md"].includes(f))).toEqual([]);
  });

  it("should import from Node as an ES module, with every command", () => {
    const script = `import * as nudge from "nudge"; console.log(JSON.stringify(Object.keys(nudge).sort()));`;
    const exported = JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8" }),
    );
    expect(exported).toEqual(
      expect.arrayContaining(["consent", "flush", "identify", "init", "on", "page", "reset", "track", "productAdded"]),
    );
  }, 60_000);

  it.each(["bundler", "nodenext"])(
    "should type-check a TypeScript app resolving modules with %s",
    (resolution) => {
      writeFileSync(
        join(app, "typed.ts"),
        `import { init, productAdded, track, type InitOptions } from "nudge";
const options: InitOptions = { key: "pk_live_store", requireConsent: true };
init(options);
track("Product Viewed", { product_id: "E7247" });
productAdded({ id: "E7247", price: 79 });
// @ts-expect-error: a command the package does not have
import { trak } from "nudge";
`,
      );
      const tsc = spawnSync(
        join(ROOT, "node_modules/.bin/tsc"),
        ["--noEmit", "--strict", "--skipLibCheck", "false", "--types", "", "--lib", "ES2022,DOM"].concat([
          "--module",
          resolution === "bundler" ? "esnext" : "nodenext",
          "--moduleResolution",
          resolution,
          "typed.ts",
        ]),
        { cwd: app, encoding: "utf8" },
      );
      expect(tsc.stdout + tsc.stderr).toBe("");
      expect(tsc.status).toBe(0);
    },
    60_000,
  );

  it("should bundle into a store's app with idb-keyval resolved from the app's own install", async () => {
    writeFileSync(
      join(app, "main.js"),
      `import { init, track } from "nudge";\ninit({ key: "pk_live_store" });\ntrack("Product Viewed", { product_id: "E7247" });\n`,
    );
    const warnings: RollupLog[] = [];
    const build = await rollup({
      input: join(app, "main.js"),
      plugins: [nodeResolve({ browser: true, rootDir: app })],
      onwarn: (w) => void warnings.push(w),
    });
    const { output } = await build.generate({ format: "es" });
    await build.close();
    const [chunk] = output;
    expect(warnings.map((w) => w.code)).not.toContain("UNRESOLVED_IMPORT");
    const bundled = Object.entries(chunk.modules)
      .filter(([, m]) => m.renderedLength > 0)
      .map(([id]) => id.slice(app.length + 1));
    expect(bundled).toEqual(
      expect.arrayContaining([
        "node_modules/nudge/dist/esm/index.js",
        expect.stringMatching(/^node_modules\/idb-keyval\/dist\/.+\.js$/),
        "main.js",
      ]),
    );
    expect(chunk.imports).toEqual([]);
    expect(chunk.code).toContain("/v1/batch");
  }, 60_000);
});
