/**
 * The demo's developer panel: the simulated time of the dev clock, buttons that move it forward
 * (running the scheduler, as `POST /v1/dev/tick` does), and a reset of the demo data. It exists
 * so a person can walk through "leave a cart → reminder tomorrow → restore → order" in a minute.
 */

// The demo secret key: acceptable only because this is a local development tool talking to a
// local Worker in development mode. Never ship a real secret key to a browser.
const AUTH = { authorization: "Bearer sk_demo", "content-type": "application/json" };
const HOUR = 3600_000;
/** The shop's flag (store.ts): report orders from the browser instead of the shop's server. */
const BROWSER_ORDERS = "demo:browser-orders";

interface Clock {
  now: string;
}

interface Tick extends Clock {
  sent: number;
  cancelled: number;
}

async function call<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: AUTH,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return (await res.json()) as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", attrs: Record<string, string> = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function mount(): void {
  const panel = el("aside", "", { class: "devpanel", "aria-label": "Demo developer panel", id: "devpanel" });
  const title = el("strong", "Demo clock");
  const time = el("output", "…", { id: "devpanel-time", "aria-live": "polite" });
  const status = el("p", "", { class: "devpanel-status", role: "status", id: "devpanel-status" });
  const buttons = el("div", "", { class: "devpanel-buttons" });
  panel.append(title, time, buttons, status);

  let now = Date.now();
  const show = (iso: string) => {
    now = Date.parse(iso);
    const ahead = Math.round((now - Date.now()) / HOUR);
    time.textContent = `${new Date(now).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" })}${
      ahead > 0 ? ` (+${ahead} h)` : ""
    }`;
  };
  const guard = (action: () => Promise<void>) => async () => {
    panel.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (e) {
      status.textContent = e instanceof Error ? e.message : String(e);
    } finally {
      panel.removeAttribute("aria-busy");
    }
  };

  for (const [label, ms] of [
    ["+1 hour", HOUR],
    ["+1 day", 24 * HOUR],
    ["+7 days", 7 * 24 * HOUR],
  ] as const) {
    const button = el("button", label, { type: "button", class: "button", "data-advance": String(ms) });
    button.addEventListener(
      "click",
      guard(async () => {
        // Make sure the shop's queued events reach the Worker before time moves on.
        if (typeof window.nudge === "function") await Promise.resolve(window.nudge("flush") as unknown);
        const r = await call<Tick>("/v1/dev/tick", { at: new Date(now + ms).toISOString() });
        show(r.now);
        status.textContent = `Scheduler ran: ${r.sent} sent, ${r.cancelled} cancelled.`;
      }),
    );
    buttons.append(button);
  }
  const reset = el("button", "Reset demo", { type: "button", class: "button", id: "devpanel-reset" });
  reset.addEventListener(
    "click",
    guard(async () => {
      if (!confirm("Delete all demo shoppers, events and messages?")) return;
      show((await call<Clock>("/v1/dev/reset", {})).now);
      for (const key of Object.keys(localStorage))
        if (key.startsWith("demo:") || key.startsWith("nudge")) localStorage.removeItem(key);
      location.reload();
    }),
  );
  buttons.append(
    reset,
    el("a", "Mailbox", { href: "/mailbox", class: "button" }),
    el("a", "Dashboard", { href: "/admin", class: "button", id: "devpanel-dashboard" }),
  );

  // How the shop reports orders: from its server (the default, the way a merchant should), or from
  // the browser on a site that trusts browser orders. The shop's checkout reads the same flag.
  const label = el("label", "", { class: "devpanel-toggle" });
  const toggle = el("input", "", { type: "checkbox", id: "devpanel-browser-orders" });
  toggle.checked = localStorage.getItem(BROWSER_ORDERS) === "true";
  label.append(toggle, " Browser orders (site trusts them)");
  toggle.addEventListener(
    "change",
    guard(async () => {
      const on = toggle.checked;
      await call("/v1/dev/settings", { trustBrowserOrders: on });
      localStorage.setItem(BROWSER_ORDERS, String(on));
      status.textContent = on
        ? "Orders now come from the browser; the site trusts them."
        : "Orders now come from the shop's server (secret key).";
    }),
  );
  panel.append(label);
  document.body.append(panel);
  call<Clock>("/v1/dev/clock").then(
    (c) => show(c.now),
    () => (time.textContent = "unavailable"),
  );
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
