import type { Trigger } from "../contract";

/**
 * Trigger signals: each `watch*` listens to the page and calls `fire` when its moment comes,
 * and returns a function that stops listening. The judgement calls (is this a fast scroll up?)
 * are small pure detectors so they can be tested with numbers, not gestures.
 */

type Stop = () => void;
type Fire = (launcher?: Element) => void;

const stopAll =
  (stops: Stop[]): Stop =>
  () => {
    for (const s of stops) s();
  };

function listen(target: EventTarget, type: string, fn: (e: Event) => void, capture = false): Stop {
  const opts = { passive: !capture, capture };
  target.addEventListener(type, fn, opts);
  return () => target.removeEventListener(type, fn, opts);
}

/** Desktop exit intent: the pointer leaves the window through the top edge (towards tabs/URL bar). */
export const isTopExit = (e: { clientY: number; relatedTarget: EventTarget | null }, sensitivity: number): boolean =>
  e.relatedTarget === null && e.clientY <= sensitivity;

/**
 * Mobile exit intent: a fast scroll back up after reading down the page (reaching for the URL bar
 * or the back gesture). True when, within `windowMs`, the page moved up at least `distance` px,
 * once the visitor had been at least `depth` px down.
 */
export function scrollUpDetector({ depth = 400, distance = 150, windowMs = 300 } = {}) {
  let deepest = 0;
  let samples: [y: number, t: number][] = [];
  return (y: number, t: number): boolean => {
    deepest = Math.max(deepest, y);
    samples = samples.filter(([, st]) => t - st <= windowMs);
    samples.push([y, t]);
    const high = Math.max(...samples.map(([sy]) => sy));
    return deepest >= depth && high - y >= distance;
  };
}

/** Scroll depth in percent of the page the visitor has seen. */
export const scrollPercent = (scrollY: number, viewport: number, height: number): number =>
  height <= viewport ? 100 : Math.min(100, ((scrollY + viewport) / height) * 100);

function watchExit(t: Trigger, touch: boolean, fire: Fire, win: Window): Stop {
  const doc = win.document;
  const born = Date.now();
  const armed = () => Date.now() - born >= (t.delay ?? 3000);
  const stops: Stop[] = [];
  const go = () => armed() && fire();
  if (!touch) {
    stops.push(listen(doc, "mouseout", (e) => isTopExit(e as MouseEvent, t.value ?? 20) && go()));
    return stopAll(stops);
  }
  const m = t.mobile ?? { scrollUp: true, tabSwitch: true };
  if (m.scrollUp) {
    const up = scrollUpDetector();
    stops.push(listen(win, "scroll", () => up(win.scrollY, Date.now()) && go()));
  }
  if (m.tabSwitch) {
    // The shopper switched tab or app after engaging: show the offer when they come back.
    let away = false;
    stops.push(
      listen(doc, "visibilitychange", () => {
        if (doc.visibilityState === "hidden") away = armed();
        else if (away) {
          away = false;
          fire();
        }
      }),
    );
  }
  if (m.inactivity) stops.push(watchIdle(m.inactivity, go, win));
  if (m.back) {
    // Opt-in: one extra history entry, so "back" first shows the offer; the next back leaves.
    const state = { nudgeExit: 1 };
    win.history.pushState(state, "");
    stops.push(listen(win, "popstate", () => win.history.state?.nudgeExit !== 1 && fire()));
  }
  return stopAll(stops);
}

function watchIdle(seconds: number, fire: Fire, win: Window): Stop {
  let timer = 0;
  const reset = () => {
    win.clearTimeout(timer);
    timer = win.setTimeout(fire, seconds * 1000);
  };
  const stops = ["pointerdown", "pointermove", "keydown", "scroll", "touchstart"].map((type) =>
    listen(win, type, reset),
  );
  reset();
  return () => {
    win.clearTimeout(timer);
    for (const s of stops) s();
  };
}

/** Starts watching a trigger. `touch` picks the mobile exit-intent signals. */
export function watch(t: Trigger, touch: boolean, fire: Fire, win: Window = window): Stop {
  switch (t.on) {
    case "exit_intent":
      return watchExit(t, touch, fire, win);
    case "time": {
      const timer = win.setTimeout(fire, (t.value ?? 10) * 1000);
      return () => win.clearTimeout(timer);
    }
    case "inactivity":
      return watchIdle(t.value ?? 30, fire, win);
    case "scroll":
      return listen(win, "scroll", () => {
        const d = win.document.documentElement;
        if (scrollPercent(win.scrollY, win.innerHeight, d.scrollHeight) >= (t.value ?? 50)) fire();
      });
    case "click":
      // Capture phase: the launcher works even if the store's own handlers stop propagation.
      return listen(
        win.document,
        "click",
        (e) => {
          const el = t.selector ? (e.target as Element | null)?.closest?.(t.selector) : null;
          if (!el) return;
          e.preventDefault();
          fire(el);
        },
        true,
      );
    case "load": {
      const timer = win.setTimeout(fire, 0);
      return () => win.clearTimeout(timer);
    }
  }
}
