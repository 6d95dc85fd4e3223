import * as api from "./client";
import { type Call as Kept, loadedFrom, replay, report } from "./client";
import {
  cartViewed,
  checkoutStarted,
  couponApplied,
  orderCompleted,
  productAdded,
  productRemoved,
  productShared,
  productViewed,
} from "./ecommerce";
import { stubId } from "./id";
import { localTake } from "./storage";

/**
 * The script-tag build: replays what the snippet stub queued, then becomes `window.nudge`.
 * `<script src=".../nudge.js" data-key="pk_…" data-endpoint="…">` works without the stub too.
 */

type Command = keyof typeof commands;
type Call = [string, ...unknown[]];
/** Prefix of the keys under which stubs keep their calls when their page hides (snippet.ts). */
const STUB = "nudge_q";

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
  cartViewed,
  checkoutStarted,
  couponApplied,
  orderCompleted,
  productAdded,
  productRemoved,
  productShared,
  productViewed,
};

interface Stub {
  (...call: Call): unknown;
  /** The calls queued, when each was made, and the page's random tag (older stubs: `q` only). */
  q?: Call[];
  t?: number[];
  k?: string;
}

const w = window as unknown as { nudge?: Stub };
const script = document.currentScript as HTMLScriptElement | null;

function nudge(command: string, ...args: unknown[]): unknown {
  try {
    // Own keys only: `nudge('toString')` is not a command.
    if (!Object.hasOwn(commands, command)) throw TypeError(`nudge: unknown command "${command}"`);
    return (commands[command as Command] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    // Misuse of init is the one error worth surfacing loudly; it is still not thrown at the page.
    if (command === "init") console.error(e);
    report(e);
    return undefined;
  }
}

/** Stub calls as the core keeps them: with their time and a messageId made from the stub's tag. */
const kept = (calls: Call[], times: number[] = [], tag?: string): Kept[] =>
  calls.map((call, i) => [() => nudge(...call), times[i], tag && stubId(times[i] as number, i, tag)]);

if (!w.nudge || w.nudge.q) {
  if (script?.src) loadedFrom._origin = new URL(script.src).origin;
  const stub = w.nudge;
  // Emptied, so the stub's page-hide handler has nothing left to keep.
  const queued = stub?.q?.splice(0) ?? [];
  w.nudge = nudge;
  // Calls of pages that closed before the SDK arrived, kept by their stubs, replayed with their
  // time and id (so one replayed twice, by two tabs, is stored once); not their init, this page
  // has its own. This page's own kept copy is dropped: its calls are replayed below.
  loadedFrom._stored = () =>
    localTake(STUB).flatMap(([key, value]) => {
      const [times, calls] = value as [number[], Call[]];
      return key === STUB + stub?.k
        ? []
        : kept(calls, times, key.slice(STUB.length)).filter((_, i) => calls[i]?.[0] !== "init");
    });
  const key = script?.dataset.key;
  if (key && !queued.some((c) => c[0] === "init")) nudge("init", { key, endpoint: script?.dataset.endpoint });
  for (const call of kept(queued, stub?.t, stub?.k)) replay(...call);
}
