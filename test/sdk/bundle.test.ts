import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fakeServer, freshPage } from "./helpers";

/**
 * The shipped files, not the source: the minified, property-mangled script-tag build
 * (dist/cdn/sdk/nudge.js) and the loader stub, run in this happy-dom window as a merchant's page
 * runs them. Needs `npm run build` first (npm test does it).
 */

const read = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file} is missing: run \`npm run build\` first.`);
  }
};
const SDK = read("dist/cdn/sdk/nudge.js");
const STUB = read("dist/cdn/sdk/snippet.js");
const ENDPOINT = "https://nudge.example";

type Nudge = (command: string, ...args: unknown[]) => unknown;
const win = window as unknown as { nudge?: Nudge & { q?: unknown[] } };
const run = (code: string) => new Function(code)();

beforeEach(async () => {
  await freshPage();
  delete win.nudge;
  for (const s of document.querySelectorAll("script")) s.remove();
});
afterEach(() => vi.restoreAllMocks());

describe("the minified bundle", () => {
  it("should replay what the stub queued and send it in one batch", async () => {
    const server = fakeServer(200);
    run(STUB);
    expect(document.querySelector("script[async]")?.getAttribute("src")).toBe("/sdk/nudge.js");
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT });
    win.nudge?.("track", "Product Viewed", { product_id: "E7247" });
    win.nudge?.("productAdded", { id: "E7247", price: "79.00" });
    expect(win.nudge?.q).toHaveLength(3);

    run(SDK); // the async script arrives
    expect(win.nudge?.q).toBeUndefined();
    await win.nudge?.("flush");
    expect(server.requests).toHaveLength(1);
    const events = server.events();
    expect(events.map((e) => e.event ?? e.type)).toEqual(["page", "Product Viewed", "Product Added"]);
    expect(events[2]?.properties).toEqual({ product_id: "E7247", price: 79, quantity: 1 });
    expect(events[0]?.context).toMatchObject({ library: { name: "nudge" }, page: { path: "/" } });
    expect(new Set(events.map((e) => e.messageId)).size).toBe(3);
  });

  it("should keep dev-only warnings out of the production build", async () => {
    fakeServer(200);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    run(SDK);
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    win.nudge?.("init", { key: "pk_test" }); // twice: a dev warning in development
    win.nudge?.("track", "product_added"); // a misspelt spec name: likewise
    await win.nudge?.("flush");
    expect(warn).not.toHaveBeenCalled();
    expect(SDK).not.toContain("did you mean");
  });

  it("should log calls with the debug option", async () => {
    fakeServer(200);
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    run(SDK);
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT, trackPages: false, debug: true });
    win.nudge?.("track", "Cart Viewed");
    await win.nudge?.("flush");
    const lines = debug.mock.calls.map((c) => c.slice(0, 3).join(" "));
    expect(lines.some((l) => l.startsWith("[nudge] track Cart Viewed"))).toBe(true);
    expect(lines.some((l) => l.startsWith("[nudge] sent 1"))).toBe(true);
  });

  it("should never throw into the page, whatever it is called with", async () => {
    fakeServer(200);
    vi.spyOn(console, "error").mockImplementation(() => {});
    run(SDK);
    const nudge = win.nudge as Nudge;
    const errors = vi.fn();
    nudge("on", "error", errors);
    expect(() => nudge("init", {})).not.toThrow();
    nudge("init", { key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    for (const call of [
      ["nope"],
      ["track"],
      ["track", 42],
      ["identify", { userId: {} }],
      ["orderCompleted", null],
      ["page", Symbol("x")],
      ["consent", null],
      ["on", "error", "not a function"],
    ] as [string, ...unknown[]][])
      expect(() => nudge(...call)).not.toThrow();
    await expect(nudge("flush")).resolves.toBeUndefined();
    expect(errors).toHaveBeenCalled();
  });
});
