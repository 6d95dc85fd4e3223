import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { STUB_FILE, stubLoading } from "../../sdk/scripts/snippet";
import { fakeServer, freshPage } from "./helpers";

/**
 * The shipped files, not the source: the minified, property-mangled script-tag build
 * (dist/cdn/sdk/nudge.js) and the loader stub with the demo's SDK address filled in as `npm run snippet`
 * fills it (sdk/scripts/snippet.ts), run in this happy-dom window as a merchant's page
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
const STUB = stubLoading(read(STUB_FILE), "/sdk/nudge.js");
const ENDPOINT = "https://nudge.example";

type Nudge = (command: string, ...args: unknown[]) => unknown;
const win = window as unknown as { nudge?: Nudge & { q?: unknown[] } };
const run = (code: string) => new Function(code)();

beforeEach(async () => {
  await freshPage();
  nextPage();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  setHidden(false);
});

/** The page's visibility; with `notify`, a visibilitychange as when a tab is switched or closed. */
function setHidden(hidden: boolean, notify = false) {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(document, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  if (notify) document.dispatchEvent(new Event("visibilitychange"));
}
const stubKeys = () => Object.keys(localStorage).filter((k) => k.startsWith("nudge_q"));
/** The stubs' visibilitychange listeners: a closed page's are gone with it. */
const stubListeners: EventListener[] = [];
function runStub() {
  const add = vi.spyOn(document, "addEventListener");
  run(STUB);
  for (const [type, listener] of add.mock.calls)
    if (type === "visibilitychange") stubListeners.push(listener as EventListener);
  add.mockRestore();
}
/** A new page in the same browser: the old one's globals, scripts and listeners gone, storage kept. */
function nextPage() {
  for (const listener of stubListeners.splice(0)) document.removeEventListener("visibilitychange", listener);
  delete win.nudge;
  for (const s of document.querySelectorAll("script")) s.remove();
  setHidden(false); // the old page is gone, not shown again: no event
}

describe("the minified bundle", () => {
  it("should replay what the stub queued and send it in one batch", async () => {
    const server = fakeServer(200);
    runStub();
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
    // Gzipped, the context once for the batch (the mangled build keeps the wire names).
    const { wire } = server.requests[0] as (typeof server.requests)[0];
    expect(wire.gzip).toBe(true);
    expect(wire.json.context).toEqual(events[0]?.context);
    expect(wire.json.batch.filter((e) => "context" in e)).toEqual([]);
  });

  it("should keep the stub's calls when the page hides before the SDK arrives, and send them from the next page", async () => {
    const server = fakeServer(200);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-11-23T09:00:00Z") });
    runStub();
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT });
    win.nudge?.("productViewed", { id: "E7247", price: 79 });
    setHidden(true, true); // closed before nudge.js arrived
    expect(stubKeys()).toHaveLength(1);
    vi.setSystemTime(Date.parse("2026-11-23T09:05:00Z"));

    nextPage();
    runStub();
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT });
    run(SDK);
    await win.nudge?.("flush");
    const events = server.events();
    // The earlier page's call first, at its own time; its init is not replayed (this page has one).
    expect(events.map((e) => e.event ?? e.type)).toEqual(["Product Viewed", "page"]);
    expect(events[0]).toMatchObject({ timestamp: "2026-11-23T09:00:00.000Z", properties: { product_id: "E7247" } });
    expect(events[1]?.timestamp).toBe("2026-11-23T09:05:00.000Z");
    expect(stubKeys()).toEqual([]);
    await win.nudge?.("flush");
    expect(server.events()).toHaveLength(2);
  });

  it("should give a kept stub call the same messageId wherever it is replayed, so the server stores it once", async () => {
    const server = fakeServer(200);
    runStub();
    const pageA = win.nudge;
    pageA?.("init", { key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    pageA?.("track", "Kept");
    setHidden(true, true); // page A is switched away from before its SDK arrives: its calls are kept

    // Meanwhile page B, in another tab, loads and replays what page A kept.
    nextPage();
    runStub();
    win.nudge?.("init", { key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    run(SDK);
    await win.nudge?.("flush");

    // Page A's SDK arrives after all, and replays its queue from memory.
    win.nudge = pageA;
    run(SDK);
    await win.nudge?.("flush");
    const kept = server.events().filter((e) => e.event === "Kept");
    expect(kept).toHaveLength(2);
    expect(kept[1]?.messageId).toBe(kept[0]?.messageId);
    expect(kept[1]?.timestamp).toBe(kept[0]?.timestamp);
  });

  it("should take the kept calls back when the page is shown again, and keep nothing without consent or with a privacy signal", () => {
    runStub();
    win.nudge?.("track", "Switched");
    setHidden(true, true);
    expect(stubKeys()).toHaveLength(1);
    setHidden(false, true); // back to the tab: the SDK will replay them from memory
    expect(stubKeys()).toEqual([]);

    nextPage();
    runStub();
    win.nudge?.("init", { key: "pk_test", requireConsent: true });
    win.nudge?.("track", "Private");
    setHidden(true, true);
    expect(stubKeys()).toEqual([]);

    nextPage();
    Object.defineProperty(navigator, "globalPrivacyControl", { value: true, configurable: true });
    try {
      runStub();
      win.nudge?.("track", "Private");
      setHidden(true, true);
      expect(stubKeys()).toEqual([]);
    } finally {
      Object.defineProperty(navigator, "globalPrivacyControl", { value: undefined, configurable: true });
    }
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
