import { capAllows, inAudience, needsVisitor, onPage, outcome, pick, resume, shown } from "./rules";
import type { History } from "./rules";
import { watch } from "./signals";
import type { OnsiteConfig, Visitor, Widget } from "../contract";
import type { Host } from "./types";

// Opt-in email capture (init({ captureEmails: true })) loads with this chunk: see client.ts.
export { watchEmails } from "../capture";

/**
 * The onsite chunk (dist/cdn/sdk/onsite.js), loaded by the core once the config lists widgets.
 * It arms each widget's trigger and, when one fires, loads the widget chunk and shows the
 * highest-priority widget that is allowed — one at a time.
 */

const STORE = "nudge_onsite";

export interface Shown {
  widget: Widget;
  config: OnsiteConfig;
  host: Host;
  launcher?: Element;
  /** Called once when the widget closes: how it ended, if the shopper acted on it. */
  done(result?: "dismissed" | "converted"): void;
}

function read(): unknown {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "null");
  } catch {
    return null;
  }
}

function write(h: History): void {
  try {
    localStorage.setItem(STORE, JSON.stringify(h));
  } catch {
    // Storage off: caps hold for this page only.
  }
}

/** How the widget chunk is loaded; tests swap it for a direct import. */
export const chunk = { load: () => import("../widgets/index") };

export async function start(config: OnsiteConfig, host: Host, win: Window = window): Promise<() => void> {
  let history = resume(read(), Date.now());
  write(history);
  const live = config.widgets;
  let visitor: Visitor | null = null;
  if (live.some((w) => needsVisitor(w) && onPage(w, win.location.pathname))) {
    try {
      const url = `${host.endpoint}/v1/sdk/visitor?key=${encodeURIComponent(host.key)}&aid=${encodeURIComponent(host.aid())}`;
      const res = await fetch(url);
      if (res.ok) visitor = (await res.json()) as Visitor;
    } catch {
      // Offline or blocked: widgets that need the visitor stay hidden.
    }
  }
  // Page rules are checked when a trigger fires, not at load: single-page stores change the URL
  // without reloading, and a widget armed on one page may fire on the next.
  const allowed = (w: Widget) =>
    onPage(w, win.location.pathname) && inAudience(w, visitor, history) && capAllows(w, history, Date.now());
  const touch = win.matchMedia?.("(pointer: coarse)").matches ?? false;
  let open = false;
  let fired: [Widget, Element | undefined][] = [];

  const decide = () => {
    const batch = fired.filter(([w]) => allowed(w));
    fired = [];
    const w = pick(batch.map(([w]) => w));
    if (open || !w) return;
    open = true;
    const done = (result?: "dismissed" | "converted") => {
      open = false;
      if (result) history = outcome(history, w, result);
      write(history);
    };
    chunk
      .load()
      .then((m) => {
        m.show({ widget: w, config, host, launcher: batch.find(([b]) => b === w)?.[1], done });
        // Counted once it is on screen: a chunk that failed to load does not use up a cap.
        history = shown(history, w, Date.now());
        write(history);
        host.track("Widget Shown", { widget_id: w.id, widget_type: w.type });
      })
      .catch(() => {
        open = false;
      });
  };

  // Triggers that fire in the same tick (e.g. two on load) compete by priority.
  const stops = live
    .filter((w) => inAudience(w, visitor, history))
    .map((w) =>
      watch(
        w.trigger,
        touch,
        (launcher) => {
          fired.push([w, launcher]);
          if (fired.length === 1) win.setTimeout(decide, 0);
        },
        win,
      ),
    );
  // Launchers work from now on; a store (or a test) can wait for this before offering them.
  win.document.documentElement.setAttribute("data-nudge-onsite", "ready");
  return () => {
    for (const s of stops) s();
  };
}
