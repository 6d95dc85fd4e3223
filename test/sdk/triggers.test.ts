import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { init } from "../../sdk/client";
import { onsiteChunk } from "../../sdk/onsite";
import { chunk, start } from "../../sdk/triggers/index";
import type { Shown } from "../../sdk/triggers/index";
import {
  capAllows,
  inAudience,
  matchPath,
  onPage,
  outcome,
  pick,
  resume,
  SESSION_GAP,
  shown,
} from "../../sdk/triggers/rules";
import type { History } from "../../sdk/triggers/rules";
import { isTopExit, scrollPercent, scrollUpDetector, watch } from "../../sdk/triggers/signals";
import type { Visitor, Widget } from "../../sdk/contract";
import type { Host } from "../../sdk/triggers/types";
import { freshPage } from "./helpers";

const DAY = 86_400_000;
const NOW = Date.parse("2026-11-23T10:00:00Z");
const widget = (over: Partial<Widget> = {}): Widget => ({
  id: "w",
  type: "coupon",
  priority: 0,
  trigger: { on: "exit_intent" },
  ...over,
});
const history = (over: Partial<History> = {}): History => ({ first: NOW, session: NOW, last: NOW, seen: {}, ...over });
const visitor = (over: Partial<Visitor> = {}): Visitor => ({
  identified: false,
  cart: { items: 0, value: 0 },
  segments: [],
  ...over,
});

describe("page URL rules", () => {
  it.each([
    ["/product*", "/product", true],
    ["/product*", "/product?id=1", true],
    ["/product*", "/products/shoes", true],
    ["/product", "/product/x", false],
    ["*/checkout", "/eu/checkout", true],
    ["/a.b", "/axb", false],
  ])("should match %s against %s: %s", (pattern, path, expected) => {
    expect(matchPath(pattern, path)).toBe(expected);
  });

  it("should treat every character but * literally: a path always matches itself, and only itself", () => {
    const path = fc.string({
      unit: fc.constantFrom("/", "a", ".", "?", "(", "[", "+", "$", "^", "|", "\\"),
      maxLength: 12,
    });
    fc.assert(
      fc.property(path, path, (a, b) => {
        expect(matchPath(a, a)).toBe(true);
        expect(matchPath(a, b)).toBe(a === b);
        expect(matchPath(`${a}*`, a + b)).toBe(true);
      }),
    );
  });

  it("should need an include to match and no exclude to match", () => {
    const w = widget({ pages: { include: ["/product*", "/cart"], exclude: ["/product/secret"] } });
    expect(onPage(w, "/product/shoes")).toBe(true);
    expect(onPage(w, "/cart")).toBe(true);
    expect(onPage(w, "/")).toBe(false);
    expect(onPage(w, "/product/secret")).toBe(false);
    expect(onPage(widget({ pages: { exclude: ["/checkout*"] } }), "/checkout")).toBe(false);
    expect(onPage(widget(), "/anything")).toBe(true);
  });
});

describe("cart and audience conditions", () => {
  const returning = history({ first: NOW - 3 * DAY });
  it.each<[string, Partial<Widget>, Visitor | null, History, boolean]>([
    ["no conditions", {}, null, history(), true],
    ["new visitor, first session", { audience: { visitor: "new" } }, null, history(), true],
    ["new visitor, returning", { audience: { visitor: "new" } }, null, returning, false],
    ["returning visitor, returning", { audience: { visitor: "returning" } }, null, returning, true],
    ["returning visitor, first session", { audience: { visitor: "returning" } }, null, history(), false],
    ["identified, is", { audience: { identified: true } }, visitor({ identified: true }), history(), true],
    ["identified, is not", { audience: { identified: true } }, visitor(), history(), false],
    [
      "anonymous only, identified",
      { audience: { identified: false } },
      visitor({ identified: true }),
      history(),
      false,
    ],
    ["segment member", { audience: { segment: "customer" } }, visitor({ segments: ["customer"] }), history(), true],
    ["segment non-member", { audience: { segment: "customer" } }, visitor(), history(), false],
    [
      "has cart, with items",
      { cart: { hasItems: true } },
      visitor({ cart: { items: 2, value: 5000 } }),
      history(),
      true,
    ],
    ["has cart, empty", { cart: { hasItems: true } }, visitor(), history(), false],
    ["cart ≥ £50, £50", { cart: { minValue: 5000 } }, visitor({ cart: { items: 1, value: 5000 } }), history(), true],
    [
      "cart ≥ £50, £49.99",
      { cart: { minValue: 5000 } },
      visitor({ cart: { items: 1, value: 4999 } }),
      history(),
      false,
    ],
    ["needs the visitor, unknown (offline)", { cart: { hasItems: true } }, null, history(), false],
  ])("%s → %s", (_name, over, v, h, expected) => {
    expect(inAudience(widget(over), v, h)).toBe(expected);
  });
});

describe("frequency caps", () => {
  const w = (cap: Widget["cap"]) => widget({ cap });
  const seen = (s: Partial<History["seen"][string]>, h = history()) =>
    history({ ...h, seen: { w: { at: NOW, n: 1, s: NOW, ...s } } });

  it("should allow what was never shown", () => {
    expect(capAllows(w({ session: 1, days: 7, dismiss: true, convert: true }), history(), NOW)).toBe(true);
  });

  it("should allow N per session, and again in a new session", () => {
    expect(capAllows(w({ session: 2 }), seen({ n: 1 }), NOW)).toBe(true);
    expect(capAllows(w({ session: 2 }), seen({ n: 2 }), NOW)).toBe(false);
    expect(capAllows(w({ session: 2 }), seen({ n: 2 }, history({ session: NOW + DAY })), NOW + DAY)).toBe(true);
  });

  it("should wait N days between shows", () => {
    expect(capAllows(w({ days: 7 }), seen({}), NOW + 6 * DAY)).toBe(false);
    expect(capAllows(w({ days: 7 }), seen({}), NOW + 7 * DAY)).toBe(true);
  });

  it("should never show again after a dismiss or a conversion when so capped", () => {
    expect(capAllows(w({ dismiss: true }), seen({ dismissed: 1 }), NOW + 365 * DAY)).toBe(false);
    expect(capAllows(w({ convert: true }), seen({ converted: 1 }), NOW + 365 * DAY)).toBe(false);
    expect(capAllows(w({ convert: true }), seen({ dismissed: 1 }), NOW)).toBe(true);
  });

  it("should let a launcher open its widget whatever the caps: the shopper asked", () => {
    const launcher = widget({ trigger: { on: "click", selector: "button" }, cap: { session: 1 } });
    expect(capAllows(launcher, seen({ n: 5 }), NOW)).toBe(true);
  });

  it("should count shows per session and record outcomes", () => {
    const x = widget();
    let h = shown(history(), x, NOW);
    h = shown(h, x, NOW + 1);
    expect(h.seen.w).toMatchObject({ n: 2, at: NOW + 1 });
    h = shown({ ...h, session: NOW + DAY }, x, NOW + DAY);
    expect(h.seen.w?.n).toBe(1);
    expect(outcome(h, x, "converted").seen.w).toMatchObject({ converted: 1, n: 1 });
  });

  it("should continue a session within 30 minutes and start a new one after", () => {
    const stored = history({ session: NOW, last: NOW });
    expect(resume(stored, NOW + SESSION_GAP - 1).session).toBe(NOW);
    expect(resume(stored, NOW + SESSION_GAP + 1).session).toBe(NOW + SESSION_GAP + 1);
    expect(resume("garbage", NOW)).toEqual(history());
  });
});

describe("one widget at a time by priority", () => {
  it("should pick the highest priority, the first on a tie", () => {
    const a = widget({ id: "a", priority: 1 });
    const b = widget({ id: "b", priority: 5 });
    const c = widget({ id: "c", priority: 5 });
    expect(pick([a, b, c])?.id).toBe("b");
    expect(pick([])).toBeUndefined();
  });
});

describe("signal detectors", () => {
  it.each([
    [{ clientY: 0, relatedTarget: null }, true],
    [{ clientY: 15, relatedTarget: null }, true],
    [{ clientY: 300, relatedTarget: null }, false], // left through the side or bottom
    [{ clientY: 0, relatedTarget: {} as EventTarget }, false], // moved onto another element
  ])("desktop exit intent %o → %s", (e, expected) => {
    expect(isTopExit(e, 20)).toBe(expected);
  });

  it("should see a fast scroll up after reading down the page, not a slow one or one at the top", () => {
    const fast = scrollUpDetector();
    const down = [0, 200, 400, 600, 800].map((y, i) => fast(y, i * 100));
    expect(down.every((x) => !x)).toBe(true);
    expect(fast(650, 2000)).toBe(false); // the earlier 800 px is stale: this was a pause, not a flick
    expect(fast(480, 2100)).toBe(true); // 170 px up in 100 ms

    const slow = scrollUpDetector();
    for (const [i, y] of [0, 400, 800].entries()) slow(y, i * 100);
    const drift = [760, 720, 680, 640, 600, 560].map((y, i) => slow(y, 1000 + i * 400));
    expect(drift.some((x) => x)).toBe(false);

    const shallow = scrollUpDetector();
    shallow(0, 0);
    shallow(300, 100);
    expect(shallow(100, 150)).toBe(false); // never read far enough down
  });

  it.each([
    [0, 800, 4000, 20],
    [3200, 800, 4000, 100],
    [0, 800, 600, 100],
  ])("scroll depth at y=%i (viewport %i, page %i) is %i%%", (y, vh, h, expected) => {
    expect(scrollPercent(y, vh, h)).toBe(expected);
  });
});

describe("trigger watchers in a page", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("should fire desktop exit intent only after the delay and through the top", () => {
    const fire = vi.fn();
    const stop = watch({ on: "exit_intent", value: 20, delay: 1000 }, false, fire);
    const leave = (clientY: number) =>
      document.dispatchEvent(new MouseEvent("mouseout", { clientY, relatedTarget: null }));
    leave(5);
    expect(fire).not.toHaveBeenCalled(); // not armed yet
    vi.advanceTimersByTime(1000);
    leave(400);
    expect(fire).not.toHaveBeenCalled();
    leave(5);
    expect(fire).toHaveBeenCalledTimes(1);
    stop();
    leave(5);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it("should fire mobile exit intent when the shopper comes back from another tab or app", () => {
    const fire = vi.fn();
    let state: DocumentVisibilityState = "visible";
    vi.spyOn(document, "visibilityState", "get").mockImplementation(() => state);
    const stop = watch({ on: "exit_intent", delay: 1000, mobile: { tabSwitch: true } }, true, fire);
    const flip = (to: DocumentVisibilityState) => {
      state = to;
      document.dispatchEvent(new Event("visibilitychange"));
    };
    flip("hidden");
    flip("visible");
    expect(fire).not.toHaveBeenCalled(); // switched away before engaging
    vi.advanceTimersByTime(1500);
    flip("hidden");
    expect(fire).not.toHaveBeenCalled(); // cannot show while hidden
    flip("visible");
    expect(fire).toHaveBeenCalledTimes(1);
    stop();
  });

  it("should fire mobile exit intent on a fast scroll back up, and after inactivity when asked", () => {
    const fire = vi.fn();
    let y = 0;
    vi.spyOn(window, "scrollY", "get").mockImplementation(() => y);
    const stop = watch({ on: "exit_intent", delay: 0, mobile: { scrollUp: true, inactivity: 20 } }, true, fire);
    const scrollTo = (to: number, after: number) => {
      vi.advanceTimersByTime(after);
      y = to;
      window.dispatchEvent(new Event("scroll"));
    };
    for (const to of [300, 600, 900]) scrollTo(to, 200); // reading down
    scrollTo(850, 1000); // a small, slow correction
    expect(fire).not.toHaveBeenCalled();
    scrollTo(750, 50);
    scrollTo(650, 50); // 200 px up in 100 ms
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(20_000); // then nothing happens for 20 s
    expect(fire).toHaveBeenCalledTimes(2);
    stop();
  });

  it("should fire on inactivity, reset by activity", () => {
    const fire = vi.fn();
    const stop = watch({ on: "inactivity", value: 30 }, false, fire);
    vi.advanceTimersByTime(20_000);
    window.dispatchEvent(new Event("keydown"));
    vi.advanceTimersByTime(20_000);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(10_000);
    expect(fire).toHaveBeenCalledTimes(1);
    stop();
  });

  it("should fire on time on page", () => {
    const fire = vi.fn();
    watch({ on: "time", value: 15 }, false, fire);
    vi.advanceTimersByTime(14_999);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it("should fire on scroll depth", () => {
    const fire = vi.fn();
    Object.defineProperty(document.documentElement, "scrollHeight", { configurable: true, value: 4000 });
    vi.spyOn(window, "innerHeight", "get").mockReturnValue(1000);
    const stop = watch({ on: "scroll", value: 50 }, false, fire);
    vi.spyOn(window, "scrollY", "get").mockReturnValue(500);
    window.dispatchEvent(new Event("scroll"));
    expect(fire).not.toHaveBeenCalled();
    vi.spyOn(window, "scrollY", "get").mockReturnValue(1000);
    window.dispatchEvent(new Event("scroll"));
    expect(fire).toHaveBeenCalledTimes(1);
    stop();
  });

  it("should fire a launcher with the clicked element and keep the store's default action", () => {
    document.body.innerHTML = `<a href="#x" data-nudge-open="friend" data-product-id="E7247"><span>Share</span></a><button id="other">x</button>`;
    const fire = vi.fn();
    const stop = watch({ on: "click", selector: "[data-nudge-open=friend]" }, false, fire);
    (document.querySelector("#other") as HTMLElement).click();
    expect(fire).not.toHaveBeenCalled();
    const click = new MouseEvent("click", { bubbles: true, cancelable: true });
    document.querySelector("span")?.dispatchEvent(click);
    expect(fire).toHaveBeenCalledWith(document.querySelector("a"));
    expect(click.defaultPrevented).toBe(true);
    stop();
  });

  it("should offer the opt-in back-navigation signal only when asked", () => {
    // happy-dom keeps no history state, so a window whose history does.
    const entries: unknown[] = [null];
    const win = Object.assign(new EventTarget(), {
      document,
      history: {
        get state() {
          return entries.at(-1);
        },
        pushState: (state: unknown) => entries.push(state),
      },
    }) as unknown as Window;
    const fire = vi.fn();
    watch({ on: "exit_intent", delay: 0, mobile: { tabSwitch: true } }, true, fire, win)();
    expect(entries).toHaveLength(1); // not asked: history untouched
    const stop = watch({ on: "exit_intent", delay: 0, mobile: { back: true } }, true, fire, win);
    expect(entries).toEqual([null, { nudgeExit: 1 }]);
    entries.pop(); // the shopper pressed back
    win.dispatchEvent(new Event("popstate"));
    expect(fire).toHaveBeenCalledTimes(1);
    stop();
  });
});

describe("start: from config to one widget", () => {
  const host: Host = { endpoint: "https://nudge.example", key: "pk_test", aid: () => "aid-1", track: vi.fn() };
  let shows: Shown[];
  beforeEach(() => {
    localStorage.clear();
    shows = [];
    vi.spyOn(chunk, "load").mockResolvedValue({
      show: (s: Shown) => {
        shows.push(s);
        return () => {};
      },
    });
  });
  afterEach(() => vi.restoreAllMocks());
  const tick = () => new Promise((r) => setTimeout(r, 50));

  it("should show the highest-priority widget when two fire together, and cap by session", async () => {
    const low = widget({ id: "low", priority: 1, trigger: { on: "load" } });
    const high = widget({ id: "high", priority: 9, trigger: { on: "load" }, cap: { session: 1 } });
    const stop = await start({ widgets: [low, high] }, host);
    await vi.waitFor(() => expect(shows.map((s) => s.widget.id)).toEqual(["high"]));
    await tick();
    expect(shows).toHaveLength(1); // one at a time
    expect(host.track).toHaveBeenCalledWith("Widget Shown", { widget_id: "high", widget_type: "coupon" });
    shows[0]?.done("dismissed");
    stop();

    // Same session, next page: `high` is capped, so `low` shows.
    await start({ widgets: [low, high] }, host);
    await vi.waitFor(() => expect(shows.map((s) => s.widget.id)).toEqual(["high", "low"]));
  });

  it("should ask the server about the visitor only when a rule needs it, and respect the cart rule", async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify(visitor({ cart: { items: 1, value: 1000 } }))));
    vi.stubGlobal("fetch", fetchMock);
    await start({ widgets: [widget({ id: "any", trigger: { on: "load" } })] }, host);
    await vi.waitFor(() => expect(shows).toHaveLength(1));
    expect(fetchMock).not.toHaveBeenCalled();

    shows = [];
    await start({ widgets: [widget({ id: "big-cart", trigger: { on: "load" }, cart: { minValue: 5000 } })] }, host);
    await tick();
    expect(fetchMock).toHaveBeenCalledWith("https://nudge.example/v1/sdk/visitor?key=pk_test&aid=aid-1");
    expect(shows).toHaveLength(0);
    vi.unstubAllGlobals();
  });
});

describe("the core's onsite hook", () => {
  beforeEach(freshPage);
  afterEach(() => vi.restoreAllMocks());
  const config = { widgets: [widget({ trigger: { on: "load" } })] };

  it("should fetch the config after init and load the onsite chunk only when widgets are live", async () => {
    const begin = vi.fn();
    const load = vi.spyOn(onsiteChunk, "load").mockResolvedValue({ start: begin });
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(config)));
    vi.stubGlobal("fetch", fetchMock);
    init({ key: "pk_test", endpoint: "https://nudge.example", trackPages: false });
    await vi.waitFor(() => expect(begin).toHaveBeenCalledTimes(1));
    expect(fetchMock.mock.calls[0]?.[0]).toBe("https://nudge.example/v1/sdk/config?key=pk_test");
    expect(load).toHaveBeenCalledWith("https://nudge.example/sdk/onsite.js");
    const [given, lent] = begin.mock.calls[0] as [unknown, Host];
    expect(given).toEqual(config);
    expect(lent.aid()).toBe(localStorage.getItem("nudge_aid"));
  });

  it("should load nothing more when the site has no widgets, and not even ask when turned off", async () => {
    const load = vi.spyOn(onsiteChunk, "load");
    const fetchMock = vi.fn(async () => new Response('{"widgets":[]}'));
    vi.stubGlobal("fetch", fetchMock);
    init({ key: "pk_test", endpoint: "https://nudge.example", trackPages: false });
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(load).not.toHaveBeenCalled();

    await freshPage();
    vi.stubGlobal("fetch", fetchMock);
    init({ key: "pk_test", endpoint: "https://nudge.example", trackPages: false, onsite: false });
    await new Promise((r) => setTimeout(r, 20));
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});

describe("start on a single-page store", () => {
  afterEach(() => vi.restoreAllMocks());

  it("should check page rules when the trigger fires, so a URL change without reload counts", async () => {
    localStorage.clear();
    const shows: string[] = [];
    vi.spyOn(chunk, "load").mockResolvedValue({
      show: (s: Shown) => {
        shows.push(s.widget.id);
        s.done();
        return () => {};
      },
    });
    document.body.innerHTML = `<button data-share>Share</button>`;
    window.history.pushState(null, "", "/");
    const share = widget({
      id: "share",
      trigger: { on: "click", selector: "[data-share]" },
      pages: { include: ["/product*"] },
    });
    const host: Host = { endpoint: "https://nudge.example", key: "pk", aid: () => "a", track: () => {} };
    const stop = await start({ widgets: [share] }, host);
    (document.querySelector("[data-share]") as HTMLElement).click();
    await new Promise((r) => setTimeout(r, 20));
    expect(shows).toEqual([]); // not on a product page

    window.history.pushState(null, "", "/product/e7247");
    (document.querySelector("[data-share]") as HTMLElement).click();
    await vi.waitFor(() => expect(shows).toEqual(["share"]));
    stop();
  });
});

describe("start when the widget chunk cannot load", () => {
  afterEach(() => vi.restoreAllMocks());

  it("should not count the show against the caps, and try again on the next trigger", async () => {
    localStorage.clear();
    const load = vi.spyOn(chunk, "load").mockRejectedValueOnce(new Error("offline"));
    const shows: string[] = [];
    load.mockResolvedValue({
      show: (s: Shown) => {
        shows.push(s.widget.id);
        return () => {};
      },
    });
    const host: Host = { endpoint: "https://nudge.example", key: "pk", aid: () => "a", track: vi.fn() };
    const exit = widget({ id: "exit", trigger: { on: "exit_intent", delay: 0 }, cap: { session: 1 } });
    await start({ widgets: [exit] }, host);
    const leave = () => document.dispatchEvent(new MouseEvent("mouseout", { clientY: 0, relatedTarget: null }));
    leave();
    await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 20));
    expect(host.track).not.toHaveBeenCalled();
    leave();
    await vi.waitFor(() => expect(shows).toEqual(["exit"]));
  });
});
