import * as api from "./client";
import { loadedFrom, report } from "./client";
import * as cart from "./ecommerce";

/**
 * The script-tag build: replays what the snippet stub queued, then becomes `window.nudge`.
 * `<script src=".../nudge.js" data-key="pk_…" data-endpoint="…">` works without the stub too.
 */

type Command = keyof typeof commands;
type Call = [string, ...unknown[]];

const commands = {
  init: api.init,
  identify: api.identify,
  track: api.track,
  page: api.page,
  consent: api.consent,
  reset: api.reset,
  on: api.on,
  flush: api.flush,
  // Cart helpers: nudge('productAdded', { product_id, price, quantity }) and so on.
  ...cart,
};

interface Stub {
  (...call: Call): unknown;
  q?: Call[];
}

const w = window as unknown as { nudge?: Stub };
const script = document.currentScript as HTMLScriptElement | null;

function nudge(command: string, ...args: unknown[]): unknown {
  try {
    const fn = Object.hasOwn(commands, command)
      ? (commands[command as Command] as (...a: unknown[]) => unknown)
      : undefined;
    if (!fn) throw new TypeError(`nudge: unknown command "${command}"`);
    return fn(...args);
  } catch (e) {
    // Misuse of init is the one error worth surfacing loudly; it is still not thrown at the page.
    if (command === "init") console.error(e);
    report(e);
    return undefined;
  }
}

if (!w.nudge || w.nudge.q) {
  if (script?.src) loadedFrom._origin = new URL(script.src).origin;
  const queued = w.nudge?.q ?? [];
  w.nudge = nudge;
  const key = script?.dataset.key;
  if (key && !queued.some((c) => c[0] === "init")) nudge("init", { key, endpoint: script?.dataset.endpoint });
  for (const call of queued) nudge(...call);
}
