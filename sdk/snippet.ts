/**
 * The loader stub merchants paste inline. It defines `nudge(...)` at once, queues calls made
 * before the SDK arrives, and loads the SDK without blocking the page. Kept tiny: it is in every
 * page's HTML. Build replaces __NUDGE_SRC__ with the SDK URL.
 */
declare const __NUDGE_SRC__: string;

((w: { nudge?: unknown }, d: Document) => {
  if (w.nudge) return;
  const q: unknown[][] = [];
  // A function with its queue as a property: the SDK replays `nudge.q` when it loads.
  w.nudge = Object.assign((...args: unknown[]) => void q.push(args), { q });
  const s = d.createElement("script");
  s.async = true;
  s.src = __NUDGE_SRC__;
  d.head.appendChild(s);
})(window, document);
