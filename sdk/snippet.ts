/**
 * The loader stub merchants paste inline. It defines `nudge(...)` at once, queues calls made
 * before the SDK arrives, and loads the SDK without blocking the page. Kept tiny: it is in every
 * page's HTML. Build replaces __NUDGE_SRC__ with the SDK URL.
 *
 * If the page is hidden before the SDK arrives (closed, navigated away, app switched), the calls
 * queued so far are kept in localStorage for the next page's SDK, and taken back when the page is
 * shown again. Not when the page asks for consent first or carries a privacy signal: then they
 * stay in memory only.
 */
declare const __NUDGE_SRC__: string;

((w: { nudge?: unknown }, d: Document, n: Navigator & { globalPrivacyControl?: boolean }) => {
  if (w.nudge) return;
  const q: unknown[][] = [];
  const t: number[] = [];
  // The page's tag: the SDK makes each queued call's messageId from it, the call's time and its
  // place in the queue, so a call kept here and also replayed in memory is stored once.
  const k = Math.random().toString(16).slice(2);
  const key = `nudge_q${k}`;
  // A function with its queue as a property: the SDK replays `nudge.q` when it loads.
  w.nudge = Object.assign(
    (...args: unknown[]) => {
      q.push(args);
      t.push(Date.now());
    },
    { q, t, k },
  );
  const s = d.createElement("script");
  s.async = true;
  s.src = __NUDGE_SRC__;
  d.head.appendChild(s);
  d.addEventListener("visibilitychange", () => {
    try {
      // Shown again: the SDK will replay them from memory (once it has, there is nothing to do).
      if (!d.hidden) q.length && localStorage.removeItem(key);
      else if (
        q.length &&
        !n.globalPrivacyControl &&
        n.doNotTrack !== "1" &&
        !q.some((c) => c[0] === "init" && (c[1] as { requireConsent?: boolean } | undefined)?.requireConsent)
      )
        localStorage.setItem(key, JSON.stringify([t, q]));
    } catch {
      // Storage disabled: the calls stay in memory, as before.
    }
  });
})(window, document, navigator);
