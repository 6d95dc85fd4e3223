import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The Worker's layers, lowest first: a module may import its own directory and anything listed
 * before its layer, never after it. A top-level file (`env.ts`, `index.ts`) is a layer of its own.
 *
 *  - env, lib: bindings and pure helpers (values, money, crypto, http, clock, links);
 *  - model: D1 tables as plain functions, and the events every layer passes around;
 *  - segments, onsite, promotions, channels: domain pieces that need nothing but the model;
 *  - campaigns: definitions and the engine (rules from segments, codes from promotions, channels);
 *  - ingest: applies events to the model and hands them to the campaign engine;
 *  - results, jobs, admin: what reads campaign results, the cron work, the dashboard's sessions;
 *  - routes: one Hono sub-app per resource; index.ts wires them.
 */
const LAYERS = [
  "env",
  "lib",
  "model",
  "segments",
  "onsite",
  "promotions",
  "channels",
  "campaigns",
  "ingest",
  "results",
  "jobs",
  "admin",
  "routes",
  "index",
] as const;

const ROOT = resolve(import.meta.dirname, "../../worker/src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

/** Every relative module a file imports or re-exports, statically or dynamically. */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\bfrom\s*["'](\.[^"']*)["']/g,
    /\bimport\s*["'](\.[^"']*)["']/g,
    /\bimport\(\s*["'](\.[^"']*)["']/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) if (m[1]) specs.push(m[1]);
  return specs;
}

/** The layer a path under worker/src belongs to: its first directory, or a top-level file's name. */
const unitOf = (path: string) => path.split("/")[0]?.replace(/\.ts$/, "") ?? "";

interface Violation {
  file: string;
  imports: string;
  why: string;
}

/** Imports that go up the layers or sideways into an unlisted directory; imports outside worker/src are not layered. */
function violations(files: { path: string; source: string }[]): Violation[] {
  const rank = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
  const out: Violation[] = [];
  for (const { path, source } of files) {
    const from = unitOf(path);
    for (const spec of importsOf(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(path), spec));
      if (target.startsWith("..")) continue;
      const to = unitOf(target);
      if (to === from) continue;
      const a = rank.get(from);
      const b = rank.get(to);
      if (a === undefined) out.push({ file: path, imports: spec, why: `${from}/ is in no layer (add it to LAYERS)` });
      else if (b === undefined)
        out.push({ file: path, imports: spec, why: `${to}/ is in no layer (add it to LAYERS)` });
      else if (b > a) out.push({ file: path, imports: spec, why: `${from} may not import ${to}, a higher layer` });
    }
  }
  return out;
}

/** Directory cycles (a → b → … → a) in the graph of imports between layers' directories. */
function directoryCycles(files: { path: string; source: string }[]): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const { path, source } of files)
    for (const spec of importsOf(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(path), spec));
      const [from, to] = [unitOf(path), unitOf(target)];
      if (target.startsWith("..") || from === to) continue;
      edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  const cycles: string[][] = [];
  const walk = (node: string, trail: string[]) => {
    for (const next of edges.get(node) ?? []) {
      if (next === trail[0]) cycles.push([...trail, next]);
      else if (!trail.includes(next) && next > (trail[0] ?? "")) walk(next, [...trail, next]);
    }
  };
  for (const start of edges.keys()) walk(start, [start]);
  return cycles;
}

const worker = sourceFiles(ROOT).map((file) => ({
  path: relative(ROOT, file),
  source: readFileSync(file, "utf8"),
}));

describe("the Worker's layers", () => {
  it("should import only downward: lib ← model ← domain ← routes ← index", () => {
    expect(worker.length).toBeGreaterThan(50);
    expect(violations(worker).map((v) => `${v.file} imports ${v.imports}: ${v.why}`)).toEqual([]);
  });

  it("should have no cycle between directories", () => {
    expect(directoryCycles(worker).map((c) => c.join(" → "))).toEqual([]);
  });

  it("should name the file and the import that goes up, and every directory cycle", () => {
    const files = [
      { path: "lib/links.ts", source: `import { isDict } from "../ingest/validate";\nimport { x } from "./values";` },
      { path: "model/carts.ts", source: `import type {\n  Message,\n} from "../ingest/process";` },
      { path: "ingest/process.ts", source: `import { a } from "../campaigns/engine";` },
      { path: "campaigns/engine.ts", source: `export { b } from "../ingest/trust";\nconst c = import("../lib/x");` },
      { path: "routes/cart.ts", source: `import { authorise } from "./ingest";\nimport t from "../../../sdk/types";` },
      { path: "stray/thing.ts", source: `import { isDict } from "../lib/values";` },
    ];
    expect(violations(files)).toEqual([
      { file: "lib/links.ts", imports: "../ingest/validate", why: "lib may not import ingest, a higher layer" },
      { file: "model/carts.ts", imports: "../ingest/process", why: "model may not import ingest, a higher layer" },
      {
        file: "campaigns/engine.ts",
        imports: "../ingest/trust",
        why: "campaigns may not import ingest, a higher layer",
      },
      { file: "stray/thing.ts", imports: "../lib/values", why: "stray/ is in no layer (add it to LAYERS)" },
    ]);
    expect(directoryCycles(files).map((c) => c.join(" → "))).toEqual([
      "campaigns → ingest → campaigns",
      "campaigns → lib → ingest → campaigns",
    ]);
  });
});
